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
import re
import types
from typing import AbstractSet, Any, Callable, Collection, Iterator

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
        exec("def probe(x):\n    y = x\n    return len(y)\n\n"
             "def method(x):\n    return m.f(x)\n\ndef attr():\n    return m.f\n", ns)
        units = _units(ns["probe"].__code__)
        names = ("LOAD_CONST", "PUSH_NULL", "NOP", "EXTENDED_ARG", "LOAD_GLOBAL")
        if all(n in dis.opmap for n in names) and units.get("LOAD_GLOBAL", 0) >= 3 \
                and all(units.get(n, 1) == 1 for n in ("LOAD_FAST", "STORE_FAST")):
            layout = {n: dis.opmap[n] for n in names}
            layout["units"] = units["LOAD_GLOBAL"]
            layout.update(_attribute_load(ns["method"].__code__, "METHOD"))
            layout.update(_attribute_load(ns["attr"].__code__, "ATTR"))
            _opcodes = layout
            if not _self_check(ns["probe"]):
                _opcodes = None
    return _opcodes  # type: ignore[no-any-return]


def _attribute_load(code: types.CodeType, kind: str) -> dict[str, int]:
    """How a probe loads ``f`` after the global ``m`` (``m.f(x)``: "METHOD", ``m.f``:
    "ATTR"): the opcode, whether its operand is the name's index shifted left one (the
    low bit says method-style), and its length in code units."""
    instrs = list(dis.get_instructions(code))
    k = next(n for n, x in enumerate(instrs) if x.opname == "LOAD_GLOBAL")
    load, after = instrs[k + 1], instrs[k + 2]
    index = code.co_names.index("f")
    if load.arg not in (index, index << 1, (index << 1) | 1):
        return {}
    return {kind: load.opcode, kind + "_shift": int(load.arg != index),
            kind + "_units": (after.offset - load.offset) // 2}


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


def calls(code: types.CodeType, names: AbstractSet[str]) -> bool:
    """Whether ``code`` calls any of the global ``names`` (a cheap scan of its bytes:
    the site of a key, tracepoint or ``static_call`` starts with such a call)."""
    lay = _layout()
    if lay is None:
        return True  # cannot tell: assume it does
    raw, co_names = code.co_code, code.co_names
    return any(_matches(raw, lay["LOAD_GLOBAL"], (co_names.index(name) << 1) | 1,
                        lay["EXTENDED_ARG"])
               for name in names & set(co_names))


def jump_targets(code: types.CodeType) -> set[int]:
    """The byte offsets that a jump or an exception handler of ``code`` goes to."""
    out = _labels(code.co_code)
    table = iter(code.co_exceptiontable)
    for first in table:  # entries of four varints: start, length, target, depth
        _varint(first, table)
        _varint(next(table), table)
        out.add(2 * _varint(next(table), table))
        _varint(next(table), table)
    return out


#: the jump opcodes (not the compiler's pseudo-instructions, numbered from 256), as a
#: regular expression over a code's opcode bytes
_JUMPS = re.compile(b"[" + re.escape(bytes(sorted(
    op for op in set(dis.hasjrel) | set(dis.hasjabs) if op < 256))) + b"]")
_BACKWARD = frozenset(op for op in dis.hasjrel if "BACKWARD" in dis.opname[op])
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_fast: bool | None = None  # whether _fast_labels agrees with dis here (checked once)


def _labels(raw: bytes) -> set[int]:
    """``set(dis.findlabels(raw))``, at a tenth of its cost or less (it decodes every
    instruction in Python and keeps its labels in a list); where 3.14+ leaves out the
    target of a jump made for ``sys.monitoring`` only (``END_ASYNC_FOR``), this counts
    it too, which only makes staging more careful."""
    global _fast
    if _fast is None:
        _fast = _agrees()
    if _fast:
        return _fast_labels(raw)
    return set(dis.findlabels(raw))  # type: ignore[arg-type]  # raw bytes, as documented


def _fast_labels(raw: bytes) -> set[int]:
    # the opcodes and the operands apart (two slices, in C): a match in the opcodes is
    # an instruction's index, never an operand's
    ops, args = raw[0::2], raw[1::2]
    out = set()
    for match in _JUMPS.finditer(ops):
        i = match.start()
        opcode, arg, k, shift = ops[i], args[i], i - 1, 8
        while k >= 0 and ops[k] == _EXTENDED_ARG:
            arg |= args[k] << shift
            k, shift = k - 1, shift + 8
        out.add(_target(opcode, arg, 2 * i))
    return out


def _target(opcode: int, arg: int, offset: int) -> int:
    if opcode in dis.hasjabs:
        return 2 * arg
    step = -arg if opcode in _BACKWARD else arg
    return offset + 2 + 2 * step + 2 * _CACHES.get(opcode, 0)


#: code units of cache after each jump that counts them in its operand (3.12+)
_CACHES: dict[int, int] = {}


def _agrees() -> bool:
    """Fill ``_CACHES`` and check ``_fast_labels`` against ``dis`` on code with every
    common kind of jump."""
    try:
        if op.JUMPS_COUNT_CACHES:
            for code_op in dis.hasjrel:
                if code_op < 256:
                    _CACHES[code_op] = _cache_units(dis.opname[code_op])
        return _matches_dis()
    except Exception:  # a dis without what is read here: dis itself is used
        return False


def _matches_dis() -> bool:
    ns: dict[str, Any] = {}
    exec("def probe(x, ys):\n"
         "    for y in ys:\n"
         "        while x:\n"
         "            x = x - 1 if y else None\n"
         "            if x is None or not y:\n"
         "                break\n"
         "        try:\n"
         "            x = y and x or y\n"
         "        except ValueError:\n"
         "            continue\n"
         "    return [z for z in ys if z]\n", ns)
    codes = [ns["probe"].__code__] + [k for k in ns["probe"].__code__.co_consts
                                       if isinstance(k, types.CodeType)]
    return all(_fast_labels(c.co_code) == set(dis.findlabels(c.co_code)) for c in codes)


def _cache_units(name: str) -> int:
    size: Any = getattr(dis, "_get_cache_size", None)  # 3.13+
    if size is not None:
        return int(size(name))
    entries: Any = vars(dis)["_inline_cache_entries"]  # 3.12: a list, by opcode
    return int(entries[dis.opmap[name]])


def _varint(first: int, rest: Iterator[int]) -> int:
    """One number of an exception table: six bits a byte, the next bit saying more."""
    value, byte = first & 63, first
    while byte & 64:
        byte = next(rest)
        value = value << 6 | byte & 63
    return value


Stubs = list[tuple[int, Any, Any]]  # (constant index, stub, the value it stands for)


class _Edit:
    """One staged copy of a code object being made."""

    def __init__(self, code: types.CodeType, lay: dict[str, int],
                 stub_for: Callable[[Any], Any]) -> None:
        self.code = code
        self._targets: set[int] | None = None
        self.raw = code.co_code
        self.names = code.co_names
        self.out = bytearray(self.raw)
        self.consts = list(code.co_consts)
        self.stubs: Stubs = []
        self.lay = lay
        self.stub_for = stub_for

    def lands_inside(self, start: int, end: int) -> bool:
        """Whether a jump or an exception handler goes to an instruction after ``start``
        and before ``end`` (bytes): what it would run there is gone once the range is
        replaced, as in ``(x if c else mod).K(1)``, whose other branch jumps to ``.K``."""
        if self._targets is None:  # read only when a chain is about to be staged
            self._targets = jump_targets(self.code)
        return any(start < t < end for t in self._targets)

    def put(self, start: int, total: int, value: Any) -> None:
        """Replace ``total`` bytes at ``start`` (a load of a callable and its NULL) by a
        load of a new stub for ``value`` and its NULL, padded with NOPs."""
        lay = self.lay
        load = _const_load(len(self.consts), lay)
        if load is None or len(load) + 2 > total:
            return
        null = [lay["PUSH_NULL"], 0]
        units = (null + load) if op.NULL_BELOW else (load + null)
        units += [lay["NOP"], 0] * ((total - len(units)) // 2)
        self.out[start:start + total] = bytes(units)
        stub = self.stub_for(value)
        self.stubs.append((len(self.consts), stub, value))
        self.consts.append(stub)


def stage(code: types.CodeType, values: dict[str, Any], stub_for: Callable[[Any], Any],
          modules: Collection[str] = frozenset(),
          resolve: Callable[[tuple[str, ...]], Any] | None = None
          ) -> tuple[types.CodeType, Stubs] | None:
    """``code`` with every call of a global name in ``values``, and of an attribute chain
    from a module global in ``modules`` that ``resolve`` finds a site value at
    (``mod.K(...)``), pointed at a stub made by ``stub_for(value)``; returns the new code
    and ``(constant index, stub, value)`` per stub, or ``None`` when there is no such call
    (or staging is not available here)."""
    lay = _layout()
    if lay is None:
        return None
    edit = _Edit(code, lay, stub_for)
    length = 2 * lay["units"]
    names = code.co_names
    for i, name in enumerate(names):
        if name in values:
            for start, end in _matches(edit.raw, lay["LOAD_GLOBAL"], (i << 1) | 1,
                                       lay["EXTENDED_ARG"]):
                # the prefix, the instruction, its caches
                edit.put(start, end - start + length - 2, values[name])
        elif resolve is not None and name in modules:
            _stage_chain(edit, i, resolve)
    if not edit.stubs:
        return None
    return code.replace(co_code=bytes(edit.out), co_consts=tuple(edit.consts)), edit.stubs


def _attribute_at(edit: _Edit, at: int) -> tuple[int, bool, int] | None:
    """The attribute load at byte ``at``: ``(name index, method-style, end)``."""
    lay, raw = edit.lay, edit.raw
    for kind in ("METHOD", "ATTR"):
        if kind in lay and at + 2 <= len(raw) and raw[at] == lay[kind]:
            arg = raw[at + 1]
            if at and raw[at - 2] == lay["EXTENDED_ARG"]:
                return None
            index, method = (arg >> 1, bool(arg & 1)) if lay[kind + "_shift"] \
                else (arg, kind == "METHOD")
            return index, method, at + 2 * lay[kind + "_units"]
    return None


def _stage_chain(edit: _Edit, i: int, resolve: Callable[[tuple[str, ...]], Any]) -> None:
    """Stage ``mod.K(...)`` (or ``pkg.mod.K(...)``): the global load of module ``i`` and
    attribute loads, as compiled for a call (the NULL from the global load, from a
    method-style load of the last attribute, or from a ``PUSH_NULL`` after it), where
    ``resolve(names)`` is a site value: all of it replaced."""
    lay, raw, names = edit.lay, edit.raw, edit.names
    length = 2 * lay["units"]
    for bit in (0, 1):
        for start, end in _matches(raw, lay["LOAD_GLOBAL"], (i << 1) | bit,
                                   lay["EXTENDED_ARG"]):
            path, at = [names[i]], end + length - 2
            for _ in range(2):
                got = _attribute_at(edit, at)
                if got is None or got[0] >= len(names):
                    break
                index, method, stop = got
                path.append(names[index])
                if not (bit or method):  # 3.13+: the NULL is pushed after the attribute
                    if raw[stop:stop + 1] == bytes([lay["PUSH_NULL"]]):
                        value = resolve(tuple(path))
                        if value is not None:
                            if not edit.lands_inside(start, stop + 2):
                                edit.put(start, stop + 2 - start, value)
                            break
                elif not (bit and method):
                    value = resolve(tuple(path))
                    if value is not None:
                        if not edit.lands_inside(start, stop):
                            edit.put(start, stop - start, value)
                        break
                if method or bit:
                    break
                at = stop
