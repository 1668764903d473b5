"""@static_calls: record a function's sites and rewrite them (INLINE mode)."""

from __future__ import annotations

import functools
import sys
import types
import warnings
import weakref
from typing import Any, Callable, TypeVar, overload

from . import _patch
from ._errors import StaticCallError, StaticCallWarning
from ._exports import StaticCallHandle
from ._factory import make_function
from ._keys import UPDATE_LOCK, StaticCall
from ._patch import Holder
from ._rewrite import FoundSite, find_sites, read, rewrite
from ._sites import Patcher, SiteRecord, register

T = TypeVar("T")

MODES = ("inline", "trampoline")
_UNSUPPORTED = _patch.unsupported_reason()
_warned = False

# Functions this decorator returned (decorating them again changes nothing).
_DONE: weakref.WeakSet[Any] = weakref.WeakSet()


def _warn_unsupported() -> None:
    global _warned
    if not _warned:
        _warned = True
        # attribute the warning to the first caller outside this package
        level = 1
        frame: types.FrameType | None = sys._getframe(0)
        while frame is not None and str(frame.f_globals.get("__name__")).split(".")[0] \
                == "staticcall":
            level, frame = level + 1, frame.f_back
        warnings.warn(f"staticcall: sites are not rewritten on this interpreter "
                      f"({_UNSUPPORTED}); every call goes through the runtime path",
                      StaticCallWarning, stacklevel=level)


def _resolver(globals_: dict[str, Any]):  # type: ignore[no-untyped-def]
    def resolve(value: Any) -> tuple[Any, ...] | None:
        if isinstance(value, StaticCall):
            return "key", value
        if isinstance(value, StaticCallHandle):
            # a handle this module may not call (or that does not resolve) is a site
            # left as it is: the runtime path raises the error at the call
            why = _bind(value, globals_)[1]
            return ("handle", value) if why is None else ("handle", value, why)
        return None
    return resolve


def _bind(ref: Any, globals_: dict[str, Any]) -> tuple[StaticCall[Any] | None, str | None]:
    """The key a site binds to, or why it cannot bind (left to the runtime path)."""
    if isinstance(ref, StaticCall):
        return ref, None
    try:
        return ref._resolve_for("call", globals_), None
    except StaticCallError as exc:
        return None, str(exc)


class _Work:
    """One decoration: rewritten codes and the sites found in them."""

    def __init__(self, globals_: dict[str, Any], mode: str) -> None:
        self.globals = globals_
        self.mode = mode
        self.found: list[tuple[FoundSite, StaticCall[Any] | None]] = []
        self.resolve = _resolver(globals_)

    def code(self, code: types.CodeType) -> types.CodeType:
        result = rewrite(code, self.globals, self.resolve, self.code)
        new = result.code
        for site in result.sites:
            key, why = _bind(site.ref, self.globals)
            if why is not None:
                site.reason = why
            if self.mode == "trampoline" and site.reason is None:
                site.reason = "trampoline mode"
            self.found.append((site, key))
        rewritten = [s for s in result.sites if s.rewritten]
        if not rewritten:
            return new
        consts = list(new.co_consts)
        for site in rewritten:
            assert site.indices is not None
            # The key itself is a correct (runtime-path) target until the site's
            # table entry sets the real values, and stays there while no call is made.
            t = consts[site.indices[0]]
            if isinstance(t, Holder):
                t.target = _unbound_key(site)
            else:
                consts[site.indices[0]] = _unbound_key(site)
            if site.indices[1] is not None:
                consts[site.indices[1]] = None
        new = new.replace(co_consts=tuple(consts))
        for site in rewritten:
            site.code = new
        return new


def _rewrite_function(func: types.FunctionType, mode: str,
                      strict: bool) -> tuple[types.FunctionType, list[SiteRecord]]:
    if mode == "trampoline" or _UNSUPPORTED is not None:
        if _UNSUPPORTED is not None and mode == "inline":
            _warn_unsupported()
        work = _Work(func.__globals__, "trampoline")
        _discover_only(work, func.__code__)
        new_func = func
    else:
        work = _Work(func.__globals__, mode)
        new_code = work.code(func.__code__)
        new_func = make_function(new_code, func) if new_code is not func.__code__ else func
    if strict:
        bad = [s for s, _ in work.found if s.reason is not None]
        if bad:
            s = bad[0]
            raise StaticCallError(f"static call site {s.filename}:{s.lineno} in {s.qualname} "
                                  f"stays on the runtime path: {s.reason}")
    records: list[SiteRecord] = []
    with UPDATE_LOCK:
        patcher = Patcher()
        for site, key in work.found:
            if key is None:
                key = _unbound_key(site)
            live = site.rewritten and site.reason is None and bool(site.switches)
            rec = SiteRecord(key, site.qualname, site.filename, site.lineno, site.cond,
                             site.tail, site.reason, site.code if live else None,
                             site.indices, site.switches)
            if rec.code is not None:
                patcher.retarget(rec, key._sc_target)
            records.append(rec)
    return new_func, records


