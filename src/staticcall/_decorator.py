"""@static_calls: record a function's sites and rewrite them (INLINE mode)."""

from __future__ import annotations

import functools
import inspect
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
from ._late import Binder
from ._patch import Holder
from ._rewrite import FoundSite, UnboundName, find_sites, read, rewrite
from ._sites import SiteRecord, register
from ._static_keys import StaticKey, static_branch_likely, static_branch_unlikely
from ._tracepoints import Tracepoint

T = TypeVar("T")

MODES = ("inline", "trampoline")
UNSUPPORTED = _patch.unsupported_reason()
_warned = False

# Functions this decorator returned (decorating them again changes nothing).
REWRITTEN: weakref.WeakSet[Any] = weakref.WeakSet()


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
                      f"({UNSUPPORTED}); every call goes through the runtime path",
                      StaticCallWarning, stacklevel=level)


def resolver(globals_: dict[str, Any]):  # type: ignore[no-untyped-def]
    def resolve(value: Any) -> tuple[Any, ...] | None:
        if isinstance(value, StaticCall):
            return "key", value
        if isinstance(value, Tracepoint):
            return "tracepoint", value
        if isinstance(value, StaticKey):
            return "static_key", value
        if value is static_branch_unlikely or value is static_branch_likely:
            return ("branch",)
        if isinstance(value, StaticCallHandle):
            # a handle this module may not call (or that does not resolve) is a site
            # left as it is: the runtime path raises the error at the call
            why = _bind(value, globals_)[1]
            return ("handle", value) if why is None else ("handle", value, why)
        return None
    return resolve


def _bind(ref: Any, globals_: dict[str, Any]) -> tuple[Any, str | None]:
    """The key (static call key, tracepoint or static key) a site binds to, or why it
    cannot bind (left to the runtime path)."""
    if isinstance(ref, (StaticCall, Tracepoint, StaticKey)):
        return ref, None
    if isinstance(ref, UnboundName):
        return None, ref.reason
    try:
        return ref._resolve_for("call", globals_), None
    except StaticCallError as exc:
        return None, str(exc)


class _Work:
    """One decoration: rewritten codes and the sites found in them."""

    def __init__(self, globals_: dict[str, Any], mode: str,
                 candidate: Callable[[types.CodeType], bool] | None = None) -> None:
        self.globals = globals_
        self.mode = mode
        self.found: list[tuple[FoundSite, Any]] = []
        self.resolve = resolver(globals_)
        self.binders: dict[int, Binder] = {}  # id(late site) -> its binder
        # every code object rewritten so far: id(original) -> (original, rewritten)
        self.done: dict[int, tuple[types.CodeType, types.CodeType]] = {}
        # a cheap test that code may hold sites (None: assume it may); code that fails
        # it is not read, only given its rewritten nested code
        self.candidate = candidate

    def code(self, code: types.CodeType) -> types.CodeType:
        if self.candidate is not None and not self.candidate(code):
            new = _with_nested(code, self.code)
            self.done[id(code)] = (code, new)
            return new
        result = rewrite(code, self.globals, self.resolve, self.code)
        new = result.code
        for site in result.sites:
            key = None
            if not (site.late and site.reason is None):  # a late site binds when it runs
                key, why = _bind(site.ref, self.globals)
                if why is not None:
                    site.reason = why
            if self.mode == "trampoline" and site.reason is None:
                site.reason = "trampoline mode"
            self.found.append((site, key))
        rewritten = [s for s in result.sites if s.rewritten]
        if rewritten:
            new = new.replace(co_consts=self._constants(new, rewritten))
            for site in rewritten:
                site.code = new
        self.done[id(code)] = (code, new)
        return new

    def _constants(self, new: types.CodeType, rewritten: list[FoundSite]) -> tuple[Any, ...]:
        consts = list(new.co_consts)
        for site in rewritten:
            if site.indices is None:
                continue  # a branch site has no constants
            # The key itself is a correct (runtime-path) target until the site's
            # table entry sets the real values, and stays there while no call is made.
            # A late site not bound yet calls what its binder last saw, as the original
            # code would (where the layout loads the target again after the arguments).
            binder = None
            if site.binder_index is not None:
                binder = self.binders[id(site)] = Binder(site.cond)
                consts[site.binder_index] = binder
            first = binder.unbound_call if binder is not None else _unbound_key(site)
            t = consts[site.indices[0]]
            if isinstance(t, Holder):
                t.target = first
            else:
                consts[site.indices[0]] = first
            if site.indices[1] is not None:
                consts[site.indices[1]] = None
        return tuple(consts)


