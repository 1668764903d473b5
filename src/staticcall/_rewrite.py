"""Find the static call sites of a code object and rewrite them.

A site is rewritten into (version order of NULL and callable aside)::

    PUSH_NULL; LOAD_CONST T            # was: the key's load, or static_call(K)
                                       # (or LOAD_CONST holder; LOAD_ATTR target)
    <arguments, untouched>
    JUMP_FORWARD call                  # the shape switch: operand 0 falls into "drop"
    drop: <pop the arguments and callable>; LOAD_CONST V; JUMP_FORWARD done
    call: <the original call instruction(s)>
    done:

``T`` and ``V`` are constants owned by the site alone (where ``_opcodes`` says a
target is read from a holder, ``T`` is the site's ``_patch.Holder``). With the switch jumping over
``drop`` the site calls ``T`` (the target, or a raiser for a NULL ``static_call``);
with operand 0 it makes no call at all and its value is ``V`` (``None`` for NULL,
``0`` for RET0). Updates rewrite the two constants and the one operand byte in place
(see ``_patch``), so a function is rewritten only once and running frames follow.

Sites are found by simulating the value stack over the control-flow graph: the load
of a site's callable is matched to the call instruction that consumes it, whatever the
argument expressions do in between.
"""

from __future__ import annotations

import dis
import types
from dataclasses import dataclass, field
from typing import Any, Callable

from bytecode import Bytecode, Instr, Label, SetLineno, TryBegin, TryEnd

from . import _opcodes as op
from ._patch import Holder

SCRATCH = "__static_call_scratch__"
#: Stack slots a rewritten code object may need beyond the original's (see rewrite()).
STACK_EXTRA = 1


