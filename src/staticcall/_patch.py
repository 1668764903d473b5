"""Live patching: change a site's target and one jump's operand in place.

A rewritten site loads its target on every execution, either as ``LOAD_CONST T`` (the
item of the code object's ``co_consts`` tuple is replaced in place) or, where
``_opcodes.TARGET_IN_HOLDER`` says so, as ``LOAD_CONST holder; LOAD_ATTR target`` (a
slot of the site's own :class:`Holder` is assigned). Either way every frame of that
code follows at once, running or suspended -- the Python equivalent of the kernel
patching a call instruction in its text. A site's shape (call, or no call at all) is
chosen by the operand of one ``JUMP_FORWARD`` that it owns, patched in the code's live
instruction array (``co_code_adaptive``, which starts ``CodeType.__basicsize__`` bytes
into the object). Only the operand byte is written: CPython's instrumentation and
specialisation rewrite opcode bytes, never this one.

Both loads push a new reference (3.11-3.14's ``LOAD_CONST``, ``LOAD_ATTR`` everywhere),
so a replaced target lives exactly as long as a frame still uses it: callers release
what they replace once the whole update is done. Optimizer traces read a holder's slot
afresh; only a changed switch (which traces follow as recorded) makes
:func:`invalidate_traces` necessary.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import sysconfig
import types
from typing import Any, Iterable

from . import _env, _opcodes as op

_PTR = ctypes.sizeof(ctypes.c_void_p)
_ITEMS = tuple.__basicsize__  # offset of ob_item[0] in a tuple object
# CPython 3.14 caches a tuple's hash just before its items.
_HASH = _ITEMS - _PTR if op.TUPLE_HASH_CACHED else None

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None
_decref = ctypes.pythonapi.Py_DecRef
_decref.argtypes = [ctypes.py_object]
_decref.restype = None


def _layout_ok() -> bool:
    a, b = object(), object()
    probe = (a, b)
    addr = ctypes.c_void_p.from_address(id(probe) + _ITEMS + _PTR).value
    return addr == id(b)


_CODE = types.CodeType.__basicsize__  # offset of co_code_adaptive in a code object


def _code_layout_ok() -> bool:
    def probe(a, b, c, d):  # type: ignore[no-untyped-def]
        e = d
        f = c
        g = b
        h = a
        return (e, f, g, h)
    code = probe.__code__
    raw = code.co_code
    live = (ctypes.c_uint8 * len(raw)).from_address(id(code) + _CODE)
    # compare each instruction's operand byte (opcodes may be quickened)
    operands = [i + 1 for i in range(0, len(raw), 2) if raw[i] != 0]
    return any(raw[i] for i in operands) and all(live[i] == raw[i] for i in operands)


def _free_threaded() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def unsupported_reason() -> str | None:
    """Why this interpreter cannot be live-patched, or ``None`` when it can."""
    if _env.mode() == "trampoline":
        return "STATICCALL_MODE=trampoline is set"
    if sys.implementation.name != "cpython":
        return f"{sys.implementation.name} is not CPython"
    if not op.SUPPORTED:
        return "CPython {}.{} bytecode is not known".format(*op.PY)
    if _free_threaded():
        return "free-threaded builds are not supported"
    if not _layout_ok():
        return "unexpected tuple layout"
    if not _code_layout_ok():
        return "unexpected code object layout"
    return None


def const_cell(consts: tuple[Any, ...], index: int) -> Any:
    """A ctypes view of the pointer ``consts[index]`` (valid while ``consts`` lives)."""
    return ctypes.c_void_p.from_address(id(consts) + _ITEMS + index * _PTR)


def hash_cell(consts: tuple[Any, ...]) -> Any:
    """A ctypes view of the tuple's cached hash (3.14+), or ``None``."""
    return ctypes.c_ssize_t.from_address(id(consts) + _HASH) if _HASH is not None else None


def set_const(consts: tuple[Any, ...], index: int, value: Any, cell: Any = None,
              hashed: Any = False) -> Any:
    """Make ``consts[index]`` be ``value``; return the previous item. ``cell`` and
    ``hashed`` are this slot's :func:`const_cell` and the tuple's :func:`hash_cell`,
    when the caller keeps them (they cost an allocation each to make).

    The caller holds the GIL throughout (no call here releases it) and keeps the
    returned object alive for as long as any frame may still hold it.
    """
    old = consts[index]
    if old is value:
        return old
    _incref(value)
    (cell if cell is not None else const_cell(consts, index)).value = id(value)
    if hashed is False:
        hashed = hash_cell(consts)
    if hashed is not None:
        hashed.value = -1
    _decref(old)
    return old


