"""What a type checker sees of staticcall: checked with ``mypy --strict`` by test_typing.py.

Not a test module (pytest does not collect it, nothing imports it). Every line that ends
in ``# mypy-error: CODE`` must be reported by mypy with that error code, and no other line
may be reported at all. A ``reveal_type`` line states the type mypy must reveal after
``# reveal:``; ``assert_type`` lines are checked by mypy itself.
"""

from __future__ import annotations

from typing import Any, Callable, assert_type, reveal_type

from staticcall import (
    StaticCall,
    declare_static_call,
    define_static_call,
    define_static_call_null,
    define_static_call_ret0,
    export_static_call,
    static_call,
    static_call_cond,
    static_call_override,
    static_call_query,
    static_call_return0,
    static_call_update,
    static_calls,
)


def double(x: int) -> int:
    return 2 * x


def triple(x: int) -> int:
    return 3 * x


def by_length(s: str) -> int:
    return len(s)


def as_text(x: int) -> str:
    return str(x)


def log_item(index: int, value: str) -> None:
    print(index, value)


# Keys are generic in the type of their target.
key: StaticCall[Callable[[int], int]] = define_static_call(double)
inferred = define_static_call(double)
reveal_type(inferred)  # reveal: StaticCall[def (x: int) -> int]

# static_call_update() checks the new target against the key's type, the way the
# kernel's typeof() check does.
static_call_update(key, triple)
static_call_update(key, None)
static_call_update(key, static_call_return0)
static_call_update(key, lambda x: x + 1)
static_call_update(inferred, triple)
static_call_update(key, by_length)  # mypy-error: misc
static_call_update(key, as_text)  # mypy-error: misc
static_call_update(inferred, by_length)  # mypy-error: misc
static_call_update(key, 42)  # mypy-error: call-overload

previous = static_call_update(key, double)
assert_type(previous, Callable[[int], int] | None)

# The same check for overrides.
with static_call_override(key, triple) as before:
    assert_type(before, Callable[[int], int] | None)
with static_call_override(key, by_length):  # mypy-error: misc
    pass

# Calls have the target's type; static_call_cond() may return None (NULL).
n: int = static_call(key)(3)
assert_type(static_call_cond(key)(3), int | None)
assert_type(key(3), int)
static_call(key)("three")  # mypy-error: arg-type
key("three")  # mypy-error: arg-type
assert_type(static_call_query(key), Callable[[int], int] | None)
assert_type(static_call_cond(define_static_call_null(log_item))(1, "x"), None)

# NULL and RET0 keys take their type from the prototype, or accept anything without one.
hook = define_static_call_null(log_item)
static_call_cond(hook)(1, "one")
static_call_cond(hook)("one", 1)  # mypy-error: arg-type
static_call_update(hook, None)
static_call_update(hook, double)  # mypy-error: misc
switch = define_static_call_ret0(double)
static_call_update(switch, triple)
untyped = define_static_call_null()
static_call_update(untyped, by_length)
untyped_result: Any = static_call(untyped)(1, 2, three=3)

# define_static_call(func, prototype=...): the key takes the prototype's type.
def encode(obj: object) -> str:
    return str(obj)


def encode_fully(obj: object, *, indent: int | None = None) -> str:
    return str(obj)


encoder = define_static_call(encode_fully, prototype=encode)
reveal_type(encoder)  # reveal: StaticCall[def (obj: object) -> str]
static_call_update(encoder, encode)
static_call_update(encoder, double)  # mypy-error: misc
unchecked = define_static_call(encode_fully, prototype=...)
static_call_update(unchecked, by_length)
define_static_call(encode_fully, prototype=42)  # mypy-error: call-overload

# Handles are not typed by their key: anything callable goes, the runtime checks.
handle = export_static_call(key, tramp=True)
declared = declare_static_call("some.module:name")
static_call_update(declared, by_length)
handle_result: Any = static_call(handle)("anything")


# The decorator keeps the decorated function's type.
@static_calls
def hot(x: int) -> int:
    return static_call(key)(x) + key(x)


@static_calls(mode="trampoline")
def cold(x: int) -> int:
    return hot(x)


hot_too: Callable[[int], int] = hot
cold_too: Callable[[int], int] = cold
hot("x")  # mypy-error: arg-type
cold("x")  # mypy-error: arg-type


# Static keys: plain objects; the branch functions take a StaticKey and return bool.
from staticcall import (  # noqa: E402
    DEFINE_STATIC_KEY_TRUE,
    DEFINE_TRACE,
    StaticKey,
    Tracepoint,
    define_static_key_deferred_false,
    define_static_key_false,
    define_tracepoint,
    register_probe,
    static_branch_inc,
    static_branch_slow_dec_deferred,
    static_branch_unlikely,
    static_key_count,
    static_key_slow_inc,
    tracepoint_enabled,
    tracepoint_probes,
    unregister_probe,
)

switch_key = define_static_key_false()
reveal_type(switch_key)  # reveal: staticcall._static_keys.StaticKey
assert_type(static_branch_unlikely(switch_key), bool)
static_branch_unlikely(3)  # mypy-error: arg-type
static_branch_inc("switch")  # mypy-error: arg-type
kernel_key: StaticKey = DEFINE_STATIC_KEY_TRUE("kernel_key")
static_key_slow_inc(kernel_key)
assert_type(static_key_count(kernel_key), int)
lazy_key = define_static_key_deferred_false(0.5)
static_branch_slow_dec_deferred(lazy_key)
define_static_key_deferred_false("soon")  # mypy-error: arg-type


# Tracepoints are generic in the prototype's type: probes and calls are checked.
def wide_probe(index: int, value: str, extra: int = 0) -> None:
    pass


item_tp = define_tracepoint(log_item)
reveal_type(item_tp)  # reveal: staticcall._tracepoints.Tracepoint[def (index: int, value: str)]
typed_tp: Tracepoint[Callable[[int, str], None]] = define_tracepoint(log_item)
register_probe(item_tp, log_item)
register_probe(item_tp, wide_probe)
register_probe(item_tp, lambda i, v: None)
register_probe(item_tp, by_length)  # mypy-error: misc
unregister_probe(item_tp, by_length)  # mypy-error: misc
item_tp(1, "one")
item_tp("one", 1)  # mypy-error: arg-type
assert_type(item_tp(1, "one"), None)
reveal_type(tracepoint_probes(item_tp))  # reveal: tuple[def (index: int, value: str), ...]
assert_type(tracepoint_enabled(item_tp), bool)
kernel_tp = DEFINE_TRACE("item", log_item)
reveal_type(kernel_tp)  # reveal: staticcall._tracepoints.Tracepoint[def (index: int, value: str)]
free_tp = define_tracepoint(None, name="free")
register_probe(free_tp, by_length)
free_tp(1, 2, anything=3)
