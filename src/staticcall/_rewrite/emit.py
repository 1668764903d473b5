"""Stage 3, emit: lay each matched site out around its shape switch.

Three layouts, chosen per site (stack grows to the right; NULL order per version)::

    Skip     JUMP_FORWARD done; T NULL <args> [T again] CALL; POP_TOP; done:
             a statement whose arguments are only constants and bound locals, or a
             tracepoint's statement (whatever its arguments): with no call the one jump
             skips it all. Operand 0 runs the call. A tracepoint whose arguments run
             code loads T again before the call, as General does.
    Pure     JUMP_FORWARD call; V; JUMP_FORWARD done; call: T NULL <args> CALL; done:
             a value whose arguments are plain: with no call the value is V.
    General  T NULL <args> JUMP_FORWARD call; <drop>; V; JUMP_FORWARD done;
             call: [T again] CALL; done:
             arguments that run code are evaluated whatever the shape; with no call
             they are dropped (``drop``) and the value is V. T is loaded again before
             the call, so an update made while the arguments ran is not missed.

``T`` is the site's target constant (or its holder, read with ``LOAD_ATTR target``),
``V`` the value when no call is made; both are owned by the site alone and written in
place by updates, with the switch operands (see ``_patch``).
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

from bytecode import Instr, Label

from .. import _opcodes as op
from .._patch import Holder
from .bound import bound_before
from .found import FoundSite, Slot

#: A local a drop block may use when the function has none to park.
SCRATCH = "__static_call_scratch__"

@dataclass
class Edits:
    """Changes to a code object's instruction list, applied in one pass."""

    items: list[Any]
    replace: dict[int, tuple[int, list[Any]]] = field(default_factory=dict)  # start -> (end, new)
    insert: dict[int, list[Any]] = field(default_factory=dict)               # before index -> new

    def before(self, index: int, new: list[Any]) -> None:
        self.insert.setdefault(index, []).extend(new)

    def land(self, index: int, label: Label, location: Any) -> None:
        """Put ``label`` (where a site's call path and no-call path meet) before item
        ``index``; where the interpreter needs it, a NOP with the call's location first
        (3.12 would report a second line event for a call returning into a jump target)."""
        landing: list[Any] = [label]
        if op.NOP_BEFORE_LANDING:
            landing.insert(0, Instr("NOP", location=location))
        self.insert.setdefault(index, [])[:0] = landing

    def apply(self) -> list[Any]:
        items, n = self.items, 0
        out: list[Any] = []
        while n < len(items):
            out.extend(self.insert.get(n, ()))
            if n in self.replace:
                end, new = self.replace[n]
                out.extend(new)
                n = end
                continue
            out.append(items[n])
            n += 1
        out.extend(self.insert.get(len(items), ()))
        return out


@dataclass
class Context:
    """What emitting needs to know of the code object as a whole."""

    params: set[str]     # parameters
    deleted: set[str]    # locals some DELETE_FAST may unbind
    spare: str           # the local a drop block parks a value in
    items: list[Any] = field(default_factory=list)
    _bound: list[frozenset[str] | None] | None = None

    def bound(self, index: int, name: str) -> bool:
        """Whether local ``name`` is bound on every path to ``items[index]`` (computed
        once per code object, on first use: only 3.11 asks)."""
        if self._bound is None:
            self._bound = bound_before(self.items, self.params)
        state = self._bound[index]
        return state is not None and name in state

    @classmethod
    def of(cls, code: types.CodeType, items: list[Any]) -> Context:
        nparams = (code.co_argcount + code.co_kwonlyargcount
                   + bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08))
        params = set(code.co_varnames[:nparams])
        deleted = {x.arg for x in items if isinstance(x, Instr) and x.name == "DELETE_FAST"}
        if op.LOAD_FAST_CHECKS_BINDING:  # parking reads the local: it must be bound
            spare = next((p for p in code.co_varnames if p in params and p not in deleted),
                         SCRATCH)
        else:
            spare = code.co_varnames[0] if code.co_varnames else SCRATCH
        return cls(params, deleted, spare, items)


def call_group_start(items: list[Any], call_index: int) -> int | None:
    """Index of the first instruction of the call group ending at ``call_index``."""
    call = items[call_index]
    start = call_index
    if call.name == op.CALL_KW:
        prev = items[start - 1]
        if not (isinstance(prev, Instr) and prev.name == "LOAD_CONST"
                and isinstance(prev.arg, tuple)):
            return None
        return start - 1
    while (start > 0 and isinstance(items[start - 1], Instr)
           and items[start - 1].name in op.CALL_PREFIX):
        start -= 1
    return start


def load_target(t: Slot | Holder, location: Any, with_null: bool = False) -> list[Instr]:
    """The instructions that push a site's current target (and with ``with_null`` the
    NULL above it, 3.13+)."""
    if isinstance(t, Holder):
        # a method-style load of a plain attribute pushes the NULL too: as cheap as
        # LOAD_CONST T; PUSH_NULL
        return [Instr("LOAD_CONST", t, location=location),
                op.load_attr("target", location, with_null)]
    out = [Instr("LOAD_CONST", t, location=location)]
    if with_null:
        out.append(Instr("PUSH_NULL", location=location))
    return out