# CPython 3.14 specialises LOAD_CONST by whether its constant is immortal
# (LOAD_CONST_MORTAL / LOAD_CONST_IMMORTAL) the first time it runs, and debug builds
# assert that the constant stays so. A site's T must therefore never switch between a
# mortal and an immortal object: an immortal target (a static type such as ``dict``)
# is loaded through a mortal stand-in that calls it.
try:
    from dis import _specializations as _SPECIALIZATIONS  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _SPECIALIZATIONS = {}
_SPLIT_LOAD_CONST = "LOAD_CONST_IMMORTAL" in _SPECIALIZATIONS.get("LOAD_CONST", ())
_is_immortal = getattr(sys, "_is_immortal", None)
_MORTAL_STAND_INS: dict[int, Any] = {}   # immortal objects never die: id() is stable


def as_constant(value: Any) -> Any:
    """What a site's T holds to call ``value``: ``value`` itself, or on interpreters
    that specialise LOAD_CONST by immortality, a mortal stand-in for an immortal one."""
    if _SPLIT_LOAD_CONST and _is_immortal is not None and _is_immortal(value):
        stand_in = _MORTAL_STAND_INS.get(id(value))
        if stand_in is None:
            stand_in = _MORTAL_STAND_INS[id(value)] = functools.partial(value)
        return stand_in
    return value


def operand_address(code: types.CodeType, offset: int) -> int:
    """Address of the operand byte of the instruction at byte ``offset`` of ``code``."""
    return id(code) + _CODE + offset + 1


def read_operand(address: int) -> int:
    return int(ctypes.c_uint8.from_address(address).value)


def operand_cell(address: int) -> Any:
    """A ctypes view of the operand byte at ``address`` (valid while its code lives)."""
    return ctypes.c_uint8.from_address(address)


def write_operand(cell: Any, value: int) -> None:
    """Write one operand byte through its :func:`operand_cell` (atomic with respect to
    other threads under the GIL). The caller keeps the code object alive."""
    cell.value = value


class Holder:
    """Where a site reads its target when ``_opcodes.TARGET_IN_HOLDER``: one per site,
    a constant of the site's code that is never replaced."""

    __slots__ = ("target",)

    def __init__(self) -> None:
        self.target: Any = None

    def __repr__(self) -> str:
        return f"<target holder -> {self.target!r}>"


_clear_caches = getattr(sys, "_clear_internal_caches", None)


JIT_ACTIVE = op.JIT


#: sys.monitoring tool ids staticcall may take (3 and 4 are the ones CPython leaves
#: unassigned); it takes one at its first update under the JIT, or when whole-package
#: processing first waits for a function's first call (``_trigger``), and keeps it
#: (freeing a tool id re-instruments every code object).
_TOOL_IDS = (4, 3)
_tool: int | None = None


def _monitoring_tool() -> int | None:
    global _tool
    monitoring = getattr(sys, "monitoring", None)
    if _tool is None and monitoring is not None:
        for candidate in _TOOL_IDS:
            try:
                monitoring.use_tool_id(candidate, "staticcall")
            except ValueError:
                continue
            _tool = candidate
            break
    elif _tool is not None and monitoring is not None \
            and monitoring.get_tool(_tool) != "staticcall":
        _tool = None  # someone freed it: take one again next time
        return _monitoring_tool()
    return _tool


#: staticcall's one tool id, shared by trace invalidation and ``_trigger``
monitoring_tool = _monitoring_tool


def invalidate_traces(codes: Iterable[types.CodeType] = ()) -> None:
    """Drop the optimizer traces that run any of ``codes``: they follow the shape
    switches just changed as they were recorded.

    ``sys._clear_internal_caches()`` would drop every trace, but it frees them even while
    another thread is paused inside one (CPython 3.15 crashes on that). Changing a code
    object's instrumentation instead goes through the optimizer's own dependency tracking,
    which is safe: each code object gets a ``sys.monitoring`` event switched on and off
    again, under staticcall's tool id.
    """
    if not JIT_ACTIVE:
        return
    codes = list(dict.fromkeys(codes))
    if not codes:
        return
    tool = _monitoring_tool()
    if tool is None:
        if _clear_caches is not None:
            _clear_caches()  # every tool id is taken: the blunt way
        return
    monitoring: Any = getattr(sys, "monitoring", None)
    event = monitoring.events.PY_START
    for code in codes:
        # flip one event and back, keeping what the tool has set there (``_trigger``)
        old = monitoring.get_local_events(tool, code)
        monitoring.set_local_events(tool, code, old ^ event)
        monitoring.set_local_events(tool, code, old)
