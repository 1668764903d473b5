"""Mistakes a type checker must report: checked with ``mypy --strict`` and pyright by
test_typing.py. Not imported by anything (it would fail at run time too).

A line ending in ``# E: mypy[CODE,...] pyright[RULE,...]`` must get exactly those error
codes from each checker, and no other line may get any error. Comment lines right above
it, ``# expect mypy: TEXT`` or ``# expect pyright: TEXT``, give text that the checker's messages for
that line must contain: a target that does not fit names both types.
"""

from __future__ import annotations

import json
from typing import Callable

from staticcall import (
    StaticCallHandle,
    declare_static_call,
    define_static_call,
    define_static_call_null,
    define_static_key_deferred_false,
    define_static_key_false,
    define_tracepoint,
    export_static_call,
    register_probe,
    static_branch_inc,
    static_branch_unlikely,
    static_call,
    static_call_cond,
    static_call_override,
    static_call_update,
    static_calls,
    unregister_probe,
)
from staticcall.pytest_plugin import StaticCallFixture


def double(x: int, /) -> int:
    return 2 * x


def by_length(s: str, /) -> int:
    return len(s)


def as_text(x: int, /) -> str:
    return str(x)


key = define_static_call(double)

# A target that does not fit: an argument error that names the key's type and the target's.
# expect mypy: incompatible type "Callable[[str], int]"; expected "Callable[[int], int] |
# expect pyright: "(s: str, /) -> int" cannot be assigned to parameter "func"
# expect pyright: "Target[(x: int, /) -> int]"
static_call_update(key, by_length)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
# expect mypy: incompatible type "Callable[[int], str]"; expected "Callable[[int], int] |
# expect pyright: Function return type "str" is incompatible with type "int"
static_call_update(key, as_text)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
# expect mypy: matches argument types "StaticCall[Callable[[int], int]]", "int"
static_call_update(key, 42)  # E: mypy[call-overload] pyright[reportCallIssue,reportArgumentType]
# expect mypy: incompatible type "Callable[[str], int]"; expected "Callable[[int], int] |
with static_call_override(key, by_length):  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
    pass
# expect mypy: No overload variant of "static_call_update" matches argument types "int"
static_call_update(42, double)  # E: mypy[call-overload] pyright[reportCallIssue,reportArgumentType]


def on_item(item: object, /) -> None: ...


trace = define_static_call_null(on_item)
# expect mypy: incompatible type "Callable[[int], int]"; expected "Callable[[object], None] |
# expect pyright: "(x: int, /) -> int" cannot be assigned to parameter "func"
static_call_update(trace, double)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
static_call_cond(trace)(1, 2)  # E: mypy[call-arg] pyright[reportCallIssue]


def encode(obj: object, /) -> str:
    raise NotImplementedError


encoder = define_static_call(json.dumps, prototype=encode)
# expect mypy: incompatible type "Callable[[str], int]"; expected "Callable[[object], str] |
static_call_update(encoder, by_length)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
define_static_call(json.dumps, prototype=42)  # E: mypy[call-overload] pyright[reportCallIssue,reportArgumentType]

# Calls are checked against the key's type.
static_call(key)("three")  # E: mypy[arg-type] pyright[reportArgumentType]
key("three")  # E: mypy[arg-type] pyright[reportArgumentType]

# Handles have their key's type.
handle = export_static_call(key, tramp=True)
handle("three")  # E: mypy[arg-type] pyright[reportArgumentType]
static_call(handle)("three")  # E: mypy[arg-type] pyright[reportArgumentType]
# expect mypy: incompatible type "Callable[[str], int]"; expected "Callable[[int], int] |
static_call_update(handle, by_length)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
declared: StaticCallHandle[Callable[[int], int]] = declare_static_call("some.module:key")
# expect mypy: incompatible type "Callable[[str], int]"; expected "Callable[[int], int] |
# expect pyright: "(s: str, /) -> int" cannot be assigned to parameter "func"
static_call_update(declared, by_length)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
export_static_call(double)  # E: mypy[arg-type] pyright[reportArgumentType]


# The fixture checks as static_call_update does.
def uses_the_fixture(staticcall: StaticCallFixture) -> None:
    # expect mypy: incompatible type "Callable[[str], int]"; expected "Callable[[int], int] |
    staticcall.update(key, by_length)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
    with staticcall.override(trace, double):  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
        pass


# The decorator keeps the decorated function's type.
@static_calls
def hot(x: int) -> int:
    return key(x)


hot("x")  # E: mypy[arg-type] pyright[reportArgumentType]

# Static keys take a StaticKey.
switch = define_static_key_false()
static_branch_unlikely(3)  # E: mypy[arg-type] pyright[reportArgumentType]
static_branch_inc("switch")  # E: mypy[arg-type] pyright[reportArgumentType]
define_static_key_deferred_false("soon")  # E: mypy[arg-type] pyright[reportArgumentType]


# Probes and calls of a tracepoint are checked against its prototype.
def item_added(index: int, value: str) -> None: ...


item_tp = define_tracepoint(item_added)
# expect mypy: incompatible type "Callable[[str], int]"; expected "Callable[[int, str], None] |
# expect pyright: "(s: str, /) -> int" cannot be assigned to parameter "probe"
register_probe(item_tp, by_length)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
unregister_probe(item_tp, by_length)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
# the prototype's parameters can be passed by name: a probe must keep their names
# expect pyright: Parameter name mismatch: "index" versus "i"
register_probe(item_tp, lambda i, v: None)  # E: mypy[arg-type] pyright[reportCallIssue,reportArgumentType]
item_tp("one", 1)  # E: mypy[arg-type] pyright[reportArgumentType]
