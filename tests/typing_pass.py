"""The documented calls, as a user writes them: ``mypy --strict`` and ``pyright --strict``
must report nothing here (test_typing.py), and the file runs (it is imported by
test_typing.py, so every call here is also valid at run time).

Callables whose types are compared with ``assert_type`` take their parameters
positional-only, so that both checkers spell their types alike.
"""
# pyright: strict

from __future__ import annotations

import json
from typing import Any, Callable, assert_type

from staticcall import (
    DECLARE_STATIC_CALL,
    DEFINE_STATIC_CALL,
    DEFINE_STATIC_CALL_NULL,
    DEFINE_TRACE,
    EXPORT_STATIC_CALL_TRAMP,
    StaticCall,
    StaticCallHandle,
    StaticKey,
    Tracepoint,
    declare_static_call,
    define_static_call,
    define_static_call_null,
    define_static_call_ret0,
    define_static_key_deferred_false,
    define_static_key_false,
    define_tracepoint,
    export_static_call,
    register_probe,
    static_branch_inc,
    static_branch_slow_dec_deferred,
    static_branch_unlikely,
    static_call,
    static_call_cond,
    static_call_override,
    static_call_query,
    static_call_return0,
    static_call_update,
    static_call_update_many,
    static_calls,
    static_key_count,
    tracepoint_enabled,
    tracepoint_probes,
    unregister_probe,
)
from staticcall.pytest_plugin import StaticCallFixture


def double(x: int, /) -> int:
    return 2 * x


def triple(x: int, /) -> int:
    return 3 * x


IntFn = Callable[[int], int]

# Keys are generic in the type of their target.
key = define_static_call(double)
assert_type(key, StaticCall[IntFn])
annotated: StaticCall[IntFn] = define_static_call(triple, name="annotated")

# Updates are checked against the key's type; NULL and RET0 fit every key.
previous = static_call_update(key, triple)
assert_type(previous, IntFn | None)
static_call_update(key, None)
static_call_update(key, static_call_return0)
static_call_update(key, lambda x: x + 1)
static_call_update(key, annotated)  # a key is a callable of its type
static_call_update(key, double)
with static_call_override(key, triple) as before:
    assert_type(before, IntFn | None)
assert_type(static_call_query(key), IntFn | None)
static_call_update_many({key: triple, annotated: double})
static_call_update_many({key: double, annotated: triple})

# Calls have the target's type; static_call_cond() may return None (NULL).
assert_type(static_call(key)(3), int)
assert_type(static_call_cond(key)(3), int | None)
assert_type(key(3), int)


# A NULL key typed by its prototype (the README's tracing hook).
def on_item(item: object) -> None: ...


def show(item: object) -> None:
    print("item", item)


trace = define_static_call_null(on_item)
static_call_update(trace, show)
static_call_update(trace, None)
static_call_update(trace, static_call_return0)
static_call_update(trace, None)
assert_type(static_call_cond(trace)("x"), None)
feature = define_static_call_ret0(name="feature")
static_call_update(feature, lambda *args, **kwargs: 1)
static_call_update(feature, static_call_return0)
kernel_null = DEFINE_STATIC_CALL_NULL("kernel_null", on_item)
static_call_update(kernel_null, show)


# define_static_call(func, prototype=...): the key has the prototype's type.
def encode(obj: object, /) -> str:
    raise NotImplementedError("a prototype is never called")


def fast_dumps(obj: object, /) -> str:
    return repr(obj)


encoder = define_static_call(json.dumps, name="encoder", prototype=encode)
assert_type(encoder, StaticCall[Callable[[object], str]])
static_call_update(encoder, fast_dumps)
static_call_update(encoder, json.dumps)
unchecked = define_static_call(json.dumps, name="unchecked", prototype=...)
static_call_update(unchecked, fast_dumps)
kernel_encoder = DEFINE_STATIC_CALL("kernel_encoder", json.dumps, prototype=encode)
static_call_update(kernel_encoder, fast_dumps)

# Handles have their key's type: exported ones from the key, declared ones by annotation.
handle = export_static_call(key)
assert_type(handle, StaticCallHandle[IntFn])
assert_type(static_call(handle)(2), int)
assert_type(handle(2), int)
static_call_update(handle, triple)
tramp_only = EXPORT_STATIC_CALL_TRAMP(annotated)
assert_type(tramp_only(2), int)
declared: StaticCallHandle[IntFn] = declare_static_call(f"{__name__}:key")
static_call_update(declared, double)
assert_type(static_call_query(declared), IntFn | None)
kernel_declared = DECLARE_STATIC_CALL(f"{__name__}:key", double)
assert_type(kernel_declared, StaticCallHandle[IntFn])
untyped_handle = declare_static_call(f"{__name__}:key")
static_call_update(untyped_handle, triple)


# The decorator keeps the decorated function's type.
@static_calls
def hot(x: int) -> int:
    return static_call(key)(x) + key(x)


@static_calls(mode="trampoline")
def cold(x: int) -> int:
    return hot(x)


assert_type(hot(1), int)
assert_type(cold(1), int)

# Static keys.
tracing = define_static_key_false()
assert_type(tracing, StaticKey)
assert_type(static_branch_unlikely(tracing), bool)
static_branch_inc(tracing)
assert_type(static_key_count(tracing), int)
lazy = define_static_key_deferred_false(0.01)
static_branch_inc(lazy)
static_branch_slow_dec_deferred(lazy)


# Tracepoints are generic in the prototype's type: probes and calls are checked.
def item_added(index: int, value: str, /) -> None: ...


def print_item(index: int, value: str, /) -> None:
    print("added", index, value)


trace_item_added = define_tracepoint(item_added)
assert_type(trace_item_added, Tracepoint[Callable[[int, str], None]])
register_probe(trace_item_added, print_item)
trace_item_added(1, "one")
assert_type(tracepoint_probes(trace_item_added), tuple[Callable[[int, str], None], ...])
assert_type(tracepoint_enabled(trace_item_added), bool)
unregister_probe(trace_item_added, print_item)
kernel_tp = DEFINE_TRACE("kernel_tp", item_added)
assert_type(kernel_tp, Tracepoint[Callable[[int, str], None]])


# The pytest fixture takes keys, handles and "module:name" strings.
def uses_the_fixture(staticcall: StaticCallFixture) -> None:
    old = staticcall.update(key, triple)
    assert_type(old, IntFn | None)
    staticcall.update(trace, None)
    with staticcall.override(handle, triple) as was:
        assert_type(was, IntFn | None)
    anything: Any = staticcall.update("some.module:name", triple)
    print(anything)
