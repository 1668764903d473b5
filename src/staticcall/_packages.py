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
from typing import Any, Callable

from . import _patch, _sites, _trigger
from ._changing import changing
from ._decorator import REWRITTEN, rewrite_code
from ._errors import StaticCallWarning
from ._exports import StaticCallHandle
from ._keys import UPDATE_LOCK, Handle, StaticCall, static_call, static_call_cond
from ._recode import set_code
from ._stage import calls, stage
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


_SITE_TYPES = frozenset({StaticCall, StaticCallHandle, Tracepoint})


def site_value(value: Any) -> bool:
    """Whether a site can name ``value``: what a call of it may be rewritten to skip."""
    t = type(value)
    if t in _SITE_TYPES:
        return True
    if t is _METHOD:  # a builtin method where the accelerator is built: before _PLAIN
        return bool(value == _FORMS[0] or value == _FORMS[1])
    if t in _PLAIN:
        return False
    if t is types.FunctionType:
        return value is _BRANCHES[0] or value is _BRANCHES[1]
    return isinstance(value, (StaticCall, Handle, Tracepoint))


#: common types that are never site values (the test above is on every global)
_PLAIN = frozenset({types.ModuleType, type, str, int, float, bool, bytes, tuple, list,
                    dict, set, frozenset, type(None), types.BuiltinFunctionType})


# --------------------------------------------------------------------------------------
# Finding a module's functions.
# --------------------------------------------------------------------------------------

def _children(obj: Any, t: type, module: str) -> list[Any]:
    """What ``obj`` (of type ``t``) holds that may be, or lead to, a function of the
    module, read statically: no property, descriptor or ``__getattr__`` runs."""
    if t is types.FunctionType:
        attrs = obj.__dict__
        out = [attrs[n] for n in ("__wrapped__", "registry") if n in attrs]
        for cell in obj.__closure__ or ():
            try:
                out.append(cell.cell_contents)
            except ValueError:
                continue
        out += obj.__defaults__ or ()
        out += (obj.__kwdefaults__ or {}).values()
        return out
    if t in (staticmethod, classmethod, types.MethodType):
        return [obj.__func__]
    if t is property:
        return [obj.fget, obj.fset, obj.fdel]
    if t in (functools.partial, functools.partialmethod):
        return [obj.func, *obj.args, *obj.keywords.values()]
    if t in (functools.cached_property, functools.singledispatchmethod, _LRU_WRAPPER):
        return list(vars(obj).values())
    if t is StaticCall:  # a module may hold a function only as a key's target
        return [obj.__dict__.get("_sc_target")]
    if t in (dict, types.MappingProxyType):
        return list(obj.values())[:CONTAINER_ITEMS]
    if t in _SEQUENCES:
        return list(obj)[:CONTAINER_ITEMS]
    if obj.__module__ == module and obj.__flags__ & _HEAPTYPE:  # a class defined there
        return list(vars(obj).values())
    return []


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement
_LRU_WRAPPER = type(functools.lru_cache(None)(lambda: None))
_SEQUENCES = (list, tuple, set, frozenset)
_CONTAINERS = frozenset({dict, types.MappingProxyType, *_SEQUENCES})
#: the types whose objects the walk looks into (and classes)
_HOLDERS = frozenset({types.FunctionType, staticmethod, classmethod, types.MethodType,
                      property, functools.partial, functools.partialmethod,
                      functools.cached_property, functools.singledispatchmethod,
                      StaticCall, _LRU_WRAPPER}) | _CONTAINERS


def module_functions(module: types.ModuleType) -> list[types.FunctionType]:
    """The function objects of ``module`` (whose globals are its namespace) reachable
    from its namespace, in a bounded walk (containers: ``CONTAINER_DEPTH`` levels)."""
    g = module.__dict__
    name = module.__name__
    out: list[types.FunctionType] = []
    seen: set[int] = set()
    holders = _HOLDERS
    # (not __builtins__: a dict of a hundred classes, none of them the module's)
    stack: list[tuple[Any, int]] = [(v, 0) for n, v in list(g.items())
                                    if (type(v) in holders or isinstance(v, type))
                                    and n != "__builtins__"]
    budget = WALK_BUDGET
    while stack and budget:
        obj, depth = stack.pop()
        budget -= 1
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        t = type(obj)
        if t is types.FunctionType and obj.__globals__ is g:
            out.append(obj)
        if t in _CONTAINERS:
            if depth >= CONTAINER_DEPTH:
                continue
            depth += 1
        try:
            children = _children(obj, t, name)
        except Exception:  # an object whose state cannot be read statically: skip it
            continue
        stack.extend((c, depth) for c in children if type(c) in holders or isinstance(c, type))
    return out