class Layout:
    """How a site is laid out around its switch; see the module's docstring."""

    def emit(self, edits: Edits, site: FoundSite, load: list[Any], ctx: Context) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__


class Skip(Layout):
    def emit(self, edits: Edits, site: FoundSite, load: list[Any], ctx: Context) -> None:
        items = edits.items
        call_index = site.call_indices[0]
        done = Label()
        site.value = None
        loc = load[0].location
        edits.replace[site.start] = (site.end, [Instr("JUMP_FORWARD", done, location=loc)] + load)
        start = call_group_start(items, call_index)
        if site.kind == "tracepoint" and start is not None and runs_code(items, site, start):
            # a tracepoint's arguments may change its probes (or a generator may be
            # suspended in them): call the probes of the moment, as General does
            reload_target(edits, site, items[call_index], start)
        edits.land(call_index + 2, done, items[call_index].location)


def reload_target(edits: Edits, site: FoundSite, call: Instr, start: int) -> None:
    """Before the call group at ``start``, replace the callable loaded before the
    arguments by T as it is now."""
    assert site.target is not None
    cloc = call.location
    pops = op.call_pops(call) or 0
    above = pops - op.CALLABLE_INDEX - 1 - (call.name == op.CALL_KW)
    block = load_target(site.target, cloc)
    block += [Instr("SWAP", above + 2, location=cloc), Instr("POP_TOP", location=cloc)]
    edits.before(start, block)


class Pure(Layout):
    def emit(self, edits: Edits, site: FoundSite, load: list[Any], ctx: Context) -> None:
        call_index = site.call_indices[0]
        loc = load[0].location
        call, done = Label(), Label()
        edits.replace[site.start] = (site.end, [
            Instr("JUMP_FORWARD", call, location=loc),
            Instr("LOAD_CONST", site.value, location=loc),
            Instr("JUMP_FORWARD", done, location=loc), call] + load)
        edits.land(call_index + 1, done, edits.items[call_index].location)


class General(Layout):
    def emit(self, edits: Edits, site: FoundSite, load: list[Any], ctx: Context) -> None:
        items = edits.items
        edits.replace[site.start] = (site.end, load)
        for call_index in site.call_indices:
            call = items[call_index]
            start = call_group_start(items, call_index)
            assert start is not None
            cloc = call.location
            call_label, done = Label(), Label()
            kw_null = (op.CALL_EX_ALWAYS_HAS_KWARGS and call.name == "CALL_FUNCTION_EX"
                       and isinstance(items[call_index - 1], Instr)
                       and items[call_index - 1].name == "PUSH_NULL")
            block: list[Any] = [Instr("JUMP_FORWARD", call_label, location=cloc)]
            block += drop_block(call, kw_null, ctx.spare, cloc)
            block += [Instr("LOAD_CONST", site.value, location=cloc),
                      Instr("JUMP_FORWARD", done, location=cloc), call_label]
            edits.before(start, block)
            if runs_code(items, site, start):
                reload_target(edits, site, call, start)
            edits.land(call_index + 1, done, cloc)


class Branch(Layout):
    """A branch site: the call and its test become one jump to where the test jumped,
    whose operand (0: fall through) is the key's state."""

    def emit(self, edits: Edits, site: FoundSite, load: list[Any], ctx: Context) -> None:
        first = edits.items[site.start]
        # a test spread over several lines keeps a line event for each, in order
        lines = [Instr("NOP", location=first.location)] + load if load else []
        jump = Instr("JUMP_FORWARD", site.jump_to,
                     location=lines[-1].location if lines else first.location)
        site.marks = [jump]
        edits.replace[site.start] = (site.end, lines + [jump])


SKIP, PURE, GENERAL, BRANCH = Skip(), Pure(), General(), Branch()


def drop_block(call: Instr, kw_null: bool, spare: str, location: Any) -> list[Any]:
    """Instructions that discard what the call would have consumed (all but kwnames).

    A call's NULL cannot go through POP_TOP (it would be decref'd). It is stored into
    the local ``spare`` instead, after that local's own value is parked on the stack
    (3.12+: LOAD_FAST_AND_CLEAR; 3.11: ``spare`` is a parameter, always bound), and the
    value is then put back. A function with no such local gets a scratch local.
    """
    out: list[Any] = []

    def emit(name: str, arg: Any = None) -> None:
        out.append(Instr(name, arg, location=location) if arg is not None
                   else Instr(name, location=location))

    # values from the callable slot up, bottom first: True where it may be NULL
    if call.name == "CALL_FUNCTION_EX":
        has_kwargs = op.CALL_EX_ALWAYS_HAS_KWARGS or bool(call.arg & 1)
        if has_kwargs:
            emit("SWAP", 2)  # the *iterable on top, kwargs under it
        # unpack *iterable as the call would have: its side effects are arguments
        emit("BUILD_LIST", 0)
        emit("SWAP", 2)
        emit("LIST_EXTEND", 1)
        rest = [False, False] + ([kw_null] if has_kwargs else []) + [False]
    else:
        rest = [False, False] + [False] * call.arg
    rest[0 if op.NULL_BELOW else 1] = True  # the call's NULL
    for may_be_null in reversed(rest):
        if not may_be_null:
            emit("POP_TOP")
        elif spare == SCRATCH:
            emit("STORE_FAST", SCRATCH)
        else:
            emit(op.PARK_LOCAL, spare)
            emit("SWAP", 2)
            emit("STORE_FAST", spare)
            emit("STORE_FAST", spare)
    return out


