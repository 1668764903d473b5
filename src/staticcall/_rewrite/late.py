"""Late sites: ``static_call(K)(args)`` whose ``K`` is not a key when its code is
processed binds at its first execution, like a PLT slot in dynamic linking.

The site is laid out as any other (``emit``), for the key it will have, and a PLT
switch goes in front of it::

    JUMP_FORWARD bound        # the PLT switch: 0 while unbound, then the jump to bound
    B NULL <K's load> CALL 1  # unbound: the binder B, called with K as the original
                              # code calls static_call(K): before the arguments
    JUMP_FORWARD merge
  bound:
    <the site's own layout, which ends with the load of its target T>
  merge:
    <arguments> <call>

The binder returns what ``static_call(K)`` returns (raising what it raises: a K that is
not a key behaves exactly as the original code), and when K is a key it lays the site
out for the key's target and sets the switch, so that every later execution, this
frame's included, takes the bound path: a direct call. Unbound, the arguments and the
call that follow run as the site's layout has them: the callable is the trampoline the
binder returned, or ``T`` once a site that reloads it (its arguments run code) has been
bound in between; both call the key's current target.
"""

from __future__ import annotations

import dis
import types
from typing import Any

from bytecode import Instr, Label

from .. import _opcodes as op
from .emit import Edits
from .found import FoundSite, Slot, Switch

#: the largest jump a one-byte operand can hold (a switch has no EXTENDED_ARG)
_MAX_OPERAND = 255


def _binder_call(site: FoundSite) -> list[Any]:
    """``B(K)``: the original ``static_call(K)`` with the binder B in place of
    ``static_call``, every instruction where the original's was."""
    assert site.binder is not None
    first, rest = site.late_load[0], site.late_load[1:]
    load_b = Instr("LOAD_CONST", site.binder, location=first.location)
    null = Instr("PUSH_NULL", location=first.location)
    out = [null, load_b] if op.NULL_BELOW else [load_b, null]
    return out + [Instr(x.name, x.arg, location=x.location) for x in rest]


def wrap(edits: Edits, site: FoundSite) -> None:
    """Put the PLT switch and the unbound path in front of ``site``'s layout, which
    ``emit_site`` has just emitted (its replacement list ends with the target's load)."""
    end, laid_out = edits.replace[site.start]
    location = edits.items[site.start].location
    site.binder = Slot("B")
    unbound, bound, merge = Label(), Label(), Label()
    # as assembled the switch takes the unbound path (operand 0)
    plt = Instr("JUMP_FORWARD", unbound, location=location)
    to_merge = Instr("JUMP_FORWARD", merge, location=location)
    path: list[Any] = []
    for is_null in site.null_flags:
        path += [Instr("PUSH_NULL", location=location)] if is_null else _binder_call(site)
    site.plt_marks = [plt, to_merge]
    edits.replace[site.start] = (end, [plt, unbound] + path + [to_merge, bound]
                                 + laid_out + [merge])


def _size(instrs: list[Any], k: int) -> int:
    """Bytes from instruction ``k`` to the next one (its caches included)."""
    return int(instrs[k + 1].offset - instrs[k].offset) if k + 1 < len(instrs) else 2


def locate(code: types.CodeType, sites: list[FoundSite], ordinals: dict[int, int]) -> None:
    """Fill in each late site's PLT switch and binder index, or give the site up when
    its switch would need more than one operand byte."""
    late = [s for s in sites if s.late and s.plt_marks and s.reason is None]
    if not late:
        return
    by_id = {id(c): i for i, c in enumerate(code.co_consts)}
    instrs = [x for x in dis.get_instructions(code) if x.opname != "CACHE"]
    real = [k for k, x in enumerate(instrs) if x.opname != "EXTENDED_ARG"]
    for s in late:
        k_plt = real[ordinals[id(s.plt_marks[0])]]
        k_merge = real[ordinals[id(s.plt_marks[1])]]
        plt = instrs[k_plt]
        assert plt.opname == "JUMP_FORWARD" and plt.arg == 0
        # bound: the instruction right after the jump to merge
        bound_at = instrs[k_merge].offset + _size(instrs, k_merge)
        operand = (bound_at - plt.offset - 2) // 2
        if operand > _MAX_OPERAND or (k_plt and instrs[k_plt - 1].opname == "EXTENDED_ARG"):
            s.give_up("its binding path is too long to switch")
            continue
        s.plt = Switch(plt.offset, operand, 0)
        s.binder_index = by_id[id(s.binder)]
