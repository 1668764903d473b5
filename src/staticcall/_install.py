"""``install()``/``uninstall()`` and ``STATICCALL_PACKAGES``: process whole packages as
they are imported (the processing itself is ``_packages``).

A finder at the front of ``sys.meta_path`` asks the finders after it for the spec of a
module of an installed package and wraps its loader, so that the module is processed
when its code has run; the module's ``__loader__`` and ``__spec__.loader`` are the
original loader again from then on.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
import types
import warnings
from importlib import _bootstrap, _bootstrap_external
from importlib.machinery import ModuleSpec
from typing import Any, Sequence

from . import _env, _packages
from ._decorator import UNSUPPORTED
from ._errors import StaticCallWarning
from ._packages import process_module

#: The environment variable read at start-up (by the ``.pth`` file installed with the
#: package): a comma-separated list of packages to install.
ENVIRONMENT = "STATICCALL_PACKAGES"

#: Packages the rewriter itself runs on: processing them would rewrite the rewriter.
_REFUSED = ("staticcall", "bytecode")

_lock = threading.RLock()
_installed: set[str] = set()
_warned = False
_environment_read = False


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"staticcall.install() expects package names (str), "
                        f"not {type(name).__name__}")
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise ValueError(f"staticcall.install(): {name!r} is not a module name")
    if name.split(".")[0] in _REFUSED:
        raise ValueError(f"staticcall.install(): {name!r} cannot be processed: staticcall "
                         f"rewrites code with {', '.join(_REFUSED)}")
    return name


def wanted(name: str) -> bool:
    """Whether the module ``name`` belongs to an installed package."""
    if not _installed:
        return False
    parts = name.split(".")
    return any(".".join(parts[:n]) in _installed for n in range(1, len(parts) + 1))


#: the exec_module of the file loaders (source and .pyc): get_code, then exec
_STANDARD_EXEC: Any = vars(_bootstrap_external)["_LoaderBasics"].exec_module


#: runs what a module's code does, with the import system's frames left out of tracebacks
_RUN: Any = vars(_bootstrap)["_call_with_frames_removed"]


class _Loader(importlib.abc.Loader):
    """Runs the wrapped loader, then processes the module (anything else is the wrapped
    loader's)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        create = getattr(self._inner, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: types.ModuleType) -> None:
        _packages.importing += 1
        try:
            self._exec(module)
        finally:
            _packages.importing -= 1

    def _exec(self, module: types.ModuleType) -> None:
        inner = self._inner
        code = None
        try:
            if getattr(type(inner), "exec_module", None) is _STANDARD_EXEC:
                # what that exec_module does, keeping the code object it runs
                code = inner.get_code(module.__name__)
                if code is None:
                    raise ImportError(f"cannot load module {module.__name__!r} when "
                                      f"get_code() returns None")
                _RUN(exec, code, module.__dict__)
            else:
                inner.exec_module(module)
        finally:
            # the module shows its own loader, whatever happens
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = inner
            spec = getattr(module, "__spec__", None)
            if spec is not None and spec.loader is self:
                spec.loader = inner
        if wanted(module.__name__):
            process(module, code)


class _Finder:
    """At the front of ``sys.meta_path``: wraps the loader of the spec the other finders
    return for a module of an installed package."""

    def __init__(self) -> None:
        self._busy = threading.local()

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> ModuleSpec | None:
        if not wanted(name):
            return None
        busy = self._busy.__dict__.setdefault("names", set())
        if name in busy:
            return None  # another finder asked the import system again
        busy.add(name)
        try:
            spec = self._others(name, path, target)
        finally:
            busy.discard(name)
        if spec is not None and spec.loader is not None \
                and hasattr(spec.loader, "exec_module") and not isinstance(spec.loader, _Loader):
            spec.loader = _Loader(spec.loader)
        return spec

    def _others(self, name: str, path: Sequence[str] | None,
                target: types.ModuleType | None) -> ModuleSpec | None:
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                return spec  # type: ignore[no-any-return]
        return None


_FINDER = _Finder()


def process(module: types.ModuleType, code: types.CodeType | None = None) -> None:
    """Process one module (``code``: what it just ran); a failure is a warning, never an
    import error."""
    try:
        process_module(module, code)
    except Exception as exc:
        warnings.warn(f"staticcall: module {module.__name__!r} could not be processed "
                      f"({type(exc).__name__}: {exc}); its calls take the runtime path",
                      StaticCallWarning, stacklevel=2)


def _warn_unsupported() -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(f"staticcall: sites are not rewritten on this interpreter "
                      f"({UNSUPPORTED}); every call goes through the runtime path",
                      StaticCallWarning, stacklevel=3)


def install(*packages: str) -> None:
    """From now on process every module of ``packages`` (and their submodules) as it is
    imported: every function, method, lambda and comprehension defined in it has its
    sites rewritten, as if decorated; modules of these packages imported already are
    processed at once."""
    if not packages:
        raise TypeError("staticcall.install() needs at least one package name")
    names = [_check_name(p) for p in packages]
    if UNSUPPORTED is not None:
        _warn_unsupported()
        return
    with _lock:
        new = [n for n in names if n not in _installed]
        _installed.update(new)
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        sys.meta_path.insert(0, _FINDER)
    for name, module in sorted(list(sys.modules.items())):
        if isinstance(module, types.ModuleType) and any(
                name == n or name.startswith(n + ".") for n in new):
            process(module)


def uninstall(*packages: str) -> None:
    """Stop processing new imports of ``packages`` (no argument: of every package).
    Modules processed already stay processed."""
    for p in packages:
        if not isinstance(p, str):
            raise TypeError(f"staticcall.uninstall() expects package names (str), "
                            f"not {type(p).__name__}")
    with _lock:
        if packages:
            _installed.difference_update(packages)
        else:
            _installed.clear()
        if not _installed and _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)


def installed() -> list[str]:
    """The packages being processed as they are imported."""
    return sorted(_installed)


def packages_from(value: str) -> list[str]:
    """The package names of a ``STATICCALL_PACKAGES`` value (commas, spaces allowed)."""
    return [p.strip() for p in value.split(",") if p.strip()]


def from_environment() -> None:
    """``install`` the packages ``STATICCALL_PACKAGES`` names (at start-up; once: a
    venv's ``lib64`` link can make Python read the ``.pth`` file twice); a bad value is
    reported on stderr and changes nothing."""
    global _environment_read
    if _environment_read:
        return
    _environment_read = True
    value = _env.packages()
    names = packages_from(value)
    if not names:
        return
    try:
        install(*names)
    except (TypeError, ValueError) as exc:
        sys.stderr.write(f"staticcall: {ENVIRONMENT}={value!r}: {exc}\n")