def _arguments(items: list[Any], site: FoundSite, start: int) -> list[Any]:
    return items[site.end:start]


def plain_arguments(items: list[Any], site: FoundSite, start: int, ctx: Context) -> bool:
    """Whether the arguments only push constants and bound locals, all on the site's
    first line (so that skipping them changes no line event either)."""
    line = items[site.start].lineno
    for n in range(site.end, start):
        x = items[n]
        if not isinstance(x, Instr) or x.lineno not in (None, line):
            return False
        if x.name in op.PURE_LOADS:
            continue
        if x.name == "LOAD_FAST" and ctx.bound(n, x.arg):
            continue  # 3.11: a local bound on every path here
        return False
    return True


def runs_code(items: list[Any], site: FoundSite, start: int) -> bool:
    """Whether the arguments can run code (calls, awaits, yields, descriptors...): then
    the site loads its target again at the call, so an update made meanwhile (or while a
    generator is suspended inside the arguments) is not missed."""
    return not all(isinstance(x, Instr) and x.name in op.ATOMIC_LOADS
                   for x in _arguments(items, site, start))


def _statement(items: list[Any], call_index: int) -> bool:
    after = items[call_index + 1]
    return isinstance(after, Instr) and after.name == "POP_TOP"


def choose_layout(items: list[Any], site: FoundSite, ctx: Context) -> Layout:
    call_index = site.call_indices[0]
    call = items[call_index]
    if site.kind == "tracepoint":
        return SKIP  # reject() made sure it is one statement
    start = call_group_start(items, call_index)
    assert start is not None
    if (len(site.call_indices) > 1 or call.name == "CALL_FUNCTION_EX"
            or not plain_arguments(items, site, start, ctx)):
        return GENERAL
    return SKIP if _statement(items, call_index) else PURE


def reject(items: list[Any], site: FoundSite) -> str | None:
    """Why the site's calls cannot be laid out, or ``None``."""
    for c in site.call_indices:
        call = items[c]
        if call_group_start(items, c) is None:
            return "unexpected instructions before the call"
        if call.name not in op.CALL_NAMES:
            return f"consumed by {call.name}, not a call"
        if call.name != "CALL_FUNCTION_EX" and call.arg > 200:
            return "too many arguments"
    if site.kind == "tracepoint" and (len(site.call_indices) > 1
                                      or not _statement(items, site.call_indices[0])):
        return "its value is used: a tracepoint site is a statement"
    if site.kind == "tracepoint":
        # skipped arguments must not bind a local: code after them may load it unchecked
        start = call_group_start(items, site.call_indices[0]) or site.end
        if any(isinstance(x, Instr) and x.name in op.LOCAL_STORES
               for x in items[site.end:start]):
            return "its arguments assign a variable, which skipping them would leave unbound"
    return None


def _line_marks(items: list[Any], site: FoundSite) -> list[Any]:
    """A NOP for each further line the replaced instructions stood on (so that each
    still gets its line event)."""
    out: list[Any] = []
    last_line = items[site.start].lineno
    for item in items[site.start:site.end]:
        if isinstance(item, Instr) and item.lineno and item.lineno != last_line:
            out.append(Instr("NOP", location=item.location))
            last_line = item.lineno
    return out


def emit_site(edits: Edits, site: FoundSite, ctx: Context) -> None:
    """Lay ``site`` out: choose its layout, make its constants, emit it."""
    items = edits.items
    if site.kind == "branch":
        site.layout = BRANCH
        BRANCH.emit(edits, site, _line_marks(items, site), ctx)
        return
    first = items[site.start]
    loc = first.location
    site.target = Holder() if op.TARGET_IN_HOLDER else Slot("T")
    site.value = Slot("V")
    load: list[Any] = []
    flags = list(site.null_flags)
    while flags:
        if flags[0]:
            load.append(Instr("PUSH_NULL", location=loc))
            flags.pop(0)
        else:
            with_null = flags[1:2] == [True] and not op.NULL_BELOW
            load += load_target(site.target, loc, with_null)
            del flags[:1 + with_null]
    load += _line_marks(items, site)
    site.layout = choose_layout(items, site, ctx)
    site.layout.emit(edits, site, load, ctx)