# --------------------------------------------------------------------------------------
# The pre-scan.
# --------------------------------------------------------------------------------------

class Scan:
    """What a module's names are bound to, as far as sites are concerned."""

    def __init__(self, globals_: dict[str, Any]) -> None:
        self.globals = globals_
        #: names bound to something a site can name (each call of one may be a site),
        #: and names bound to modules (``mod.K``)
        items = list(globals_.items())
        self.values: dict[str, Any] = {n: v for n, v in items if site_value(v)}
        self.modules: dict[str, types.ModuleType] = {
            n: v for n, v in items if isinstance(v, types.ModuleType)}
        self._attrs: dict[tuple[int, str], Any] = {}  # (id(module), name) -> what it is
        self._known: dict[int, tuple[types.CodeType, bool]] = {}  # id(code) -> candidate?
        #: every name that may start a site, for the first, cheapest test
        self.names = frozenset(self.values) | frozenset(self.modules)

    @property
    def empty(self) -> bool:
        return not self.names

    def names_one(self, code: types.CodeType) -> bool:
        """Whether ``code`` names anything a site may start with (the first test of
        :meth:`candidate`, with no scan of the bytes)."""
        return not self.names.isdisjoint(code.co_names)

    def candidate(self, code: types.CodeType) -> bool:
        """Whether ``code`` may hold a site: it calls a global name bound to a site value
        (a scan of its names, then of its bytes), or names a module through which one
        is reached (``mod.K``)."""
        names = code.co_names
        if self.names.isdisjoint(names):
            return False
        # asked again when the tree is staged or rewritten: the answer is kept (with the
        # code, so that its id stays its own)
        known = self._known.get(id(code))
        if known is None or known[0] is not code:
            known = self._known[id(code)] = (code, self._may_hold(code, names))
        return known[1]

    def _may_hold(self, code: types.CodeType, names: tuple[str, ...]) -> bool:
        if not self.values.keys().isdisjoint(names) and calls(code, self.values.keys()):
            return True
        if self.modules.keys().isdisjoint(names):
            return False
        wanted = set(names)
        return any(self._reaches(self.modules[n], wanted, 0) for n in wanted & self.modules.keys())

    def chain_roots(self, code: types.CodeType) -> set[str]:
        """The module globals ``code`` names from which an attribute chain over its names
        reaches a site value (``mod.K``): the only ones staging looks for chains at."""
        names = set(code.co_names)
        return {n for n in names & self.modules.keys()
                if self._reaches(self.modules[n], names, 0)}

    def _reaches(self, module: types.ModuleType, names: set[str], depth: int) -> bool:
        """Whether an attribute chain over ``names`` from ``module`` reaches a site value
        (only the names the code uses are looked up, in the module's ``__dict__``)."""
        space = getattr(module, "__dict__", None)
        if not isinstance(space, dict):
            return False
        for name in names & space.keys():  # those it has: a set operation, in C
            value = space.get(name)
            if site_value(value):
                return True
            if depth < 2 and isinstance(value, types.ModuleType) \
                    and self._reaches(value, names, depth + 1):
                return True
        return False

    def resolve(self, path: tuple[str, ...]) -> Any:
        """The site value at ``mod.K`` (``path``: a module global, then attributes, read
        from module ``__dict__``s), or ``None``."""
        obj: Any = self.modules.get(path[0])
        for name in path[1:]:
            if not isinstance(obj, types.ModuleType):
                return None
            what = self._attribute(obj, name)
            obj = obj.__dict__.get(name) if what is True else what
        return obj if len(path) > 1 and site_value(obj) else None

    def _attribute(self, module: types.ModuleType, name: str) -> Any:
        """``True`` if ``module.name`` is a site value, the module if it is a module,
        else ``None``."""
        key = (id(module), name)
        if key not in self._attrs:
            value = getattr(module, "__dict__", {}).get(name)
            self._attrs[key] = True if site_value(value) else (
                value if isinstance(value, types.ModuleType) else None)
        return self._attrs[key]


def _tree(code: types.CodeType) -> list[types.CodeType]:
    """``code`` and every code object nested in it, ``code`` first."""
    out = [code]
    for c in out:  # grows as it goes
        for k in c.co_consts:
            if type(k) is types.CodeType:
                out.append(k)
    return out


# --------------------------------------------------------------------------------------
# Units: one function's code tree, staged, then rewritten.
# --------------------------------------------------------------------------------------

PENDING, BUSY, DONE, FAILED = "pending", "busy", "done", "failed"