class Slot:
    """A placeholder constant, unique by identity, replaced once the code exists."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<slot {self.name}>"


@dataclass
class FoundSite:
    """A site as found in one code object."""

    ref: Any                 # the key or handle the site names
    cond: bool               # static_call_cond(K)(...)
    lineno: int
    qualname: str
    filename: str
    tail: bool = False
    reason: str | None = None  # why it stays on the runtime path
    slots: tuple[Slot | Holder, Slot | None] | None = None  # T and V (no V for "skip")
    code: types.CodeType | None = None         # the final code object
    indices: tuple[int, int | None] | None = None  # of T and V in its co_consts
    # filled by the rewriter: instruction positions
    group: tuple[int, int] = (0, 0)
    call_index: int = -1     # the call that consumes the load (the first one, when the
    call_pops: int = 0       # compiler copied the call into several branches)
    call_indices: list[int] = field(default_factory=list)
    switches: list[tuple[int, int, int]] = field(default_factory=list)
    null_flags: list[bool] = field(default_factory=list)
    not_site: bool = False   # the load is not called at once (``f = static_call(K)``)
    # "general": switch after the arguments; "pure": switch first, no-call pushes V;
    # "skip": switch first, and no call skips the statement (its value is discarded)
    layout: str = "general"


@dataclass
class Rewritten:
    code: types.CodeType
    sites: list[FoundSite]


# (kind, key or handle[, why the site cannot bind]) or None
Resolver = Callable[[Any], tuple[Any, ...] | None]


# --------------------------------------------------------------------------------------
# Candidate groups: the instructions that load a site's callable.
# --------------------------------------------------------------------------------------

def _lookup(globals_: dict[str, Any], name: str) -> Any:
    if name in globals_:
        return globals_[name]
    builtins = globals_.get("__builtins__")
    if isinstance(builtins, types.ModuleType):
        builtins = builtins.__dict__
    if isinstance(builtins, dict) and name in builtins:
        return builtins[name]
    raise LookupError(name)


def _chain(items: list[Any], i: int, globals_: dict[str, Any]) -> tuple[int, Any, list[str]] | None:
    """A global load followed by attribute loads: ``(end, value, shape)``.

    ``shape`` is the mini-stack the loads leave: "N" for a NULL, "V" for a value.
    """
    g = op.global_load(items[i])
    if g is None:
        return None
    name, push_null = g
    try:
        value = _lookup(globals_, name)
    except LookupError:
        return None
    shape = (["N", "V"] if op.NULL_BELOW else ["V", "N"]) if push_null else ["V"]
    j = i + 1
    while j < len(items):
        a = op.attr_load(items[j])
        # attribute loads apply to the value on top; after a NULL the chain is over
        if a is None or shape[-1] != "V":
            break
        attr, method = a
        try:
            value = getattr(value, attr)
        except Exception:
            return None
        shape.pop()
        shape.extend((["N", "V"] if op.NULL_BELOW else ["V", "N"]) if method else ["V"])
        j += 1
        if method:
            break
    # 3.13+ compiles a call of an attribute of a module imported in the same file as a
    # plain attribute load followed by PUSH_NULL (no method-style load).
    if (not op.NULL_BELOW and shape == ["V"] and j < len(items)
            and isinstance(items[j], Instr) and items[j].name == "PUSH_NULL"):
        shape.append("N")
        j += 1
    return j, value, shape


def _find_groups(items: list[Any], globals_: dict[str, Any], resolve: Resolver,
                 qualname: str, filename: str) -> list[FoundSite]:
    """Linear scan for the loads of site callables."""
    from ._keys import _CALL_TABLE, _COND_TABLE

    call_fn = _CALL_TABLE.__getitem__
    cond_fn = _COND_TABLE.__getitem__
    found: list[FoundSite] = []
    i = 0
    lineno = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, Instr) and item.lineno:
            lineno = item.lineno
        c = _chain(items, i, globals_)
        if c is None:
            i += 1
            continue
        end, value, shape = c
        site: FoundSite | None = None
        if value == call_fn or value == cond_fn:
            # static_call(K): the chain loads static_call; K follows, then CALL 1.
            if shape.count("V") != 1:
                i += 1
                continue
            k = _chain(items, end, globals_)
            if k is None or k[2] != ["V"]:
                i += 1
                continue
            kend, kvalue, _ = k
            j = kend
            while j < len(items) and isinstance(items[j], Instr) and items[j].name == "PRECALL":
                j += 1
            call = items[j] if j < len(items) else None
            ref = resolve(kvalue)
            if (ref is not None and isinstance(call, Instr) and call.name == "CALL"
                    and call.arg == 1):
                net = shape + ["V"]
                # the inner call consumes callable (+ its NULL) and K, leaving a value
                consumed = 3
                if len(net) < consumed:
                    i += 1
                    continue
                rest = net[:-consumed] + ["V"]
                site = FoundSite(ref[1], cond=(value == cond_fn), lineno=lineno,
                                 qualname=qualname, filename=filename,
                                 reason=ref[2] if len(ref) > 2 else None)
                site.group = (i, j + 1)
                site.null_flags = [s == "N" for s in rest]
                # The outer call's own PUSH_NULL sits right before (3.11, 3.12) or right
                # after (3.13+) ``static_call(K)``: the group takes it in, so that the
                # group pushes everything the call consumes below its arguments.
                if site.null_flags == [False]:
                    before, after = items[i - 1] if i else None, items[j + 1:j + 2]
                    if (op.NULL_BELOW and isinstance(before, Instr)
                            and before.name == "PUSH_NULL"):
                        site.group = (i - 1, j + 1)
                        site.null_flags = [True, False]
                    elif (not op.NULL_BELOW and after and isinstance(after[0], Instr)
                          and after[0].name == "PUSH_NULL"):
                        site.group = (i, j + 2)
                        site.null_flags = [False, True]
        elif shape.count("V") == 1 and "N" in shape:
            ref = resolve(value)
            if ref is not None:
                site = FoundSite(ref[1], cond=False, lineno=lineno, qualname=qualname,
                                 filename=filename, reason=ref[2] if len(ref) > 2 else None)
                site.group = (i, end)
                site.null_flags = [s == "N" for s in shape]
        if site is not None:
            found.append(site)
            i = site.group[1]
        else:
            i += 1
    return found


# --------------------------------------------------------------------------------------
# Stack simulation: which call consumes each group's callable.
# --------------------------------------------------------------------------------------

def _match_calls(items: list[Any], sites: list[FoundSite]) -> None:
    starts = {s.group[0]: s for s in sites}
    labels = {id(x): n for n, x in enumerate(items) if isinstance(x, Label)}
    entry: dict[int, tuple[Any, ...]] = {}
    work: list[tuple[int, tuple[Any, ...]]] = [(0, ())]
    bad: set[int] = set()
    matched: dict[int, list[int]] = {}
    elsewhere: set[int] = set()   # consumed by something that is not its call

    def fail(state: tuple[Any, ...]) -> None:
        for tag in state:
            if tag is not None:
                bad.add(tag)

    def goto(n: int, state: tuple[Any, ...]) -> None:
        if n in entry:
            if entry[n] != state:
                if len(entry[n]) != len(state):
                    raise _GiveUp("inconsistent stack depth")
                fail(entry[n])
                fail(state)
            return
        entry[n] = state
        work.append((n, state))

    while work:
        n, state = work.pop()
        stack = list(state)
        first = True
        while n < len(items):
            item = items[n]
            if isinstance(item, Label):
                if not first:
                    if n in entry:  # fell through into a block already seen
                        if entry[n] != tuple(stack):
                            if len(entry[n]) != len(stack):
                                raise _GiveUp("inconsistent stack depth")
                            fail(entry[n])
                            fail(tuple(stack))
                        break
                    entry[n] = tuple(stack)
                first = False
                n += 1
                continue
            first = False
            if isinstance(item, (SetLineno, TryEnd)):
                n += 1
                continue
            if isinstance(item, TryBegin):
                depth = item.stack_depth if isinstance(item.stack_depth, int) else len(stack)
                handler = stack[:depth] + ([None] if item.push_lasti else []) + [None]
                goto(labels[id(item.target)], tuple(handler))
                n += 1
                continue
            site = starts.get(n)
            if site is not None:
                g0, g1 = site.group
                stack.extend(None for _ in site.null_flags)
                # tag the callable value of the group's output
                pos = len(stack) - len(site.null_flags) + site.null_flags.index(False)
                stack[pos] = id(site)
                n = g1
                continue
            assert isinstance(item, Instr)
            name = item.name
            if name == "SWAP":
                stack[-1], stack[-item.arg] = stack[-item.arg], stack[-1]
            elif name == "COPY":
                if stack[-item.arg] is not None:
                    bad.add(stack[-item.arg])
                stack.append(None)
            else:
                # END_ASYNC_FOR (3.14+) names its loop's END_SEND for sys.monitoring
                # only: it never jumps there.
                jump = item.has_jump() and name != "END_ASYNC_FOR"
                pops, pushes = op.stack_effect(item, jump=False)
                if jump:
                    jpops, jpushes = op.stack_effect(item, jump=True)
                    jstate = stack[:len(stack) - jpops] + [None] * jpushes
                    popped = stack[len(stack) - jpops:]
                    fail(tuple(popped))
                    goto(labels[id(item.arg)], tuple(jstate))
                popped = stack[len(stack) - pops:] if pops else []
                if pops:
                    del stack[len(stack) - pops:]
                ncall = op.call_pops(item)
                for k, tag in enumerate(popped):
                    if tag is None:
                        continue
                    if ncall is not None and k == op.CALLABLE_INDEX:
                        # 3.12+ may copy a call (and what follows it) into each branch
                        # of a conditional argument: one load, several calls
                        matched.setdefault(tag, []).append(n)
                    elif ncall is None and tag not in matched:
                        elsewhere.add(tag)
                    else:
                        bad.add(tag)
                stack.extend(None for _ in range(pushes))
            if item.is_final() or item.is_uncond_jump():
                break
            n += 1
    for s in sites:
        if id(s) in elsewhere and id(s) not in bad and id(s) not in matched:
            s.not_site = True
        elif id(s) in bad or id(s) not in matched:
            s.reason = s.reason or "its call could not be matched to the key's load"
        else:
            s.call_indices = sorted(set(matched[id(s)]))
            s.call_index = s.call_indices[0]
            s.call_pops = op.call_pops(items[s.call_index]) or 0
            first = items[s.call_index]
            if any((items[c].name, items[c].arg) != (first.name, first.arg)
                   for c in s.call_indices):
                s.reason = "its load reaches calls of different shapes"


class _GiveUp(Exception):
    pass


# --------------------------------------------------------------------------------------
# Rewriting.
# --------------------------------------------------------------------------------------

def _call_group_start(items: list[Any], call_index: int) -> int | None:
    """Index of the first instruction of the call group ending at ``call_index``."""
    call = items[call_index]
    start = call_index
    if call.name == "CALL_KW":
        prev = items[start - 1]
        if not (isinstance(prev, Instr) and prev.name == "LOAD_CONST"
                and isinstance(prev.arg, tuple)):
            return None
        return start - 1
    while (start > 0 and isinstance(items[start - 1], Instr)
           and items[start - 1].name in op.CALL_PREFIX):
        start -= 1
    return start


def _is_tail(items: list[Any], call_index: int) -> bool:
    for item in items[call_index + 1:]:
        if isinstance(item, (Label, SetLineno, TryEnd, TryBegin)):
            continue
        return isinstance(item, Instr) and item.name == "RETURN_VALUE"
    return False


def _drop_block(call: Instr, kw_null: bool, spare: str, location: Any) -> list[Any]:
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
            emit("LOAD_FAST" if op.LOAD_FAST_CHECKS_BINDING else "LOAD_FAST_AND_CLEAR", spare)
            emit("SWAP", 2)
            emit("STORE_FAST", spare)
            emit("STORE_FAST", spare)
    return out


#: Instructions that have no effect but pushing a value: arguments made only of these
#: can be skipped by a site that makes no call.
_PURE = frozenset({
    "LOAD_CONST", "LOAD_SMALL_INT", "LOAD_FAST_BORROW", "LOAD_FAST_LOAD_FAST",
    "LOAD_FAST_BORROW_LOAD_FAST_BORROW", "NOP",
} | (set() if op.LOAD_FAST_CHECKS_BINDING else {"LOAD_FAST"}))


def _pure_args(items: list[Any], s: FoundSite, start: int, params: set[str],
               deleted: set[str]) -> bool:
    """Whether the arguments only push constants and bound locals, all on the site's
    first line (so that skipping them changes no line event either)."""
    line = items[s.group[0]].lineno
    for x in items[s.group[1]:start]:
        if not isinstance(x, Instr) or x.lineno not in (None, line):
            return False
        if x.name in _PURE:
            continue
        if x.name == "LOAD_FAST" and (x.arg in params and x.arg not in deleted
                                      or _stored_before(items, s.group[0], x.arg)):
            continue  # 3.11: a local known to be bound
        return False
    return True


def _stored_before(items: list[Any], index: int, name: str) -> bool:
    """Whether ``name`` is stored earlier in the basic block that holds ``index``
    (straight-line code: that store always ran, and nothing deleted it since)."""
    for x in reversed(items[:index]):
        if not isinstance(x, Instr) or x.has_jump() or x.name == "DELETE_FAST" and x.arg == name:
            return False  # a label, a try boundary, a jump: the block starts here
        if x.name == "STORE_FAST" and x.arg == name:
            return True
    return False


def read(code: types.CodeType) -> Bytecode:
    """``code`` as abstract bytecode, with its exception handlers' stack depths (which
    the stack simulation needs)."""
    return Bytecode.from_code(code, conserve_exception_block_stackdepth=True)


def find_sites(items: list[Any], code: types.CodeType, globals_: dict[str, Any],
               resolve: Resolver) -> list[FoundSite]:
    """The sites of ``code`` itself (not of nested code): candidate loads matched to the
    calls that consume them; loads not called at once are dropped."""
    qualname = getattr(code, "co_qualname", code.co_name)
    sites = _find_groups(items, globals_, resolve, qualname, code.co_filename)
    if not sites:
        return []
    try:
        _match_calls(items, sites)
    except _GiveUp as exc:
        for s in sites:
            s.reason = f"the stack could not be followed ({exc})"
    sites = [s for s in sites if not s.not_site]
    for s in sites:
        s.tail = bool(s.call_indices) and all(_is_tail(items, c) for c in s.call_indices)
    return sites


#: Instructions that run no Python code and never let another thread in: arguments
#: made only of these leave no window between loading a site's target and its call.
_ATOMIC = frozenset({
    "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_FAST_LOAD_FAST",
    "LOAD_FAST_BORROW_LOAD_FAST_BORROW", "LOAD_CONST", "LOAD_SMALL_INT", "LOAD_DEREF",
    "LOAD_GLOBAL", "PUSH_NULL", "NOP", "BUILD_TUPLE", "KW_NAMES",
})


def _late_bound(items: list[Any], s: FoundSite, start: int) -> bool:
    """Whether the arguments can run code (calls, awaits, yields, descriptors...): then
    the site loads its target again at the call, so an update made meanwhile (or while a
    generator is suspended inside the arguments) is not missed."""
    return not all(isinstance(x, Instr) and x.name in _ATOMIC
                   for x in items[s.group[1]:start])


def _land(insert: dict[int, list[Any]], index: int, label: Label, location: Any) -> None:
    """Put ``label`` (where a site's call path and no-call path meet) before item
    ``index``. 3.12 reports a second line event when a Python call returns straight into
    a jump target of the same line, where the original had no target: a NOP with the
    call's location goes first there."""
    landing: list[Any] = [label]
    if op.NOP_BEFORE_LANDING:
        landing.insert(0, Instr("NOP", location=location))
    insert.setdefault(index, [])[:0] = landing


def _load_target(t: Slot | Holder, location: Any) -> list[Instr]:
    """The instructions that push a site's current target."""
    if isinstance(t, Holder):
        return [Instr("LOAD_CONST", t, location=location), op.load_attr("target", location)]
    return [Instr("LOAD_CONST", t, location=location)]


def rewrite(code: types.CodeType, globals_: dict[str, Any], resolve: Resolver,
            nested: Callable[[types.CodeType], types.CodeType]) -> Rewritten:
    """Rewrite ``code``'s own sites; ``nested`` rewrites code objects it contains."""
    bc = read(code)
    items: list[Any] = list(bc)
    # nested code objects first (functions, lambdas, comprehensions, genexps)
    changed = False
    for item in items:
        if (isinstance(item, Instr) and item.name == "LOAD_CONST"
                and isinstance(item.arg, types.CodeType)):
            new_arg = nested(item.arg)
            changed = changed or new_arg is not item.arg
            item.arg = new_arg
    sites = find_sites(items, code, globals_, resolve)
    if not sites:
        return Rewritten(bc.to_code() if changed else code, [])
    good = [s for s in sites if s.reason is None and not _reject(items, s)]
    if not good:
        return Rewritten(bc.to_code() if changed else code, sites)

    params = set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount
                                  + bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)])
    deleted = {x.arg for x in items if isinstance(x, Instr) and x.name == "DELETE_FAST"}
    # a local whose value a drop block may park on the stack, else a new one
    if op.LOAD_FAST_CHECKS_BINDING:
        spare = next((p for p in code.co_varnames if p in params and p not in deleted), SCRATCH)
    else:
        spare = code.co_varnames[0] if code.co_varnames else SCRATCH
    replace: dict[int, tuple[int, list[Any]]] = {}   # start -> (end, new items)
    insert: dict[int, list[Any]] = {}                # before index -> new items
    for s in good:
        g0, g1 = s.group
        first = items[g0]
        loc = first.location
        t: Slot | Holder = Holder() if op.TARGET_IN_HOLDER else Slot("T")
        v = Slot("V")
        s.slots = (t, v)
        new: list[Any] = []
        for is_null in s.null_flags:
            new.extend([Instr("PUSH_NULL", location=loc)] if is_null
                       else _load_target(t, loc))
        # keep a line event for each further line the replaced loads stood on
        last_line = loc.lineno if loc is not None else None
        for item in items[g0:g1]:
            if isinstance(item, Instr) and item.lineno and item.lineno != last_line:
                new.append(Instr("NOP", location=item.location))
                last_line = item.lineno
        call0 = items[s.call_indices[0]]
        start0 = _call_group_start(items, s.call_indices[0])
        assert start0 is not None
        if (len(s.call_indices) == 1 and call0.name != "CALL_FUNCTION_EX"
                and _pure_args(items, s, start0, params, deleted)):
            # Nothing to evaluate: the switch comes first, and the no-call shape
            # pushes nothing at all (no callable, no NULL, no arguments to drop).
            nxt = items[s.call_indices[0] + 1]
            if isinstance(nxt, Instr) and nxt.name == "POP_TOP":
                # A statement: with no call, one jump skips it entirely.
                skip = Label()
                s.layout, s.slots = "skip", (t, None)
                new[:0] = [Instr("JUMP_FORWARD", skip, location=loc)]
                replace[g0] = (g1, new)
                _land(insert, s.call_indices[0] + 2, skip, call0.location)
                continue
            s.layout = "pure"
            call_label, done_label = Label(), Label()
            new[:0] = [Instr("JUMP_FORWARD", call_label, location=loc),
                       Instr("LOAD_CONST", v, location=loc),
                       Instr("JUMP_FORWARD", done_label, location=loc), call_label]
            replace[g0] = (g1, new)
            _land(insert, s.call_indices[0] + 1, done_label, call0.location)
            continue
        replace[g0] = (g1, new)
        for call_index in s.call_indices:
            call = items[call_index]
            start = _call_group_start(items, call_index)
            assert start is not None
            cloc = call.location
            call_label, done_label = Label(), Label()
            kw_null = (op.CALL_EX_ALWAYS_HAS_KWARGS and call.name == "CALL_FUNCTION_EX"
                       and isinstance(items[call_index - 1], Instr)
                       and items[call_index - 1].name == "PUSH_NULL")
            block: list[Any] = [Instr("JUMP_FORWARD", call_label, location=cloc)]
            block += _drop_block(call, kw_null, spare, cloc)
            block += [Instr("LOAD_CONST", v, location=cloc),
                      Instr("JUMP_FORWARD", done_label, location=cloc), call_label]
            if _late_bound(items, s, start):
                # replace the callable loaded before the arguments by T as it is now
                above = s.call_pops - op.CALLABLE_INDEX - 1 - (call.name == "CALL_KW")
                block += _load_target(t, cloc)
                block += [Instr("SWAP", above + 2, location=cloc),
                          Instr("POP_TOP", location=cloc)]
            insert.setdefault(start, []).extend(block)
            _land(insert, call_index + 1, done_label, cloc)

    out: list[Any] = []
    n = 0
    while n < len(items):
        if n in insert:
            out.extend(insert[n])
        if n in replace:
            end, new = replace[n]
            out.extend(new)
            n = end
            continue
        out.append(items[n])
        n += 1
    if len(items) in insert:
        out.extend(insert[len(items)])
    bc.clear()
    bc.extend(out)
    new_code = bc.to_code()
    # The assembler's stack-depth analysis follows the switches as assembled, so it never
    # enters what they jump over: a drop block, or a whole skipped statement. Every path of
    # the rewritten code stays within the original's depth plus one (T loaded again above
    # the arguments, or a value parked while dropping a NULL), so that is the bound.
    new_code = new_code.replace(co_stacksize=max(new_code.co_stacksize,
                                                 code.co_stacksize + STACK_EXTRA))
    return Rewritten(new_code, sites)


