"""Whole-package processing: every function of a module, as if decorated, with no
decorator (the import hook that calls this is ``_install``).

Processing a module, once it has finished importing (or at once, for one imported
already):

1. find its functions: every function object whose globals are the module's, reachable
   from its namespace (classes defined there and their members, wrappers, closures,
   default arguments, containers). Each object is given new code in place
   (``_recode``), so whoever holds it -- a registry, a dispatch table, a decorator --
   runs what it gets, and calls to it stay as cheap;
2. pre-scan each code object: one whose names include nothing a site can name (a key, a
   handle, a tracepoint, ``static_call``, ``static_branch_unlikely``..., also through a
   module: ``mod.K``) is not touched;
3. wait for the rest to be called: the first call of a function (caught by a
   ``sys.monitoring`` event, ``_trigger``, or on 3.11 by first-call stubs in a staged
   copy of its code, ``_stage``) rewrites it whole (the path ``@static_calls`` takes,
   against the module's namespace as it was when the module was processed) and gives it
   the rewritten code; the frame that started keeps running what it started with. A
   function that waits in vain (3.11, sites only through ``mod.K``) is rewritten at
   once. :func:`flush` rewrites every function still waiting.
"""

from __future__ import annotations

import functools
import sys
import types
import warnings
import weakref
from typing import Any, Callable, Iterator

from . import _patch, _sites, _trigger
from ._decorator import REWRITTEN, rewrite_code
from ._errors import StaticCallWarning
from ._keys import UPDATE_LOCK, Handle, StaticCall, static_call, static_call_cond
from ._recode import set_code
from ._stage import stage
from ._static_keys import static_branch_likely, static_branch_unlikely
from ._tracepoints import Tracepoint

_FORMS = (static_call, static_call_cond)
_BRANCHES = (static_branch_likely, static_branch_unlikely)
_METHOD = type(static_call)

#: How many objects one module's namespace walk visits at most, and how deep it goes into
#: containers (a registry dict in a module global is depth 1).
WALK_BUDGET = 20_000
CONTAINER_DEPTH = 2
CONTAINER_ITEMS = 1_000


def site_value(value: Any) -> bool:
    """Whether a site can name ``value``: what a call of it may be rewritten to skip."""
    if isinstance(value, (StaticCall, Handle, Tracepoint)):
        return True
    if type(value) is _METHOD:
        return any(value == form for form in _FORMS)
    return type(value) is types.FunctionType and any(value is b for b in _BRANCHES)


# --------------------------------------------------------------------------------------
# Finding a module's functions.
# --------------------------------------------------------------------------------------

def _children(obj: Any, depth: int, module: str) -> Iterator[tuple[Any, int]]:
    """What ``obj`` holds that may be (or lead to) a function of the module, statically:
    no property, descriptor or ``__getattr__`` runs."""
    t = type(obj)
    if t is types.FunctionType:
        attrs = obj.__dict__
        for name in ("__wrapped__", "registry"):
            if name in attrs:
                yield attrs[name], depth
        for cell in obj.__closure__ or ():
            try:
                yield cell.cell_contents, depth
            except ValueError:
                continue
        yield from ((v, depth) for v in obj.__defaults__ or ())
        yield from ((v, depth) for v in (obj.__kwdefaults__ or {}).values())
    elif t in (staticmethod, classmethod, types.MethodType):
        yield obj.__func__, depth
    elif t is property:
        yield from ((f, depth) for f in (obj.fget, obj.fset, obj.fdel) if f is not None)
    elif t in (functools.partial, functools.partialmethod):
        yield obj.func, depth
        yield from ((v, depth) for v in obj.args)
        yield from ((v, depth) for v in obj.keywords.values())
    elif t in (functools.cached_property, functools.singledispatchmethod):
        yield from ((v, depth) for v in vars(obj).values())
    elif isinstance(obj, type):
        if obj.__module__ == module and obj.__flags__ & _HEAPTYPE:
            yield from ((v, depth) for v in list(vars(obj).values()))
    elif depth < CONTAINER_DEPTH and t in (dict, types.MappingProxyType):
        yield from ((v, depth + 1) for v in list(obj.values())[:CONTAINER_ITEMS])
    elif depth < CONTAINER_DEPTH and t in (list, tuple, set, frozenset):
        yield from ((v, depth + 1) for v in list(obj)[:CONTAINER_ITEMS])
    elif t is StaticCall:
        # a module may hold a function only as a key's target
        yield obj.__dict__.get("_sc_target"), depth
    elif t is _LRU_WRAPPER:
        wrapped = vars(obj).get("__wrapped__")
        if wrapped is not None:
            yield wrapped, depth


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement
_LRU_WRAPPER = type(functools.lru_cache(None)(lambda: None))


