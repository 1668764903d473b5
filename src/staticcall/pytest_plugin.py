"""pytest plugin: the ``staticcall`` fixture (after ``monkeypatch``).

``staticcall.update(key, func)`` retargets a key for the current test and
``with staticcall.override(key, func):`` for a block of it; both take a key, a handle or a
``"module:name"`` string. Every key the fixture touched is restored when the test ends,
whether it passed or failed. The old fixture ``static_call_override(key, func)`` still
works, with a ``DeprecationWarning``.

Rewritten sites bind their key when they are decorated, so rebinding a key's global name
(``mock.patch("pkg.hooks.serializer", fake)``) is not seen by them. As a best-effort
check, a test that uses the fixture warns (``StaticCallWarning``) when a module global
that held a key holds something else at one of these moments: a call of ``update`` or
``override``, the end of the test function, the fixture's teardown. A patch made and
undone inside the test function between those moments (``with mock.patch(...):`` around
code that calls no fixture method) is not seen.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any, Callable, Generator, Generic, Iterator, TypeVar, overload

import pytest

if TYPE_CHECKING:
    from ._exports import StaticCallHandle
    from ._keys import StaticCall
    from ._types import KeyOrHandle, Return0Type, Target

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------------------
# Module globals that hold keys: found once per module, checked for rebinding.
# --------------------------------------------------------------------------------------

_SCANNED: dict[str, Any] = {}  # module name -> the module object scanned
# (module name, global name) -> (module, the key or handle it held)
_KEY_GLOBALS: dict[tuple[str, str], tuple[Any, Any]] = {}


def _is_key(value: Any) -> bool:
    from ._exports import StaticCallHandle
    from ._keys import StaticCall

    # by type only: no attribute of an arbitrary global is read (lazy proxies, six.moves)
    return issubclass(type(value), (StaticCall, StaticCallHandle))


def _namespace(module: Any) -> dict[str, Any] | None:
    try:
        ns = object.__getattribute__(module, "__dict__")
    except Exception:
        return None
    return ns if type(ns) is dict else None


def _scan() -> None:
    """Record the key globals of modules imported since the last scan."""
    for name, module in list(sys.modules.items()):
        if module is None or _SCANNED.get(name) is module:
            continue
        _SCANNED[name] = module
        ns = _namespace(module)
        if ns is None:
            continue
        for gname, value in list(ns.items()):
            if _is_key(value):
                _KEY_GLOBALS[(name, gname)] = (module, value)


def _rebound() -> list[tuple[str, str, Any, Any]]:
    """Key globals that now hold something other than a key: (module, name, key, value)."""
    out = []
    for (mname, gname), (module, key) in list(_KEY_GLOBALS.items()):
        if sys.modules.get(mname) is not module:  # unloaded or replaced: forget it
            del _KEY_GLOBALS[(mname, gname)]
            if _SCANNED.get(mname) is module:
                del _SCANNED[mname]
            continue
        ns = _namespace(module)
        if ns is None or gname not in ns:
            continue
        value = ns[gname]
        if value is key:
            continue
        if _is_key(value):  # a reload, or a new definition: follow it
            _KEY_GLOBALS[(mname, gname)] = (module, value)
            continue
        out.append((mname, gname, key, value))
    return out


def _describe(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------
# The fixture.
# --------------------------------------------------------------------------------------

def _resolve(key: Any, globals_: dict[str, Any]) -> StaticCall[Any]:
    """A key, a handle (its rights checked for the test's module) or ``"module:name"``."""
    from ._exports import StaticCallHandle, declare_static_call
    from ._keys import StaticCall

    if isinstance(key, str):
        key = declare_static_call(key)
    if isinstance(key, StaticCall):
        return key
    if isinstance(key, StaticCallHandle):
        return key._resolve_for("update", globals_)
    raise TypeError(f"staticcall fixture: expected a StaticCall key, a handle or a "
                    f"'module:name' string, not {type(key).__name__}")


class _Override(Generic[F]):
    """``staticcall.override(key, func)``: ``static_call_override`` that the fixture
    ends at the end of the test if the test did not."""

    def __init__(self, owner: StaticCallFixture, key: StaticCall[Any], func: Any) -> None:
        self._owner = owner
        self._key = key
        self._func = func
        self._cm: Any = None

    def __enter__(self) -> F | None:
        from ._update import static_call_override

        if self._cm is not None:
            raise RuntimeError("staticcall.override(...) is already in effect")
        cm = static_call_override(self._key, self._func)
        previous: F | None = cm.__enter__()
        self._cm = cm
        self._owner._open.append(self)
        return previous

    def __exit__(self, *exc: Any) -> None:
        cm, self._cm = self._cm, None
        if cm is None:
            return
        self._owner._open.remove(self)
        cm.__exit__(*exc)


class StaticCallFixture:
    """The ``staticcall`` fixture: retargets keys for one test.

    Each ``update`` is an override of the key that stays in effect until the end of the
    test; the fixture then ends every override it made, most recent first, so that each
    key gets back what it had, whatever other overrides began or ended meanwhile (see
    ``static_call_override``)."""

    def __init__(self) -> None:
        self._open: list[_Override[Any]] = []  # overrides in effect, in the order they began
        self._warned: set[tuple[str, str]] = set()

    @overload
    def update(self, key: StaticCall[F] | StaticCallHandle[F], func: Target[F]) -> F | None: ...
    @overload
    def update(self, key: KeyOrHandle[F], func: Return0Type) -> F | None: ...
    @overload
    def update(self, key: KeyOrHandle[F], func: Target[F]) -> F | None: ...
    @overload
    def update(self, key: str, func: Any) -> Any: ...

    def update(self, key: Any, func: Any) -> Any:
        """``static_call_update(key, func)`` until the end of the test; returns the
        previous target. ``key``: a key, a handle or ``"module:name"``."""
        self._check_rebinds()
        return _Override(self, _resolve(key, sys._getframe(1).f_globals), func).__enter__()

    @overload
    def override(self, key: StaticCall[F] | StaticCallHandle[F],
                 func: Target[F]) -> _Override[F]: ...
    @overload
    def override(self, key: KeyOrHandle[F], func: Return0Type) -> _Override[F]: ...
    @overload
    def override(self, key: KeyOrHandle[F], func: Target[F]) -> _Override[F]: ...
    @overload
    def override(self, key: str, func: Any) -> _Override[Any]: ...

    def override(self, key: Any, func: Any) -> _Override[Any]:
        """``with staticcall.override(key, func):`` -- ``static_call_override`` for the
        block (ended at the end of the test if the block did not end it). ``key``: a
        key, a handle or ``"module:name"``."""
        self._check_rebinds()
        return _Override(self, _resolve(key, sys._getframe(1).f_globals), func)

    def undo(self) -> None:
        """Restore every key changed so far (done at the end of the test)."""
        errors: list[BaseException] = []
        for cm in reversed(list(self._open)):
            try:
                cm.__exit__(None, None, None)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def _check_rebinds(self) -> None:
        from ._errors import StaticCallWarning

        _scan()
        for mname, gname, key, value in _rebound():
            if (mname, gname) in self._warned:
                continue
            self._warned.add((mname, gname))
            warnings.warn(
                f"{mname}.{gname} held static call {key.name!r} and now holds "
                f"{_describe(value)}: decorated code bound the key when it was decorated "
                f"and does not see the new global. Replace the key's target instead: "
                f"staticcall.override({mname}.{gname}, fake) or staticcall.update(...)",
                StaticCallWarning, stacklevel=3)


_LIVE: list[StaticCallFixture] = []


@pytest.fixture
def staticcall() -> Iterator[StaticCallFixture]:
    """Retarget keys for this test: ``staticcall.update(key, func)``,
    ``with staticcall.override(key, func):``; every key touched is restored afterwards."""
    fixture = StaticCallFixture()
    _scan()  # what the key globals hold before the test changes anything
    _LIVE.append(fixture)
    try:
        yield fixture
        fixture._check_rebinds()
    finally:
        _LIVE.remove(fixture)
        fixture.undo()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    yield
    # patches made by fixtures (monkeypatch, mocker) are still in place here
    for fixture in list(_LIVE):
        fixture._check_rebinds()


@pytest.fixture
def static_call_override(staticcall: StaticCallFixture) -> Callable[[Any, Any], Any]:
    """Deprecated: use the ``staticcall`` fixture (``staticcall.update(key, func)``)."""
    warnings.warn("the static_call_override fixture is deprecated: use the staticcall "
                  "fixture, staticcall.update(key, func) or "
                  "with staticcall.override(key, func)", DeprecationWarning, stacklevel=2)

    def override(key: Any, func: Any) -> Any:
        k = _resolve(key, sys._getframe(1).f_globals)
        return _Override(staticcall, k, func).__enter__()

    return override


__all__ = ["StaticCallFixture", "staticcall", "static_call_override"]