#: Modules of installed packages being imported right now (``_install`` counts them):
#: a first call made meanwhile (one module's code calling another's function as it
#: imports) does not rewrite the function yet, so that importing stays cheap; the first
#: call after the imports does.
importing = 0

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

    __slots__ = ("root", "tree", "_nodes", "snapshot", "scan", "state", "finder",
                 "__weakref__")

    def __init__(self, root: types.CodeType, snapshot: dict[str, Any], scan: Scan,
                 finder: _Finder | None = None, tree: list[types.CodeType] | None = None
                 ) -> None:
        self.root = root
        self.tree = tree if tree is not None else _tree(root)
        self._nodes: dict[int, _Node] | None = None  # made when first needed
        self.snapshot: dict[str, Any] | None = snapshot
        self.scan: Scan | None = scan
        self.state = PENDING
        # where the functions are found when they are needed (None: given with add())
        self.finder = finder

    def __repr__(self) -> str:
        return f"<staticcall unit {_where(self.root)} {self.state}>"

    @property
    def nodes(self) -> dict[int, _Node]:
        if self._nodes is None:
            self._nodes = {id(c): _Node(c) for c in self.tree}
        return self._nodes

    def add(self, func: types.FunctionType) -> None:
        self.nodes[id(func.__code__)].funcs.append(weakref.ref(func))

    def first_call(self) -> bool:
        """A call of the unit's code, while it waits: rewrite it, unless modules are
        being imported; whether it is done waiting."""
        if importing:
            return False
        return self.upgrade()

    def arm(self) -> bool:
        """Wait for the first call of any of the unit's code, caught by ``_trigger``."""
        if _trigger.arm(self.tree, self.first_call):
            WAITING.add(self)
            return True
        return False

    def stage(self) -> bool:
        """Wait for the first call of any of the unit's code: caught by ``_trigger``
        where it can, else by giving the functions staged code. Whether anything waits
        (if not, nothing would trigger the rewrite: the caller rewrites the unit now)."""
        assert self.scan is not None
        if self.arm():
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
            staged = stage(new, scan.values, functools.partial(_stub, self),
                           scan.chain_roots(code), scan.resolve)
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

    def upgrade(self) -> bool:
        """Rewrite the tree in full and give its functions the new code; never raises
        (a failure leaves them on the runtime path, with a warning). Postponed (false)
        when called in the middle of a change in this thread (by a signal handler, a
        destructor or a gc callback), which the new sites' registration would refuse:
        the next call rewrites it."""
        with UPDATE_LOCK:
            if self.state != PENDING:
                return True
            if changing():
                return False
            self.state = BUSY
            try:
                self._rewrite()
                self.state = DONE
            except Exception as exc:
                self.state = FAILED
                warnings.warn(f"staticcall: {_where(self.root)} could not be rewritten "
                              f"({type(exc).__name__}: {exc}); its calls take the runtime "
                              f"path", StaticCallWarning, stacklevel=3)
            except BaseException:
                # raised from outside (a signal handler's KeyboardInterrupt): the unit
                # waits on, and its next call tries again (what was done holds: functions
                # given new code keep it, with its sites registered)
                self.state = PENDING
                raise
            finally:
                if self.state != PENDING:
                    _trigger.disarm(self.tree)
                    self._retire()
                    # what the unit held for the rewrite (and the staged code, which the
                    # retired stubs, holding the unit, would otherwise keep alive)
                    self.snapshot = self.scan = self.finder = self._nodes = None
                    WAITING.discard(self)
        return True

    def _rewrite(self) -> None:
        assert self.snapshot is not None and self.scan is not None
        if not any(self.scan.candidate(c) for c in self.tree):
            return  # armed for its names: its bytes hold no site
        if self.finder is not None:
            for func in self.finder.functions():
                if id(func.__code__) in self.nodes:
                    self.add(func)
            if not any(n.funcs for n in self.nodes.values()):
                return  # no function of the module runs this code (any more)
        done, records = rewrite_code(self.root, self.snapshot, self.scan.candidate)
        # laid out first: other threads run the new code as soon as a function has it
        _sites.register(done[id(self.root)][1], records)
        for node in self.nodes.values():
            new = done.get(id(node.original), (node.original, node.original))[1]
            if new is not node.running:
                self._give(node, node.running, new)

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
            unit.first_call()
            key = value._resolve_for("call", sys._getframe(1).f_globals)
            return key(*args, **kwargs)
        return first_call_handle
    if type(value) is _METHOD:  # static_call or static_call_cond
        def first_call_form(*args: Any, **kwargs: Any) -> Any:
            unit.first_call()
            if len(args) == 1 and not kwargs and isinstance(args[0], Handle):
                args = (args[0]._resolve_for("call", sys._getframe(1).f_globals),)
            return value(*args, **kwargs)
        return first_call_form

    def first_call(*args: Any, **kwargs: Any) -> Any:
        unit.first_call()
        return value(*args, **kwargs)
    return first_call