def module_functions(module: types.ModuleType) -> list[types.FunctionType]:
    """The function objects of ``module`` (whose globals are its namespace) reachable
    from its namespace, in a bounded walk."""
    g = module.__dict__
    name = module.__name__
    out: list[types.FunctionType] = []
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(v, 0) for v in list(g.values())]
    budget = WALK_BUDGET
    while stack and budget:
        obj, depth = stack.pop()
        budget -= 1
        if id(obj) in seen or obj is None:
            continue
        seen.add(id(obj))
        if type(obj) is types.FunctionType and obj.__globals__ is g:
            out.append(obj)
        try:
            stack.extend(_children(obj, depth, name))
        except Exception:  # an object whose state cannot be read statically: skip it
            continue
    return out


# --------------------------------------------------------------------------------------
# The pre-scan.
# --------------------------------------------------------------------------------------

class Scan:
    """What a module's names are bound to, as far as sites are concerned."""

    def __init__(self, globals_: dict[str, Any]) -> None:
        self.globals = globals_
        #: names bound to something a site can name: each call of one is staged
        self.values = {n: v for n, v in list(globals_.items()) if site_value(v)}
        self.modules = {n: v for n, v in list(globals_.items())
                        if isinstance(v, types.ModuleType)}
        self._attrs: dict[int, tuple[frozenset[str], dict[str, types.ModuleType]]] = {}

    @property
    def empty(self) -> bool:
        return not self.values and not self.modules

    def candidate(self, code: types.CodeType) -> bool:
        """Whether ``code`` may hold a site (its names alone say it cannot)."""
        names = code.co_names
        if not self.values.keys().isdisjoint(names):
            return True
        if self.modules.keys().isdisjoint(names):
            return False
        wanted = set(names)
        return any(self._reaches(self.modules[n], wanted, 0) for n in wanted & self.modules.keys())

    def _reaches(self, module: types.ModuleType, names: set[str], depth: int) -> bool:
        """Whether an attribute chain over ``names`` from ``module`` reaches a site value."""
        attrs, submodules = self._attributes(module)
        if not attrs.isdisjoint(names):
            return True
        return depth < 2 and any(self._reaches(submodules[n], names, depth + 1)
                                 for n in names & submodules.keys())

    def _attributes(self, module: types.ModuleType
                    ) -> tuple[frozenset[str], dict[str, types.ModuleType]]:
        got = self._attrs.get(id(module))
        if got is None:
            items = list(getattr(module, "__dict__", {}).items())
            got = (frozenset(n for n, v in items if site_value(v)),
                   {n: v for n, v in items if isinstance(v, types.ModuleType)})
            self._attrs[id(module)] = got
        return got


