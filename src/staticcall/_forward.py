"""The base of keys and tracepoints: an object whose call forwards to a callable set from
Python (its *effective* callable) and that shows that callable through no attribute.

Two implementations of one interface (``ForwarderOf``, ``new``, ``set_target``,
``set_entries``, ``lookups``):

- ``staticcall._accel``, a C extension built by ``pip install`` where a compiler and the
  Python headers exist: a call is one vectorcall to the effective callable, and
  ``static_call(k)`` reads what the key hands out from a field of the key.
- Otherwise a ``functools.partial`` subclass (``partial``'s C-level call goes straight to
  its ``func``), and ``static_call(k)`` is a dict lookup.

``STATICCALL_ACCEL=0`` forces the pure-Python path, ``STATICCALL_ACCEL=1`` requires the
accelerator (an ``ImportError`` if it is not built); unset, it is used when present.
"""

from __future__ import annotations

import importlib
import types

from . import _env
from ._typing import TYPE_CHECKING, F, Generic

if TYPE_CHECKING:
    from typing import Any, Callable


def _load_accel() -> Any:
    choice = _env.accel()
    if choice == "0":
        return None
    try:
        return importlib.import_module(f"{__package__}._accel")  # optional: may be unbuilt
    except ImportError:
        if choice == "1":
            raise
        return None


if TYPE_CHECKING:
    from functools import partial as partial
else:
    try:  # functools.partial itself, without importing functools (and collections)
        from _functools import partial
    except ImportError:  # no C functools: its pure-Python partial
        from functools import partial

_accel = _load_accel()

#: Whether keys and tracepoints use the compiled accelerator.
ACCELERATED = _accel is not None

if TYPE_CHECKING:
    class ForwarderOf(Generic[F]):
        # Calling one has the type F: a key's target's, a tracepoint's prototype's
        # (an attribute, so that checkers also take one for an F where F is expected).
        __call__: F
elif _accel is not None:
    class ForwarderOf(_accel.Forwarder, Generic[F]):
        """A forwarder (its C-level call) that type-checks as calling ``F``."""

        __slots__ = ()

        def __init_subclass__(cls, **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)
            _accel.enable_vectorcall(cls)

    _accel.enable_vectorcall(ForwarderOf)
else:
    class ForwarderOf(partial, Generic[F]):
        """A ``functools.partial`` (its C-level call) that type-checks as calling ``F``."""

        __slots__ = ()

        # Stored on a class, it is reached unchanged through instances (partial itself
        # binds on 3.14+).
        def __get__(self, obj: Any, objtype: Any = None) -> Any:
            return self


def _held(target: Callable[..., Any]) -> Callable[..., Any]:
    """What a ``partial`` forwarder calls for ``target``. A partial's call does not hold
    what it calls, so an update made while the call runs (by the target itself, or by
    another thread while the target calls back into Python) could free ``target`` under
    it; a Python function, or a method of one, is held by its own frame, anything else
    (``lru_cache``, a ``partial``, a C callable) is called through a Python function
    that holds it. (The accelerator's call holds its target.)"""
    if type(target) is types.FunctionType or (
            type(target) is types.MethodType
            and type(target.__func__) is types.FunctionType):
        return target

    def held(*args: Any, **kwargs: Any) -> Any:
        return target(*args, **kwargs)

    return held


def new(cls: type[Any], target: Callable[..., Any]) -> Any:
    """A new instance of ``cls`` (a ``ForwarderOf`` subclass) that calls ``target``."""
    if _accel is not None:
        obj = _accel.Forwarder.__new__(cls)
        _accel.set_target(obj, target)
        return obj
    return partial.__new__(cls, _held(target))


def set_target(obj: Any, target: Callable[..., Any]) -> None:
    """From now on calling ``obj`` calls ``target``."""
    if _accel is not None:
        _accel.set_target(obj, target)
    else:
        partial.__setstate__(obj, (_held(target), (), None, obj.__dict__))  # type: ignore[attr-defined, unused-ignore]


def set_entries(obj: Any, call: Callable[..., Any], cond: Callable[..., Any]) -> None:
    """What ``static_call(obj)`` and ``static_call_cond(obj)`` return (the pure-Python
    path keeps them in the tables given to :func:`lookups` instead)."""
    if _accel is not None:
        _accel.set_entries(obj, call, cond)


def lookups(call_table: Any, cond_table: Any) -> tuple[Any, Any]:
    """``static_call`` and ``static_call_cond``: the tables' ``__getitem__`` (which must
    resolve what has no entry), or the accelerator's, falling back on them."""
    if _accel is None:
        return call_table.__getitem__, cond_table.__getitem__
    _accel.set_fallbacks(call_table.__getitem__, cond_table.__getitem__)
    return _accel.static_call, _accel.static_call_cond


# The partial's own fields (in C: read-only members the C-level call reads directly;
# with the pure-Python partial: writable slots). Keys hide them behind properties.
_PARTIAL_FIELDS = {name: partial.__dict__[name] for name in ("func", "args", "keywords")}


def hidden_field(name: str, shown: Callable[[Any], Any]) -> Any:
    """A property that shows ``shown(obj)`` where a partial shows its field ``name`` (code
    that unwraps partials sees that, never the effective callable). On the partial path,
    partial's own code (in pure Python) may still set the field."""
    doc = f"Not the target: see static_call_query(). ({name})"
    if _accel is not None:
        return property(shown, doc=doc)
    slot = _PARTIAL_FIELDS[name]

    def set_field(self: Any, value: Any) -> None:
        slot.__set__(self, value)

    return property(shown, set_field, doc=doc)
