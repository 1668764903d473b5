"""The kernel's spellings (include/linux/static_call.h) of the same API."""

from __future__ import annotations

from typing import Any, Callable

from ._exports import StaticCallHandle, declare_static_call, export_static_call
from ._keys import UNSET, StaticCall, StaticCall as _Key, _defining_module, prototype_for


def DEFINE_STATIC_CALL(name: str, func: Callable[..., Any], *,
                       prototype: Any = UNSET) -> StaticCall[Any]:
    """``DEFINE_STATIC_CALL(name, func)``: a key named ``name`` targeting ``func``;
    ``prototype=`` as for :func:`define_static_call`."""
    proto = prototype_for(func, prototype, f"DEFINE_STATIC_CALL({name!r}, ...)")
    return _Key._create(func, proto, name, _defining_module())


def DEFINE_STATIC_CALL_NULL(name: str,
                            typename: Callable[..., Any] | None = None) -> StaticCall[Any]:
    """``DEFINE_STATIC_CALL_NULL(name, typename)``: a NULL key; ``typename`` is the prototype."""
    return _Key._create(None, typename, name, _defining_module())


def DEFINE_STATIC_CALL_RET0(name: str,
                            typename: Callable[..., Any] | None = None) -> StaticCall[Any]:
    """``DEFINE_STATIC_CALL_RET0(name, typename)``: a key targeting ``static_call_return0``."""
    from ._keys import static_call_return0
    return _Key._create(static_call_return0, typename, name, _defining_module())


def DECLARE_STATIC_CALL(name: str, func: Any = None) -> StaticCallHandle:
    """``DECLARE_STATIC_CALL(name, func)``: a forward declaration of ``"pkg.mod:name"``."""
    return declare_static_call(name)


def EXPORT_STATIC_CALL(key: StaticCall[Any]) -> StaticCallHandle:
    return export_static_call(key)


def EXPORT_STATIC_CALL_GPL(key: StaticCall[Any]) -> StaticCallHandle:
    return export_static_call(key, gpl=True)


def EXPORT_STATIC_CALL_TRAMP(key: StaticCall[Any]) -> StaticCallHandle:
    return export_static_call(key, tramp=True)


def EXPORT_STATIC_CALL_TRAMP_GPL(key: StaticCall[Any]) -> StaticCallHandle:
    return export_static_call(key, tramp=True, gpl=True)
