"""The site table (the kernel's ``.static_call_sites``) and patching of sites.

Each key keeps its own sites (``key._sc_sites``), so retargeting costs time in the
number of sites of *that* key only. A record holds the rewritten code's constants
tuple, the indices of the site's constants (or its target holder) and its shape
switches; it never holds the function, so the table keeps no function alive: a weak
reference removes the function's records when it is collected.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from . import _patch
from ._changing import CHANGING, changing, changing_ids
from ._keys import UPDATE_LOCK, make_null_raiser, static_call_return0

if TYPE_CHECKING:
    from ._rewrite import FoundSite


@dataclass(frozen=True)
class Site:
    """One site, as the table shows it now: a call site of a key (``kind`` "call"), a
    tracepoint's site ("tracepoint") or a static key's branch site ("branch", whose
    state is "enabled" or "disabled")."""

    key: Any
    function: str
    filename: str
    lineno: int
    cond: bool
    tail: bool
    state: str
    reason: str | None = None
    kind: str = "call"
    #: when the site was bound to its key: "processing" (when its code was rewritten),
    #: "first execution" (a late site), or None (a late site not executed yet)
    bound_at: str | None = "processing"

    @property
    def where(self) -> str:
        return f"{self.filename}:{self.lineno}"


class SiteRecord:
    """The live entry behind a :class:`Site`: what the rewriter found (``found``, the
    one description of the site) and what patching it needs."""

    __slots__ = ("found", "key", "code_ref", "consts", "indices", "switches", "null_raiser",
                 "cells", "switch_cells", "holder", "on", "plt", "bound_at", "__weakref__")

    def __init__(self, found: FoundSite, key: Any) -> None:
        self.found = found
        self.key: Any = key  # a StaticCall, Tracepoint or StaticKey (or a handle)
        # a live site: its code object (weakly: the record lives as long as the code,
        # which outlives the decorated function in the closures made from it), the
        # indices of T and V in co_consts, and its shape switches (operand address,
        # operand for "call", operand for "no call"): one per copy of the call, as the
        # compiler may copy a call into branches
        code = found.code if found.rewritten and found.reason is None and found.switches \
            else None
        found.code = None  # the record holds it weakly from now on
        indices = found.indices if code is not None else None
        self.code_ref = weakref.ref(code) if code is not None else None
        self.consts = code.co_consts if code is not None and indices is not None else None
        self.indices = indices
        self.switches = [(_patch.operand_address(code, sw.offset), sw.on, sw.off)
                         for sw in found.switches] if code is not None else []
        # ctypes views of T's and V's slots and of the tuple's hash, made once
        self.switch_cells = [(_patch.operand_cell(address), on, off)
                             for address, on, off in self.switches]
        self.cells: dict[int, Any] = {}
        # what the switches select, as last written (None: not known, read them)
        self.on: bool | None = None
        # where T is read from a holder, the holder (a constant that is never replaced)
        self.holder: _patch.Holder | None = None
        consts = self.consts
        if consts is not None and indices is not None:
            t = consts[indices[0]]
            if isinstance(t, _patch.Holder):
                self.holder = t
            self.cells = {i: _patch.const_cell(consts, i) for i in indices
                          if i is not None and (self.holder is None or i != indices[0])}
            self.cells[-1] = _patch.hash_cell(consts)
        self.null_raiser = make_null_raiser(key.name, self.where)
        # a late site: the view of its PLT switch's operand, and the operand that takes
        # the bound path; it is bound at its first execution
        self.plt: tuple[Any, int] | None = None
        self.bound_at: str | None = "processing"
        if found.late:
            self.bound_at = None
            if code is not None and found.plt is not None:
                self.plt = (_patch.operand_cell(_patch.operand_address(code, found.plt.offset)),
                            found.plt.on)

    @property
    def pending(self) -> bool:
        """A late site that has not been bound yet."""
        return self.plt is not None and self.bound_at is None

    # what the site is, as found
    @property
    def function(self) -> str:
        return self.found.qualname

    @property
    def filename(self) -> str:
        return self.found.filename

    @property
    def lineno(self) -> int:
        return self.found.lineno

    @property
    def cond(self) -> bool:
        return self.found.cond

    @property
    def tail(self) -> bool:
        return self.found.tail

    @property
    def reason(self) -> str | None:
        return self.found.reason

    @property
    def kind(self) -> str:
        return self.found.kind

    @property
    def where(self) -> str:
        return f"{self.filename}:{self.lineno}"

    @property
    def code(self) -> Any:
        """The code object of a live site (``None`` once it is gone, or for a site on
        the runtime path)."""
        return self.code_ref() if self.code_ref is not None else None

    def state(self) -> str:
        if self.pending:
            return "unbound"
        if self.kind == "branch":
            return "enabled" if self.key.enabled else "disabled"
        if self.kind == "tracepoint":
            return "enabled" if self.key._tp_key.enabled else "disabled"
        if self.consts is None:
            return "trampoline"
        return state_for(self.key._sc_target)

    def snapshot(self) -> Site:
        return Site(self.key, self.function, self.filename, self.lineno, self.cond,
                    self.tail, self.state(), self.reason, self.kind, self.bound_at)

    def values_for(self, target: Any) -> tuple[bool, Any]:
        """``(True, T)`` to call ``T``, or ``(False, V)`` to make no call, value ``V``."""
        if target is None:
            if self.cond:
                return False, None
            return True, self.null_raiser
        if target is static_call_return0:
            return False, 0
        return True, self.t_value(target)

    def t_value(self, target: Any) -> Any:
        """What T holds to call ``target``: itself in a holder, or a constant (on
        interpreters that specialise LOAD_CONST by immortality, a mortal stand-in for an
        immortal target)."""
        return target if self.holder is not None else _patch.as_constant(target)


def state_for(target: Any) -> str:
    if target is None:
        return "null"
    if target is static_call_return0:
        return "ret0"
    return "call"


# Every record, by its owner's weak reference: a live site's code object, or for a
# site on the runtime path the decorated function.
BY_FUNCTION: dict[Any, list[SiteRecord]] = {}


def sites_of(key: Any) -> dict[int, SiteRecord] | None:
    """The records a key keeps (a static call key's, a tracepoint's or a static key's),
    or ``None`` for an unresolved declaration, which has none."""
    for attr in ("_sc_sites", "_tp_sites", "_sk_sites"):
        sites = key.__dict__.get(attr) if hasattr(key, "__dict__") else None
        if sites is not None:
            return sites  # type: ignore[no-any-return]
    return None


def _forget(ref: Any) -> None:
    for rec in BY_FUNCTION.pop(ref, ()):
        sites = sites_of(rec.key)
        if sites is not None:
            sites.pop(id(rec), None)


class _OwnerRef(weakref.ref):  # type: ignore[type-arg]
    """A weak reference that hashes and compares by identity: code objects compare by
    value, so equal code from two decorations must not share one entry (the first to
    be collected would take the other's records out of the table)."""

    __slots__ = ("_id",)

    def __init__(self, owner: Any, callback: Any) -> None:
        super().__init__(owner, callback)  # type: ignore[call-arg]
        self._id = id(owner)

    def __hash__(self) -> int:
        return self._id

    def __eq__(self, other: object) -> bool:
        return self is other


def register(func: Any, records: list[SiteRecord]) -> None:
    """Add ``func``'s records to the table. A live site leaves it when its code object
    is collected (with the function, or with the last closure made from nested code);
    a site on the runtime path when ``func`` (a function, or for whole-package
    processing the rewritten code object) is collected.

    Each live site is laid out for what its key selects now, and joins its key's list,
    under the update lock: no update falls in between."""
    owners: dict[int, tuple[Any, list[SiteRecord]]] = {}
    for rec in records:
        owner = rec.code if rec.code is not None else func
        owners.setdefault(id(owner), (owner, []))[1].append(rec)
    keys = {id(rec.key): rec.key for rec in records if sites_of(rec.key) is not None}
    with UPDATE_LOCK:
        ids = changing_ids(keys.values())
        try:
            CHANGING.update(ids)
            patcher = Patcher()
            for rec in records:
                if rec.code is not None and not rec.pending:
                    patcher.lay_out(rec)
            for owner, owned in owners.values():
                BY_FUNCTION[_OwnerRef(owner, _forget)] = owned
            for rec in records:
                # an unresolved declaration has no key to hold its sites: the table
                # lists them
                sites = sites_of(rec.key)
                if sites is not None:
                    sites[id(rec)] = rec
        finally:
            CHANGING.difference_update(ids)


def bind(rec: SiteRecord, key: Any) -> None:
    """Bind a late site to ``key`` (a static call key) at its first execution: lay it
    out for the key's target, then open its PLT switch, all or nothing, under the
    update lock. A site already bound (by another thread) stays as it is; one reached
    in the middle of a change of ``key`` in this thread (by a signal handler, a destructor
    or a gc callback) stays unbound, for its next execution to bind: that change has
    listed the sites it patches already."""
    with UPDATE_LOCK:
        code = rec.code
        if not rec.pending or code is None or changing(key):
            return
        assert rec.plt is not None
        placeholder = rec.key, rec.null_raiser
        patcher = Patcher()
        try:
            rec.key = key
            rec.null_raiser = make_null_raiser(key.name, rec.where)
            patcher.lay_out(rec)
            patcher.codes.append(code)
            cell, bound = rec.plt
            patcher.operand_undo.append((rec, cell, cell.value))
            _patch.write_operand(cell, bound)
            patcher.stale.append(code)
        except BaseException:
            patcher.rollback()
            rec.key, rec.null_raiser = placeholder
            _patch.invalidate_traces(patcher.stale)
            raise
        rec.bound_at = "first execution"
        key._sc_sites[id(rec)] = rec
        _patch.invalidate_traces(patcher.stale)


#: Called before the table is listed: whole-package processing rewrites the functions it
#: has staged, so that the table lists their sites (set by ``_packages``).
before_listing: Callable[[], None] | None = None


def static_call_sites(key: Any = None) -> list[Site]:
    """The site table: every recorded site, or those of one key (a static call key or
    handle, a tracepoint or a static key)."""
    if before_listing is not None:
        before_listing()
    if key is not None:
        mine = sites_of(key)
        if mine is None:
            from ._keys import as_key

            mine = as_key(key, "query")._sc_sites
        return [r.snapshot() for r in list(mine.values())]
    out: list[Site] = []
    for records in list(BY_FUNCTION.values()):
        out.extend(r.snapshot() for r in records)
    return out


# --------------------------------------------------------------------------------------
# Patching, all-or-nothing.
# --------------------------------------------------------------------------------------

class Patcher:
    """Collects in-place writes so that they can be undone if any one fails.

    Every value a write replaces is kept (``keep``) until the patcher is dropped, so
    that nothing is freed -- and no destructor runs -- halfway through an update. The
    undo entries are kept by kind; writes of different kinds never touch one place.
    """

    def __init__(self) -> None:
        # (consts, index, old item, its cell, the tuple's hash cell)
        self.const_undo: list[tuple[tuple[Any, ...], int, Any, Any, Any]] = []
        self.holder_undo: list[tuple[_patch.Holder, Any]] = []    # (holder, old target)
        self.operand_undo: list[tuple[SiteRecord, Any, int]] = []  # (record, cell, old)
        self.keep: list[Any] = []
        # code objects written into: the table holds them weakly, and a collection
        # during the update must not free one that a write or a rollback still reaches
        self.codes: list[Any] = []
        # code objects whose constants or shape switches changed: optimizer traces may
        # have baked the old ones in (a holder's slot is read afresh)
        self.stale: list[Any] = []

    def write(self, rec: SiteRecord, index: int, value: Any) -> bool:
        """Make ``rec``'s constant ``index`` (its T or its V) be ``value``; return
        whether a constant of the code (which traces may have baked in) changed."""
        holder = rec.holder
        if holder is not None and index == rec.indices[0]:  # type: ignore[index]
            old = holder.target
            if old is not value:
                self.keep.append(old)
                # undo entries go in first: an exception raised in between (a signal
                # handler's) is rolled back too
                self.holder_undo.append((holder, old))
                holder.target = value
            return False
        consts = rec.consts
        assert consts is not None
        old = consts[index]
        if old is value:
            return False
        self.keep.append(old)
        cell, hashed = rec.cells[index], rec.cells[-1]
        self.const_undo.append((consts, index, old, cell, hashed))
        _patch.set_const(consts, index, value, cell, hashed)
        return True

    def retarget(self, rec: SiteRecord, target: Any) -> None:
        """Make ``rec`` execute ``target``. For concurrent callers, the value a shape
        uses is written before the switch that selects the shape."""
        indices = rec.indices
        if rec.consts is None or not rec.switch_cells or indices is None:
            return
        code = rec.code
        if code is None:
            return
        self.codes.append(code)
        call, value = rec.values_for(target)
        stale = False
        if not call:
            # A frame that loaded T before an update and reaches the switch after it
            # calls T: make that the runtime path, which calls the key's current target.
            stale |= self.write(rec, indices[0], rec.key._sc_cond_any if rec.cond else rec.key)
        index = indices[0 if call else 1]
        if index is not None:  # a "skip" site has no V: its value is never used
            stale |= self.write(rec, index, value)
        self.switch(rec, code, call, stale)

    def switch(self, rec: SiteRecord, code: Any, on: bool, stale: bool = False) -> None:
        """Set every shape switch of ``rec`` (whose code is ``code``) on or off."""
        if rec.on is not on:
            for cell, when_on, when_off in rec.switch_cells:
                operand = when_on if on else when_off
                old = cell.value
                if old != operand:
                    self.operand_undo.append((rec, cell, old))
                    _patch.write_operand(cell, operand)
                    stale = True
            rec.on = on
        if stale and (not self.stale or self.stale[-1] is not code):
            self.stale.append(code)

    def set_branch(self, rec: SiteRecord, enabled: bool) -> None:
        """Make a branch site take the direction ``enabled`` selects (a tracepoint's
        site: make its call, or skip it)."""
        code = rec.code
        if code is None or not rec.switch_cells:
            return
        self.codes.append(code)
        self.switch(rec, code, enabled)

    def set_probe_target(self, rec: SiteRecord, target: Any) -> None:
        """Make a tracepoint's site call ``target`` (what it calls while enabled: its
        probe, or the function generated for its probes; with none, the tracepoint)."""
        code = rec.code
        if code is None or rec.indices is None:
            return
        self.codes.append(code)
        if self.write(rec, rec.indices[0], rec.t_value(target)):
            self.stale.append(code)

    def lay_out(self, rec: SiteRecord) -> None:
        """Make a site just recorded execute what its key selects now."""
        key = rec.key
        if rec.kind == "branch":
            self.set_branch(rec, key.enabled)
        elif rec.kind == "tracepoint":
            target = key._tp_target
            self.set_probe_target(rec, target if target is not None else key)
            self.set_branch(rec, key._tp_key.enabled)
        else:
            self.retarget(rec, key._sc_target)

    def rollback(self) -> None:
        # Switches first: updates write a shape's values before its switch, so undoing in
        # the opposite order keeps every state a concurrent frame can see a correct one.
        for rec, cell, operand in reversed(self.operand_undo):
            _patch.write_operand(cell, operand)
            rec.on = None  # read the switch again next time
        for holder, target in reversed(self.holder_undo):
            holder.target = target
        for consts, index, old, cell, hashed in reversed(self.const_undo):
            _patch.set_const(consts, index, old, cell, hashed)
        self.const_undo.clear()
        self.holder_undo.clear()
        self.operand_undo.clear()