def _with_nested(code: types.CodeType,
                 nested: Callable[[types.CodeType], types.CodeType]) -> types.CodeType:
    """``code`` with each code object among its constants replaced by ``nested(it)``."""
    consts = tuple(nested(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    if all(a is b for a, b in zip(consts, code.co_consts)):
        return code
    return code.replace(co_consts=consts)


def rewrite_code(code: types.CodeType, globals_: dict[str, Any],
                 candidate: Callable[[types.CodeType], bool] | None = None
                 ) -> tuple[dict[int, tuple[types.CodeType, types.CodeType]], list[SiteRecord]]:
    """What ``@static_calls`` does to a function's code, for whole-package processing:
    rewrite ``code`` and the code objects it contains (inline mode) for ``globals_``;
    returns each code object with its rewritten version (``id(original) -> (original,
    new)``) and the table entries of their sites, to be registered by the caller once
    the functions run the new code. ``candidate``: see ``_Work``."""
    work = _Work(globals_, "inline", candidate)
    work.code(code)
    return work.done, _records(work, strict=False)


def _rewrite_function(func: types.FunctionType, mode: str,
                      strict: bool) -> tuple[types.FunctionType, list[SiteRecord]]:
    if mode == "trampoline" or UNSUPPORTED is not None:
        if UNSUPPORTED is not None and mode == "inline":
            _warn_unsupported()
        work = _Work(func.__globals__, "trampoline")
        _discover_only(work, func.__code__)
        new_func = func
    else:
        work = _Work(func.__globals__, mode)
        new_code = work.code(func.__code__)
        new_func = make_function(new_code, func) if new_code is not func.__code__ else func
    return new_func, _records(work, strict)


def _records(work: _Work, strict: bool) -> list[SiteRecord]:
    """The table entries for the sites ``work`` found (``strict``: refuse any left on
    the runtime path)."""
    if strict:
        bad = [s for s, _ in work.found if s.reason is not None]
        if bad:
            s = bad[0]
            raise StaticCallError(f"static call site {s.filename}:{s.lineno} in {s.qualname} "
                                  f"stays on the runtime path: {s.reason}")
    # laid out for their keys' state when they are registered, under the update lock
    records = []
    for site, key in work.found:
        rec = SiteRecord(site, key if key is not None else _unbound_key(site))
        binder = work.binders.get(id(site))
        if binder is not None:
            binder.record = rec
        records.append(rec)
    return records


def _unbound_key(site: FoundSite) -> Any:
    """What an unbound site's table entry names: the handle's key if it has one, else
    the handle itself (a declaration that could not be resolved)."""
    ref = site.ref
    key = getattr(ref, "_key", None)
    return key if isinstance(key, StaticCall) else ref


def _discover_only(work: _Work, code: types.CodeType, why: str | None = None) -> None:
    """Record sites without rewriting (trampoline mode, unsupported interpreters, code
    the decorator cannot replace: ``why``)."""
    from bytecode import Instr

    try:
        items = list(read(code))
        found = find_sites(items, code, work.globals, work.resolve)
    except Exception:  # bytecode this interpreter's tools do not know: nothing to list
        return
    for site in found:
        key, bound = _bind(site.ref, work.globals)
        site.reason = (why or bound or site.reason
                       or ("trampoline mode" if UNSUPPORTED is None
                           else f"not rewritten: {UNSUPPORTED}"))
        work.found.append((site, key))
    for item in items:
        if isinstance(item, Instr) and isinstance(item.arg, types.CodeType):
            _discover_only(work, item.arg, why)


class _Ctx:
    """One call of the decorator: its options, and what it has done so far (an object
    reached twice, a function registered for two types say, is processed once)."""

    def __init__(self, mode: str, strict: bool) -> None:
        self.mode = mode
        self.strict = strict
        self.memo: dict[int, tuple[Any, Any, bool]] = {}  # id -> (object, result, reached)


def _static(obj: Any, name: str) -> Any:
    """``obj.name`` as :func:`inspect.getattr_static` finds it, or ``None``: no
    descriptor, property getter, ``__getattr__`` or ``__getattribute__`` runs."""
    try:
        return inspect.getattr_static(obj, name, None)
    except Exception:  # a broken __dict__ or __mro__: nothing to follow
        return None


def _slot(base: type, name: str, obj: Any) -> Any:
    """The value of ``base``'s own attribute descriptor ``name`` on ``obj`` (an instance
    of ``base`` or a subclass), read without the subclass's attribute hooks."""
    return vars(base)[name].__get__(obj, type(obj))


def _innermost(func: Any, dynamic: bool) -> tuple[Any, list[Any]]:
    """Follow ``__wrapped__`` to the deepest Python function; returns it (``None`` if
    there is none) and the chain down to it. Statically, unless ``dynamic``: what the
    caller passed itself may compute its ``__wrapped__`` (a proxy's property); a class
    member's is not evaluated."""
    chain = [func]
    seen = {id(func)}
    while True:
        inner = _static(chain[-1], "__wrapped__")
        if dynamic and inner is not None and not callable(inner):
            inner = getattr(chain[-1], "__wrapped__", None)
        if inner is None or id(inner) in seen or not callable(inner):
            break
        seen.add(id(inner))
        chain.append(inner)
    while chain and not isinstance(chain[-1], types.FunctionType):
        chain.pop()
    return (chain[-1] if chain else None), chain


def _is_singledispatch(obj: Any) -> bool:
    return all(_static(obj, name) is not None for name in ("registry", "register", "dispatch"))


def _no_code(obj: Any) -> str:
    """What ``obj`` is, for the error saying that the decorator cannot rewrite it."""
    t = type(obj)
    if issubclass(t, types.MethodType):
        hint = "a bound method: decorate the function it binds (in the class body)"
    elif issubclass(t, functools.partial):
        hint = "a functools.partial: decorate the function it wraps"
    elif issubclass(t, types.ModuleType):
        hint = "a module: decorate its functions or classes"
    elif issubclass(t, (types.BuiltinFunctionType, types.MethodDescriptorType,
                        types.WrapperDescriptorType, types.MethodWrapperType, type)):
        hint = "built in: it has no Python code"
    else:
        hint = "it holds no Python function whose code could be rewritten"
    try:
        what = repr(obj)
    except Exception:
        what = f"<{t.__name__} object>"
    if len(what) > 80:
        what = what[:77] + "..."
    return f"@static_calls cannot rewrite {what} ({t.__qualname__}): {hint}"


def _decorate(obj: Any, mode: str, strict: bool) -> Any:
    new, reached = _process(obj, _Ctx(mode, strict), None)
    if not reached:
        raise TypeError(_no_code(obj))
    return new


def _process(obj: Any, ctx: _Ctx, owner: str | None) -> tuple[Any, bool]:
    """Rewrite what ``obj`` holds; returns what replaces it and whether it held any
    Python code. ``owner`` names the class when ``obj`` is one of its members."""
    done = ctx.memo.get(id(obj))
    if done is not None and done[0] is obj:
        return done[1], done[2]
    result = _process_once(obj, ctx, owner)
    ctx.memo[id(obj)] = (obj, *result)
    return result


def _process_once(obj: Any, ctx: _Ctx, owner: str | None) -> tuple[Any, bool]:
    t = type(obj)
    if issubclass(t, types.FunctionType):
        return _process_function(obj, ctx, owner)
    for kind in (staticmethod, classmethod):
        if issubclass(t, kind):
            func = _slot(kind, "__func__", obj)
            inner, reached = _process(func, ctx, owner)
            return (obj if inner is func else kind(inner)), reached
    if issubclass(t, property):
        return _process_property(obj, ctx, owner)
    if issubclass(t, (functools.cached_property, functools.partialmethod)):
        # the function is an ordinary attribute of these: rewritten in place
        func = _static(obj, "func")
        if func is None:
            return obj, False
        inner, reached = _process(func, ctx, owner)
        if inner is not func:
            obj.func = inner
        return obj, reached
    if issubclass(t, functools.singledispatchmethod):
        return _process_singledispatchmethod(obj, ctx, owner)
    if issubclass(t, type):
        return _process_class(obj, ctx, owner)
    if issubclass(t, functools.partial) and owner is not None:
        return _process_partial_member(obj, ctx, owner)
    if callable(obj) and _static(obj, "__wrapped__") is not None:
        return _wrapper(obj, ctx, owner)
    return obj, False


def _process_function(func: Any, ctx: _Ctx, owner: str | None) -> tuple[Any, bool]:
    if func in REWRITTEN:
        return func, True
    if _is_singledispatch(func):
        _dispatch_registry(func, ctx, owner)
        return func, True
    if _static(func, "__wrapped__") is not None:
        return _wrapper(func, ctx, owner)
    new, records = _rewrite_function(func, ctx.mode, ctx.strict)
    register(new, records)
    REWRITTEN.add(new)
    return new, True


def _process_property(obj: Any, ctx: _Ctx, owner: str | None) -> tuple[Any, bool]:
    old = [_slot(property, name, obj) for name in ("fget", "fset", "fdel")]
    parts = [_process(f, ctx, owner) if f is not None else (None, False) for f in old]
    reached = any(r for _, r in parts)
    if all(a is b for (a, _), b in zip(parts, old)):
        return obj, reached
    doc = _slot(property, "__doc__", obj) if "__doc__" in vars(property) else None
    return type(obj)(parts[0][0], parts[1][0], parts[2][0], doc), reached


def _process_singledispatchmethod(obj: Any, ctx: _Ctx, owner: str | None) -> tuple[Any, bool]:
    dispatcher, func = _static(obj, "dispatcher"), _static(obj, "func")
    if dispatcher is None or not _is_singledispatch(dispatcher):
        return obj, False
    new_func = _dispatch_registry(dispatcher, ctx, owner)
    if new_func is not None and func is not None and new_func is not func:
        obj.func = new_func
    return obj, True


def _process_class(cls: Any, ctx: _Ctx, owner: str | None) -> tuple[Any, bool]:
    if owner is not None and not _nested_in(cls, owner):
        return cls, False  # another class the body names: not defined there
    if not _slot(type, "__flags__", cls) & _HEAPTYPE:
        return cls, False  # a built-in class
    qualname = _slot(type, "__qualname__", cls)
    for name, member in list(vars(cls).items()):
        new, _ = _process(member, ctx, qualname)
        if new is not member:
            setattr(cls, name, new)
    return cls, True


def _process_partial_member(obj: Any, ctx: _Ctx, owner: str) -> tuple[Any, bool]:
    # a class member that does not bind as a method, and whose function cannot be
    # swapped: its sites are listed, on the runtime path, with the reason
    func = _slot(functools.partial, "func", obj)
    if isinstance(func, types.FunctionType) and func not in REWRITTEN:
        _list_only(func, ctx, f"reached only through a functools.partial member of "
                              f"{owner}, which is not rewritten: decorate "
                              f"{func.__qualname__} itself")
    return obj, isinstance(func, types.FunctionType)


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement


def _nested_in(cls: type, owner: str) -> bool:
    qualname = _slot(type, "__qualname__", cls)
    return isinstance(qualname, str) and qualname.rpartition(".")[0] == owner


def _wrapper(obj: Any, ctx: _Ctx, owner: str | None) -> tuple[Any, bool]:
    """A wrapper (``functools.wraps``, ``lru_cache``...): rewrite the Python function at
    the end of its ``__wrapped__`` chain and make the chain call the new one."""
    inner, chain = _innermost(obj, dynamic=owner is None)
    if inner is None:
        return obj, False
    if inner is obj:  # a Python function wrapping something that is not one
        new, records = _rewrite_function(obj, ctx.mode, ctx.strict)
        register(new, records)
        REWRITTEN.add(new)
        return new, True
    if inner not in REWRITTEN:
        new_inner, records = _rewrite_function(inner, ctx.mode, ctx.strict)
        if new_inner is inner:
            register(inner, records)
            runs = inner
        else:
            runs = _splice(chain, inner, new_inner, records)
        REWRITTEN.add(runs)
    # the wrappers' own code may hold sites too: the outermost is replaced, as a plain
    # function is; one further in is reached only through the closure of the one outside
    # it, so it gets the new code in place
    result = obj
    for depth, wrapper in enumerate(chain[:-1]):
        if not isinstance(wrapper, types.FunctionType) or wrapper in REWRITTEN:
            continue
        new, records = _rewrite_function(wrapper, ctx.mode, ctx.strict)
        if new is not wrapper and depth > 0:
            register(wrapper, records)  # laid out before the wrapper outside runs it
            wrapper.__code__ = new.__code__
            new = wrapper
        else:
            register(new, records)
            if depth == 0:
                result = new
        REWRITTEN.add(new)
    try:
        REWRITTEN.add(result)
    except TypeError:
        pass
    return result, True


def _dispatch_registry(dispatcher: Any, ctx: _Ctx, owner: str | None) -> Any:
    """Rewrite every implementation registered with a ``functools.singledispatch``
    function; returns what now stands for the one registered for ``object``."""
    registry = _static(dispatcher, "registry")
    base = None
    for cls, impl in list(getattr(registry, "items", dict)()):
        new, _ = _process(impl, ctx, owner)
        if new is not impl:
            dispatcher.register(cls, new)
        if cls is object:
            base = new
    if base is not None and _static(dispatcher, "__wrapped__") is not None:
        try:
            dispatcher.__wrapped__ = base
        except (AttributeError, TypeError):
            pass
    return base


def _list_only(func: types.FunctionType, ctx: _Ctx, why: str) -> None:
    """Record ``func``'s sites, not rewritten, each with ``why`` as its reason."""
    work = _Work(func.__globals__, "trampoline")
    _discover_only(work, func.__code__, why)
    register(func, _records(work, ctx.strict))


def _splice(chain: list[Any], old: types.FunctionType, new: types.FunctionType,
            records: list[SiteRecord]) -> types.FunctionType:
    """Make the wrappers of ``chain`` call ``new`` instead of ``old``, once ``new``'s
    sites (``records``) are registered, so laid out: a call through the wrappers meanwhile
    (another thread's) runs the old code. Returns the function that now runs the new
    code."""
    cells = []
    for wrapper in chain[:-1]:
        closure = wrapper.__closure__ if isinstance(wrapper, types.FunctionType) else None
        for cell in closure or ():
            try:
                if cell.cell_contents is old:
                    cells.append(cell)
            except ValueError:
                continue
    # Without a cell, the wrapper reaches the function some other way: the original gets
    # the new code (correct, though calls to it may specialise less on 3.13+).
    runs = new if cells else old
    register(runs, records)
    for wrapper in chain[:-1]:
        if _static(wrapper, "__wrapped__") is old:
            try:
                wrapper.__wrapped__ = new
            except (AttributeError, TypeError):
                pass
    for cell in cells:
        cell.cell_contents = new
    if not cells:
        old.__code__ = new.__code__
    return runs


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
