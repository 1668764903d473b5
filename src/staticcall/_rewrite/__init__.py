"""Finding the static call sites of a code object and rewriting them: a pipeline.

1. ``find``: the instructions that load a site's callable (``K``, ``static_call(K)``).
2. ``match``: the call instruction(s) that consume each load, by simulating the stack.
3. ``emit``: each site laid out around its shape switch (``Skip``, ``Pure``, ``General``);
   ``late``: a PLT switch in front of a site whose key is not bound yet.
4. ``locate``: the site's constants and switches in the assembled code.

Patching them afterwards (``_sites``, ``_patch``) never rebuilds bytecode.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Callable

from bytecode import Bytecode, Instr, Label, SetLineno, TryBegin, TryEnd

from . import late
from .emit import Context, Edits, emit_site, reject
from .find import Resolver, find_loads, may_hold_sites
from .found import FoundSite, Switch, UnboundName
from .locate import locate
from .match import match_calls

__all__ = ["FoundSite", "Resolver", "Rewritten", "Switch", "UnboundName", "find_sites",
           "locate", "read", "rewrite"]

#: Stack slots a rewritten code object may need beyond the original's (see rewrite()).
STACK_EXTRA = 1


@dataclass
class Rewritten:
    code: types.CodeType
    sites: list[FoundSite]


def read(code: types.CodeType) -> Bytecode:
    """``code`` as abstract bytecode, with its exception handlers' stack depths (which
    the stack simulation needs)."""
    return Bytecode.from_code(code, conserve_exception_block_stackdepth=True)


def _is_tail(items: list[Any], call_index: int) -> bool:
    for item in items[call_index + 1:]:
        if isinstance(item, (Label, SetLineno, TryEnd, TryBegin)):
            continue
        return isinstance(item, Instr) and item.name == "RETURN_VALUE"
    return False


def find_sites(items: list[Any], code: types.CodeType, globals_: dict[str, Any],
               resolve: Resolver) -> list[FoundSite]:
    """The sites of ``code`` itself (not of nested code): candidate loads matched to the
    calls that consume them; loads not called at once are dropped."""
    qualname = getattr(code, "co_qualname", code.co_name)
    sites = find_loads(items, globals_, resolve, qualname, code.co_filename)
    calls = [s for s in sites if s.kind != "branch"]   # a branch site is whole as found
    if calls:
        match_calls(items, calls)
    sites = [s for s in sites if not s.not_site]
    for s in calls:
        s.tail = bool(s.call_indices) and all(_is_tail(items, c) for c in s.call_indices)
    return sites


def _same_fate_per_line(sites: list[FoundSite]) -> None:
    """The compiler copies a ``finally`` body (normal and exceptional paths): a
    tracepoint statement on one line must skip its arguments on every path or on none,
    so when one copy stays on the runtime path, every copy on that line does."""
    refused = {(s.lineno, id(s.ref)): s.reason for s in sites
               if s.kind == "tracepoint" and s.reason is not None}
    for s in sites:
        why = refused.get((s.lineno, id(s.ref)))
        if s.kind == "tracepoint" and s.reason is None and why is not None:
            s.give_up(f"another copy of this statement stays on the runtime path ({why})")


def rewrite(code: types.CodeType, globals_: dict[str, Any], resolve: Resolver,
            nested: Callable[[types.CodeType], types.CodeType]) -> Rewritten:
    """Rewrite ``code``'s own sites; ``nested`` rewrites code objects it contains. Code
    whose names lead to no site is not read at all (only its nested code is replaced)."""
    consts = tuple(nested(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    if any(a is not b for a, b in zip(consts, code.co_consts)):
        code = code.replace(co_consts=consts)
    if not may_hold_sites(code, globals_, resolve):
        return Rewritten(code, [])
    bc = read(code)
    items: list[Any] = list(bc)
    sites = find_sites(items, code, globals_, resolve)
    for s in sites:
        if s.reason is None and s.kind != "branch":
            s.reason = reject(items, s)
    while True:
        _same_fate_per_line(sites)
        good = [s for s in sites if s.reason is None]
        if not good:
            return Rewritten(code, sites)
        edits, ctx = Edits(items), Context.of(code, items)
        for s in good:
            emit_site(edits, s, ctx)
            if s.late:
                late.wrap(edits, s)
        final = edits.apply()
        ordinals = {id(x): n for n, x in enumerate(x for x in final if isinstance(x, Instr))}
        bc.clear()
        bc.extend(final)
        # Every path of the rewritten code, whatever its switches say, stays within the
        # original's depth plus one (T loaded again above the arguments, or a value
        # parked while dropping a NULL), and each exception handler keeps the depth it
        # had (read() conserved them): no stack analysis to run (a control-flow graph
        # of the whole function, most of the assembler's time). The fuzzer checks the
        # bound against that analysis in every state its programs run in.
        new_code = bc.to_code(stacksize=code.co_stacksize + STACK_EXTRA,
                              compute_exception_stack_depths=False)
        locate(new_code, good, ordinals)
        late.locate(new_code, good, ordinals)
        if all(s.reason is None for s in good):
            return Rewritten(new_code, sites)
        # A site given up while locating (a switch that needs more than one operand
        # byte) is still laid out in this code, fixed in the direction it was assembled
        # in: lay the code out again without it, so that it keeps its original
        # instructions (the runtime path). Each round gives up at least one site.