def _unbound_key(site: FoundSite) -> Any:
    """What an unbound site's table entry names: the handle's key if it has one, else
    the handle itself (a declaration that could not be resolved)."""
    ref = site.ref
    key = getattr(ref, "_key", None)
    return key if isinstance(key, StaticCall) else ref


def _discover_only(work: _Work, code: types.CodeType) -> None:
    """Record sites without rewriting (trampoline mode, unsupported interpreters)."""
    from bytecode import Instr

    try:
        items = list(read(code))
        found = find_sites(items, code, work.globals, work.resolve)
    except Exception:  # bytecode this interpreter's tools do not know: nothing to list
        return
    for site in found:
        key, why = _bind(site.ref, work.globals)
        site.reason = why or site.reason or ("trampoline mode" if _UNSUPPORTED is None
                                             else f"not rewritten: {_UNSUPPORTED}")
        work.found.append((site, key))
    for item in items:
        if isinstance(item, Instr) and isinstance(item.arg, types.CodeType):
            _discover_only(work, item.arg)


def _innermost(func: Any) -> tuple[Any, list[Any]]:
    """Follow ``__wrapped__`` to the function that holds the code; returns the chain."""
    chain = [func]
    seen = {id(func)}
    while True:
        inner = getattr(chain[-1], "__wrapped__", None)
        if inner is None or id(inner) in seen:
            return chain[-1], chain
        seen.add(id(inner))
        chain.append(inner)


def _decorate(obj: Any, mode: str, strict: bool) -> Any:
    if obj in _DONE if _hashable(obj) else False:
        return obj
    if isinstance(obj, staticmethod):
        inner = _decorate(obj.__func__, mode, strict)
        return obj if inner is obj.__func__ else staticmethod(inner)
    if isinstance(obj, classmethod):
        inner = _decorate(obj.__func__, mode, strict)
        return obj if inner is obj.__func__ else classmethod(inner)
    if isinstance(obj, property):
        parts = [_decorate(f, mode, strict) if f is not None else None
                 for f in (obj.fget, obj.fset, obj.fdel)]
        if all(a is b for a, b in zip(parts, (obj.fget, obj.fset, obj.fdel))):
            return obj
        return type(obj)(parts[0], parts[1], parts[2], obj.__doc__)
    if isinstance(obj, type):
        for name, member in list(vars(obj).items()):
            if isinstance(member, (types.FunctionType, staticmethod, classmethod, property)) \
                    or hasattr(member, "__wrapped__") and callable(member):
                new = _decorate(member, mode, strict)
                if new is not member:
                    setattr(obj, name, new)
        return obj
    if isinstance(obj, types.FunctionType) and not hasattr(obj, "__wrapped__"):
        new, records = _rewrite_function(obj, mode, strict)
        register(new, records)
        _DONE.add(new)
        return new
    if callable(obj) and hasattr(obj, "__wrapped__"):
        inner, chain = _innermost(obj)
        if not isinstance(inner, types.FunctionType) or inner in _DONE:
            return obj
        new_inner, records = _rewrite_function(inner, mode, strict)
        owner = _splice(chain, inner, new_inner) if new_inner is not inner else inner
        register(owner, records)
        _DONE.add(owner)
        if _hashable(obj):
            try:
                _DONE.add(obj)
            except TypeError:
                pass
        return obj
    return obj


def _splice(chain: list[Any], old: types.FunctionType,
            new: types.FunctionType) -> types.FunctionType:
    """Make the wrappers of ``chain`` call ``new`` instead of ``old``; returns the
    function that now runs the rewritten code."""
    replaced = False
    for wrapper in chain[:-1]:
        if getattr(wrapper, "__wrapped__", None) is old:
            try:
                wrapper.__wrapped__ = new
            except (AttributeError, TypeError):
                pass
        for cell in getattr(wrapper, "__closure__", None) or ():
            try:
                if cell.cell_contents is old:
                    cell.cell_contents = new
                    replaced = True
            except ValueError:
                continue
    if not replaced:
        # The wrapper reaches the function some other way: give the original the new code
        # (correct, though calls to it may specialise less on 3.13+).
        old.__code__ = new.__code__
        return old
    return new


def _hashable(obj: Any) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True


@overload
def static_calls(func: T) -> T: ...
@overload
def static_calls(*, mode: str = "inline", strict: bool = False) -> Callable[[T], T]: ...


def static_calls(func: Any = None, *, mode: str = "inline", strict: bool = False) -> Any:
    """Record every static call site of a function (or of every function of a class)
    in the site table and, in ``"inline"`` mode, rewrite them to call the target
    directly (or not at all, for NULL ``static_call_cond`` and RET0 sites)."""
    if mode not in MODES:
        raise ValueError(f"static_calls(mode={mode!r}): expected one of {MODES}")
    if func is None:
        return functools.partial(_decorate_entry, mode=mode, strict=strict)
    return _decorate_entry(func, mode=mode, strict=strict)


def _decorate_entry(func: Any, *, mode: str, strict: bool) -> Any:
    # Under the update lock, so that no update falls between reading a key's target
    # for the new sites and adding them to the key's site list.
    with UPDATE_LOCK:
        return _decorate(func, mode, strict)
