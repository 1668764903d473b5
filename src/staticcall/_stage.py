"""Staging: the cheap change whole-package processing makes at import time.

Rewriting a function's sites costs a ``bytecode`` round trip (hundreds of microseconds,
milliseconds for a long function), too much to pay for every function of a package as
it is imported. So processing a module only *stages* the code objects that have
candidate sites: each call of a global name bound to something a site can name (a key,
a handle, a tracepoint, ``static_call``, ``static_branch_unlikely``...) is pointed at a
*first-call stub* instead, by an edit of the same length::

    LOAD_GLOBAL (NULL + name) [caches]   ->   LOAD_CONST stub; PUSH_NULL; NOP...

(the NULL where the version puts it), in a copy of the code object with the stubs
appended to its constants. Offsets, the exception table, line numbers and stack depth
are unchanged. A stub behaves as the value it stands for and, at its first call, has
the whole function rewritten (``_packages``); the staged code, still run by frames that
started before, then gets the values themselves in place of the stubs.
"""

from __future__ import annotations

import dis
import types
from typing import Any, Callable

from . import _opcodes as op

_UNSET: Any = object()
_opcodes: Any = _UNSET


def _units(code: types.CodeType) -> dict[str, int]:
    """Code units of the first instruction of each name in ``code`` (its caches too)."""
    instrs = list(dis.get_instructions(code))
    out: dict[str, int] = {}
    for a, b in zip(instrs, instrs[1:]):
        out.setdefault(a.opname, (b.offset - a.offset) // 2)
    return out


def _layout() -> dict[str, int] | None:
    """The opcodes staging writes and the length of ``LOAD_GLOBAL``, checked once: the
    instructions written in its place must have no caches, and a staged probe must run."""
    global _opcodes
    if _opcodes is _UNSET:
        _opcodes = None
        ns: dict[str, Any] = {}
        exec("def probe(x):\n    y = x\n    return len(y)\n", ns)
        units = _units(ns["probe"].__code__)
        names = ("LOAD_CONST", "PUSH_NULL", "NOP", "EXTENDED_ARG", "LOAD_GLOBAL")
        if all(n in dis.opmap for n in names) and units.get("LOAD_GLOBAL", 0) >= 3 \
                and all(units.get(n, 1) == 1 for n in ("LOAD_FAST", "STORE_FAST")):
            layout = {n: dis.opmap[n] for n in names}
            layout["units"] = units["LOAD_GLOBAL"]
            _opcodes = layout
            if not _self_check(ns["probe"]):
                _opcodes = None
    return _opcodes  # type: ignore[no-any-return]


def _self_check(probe: types.FunctionType) -> bool:
    calls: list[Any] = []

    def stub_for(value: Any) -> Any:
        def stub(*args: Any) -> Any:
            calls.append(args)
            return value(*args)
        return stub

    staged = stage(probe.__code__, {"len": len}, stub_for)
    if staged is None:
        return False
    func = types.FunctionType(staged[0], probe.__globals__)
    return func("abc") == 3 and calls == [("abc",)] and staged[1][0][2] is len


def _const_load(index: int, lay: dict[str, int]) -> list[int] | None:
    """The code units (opcode, operand) that push ``co_consts[index]``."""
    if index >= 1 << 16:
        return None
    out = [] if index < 256 else [lay["EXTENDED_ARG"], index >> 8]
    return out + [lay["LOAD_CONST"], index & 0xFF]


def _matches(raw: bytes, opcode: int, arg: int, ext: int) -> list[tuple[int, int]]:
    """``(start, end)`` byte ranges of every ``opcode arg`` instruction in ``raw`` (with
    its EXTENDED_ARG prefix when ``arg`` needs one)."""
    if arg >= 1 << 16:
        return []
    pattern = bytes([opcode, arg & 0xFF])
    prefix = bytes([ext, arg >> 8]) if arg >= 256 else b""
    out = []
    at = raw.find(pattern)
    while at >= 0:
        if at % 2 == 0:
            start = at - len(prefix)
            if prefix:
                ok = start >= 0 and raw[start:at] == prefix and (
                    start < 2 or raw[start - 2] != ext)
            else:
                ok = at < 2 or raw[at - 2] != ext
            if ok:
                out.append((start, at + 2))
        at = raw.find(pattern, at + 1)
    return out


Stubs = list[tuple[int, Any, Any]]  # (constant index, stub, the value it stands for)


def stage(code: types.CodeType, values: dict[str, Any],
          stub_for: Callable[[Any], Any]) -> tuple[types.CodeType, Stubs] | None:
    """``code`` with every call of a global name in ``values`` pointed at a stub made by
    ``stub_for(value)``; returns the new code and ``(constant index, stub, value)`` per
    stub, or ``None`` when there is no such call (or staging is not available here)."""
    lay = _layout()
    if lay is None:
        return None
    raw = code.co_code
    out = bytearray(raw)
    consts = list(code.co_consts)
    stubs: Stubs = []
    length = 2 * lay["units"]
    for i, name in enumerate(code.co_names):
        if name not in values:
            continue
        for start, end in _matches(raw, lay["LOAD_GLOBAL"], (i << 1) | 1, lay["EXTENDED_ARG"]):
            total = end - start + length - 2  # the prefix, the instruction, its caches
            load = _const_load(len(consts), lay)
            if load is None or len(load) + 2 > total:
                continue
            null = [lay["PUSH_NULL"], 0]
            units = (null + load) if op.NULL_BELOW else (load + null)
            units += [lay["NOP"], 0] * ((total - len(units)) // 2)
            out[start:start + total] = bytes(units)
            stub = stub_for(values[name])
            stubs.append((len(consts), stub, values[name]))
            consts.append(stub)
    if not stubs:
        return None
    return code.replace(co_code=bytes(out), co_consts=tuple(consts)), stubs