# --------------------------------------------------------------------------------------
# Processing a module.
# --------------------------------------------------------------------------------------

def _units(funcs: list[types.FunctionType], snapshot: dict[str, Any],
           scan: Scan) -> list[Unit]:
    """One unit per code tree that may hold sites, with every function found running
    any code of that tree (a closure made while the module imported runs code nested in
    the function that made it: it joins that function's unit)."""
    trees: dict[int, list[types.CodeType]] = {}
    for func in funcs:
        code = func.__code__
        if id(code) not in trees:
            tree = _tree(code)
            trees[id(code)] = tree if any(scan.candidate(c) for c in tree) else []
    nested = {id(c) for tree in trees.values() for c in tree[1:]}
    units: dict[int, Unit] = {}
    owner: dict[int, Unit] = {}
    for root, tree in trees.items():
        if tree and root not in nested:
            unit = units[root] = Unit(tree[0], snapshot, scan)
            owner.update((id(c), unit) for c in tree)
    for func in funcs:
        found = owner.get(id(func.__code__))
        if found is not None:
            found.add(func)
    return list(units.values())


class _Finder:
    """A module's functions, found once, when the first of them is called."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = weakref.ref(module)
        self.found: list[weakref.ref[types.FunctionType]] | None = None

    def functions(self) -> list[types.FunctionType]:
        if self.found is None:
            module = self.module()
            funcs = module_functions(module) if module is not None else []
            self.found = [weakref.ref(f) for f in funcs if f not in REWRITTEN]
        return [f for f in (ref() for ref in self.found) if f is not None]


_CO_OPTIMIZED = 0x0001  # a function's code (a class body's has not the flag)


def _function_codes(code: types.CodeType) -> list[types.CodeType]:
    """The code of every function a module's code defines, in its body and in its class
    bodies (nested ones included)."""
    out: list[types.CodeType] = []
    bodies = [code]
    for body in bodies:  # grows as it goes
        for c in body.co_consts:
            if type(c) is types.CodeType:
                (out if c.co_flags & _CO_OPTIMIZED else bodies).append(c)
    return out


def _arm_compiled(module: types.ModuleType, code: types.CodeType, scan: Scan) -> int | None:
    """Arm a unit for each function code of ``code`` (the module's own, just run) that
    may hold sites; the functions themselves are found at the first call. ``None``: no
    first call can be caught here."""
    # only the cheap test here (names): the scan of the bytes waits for the first call
    trees = [t for t in (_tree(c) for c in _function_codes(code))
             if any(scan.names_one(n) for n in t)]
    if trees:
        snapshot, finder = dict(scan.globals), _Finder(module)
        for n, tree in enumerate(trees):
            if not Unit(tree[0], snapshot, scan, finder, tree).arm():
                assert n == 0, "first calls caught for some units only"
                return None
    return len(trees)


def process_module(module: types.ModuleType, code: types.CodeType | None = None) -> int:
    """Process ``module``'s functions (see the module docstring); ``code``: the code
    object the module just ran, when known. Returns how many function trees wait for
    their first call or were rewritten."""
    g = getattr(module, "__dict__", None)
    if not isinstance(g, dict):
        return 0
    scan = Scan(g)
    if scan.empty:
        return 0
    # without a first-call event (3.11) the functions are found and staged instead: no
    # pre-scan of the compiled code, which would only be repeated on the functions
    armed = _arm_compiled(module, code, scan) \
        if code is not None and _trigger.possible() else None
    if armed is not None:
        return armed
    funcs = [f for f in module_functions(module) if f not in REWRITTEN]
    units = _units(funcs, dict(g), scan) if funcs else []
    for unit in units:
        if not unit.stage() and not unit.upgrade():
            WAITING.add(unit)  # postponed: listing the table (flush) rewrites it
    return len(units)


def waiting(func: types.FunctionType) -> bool:
    """Whether ``func`` waits for its first call to be rewritten."""
    code = func.__code__
    for u in list(WAITING):
        if u.state != PENDING:
            continue
        running = u.tree if u._nodes is None else [n.running for n in u._nodes.values()]
        if any(c is code for c in running):
            return True
    return False


def flush() -> None:
    """Rewrite every staged function now (the site table lists every site then)."""
    while True:
        waiting = [u for u in list(WAITING) if u.state == PENDING]
        if not waiting:
            return
        if not all([unit.upgrade() for unit in waiting]):
            return  # in the middle of a change: they wait for their next call


_sites.before_listing = flush