def locate(code: types.CodeType, sites: list[FoundSite]) -> None:
    """Find each rewritten site's constants and shape switches in the assembled ``code``."""
    by_id = {id(c): i for i, c in enumerate(code.co_consts)}
    instrs = list(dis.get_instructions(code))
    for s in sites:
        if s.slots is None:
            continue
        it = by_id[id(s.slots[0])]
        if s.layout == "skip":
            # the switch is the jump right before T's load (and its NULL, 3.11/3.12);
            # as assembled it skips the statement: operand 0 runs the call
            n = next(k for k, x in enumerate(instrs) if x.opname == "LOAD_CONST" and x.arg == it)
            k = n - 1 if instrs[n - 1].opname == "JUMP_FORWARD" else n - 2
            jump = instrs[k]
            assert jump.opname == "JUMP_FORWARD" and jump.arg is not None
            if jump.arg > 255 or (k and instrs[k - 1].opname == "EXTENDED_ARG"):
                s.reason = "its statement is too long to skip"
                s.slots = None
                continue
            s.indices = (it, None)
            s.switches = [(jump.offset, 0, jump.arg)]
            s.code = code
            continue
        assert s.slots[1] is not None
        iv = by_id[id(s.slots[1])]
        s.indices = (it, iv)
        s.switches = []
        # each copy of the call has a drop block ending in LOAD_CONST V; JUMP_FORWARD,
        # right before the call; its switch is the jump over that block
        for n, x in enumerate(instrs):
            if not (x.opname == "LOAD_CONST" and x.arg == iv):
                continue
            call_offset = instrs[n + 2].offset
            k = n - 1
            while not (instrs[k].opname == "JUMP_FORWARD" and instrs[k].argval == call_offset):
                k -= 1
            jump = instrs[k]
            assert jump.arg is not None
            if jump.arg > 255 or (k and instrs[k - 1].opname == "EXTENDED_ARG"):
                s.reason = "its arguments are too long to switch off"
                break
            s.switches.append((jump.offset, jump.arg, 0))
        if s.reason is not None:
            s.slots = None
            s.switches = []
            continue
        s.code = code


def _reject(items: list[Any], s: FoundSite) -> bool:
    for c in s.call_indices:
        call = items[c]
        if _call_group_start(items, c) is None:
            s.reason = "unexpected instructions before the call"
            return True
        if call.name not in op.CALL_NAMES:
            s.reason = f"consumed by {call.name}, not a call"
            return True
        if call.name != "CALL_FUNCTION_EX" and call.arg > 200:
            s.reason = "too many arguments"
            return True
    return False
