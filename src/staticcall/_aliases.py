"""The kernel's spellings (include/linux/static_call.h) of the same API."""

from __future__ import annotations

from ._typing import TYPE_CHECKING, F, overload

if TYPE_CHECKING:
    from types import EllipsisType
    from typing import Any, Callable, TypeVar

    G = TypeVar("G", bound=Callable[..., Any])

from ._exports import StaticCallHandle, declare_static_call, export_static_call
from ._keys import UNSET, StaticCall, StaticCall as _Key, prototype_for
from ._naming import defining_module


@overload
def DEFINE_STATIC_CALL(name: str, func: F) -> StaticCall[F]: ...
@overload
def DEFINE_STATIC_CALL(name: str, func: Callable[..., Any], *, prototype: G) -> StaticCall[G]: ...
@overload
def DEFINE_STATIC_CALL(name: str, func: Callable[..., Any], *,
                       prototype: EllipsisType | None) -> StaticCall[Callable[..., Any]]: ...


def DEFINE_STATIC_CALL(name: str, func: Callable[..., Any], *,
                       prototype: Any = UNSET) -> StaticCall[Any]:
    """``DEFINE_STATIC_CALL(name, func)``: a key named ``name`` targeting ``func``;
    ``prototype=`` as for :func:`define_static_call`."""
    proto = prototype_for(func, prototype, f"DEFINE_STATIC_CALL({name!r}, ...)")
    return _Key._create(func, proto, name, defining_module())


@overload
def DEFINE_STATIC_CALL_NULL(name: str, typename: F) -> StaticCall[F]: ...
@overload
def DEFINE_STATIC_CALL_NULL(name: str,
                            typename: None = None) -> StaticCall[Callable[..., Any]]: ...


def DEFINE_STATIC_CALL_NULL(name: str,
                            typename: Callable[..., Any] | None = None) -> StaticCall[Any]:
    """``DEFINE_STATIC_CALL_NULL(name, typename)``: a NULL key; ``typename`` is the prototype."""
    return _Key._create(None, typename, name, defining_module())


@overload
def DEFINE_STATIC_CALL_RET0(name: str, typename: F) -> StaticCall[F]: ...
@overload
def DEFINE_STATIC_CALL_RET0(name: str,
                            typename: None = None) -> StaticCall[Callable[..., Any]]: ...


def DEFINE_STATIC_CALL_RET0(name: str,
                            typename: Callable[..., Any] | None = None) -> StaticCall[Any]:
    """``DEFINE_STATIC_CALL_RET0(name, typename)``: a key targeting ``static_call_return0``."""
    from ._keys import static_call_return0
    return _Key._create(static_call_return0, typename, name, defining_module())


@overload
def DECLARE_STATIC_CALL(name: str, func: F) -> StaticCallHandle[F]: ...
@overload
def DECLARE_STATIC_CALL(name: str, func: None = None) -> StaticCallHandle[Callable[..., Any]]: ...


def DECLARE_STATIC_CALL(name: str, func: Any = None) -> StaticCallHandle[Any]:
    """``DECLARE_STATIC_CALL(name, func)``: a forward declaration of ``"pkg.mod:name"``.
    As in the kernel, ``func`` only gives the handle its type (for type checkers); the
    key's own prototype is what updates are checked against."""
    return declare_static_call(name)


def EXPORT_STATIC_CALL(key: StaticCall[F]) -> StaticCallHandle[F]:
    return export_static_call(key)


def EXPORT_STATIC_CALL_GPL(key: StaticCall[F]) -> StaticCallHandle[F]:
    return export_static_call(key, gpl=True)


def EXPORT_STATIC_CALL_TRAMP(key: StaticCall[F]) -> StaticCallHandle[F]:
    return export_static_call(key, tramp=True)


def EXPORT_STATIC_CALL_TRAMP_GPL(key: StaticCall[F]) -> StaticCallHandle[F]:
    return export_static_call(key, tramp=True, gpl=True)


# --------------------------------------------------------------------------------------
# Static keys (include/linux/jump_label.h, jump_label_ratelimit.h) and tracepoints
# (include/linux/tracepoint.h).
# --------------------------------------------------------------------------------------

from ._static_keys import (  # noqa: E402
    StaticKey,
    define_static_key_false as _define_false,
    define_static_key_true as _define_true,
    static_branch_dec,
    static_branch_disable,
    static_branch_enable,
    static_branch_inc,
    static_branch_slow_dec_deferred,
    static_key_set_timeout,
)
from ._tracepoints import Tracepoint, define_tracepoint  # noqa: E402


def DEFINE_STATIC_KEY_FALSE(name: str) -> StaticKey:
    """``DEFINE_STATIC_KEY_FALSE(name)``: a static key named ``name``, initially disabled."""
    return _define_false(name=name)


def DEFINE_STATIC_KEY_TRUE(name: str) -> StaticKey:
    """``DEFINE_STATIC_KEY_TRUE(name)``: a static key named ``name``, initially enabled."""
    return _define_true(name=name)


def DEFINE_STATIC_KEY_DEFERRED_FALSE(name: str, rl: float) -> StaticKey:
    """``DEFINE_STATIC_KEY_DEFERRED_FALSE(name, rl)``: a deferred key, initially disabled;
    ``rl`` is the delay in seconds (the kernel counts jiffies)."""
    from ._static_keys import define_static_key_deferred_false

    return define_static_key_deferred_false(rl, name=name)


def DEFINE_STATIC_KEY_DEFERRED_TRUE(name: str, rl: float) -> StaticKey:
    """``DEFINE_STATIC_KEY_DEFERRED_TRUE(name, rl)``: the same, initially enabled."""
    from ._static_keys import define_static_key_deferred_true

    return define_static_key_deferred_true(rl, name=name)


#: ``static_key_enable(key)`` / ``static_key_disable(key)``: set the state.
static_key_enable = static_branch_enable
static_key_disable = static_branch_disable
#: ``static_key_slow_inc(key)`` / ``static_key_slow_dec(key)``: the reference count.
static_key_slow_inc = static_branch_inc
static_key_slow_dec = static_branch_dec
#: ``static_key_slow_dec_deferred(key)`` and ``static_branch_deferred_inc(key)``.
static_key_slow_dec_deferred = static_branch_slow_dec_deferred
static_branch_deferred_inc = static_branch_inc


def jump_label_rate_limit(key: StaticKey, rl: float) -> None:
    """``jump_label_rate_limit(key, rl)``: set a deferred key's delay (seconds)."""
    static_key_set_timeout(key, rl)


def DEFINE_TRACE(name: str, proto: F) -> Tracepoint[F]:
    """``DEFINE_TRACE(name, proto)``: a tracepoint named ``name`` with prototype ``proto``."""
    return define_tracepoint(proto, name=name)


def DECLARE_TRACE(name: str, proto: F) -> Tracepoint[F]:
    """``DECLARE_TRACE(name, proto)``: the same as ``DEFINE_TRACE`` (Python has no headers
    to declare in)."""
    return define_tracepoint(proto, name=name)
