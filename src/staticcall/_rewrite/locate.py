"""Stage 4, locate: each rewritten site's constants and shape switches in the assembled
code, where updates will write them."""

from __future__ import annotations

import dis
import types
from typing import Any, NamedTuple

from .emit import BRANCH, SKIP
from .found import FoundSite, Switch

#: the largest jump a one-byte operand can hold (a switch has no EXTENDED_ARG)
_MAX_OPERAND = 255
_CACHE = dis.opmap["CACHE"]
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_JUMP_FORWARD = dis.opmap["JUMP_FORWARD"]


class _Instr(NamedTuple):
    """What locating needs of an instruction, as ``dis.Instruction`` names it: the
    operand includes its ``EXTENDED_ARG`` prefixes, which are instructions of their own;
    ``argval`` is a ``JUMP_FORWARD``'s target offset, else the operand."""

    offset: int
    opname: str
    arg: int
    argval: int


def instructions(code: types.CodeType) -> list[_Instr]:
    """``code``'s instructions without their inline caches (``co_code`` shows each as
    ``CACHE``): what ``dis.get_instructions`` yields, at a fraction of its cost."""
    raw = code.co_code
    out: list[_Instr] = []
    ext = 0
    for offset in range(0, len(raw), 2):
        opcode = raw[offset]
        if opcode == _CACHE:
            continue
        arg = ext << 8 | raw[offset + 1]
        ext = arg if opcode == _EXTENDED_ARG else 0
        argval = offset + 2 + 2 * arg if opcode == _JUMP_FORWARD else arg
        out.append(_Instr(offset, dis.opname[opcode], arg, argval))
    return out


def _one_byte(instrs: list[Any], k: int) -> bool:
    jump = instrs[k]
    return jump.arg <= _MAX_OPERAND and not (k and instrs[k - 1].opname == "EXTENDED_ARG")


def _skip_switch(instrs: list[Any], t: int) -> Switch | None:
    """A skip site's switch: the jump right before T's load (and its NULL, 3.11/3.12);
    as assembled it skips the statement, and operand 0 runs the call."""
    n = next(k for k, x in enumerate(instrs) if x.opname == "LOAD_CONST" and x.arg == t)
    k = n - 1 if instrs[n - 1].opname == "JUMP_FORWARD" else n - 2
    assert instrs[k].opname == "JUMP_FORWARD" and instrs[k].arg is not None
    return Switch(instrs[k].offset, 0, instrs[k].arg) if _one_byte(instrs, k) else None


def _value_switches(instrs: list[Any], v: int) -> list[Switch] | None:
    """The switches of a site with a V: each copy of the call has a no-call block ending
    in ``LOAD_CONST V; JUMP_FORWARD done`` right before the call, and its switch is the
    jump over that block (operand 0 falls into it)."""
    switches = []
    for n, x in enumerate(instrs):
        if not (x.opname == "LOAD_CONST" and x.arg == v):
            continue
        call_offset = instrs[n + 2].offset
        k = n - 1
        while not (instrs[k].opname == "JUMP_FORWARD" and instrs[k].argval == call_offset):
            k -= 1
        if not _one_byte(instrs, k):
            return None
        switches.append(Switch(instrs[k].offset, instrs[k].arg, 0))
    return switches


def _branch_switch(instrs: list[Any], ordinal: int, jumps_when_enabled: bool) -> Switch | None:
    """A branch site's switch: its one jump; as assembled it jumps where the test did."""
    real = [k for k, x in enumerate(instrs) if x.opname not in ("EXTENDED_ARG", "CACHE")]
    k = real[ordinal]
    assert instrs[k].opname == "JUMP_FORWARD"
    if not _one_byte(instrs, k):
        return None
    jump = instrs[k].arg
    return Switch(instrs[k].offset, *((jump, 0) if jumps_when_enabled else (0, jump)))


def locate(code: types.CodeType, sites: list[FoundSite], ordinals: dict[int, int]) -> None:
    """Fill in each rewritten site's ``code``, ``indices`` and ``switches``, or give it
    up when a switch would need more than one operand byte. ``ordinals`` maps an emitted
    instruction's id to its place among the code's instructions."""
    by_id = {id(c): i for i, c in enumerate(code.co_consts)}
    instrs = instructions(code)
    for s in sites:
        if not s.rewritten:
            continue
        if s.layout is BRANCH:
            switch = _branch_switch(instrs, ordinals[id(s.marks[0])], s.jumps_when_enabled)
            if switch is None:
                s.give_up("its branch is too long to patch")
                continue
            s.switches, s.code = [switch], code
            continue
        t = by_id[id(s.target)]
        if s.layout is SKIP:
            switch = _skip_switch(instrs, t)
            if switch is None:
                s.give_up("its statement is too long to skip")
                continue
            s.indices, s.switches = (t, None), [switch]
        else:
            v = by_id[id(s.value)]
            switches = _value_switches(instrs, v)
            if switches is None:
                s.give_up("its arguments are too long to switch off")
                continue
            s.indices, s.switches = (t, v), switches
        s.code = code
