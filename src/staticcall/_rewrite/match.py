"""Stage 2, match: which call consumes each site's callable.

The value stack is simulated over every path of the code (jumps, fall-throughs and
exception handlers), each value tagged with the site whose load pushed it. A site is
matched when its tag is consumed as the callable of call instructions only; a tag
consumed by anything else first means the load is not called at once (not a site),
and one that reaches a merge point in different places cannot be followed (the site
stays on the runtime path).
"""

from __future__ import annotations

from typing import Any

from bytecode import Instr, Label, TryBegin

from .. import _opcodes as op
from .found import FoundSite

Stack = tuple[int | None, ...]   # a site's id, or None for any other value


class GiveUp(Exception):
    """The stack cannot be followed (inconsistent depths at a merge point)."""


def _effect(item: Instr, jump: bool) -> tuple[int, int]:
    """``(popped, pushed)`` by ``item`` on the path taken (``jump``) or not."""
    pops = op.call_pops(item)
    if pops is not None:
        return pops, 1
    if item.name in op.CALL_PREFIX:
        return 0, 0   # 3.11's PRECALL and KW_NAMES: their CALL consumes the values
    # bytecode's (pre, post): what happens to the stack before and after the operation;
    # a "pre" above zero pushes (PUSH_NULL is (1, 0)), below zero pops
    pre, post = item.pre_and_post_stack_effect(jump=jump)
    return max(0, -pre), max(0, pre) + post


class _Walk:
    def __init__(self, items: list[Any], sites: list[FoundSite]) -> None:
        self.items = items
        self.starts = {s.start: s for s in sites}
        self.labels = {id(x): n for n, x in enumerate(items) if isinstance(x, Label)}
        self.entry: dict[int, Stack] = {}        # the stack at each block's start
        self.work: list[tuple[int, Stack]] = [(0, ())]
        self.bad: set[int] = set()               # tags that cannot be followed
        self.calls: dict[int, list[int]] = {}    # tag -> indices of calls consuming it
        self.elsewhere: set[int] = set()         # tags consumed by something else

    def fail(self, state: Stack) -> None:
        self.bad.update(tag for tag in state if tag is not None)

    def merge(self, n: int, state: Stack) -> bool:
        """Record that ``state`` reaches block ``n``; whether it is new there."""
        seen = self.entry.get(n)
        if seen is None:
            self.entry[n] = state
            return True
        if seen != state:
            if len(seen) != len(state):
                raise GiveUp("inconsistent stack depth")
            self.fail(seen)
            self.fail(state)
        return False

    def goto(self, n: int, state: Stack) -> None:
        if self.merge(n, state):
            self.work.append((n, state))

    def run(self) -> None:
        while self.work:
            n, state = self.work.pop()
            self.block(n, list(state))

    def block(self, n: int, stack: list[int | None]) -> None:
        items = self.items
        first = True
        while n < len(items):
            item = items[n]
            if isinstance(item, Label):
                # falling into a block: merge there (the block that starts the walk
                # is already recorded)
                if not first and not self.merge(n, tuple(stack)):
                    return
            elif isinstance(item, TryBegin):
                depth = item.stack_depth if isinstance(item.stack_depth, int) else len(stack)
                handler = stack[:depth] + ([None] if item.push_lasti else []) + [None]
                self.goto(self.labels[id(item.target)], tuple(handler))
            elif isinstance(item, Instr):
                site = self.starts.get(n)
                if site is not None:
                    self.push_site(site, stack)
                    n = site.end
                    first = False
                    continue
                self.step(n, item, stack)
                if item.is_final() or item.is_uncond_jump():
                    return
            first = False
            n += 1

    def push_site(self, site: FoundSite, stack: list[int | None]) -> None:
        values: list[int | None] = [None] * len(site.null_flags)
        values[site.null_flags.index(False)] = id(site)
        stack.extend(values)

    def step(self, n: int, item: Instr, stack: list[int | None]) -> None:
        name = item.name
        if name == "SWAP":
            stack[-1], stack[-item.arg] = stack[-item.arg], stack[-1]
            return
        if name == "COPY":
            self.fail((stack[-item.arg],))   # a copied callable: two owners
            stack.append(None)
            return
        if item.has_jump() and name not in op.JUMP_FOR_MONITORING_ONLY:
            pops, pushes = _effect(item, jump=True)
            self.fail(tuple(stack[len(stack) - pops:]))
            self.goto(self.labels[id(item.arg)], tuple(stack[:len(stack) - pops] + [None] * pushes))
        pops, pushes = _effect(item, jump=False)
        popped = stack[len(stack) - pops:] if pops else []
        del stack[len(stack) - len(popped):]
        is_call = op.call_pops(item) is not None
        for k, tag in enumerate(popped):
            if tag is None:
                continue
            if is_call and k == op.CALLABLE_INDEX:
                # 3.12+ may copy a call (and what follows it) into each branch of a
                # conditional argument: one load, several calls
                self.calls.setdefault(tag, []).append(n)
            elif not is_call and tag not in self.calls:
                self.elsewhere.add(tag)
            else:
                self.bad.add(tag)
        stack.extend([None] * pushes)

    def conclude(self, site: FoundSite) -> None:
        tag = id(site)
        calls = self.calls.get(tag)
        if tag in self.elsewhere and tag not in self.bad and calls is None:
            site.not_site = True
        elif tag in self.bad or calls is None:
            site.reason = site.reason or "its call could not be matched to the key's load"
        else:
            site.call_indices = sorted(set(calls))
            first = self.items[site.call_indices[0]]
            if any((self.items[c].name, self.items[c].arg) != (first.name, first.arg)
                   for c in site.call_indices):
                site.reason = "its load reaches calls of different shapes"


def match_calls(items: list[Any], sites: list[FoundSite]) -> None:
    """Fill in each site's ``call_indices``, or its ``reason``, or ``not_site``."""
    walk = _Walk(items, sites)
    try:
        walk.run()
    except GiveUp as exc:
        for s in sites:
            s.reason = f"the stack could not be followed ({exc})"
        return
    for s in sites:
        walk.conclude(s)
