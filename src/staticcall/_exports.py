"""EXPORT_STATIC_CALL*, DECLARE_STATIC_CALL: handles on keys with limited rights.

This is API discipline inside one process, not a sandbox: Python code can always
reach a key through other means.
"""

from __future__ import annotations

import importlib

from ._typing import TYPE_CHECKING, F, Generic

if TYPE_CHECKING:
    from typing import Any, Callable

from ._errors import StaticCallError, StaticCallPermissionError
from ._keys import UPDATE_LOCK, Handle, StaticCall

GPL_COMPATIBLE = frozenset({
    "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
    "Dual MPL/GPL",
})

#: "module:name" -> the handle an export registered.
_EXPORTS: dict[str, StaticCallHandle[Any]] = {}


def _is_gpl(globals_: dict[str, Any]) -> bool:
    return globals_.get("__license__") in GPL_COMPATIBLE


class StaticCallHandle(Handle, Generic[F]):
    """A handle on a key: exported (with rights) or declared (resolved at first use).

    Generic in the key's callable type, as keys are: ``export_static_call(key)`` of a
    ``StaticCall[F]`` is a ``StaticCallHandle[F]``; annotate a declared one with the type
    the key has (``h: StaticCallHandle[Callable[[bytes], dict]] = declare_static_call(...)``).
    """

    __slots__ = ("_key", "_spec", "tramp", "gpl", "__weakref__")

    def __init__(self, key: StaticCall[Any] | None, spec: str, tramp: bool, gpl: bool) -> None:
        self._key = key
        self._spec = spec
        self.tramp = tramp
        self.gpl = gpl

    @property
    def name(self) -> str:
        return self._spec

    def __repr__(self) -> str:
        rights = ("tramp" if self.tramp else "") + ("+gpl" if self.gpl else "")
        state = repr(self._key) if self._key is not None else "unresolved"
        return f"<StaticCallHandle {self._spec!r} {rights or 'full'} {state}>"

    def _target_key(self) -> StaticCall[Any]:
        if self._key is None:
            self._key, self.tramp, self.gpl = _resolve_declared(self._spec)
        return self._key

    def _check_gpl(self, globals_: dict[str, Any], action: str) -> None:
        if self.gpl and not _is_gpl(globals_):
            module = globals_.get("__name__", "?")
            raise StaticCallPermissionError(
                f"static call {self._spec!r} is exported GPL-only; module {module!r} "
                f"(__license__={globals_.get('__license__')!r}) may not {action} it")

    def _resolve_for(self, action: str, globals_: dict[str, Any]) -> StaticCall[Any]:
        key = self._target_key()
        if action == "update" and self.tramp:
            raise StaticCallPermissionError(
                f"static call {self._spec!r} is exported trampoline-only: it can be called "
                f"but not updated")
        self._check_gpl(globals_, action)
        return key

    if TYPE_CHECKING:
        # calling a handle has the key's type; it fits where an F is expected
        __call__: F

        def _sc_accepts(self, target: F, /) -> None:
            """Makes a handle a ``KeyOrHandle[F]`` (see ``_types``)."""
    else:
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            import sys

            key = self._resolve_for("call", sys._getframe(1).f_globals)
            return key(*args, **kwargs)


def _resolve_declared(spec: str) -> tuple[StaticCall[Any], bool, bool]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise StaticCallError(f"declare_static_call({spec!r}): expected 'package.module:name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StaticCallError(f"static call {spec!r}: cannot import module {module_name!r} "
                              f"({exc})") from exc
    exported = _EXPORTS.get(spec)
    if exported is not None:
        return exported._target_key(), exported.tramp, exported.gpl
    value: Any = module
    for part in attr.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise StaticCallError(f"static call {spec!r}: module {module_name!r} has no "
                                  f"attribute {attr!r}") from None
    if isinstance(value, StaticCall):
        return value, False, False
    if isinstance(value, StaticCallHandle):
        return value._target_key(), value.tramp, value.gpl
    raise StaticCallError(f"static call {spec!r}: {module_name}.{attr} is a "
                          f"{type(value).__name__}, not a static call key")


def export_static_call(key: StaticCall[F], *, tramp: bool = False,
                       gpl: bool = False) -> StaticCallHandle[F]:
    """Export ``key`` as ``"defining.module:name"``; returns the handle."""
    if not isinstance(key, StaticCall):
        raise TypeError(f"export_static_call() expects a StaticCall key, not {type(key).__name__}")
    spec = f"{key.__module__}:{key.name}"
    handle: StaticCallHandle[F] = StaticCallHandle(key, spec, tramp=tramp, gpl=gpl)
    with UPDATE_LOCK:
        existing = _EXPORTS.get(spec)
        if existing is not None and existing._key is not key:
            raise StaticCallError(
                f"static call {spec!r}: a different key is already exported under this "
                f"name ({existing._key!r}); give the keys distinct names (name=...)")
        _EXPORTS[spec] = handle
    return handle


def declare_static_call(spec: str) -> StaticCallHandle[Callable[..., Any]]:
    """A forward declaration of ``"pkg.mod:name"``, resolved at its first use.

    Its type accepts any target; annotate the variable with the key's own type
    (``StaticCallHandle[Callable[[int], int]]``) to have updates and calls checked."""
    if not isinstance(spec, str):
        raise TypeError(f"declare_static_call() expects 'package.module:name', "
                        f"not {type(spec).__name__}")
    if ":" not in spec:
        raise StaticCallError(f"declare_static_call({spec!r}): expected 'package.module:name'")
    return StaticCallHandle(None, spec, tramp=False, gpl=False)