def _tree(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _tree(c)


# --------------------------------------------------------------------------------------
# Units: one function's code tree, staged, then rewritten.
# --------------------------------------------------------------------------------------

PENDING, BUSY, DONE, FAILED = "pending", "busy", "done", "failed"

#: Units waiting for their first call (held weakly: their stubs hold them).
WAITING: weakref.WeakSet[Unit] = weakref.WeakSet()


class _Node:
    """One code object of a unit's tree: as compiled, its staged copy (``None``: the
    functions keep running the original until the rewrite), the stubs that copy holds,
    and the functions found running it."""

    __slots__ = ("original", "staged", "stubs", "funcs")

    def __init__(self, original: types.CodeType) -> None:
        self.original = original
        self.staged: types.CodeType | None = None
        self.stubs: list[tuple[int, Any, Any]] = []
        self.funcs: list[weakref.ref[types.FunctionType]] = []

    @property
    def running(self) -> types.CodeType:
        return self.staged if self.staged is not None else self.original


class Unit:
    """A function of a processed module (with the functions found running code nested in
    it: closures made while the module was importing), from staging to rewriting."""

    __slots__ = ("root", "nodes", "snapshot", "scan", "state", "__weakref__")

    def __init__(self, root: types.CodeType, snapshot: dict[str, Any], scan: Scan) -> None:
        self.root = root
        self.nodes = {id(c): _Node(c) for c in _tree(root)}
        self.snapshot: dict[str, Any] | None = snapshot
        self.scan: Scan | None = scan
        self.state = PENDING

    def __repr__(self) -> str:
        return f"<staticcall unit {_where(self.root)} {self.state}>"

    def add(self, func: types.FunctionType) -> None:
        self.nodes[id(func.__code__)].funcs.append(weakref.ref(func))

    def stage(self) -> bool:
        """Wait for the first call of any of the unit's code: caught by ``_trigger``
        where it can, else by giving the functions staged code. Whether anything waits
        (if not, nothing would trigger the rewrite: the caller rewrites the unit now)."""
        assert self.scan is not None
        if _trigger.arm([n.original for n in self.nodes.values()], self.upgrade):
            WAITING.add(self)
            return True
        self._stage(self.root, self.scan)
        if not any(n.stubs for n in self.nodes.values()):
            for node in self.nodes.values():
                node.staged = None
            return False
        for node in self.nodes.values():
            if node.staged is not None:
                self._give(node, node.original, node.staged)
        WAITING.add(self)
        return True

    def _stage(self, code: types.CodeType, scan: Scan) -> types.CodeType:
        node = self.nodes[id(code)]
        consts = tuple(self._stage(c, scan) if isinstance(c, types.CodeType) else c
                       for c in code.co_consts)
        new = code
        if any(a is not b for a, b in zip(consts, code.co_consts)):
            new = code.replace(co_consts=consts)
        if scan.candidate(code):
            staged = stage(new, scan.values, functools.partial(_stub, self))
            if staged is not None:
                new, node.stubs = staged
        if new is not code:
            node.staged = new
        return new

    def _give(self, node: _Node, old: types.CodeType, new: types.CodeType) -> None:
        for ref in node.funcs:
            func = ref()
            if func is not None and func.__code__ is old:
                set_code(func, new)
                REWRITTEN.add(func)

    def upgrade(self) -> None:
        """Rewrite the tree in full and give its functions the new code; never raises
        (a failure leaves them on the runtime path, with a warning)."""
        with UPDATE_LOCK:
            if self.state != PENDING:
                return
            self.state = BUSY
            try:
                self._rewrite()
                self.state = DONE
            except Exception as exc:
                self.state = FAILED
                warnings.warn(f"staticcall: {_where(self.root)} could not be rewritten "
                              f"({type(exc).__name__}: {exc}); its calls take the runtime "
                              f"path", StaticCallWarning, stacklevel=3)
            finally:
                _trigger.disarm([n.original for n in self.nodes.values()])
                self._retire()
                self.snapshot = self.scan = None
                WAITING.discard(self)

    def _rewrite(self) -> None:
        assert self.snapshot is not None and self.scan is not None
        done, records = rewrite_code(self.root, self.snapshot, self.scan.candidate)
        for node in self.nodes.values():
            new = done.get(id(node.original), (node.original, node.original))[1]
            if new is not node.running:
                self._give(node, node.running, new)
        _sites.register(done[id(self.root)][1], records)

    def _retire(self) -> None:
        """Frames that started on staged code keep running it: its stubs become the
        values they stood for, in place (a stub stays alive while its code does, for the
        frames that may still hold it)."""
        stale = []
        for node in self.nodes.values():
            if node.staged is None or not node.stubs:
                continue
            consts = node.staged.co_consts
            for index, _, value in node.stubs:
                _patch.set_const(consts, index, value)
            weakref.finalize(node.staged, _keep, node.stubs)
            stale.append(node.staged)
        _patch.invalidate_traces(stale)


def _keep(*_: Any) -> None:
    """Keeps what it is given alive, as the arguments of a ``weakref.finalize``."""


def _where(code: types.CodeType) -> str:
    name = getattr(code, "co_qualname", code.co_name)
    return f"{name} ({code.co_filename}:{code.co_firstlineno})"


def _stub(unit: Unit, value: Any) -> Callable[..., Any]:
    """What a staged call of ``value`` calls: ``value`` itself, after (at the first call)
    the unit is rewritten. A handle is checked against the calling module, as the
    original call would (the stub's own frame is in between)."""
    if isinstance(value, Handle):
        def first_call_handle(*args: Any, **kwargs: Any) -> Any:
            unit.upgrade()
            key = value._resolve_for("call", sys._getframe(1).f_globals)
            return key(*args, **kwargs)
        return first_call_handle
    if type(value) is _METHOD:  # static_call or static_call_cond
        def first_call_form(*args: Any, **kwargs: Any) -> Any:
            unit.upgrade()
            if len(args) == 1 and not kwargs and isinstance(args[0], Handle):
                args = (args[0]._resolve_for("call", sys._getframe(1).f_globals),)
            return value(*args, **kwargs)
        return first_call_form

    def first_call(*args: Any, **kwargs: Any) -> Any:
        unit.upgrade()
        return value(*args, **kwargs)
    return first_call


# --------------------------------------------------------------------------------------
# Processing a module.
# --------------------------------------------------------------------------------------

def _units(funcs: list[types.FunctionType], snapshot: dict[str, Any],
           scan: Scan) -> list[Unit]:
    """One unit per code tree that is not nested in another found function's tree, with
    every function found running any code of that tree; only trees that may hold
    sites."""
    nested: set[int] = set()
    for func in funcs:
        nested.update(id(c) for c in list(_tree(func.__code__))[1:])
    units: dict[int, Unit] = {}
    owner: dict[int, Unit] = {}
    for func in funcs:
        code = func.__code__
        if id(code) in nested or id(code) in units:
            continue
        tree = list(_tree(code))
        if not any(scan.candidate(c) for c in tree):
            continue
        unit = units[id(code)] = Unit(code, snapshot, scan)
        owner.update((id(c), unit) for c in tree)
    for func in funcs:
        found = owner.get(id(func.__code__))
        if found is not None:
            found.add(func)
    return list(units.values())


def process_module(module: types.ModuleType) -> int:
    """Process ``module``'s functions (see the module docstring); returns how many
    function trees were staged or rewritten."""
    g = getattr(module, "__dict__", None)
    if not isinstance(g, dict):
        return 0
    scan = Scan(g)
    if scan.empty:
        return 0
    funcs = [f for f in module_functions(module) if f not in REWRITTEN]
    units = _units(funcs, dict(g), scan) if funcs else []
    for unit in units:
        if not unit.stage():
            unit.upgrade()
    return len(units)


def waiting(func: types.FunctionType) -> bool:
    """Whether ``func`` waits for its first call to be rewritten."""
    code = func.__code__
    return any(u.state == PENDING and any(n.running is code for n in u.nodes.values())
               for u in list(WAITING))


def flush() -> None:
    """Rewrite every staged function now (the site table lists every site then)."""
    while True:
        waiting = [u for u in list(WAITING) if u.state == PENDING]
        if not waiting:
            return
        for unit in waiting:
            unit.upgrade()


_sites.before_listing = flush
