"""Which locals are definitely bound before each instruction: the analysis CPython
3.12+'s compiler runs to choose ``LOAD_FAST`` over ``LOAD_FAST_CHECK``.

3.11's ``LOAD_FAST`` raises ``UnboundLocalError`` for an unbound local, so an argument
that loads a local can be skipped (a site that makes no call jumps over its arguments)
only where the local is bound on every path to it. Forward must-analysis over the
control-flow graph of the abstract instruction list: a state is the set of bound
locals; where paths meet, states intersect; exception handlers are entered from every
instruction their ``TryBegin`` ... ``TryEnd`` region covers. A local that any
``DELETE_FAST`` names is never counted as bound.
"""

from __future__ import annotations

from typing import Any

from bytecode import Instr, Label, TryBegin, TryEnd


def _meet(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _stores(instr: Instr) -> tuple[str, ...]:
    name = instr.name
    if name in ("STORE_FAST", "STORE_FAST_MAYBE_NULL"):
        return (instr.arg,)
    if name in ("STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST"):
        return tuple(instr.arg) if name == "STORE_FAST_STORE_FAST" else (instr.arg[0],)
    return ()


def bound_before(items: list[Any], entry: set[str]) -> list[frozenset[str] | None]:
    """For each index of ``items``, the locals bound on every path reaching it
    (``None``: no path reaches it). ``entry`` is what is bound on entry (parameters).
    A state is ``None`` (the top) until some path reaches its point."""
    deleted = {x.arg for x in items if isinstance(x, Instr) and x.name == "DELETE_FAST"}
    into: dict[int, frozenset[str] | None] = {}   # id(label) -> meet of jumps into it
    before: list[frozenset[str] | None] = [None] * len(items)
    for _ in range(len(items) + 2):   # each round only shrinks states: it converges
        changed = False
        state: frozenset[str] | None = frozenset(entry - deleted)
        regions: list[TryBegin] = []
        for n, item in enumerate(items):
            if isinstance(item, Label):
                state = _meet(state, into.get(id(item)))
            elif isinstance(item, TryBegin):
                regions.append(item)
            elif isinstance(item, TryEnd):
                if item.entry in regions:
                    regions.remove(item.entry)
            if before[n] != state:
                before[n], changed = state, True
            if not isinstance(item, Instr):
                continue
            for region in regions:  # a handler may be entered from here
                changed |= _flow(into, region.target, state)
            if state is not None:
                state = state | frozenset(s for s in _stores(item) if s not in deleted)
            if item.has_jump() and isinstance(item.arg, Label):
                changed |= _flow(into, item.arg, state)
            if item.is_final():
                state = None
        if not changed:
            return before
    raise AssertionError("definite assignment did not converge")  # pragma: no cover


def _flow(into: dict[int, frozenset[str] | None], label: Any,
          state: frozenset[str] | None) -> bool:
    """Record a path reaching ``label`` with ``state``; whether that changed anything."""
    if state is None:
        return False
    key = id(label)
    old = into.get(key)
    new = state if key not in into else _meet(old, state)
    if key in into and new == old:
        return False
    into[key] = new
    return True
