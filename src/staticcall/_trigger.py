"""First calls, caught with ``sys.monitoring`` (3.12+): whole-package processing
rewrites a function when it is first called, without changing its code before then.

Each waiting code object gets a local ``PY_START`` event under staticcall's tool id;
the callback runs as a frame of that code starts, before its first instruction, and
returns before the function runs on, so the function's own frames and calls are exactly
the original's. The frame that started keeps its code (it runs the original, correctly);
the calls after it run the rewritten code. Without ``sys.monitoring`` (3.11), or with
no tool id free, processing stages code with first-call stubs instead (``_stage``).
"""

from __future__ import annotations

import sys
import types
from typing import Any, Callable

from . import _opcodes as op, _patch

_monitoring: Any = getattr(sys, "monitoring", None) if op.HAS_MONITORING else None
_PY_START = _monitoring.events.PY_START if _monitoring is not None else 0

#: id(code) -> (the code, what to call when it starts: it returns whether it is done
#: waiting, or wants the next start too)
_waiting: dict[int, tuple[types.CodeType, Callable[[], bool]]] = {}
_registered_for: int | None = None


def _tool() -> int | None:
    """staticcall's tool id, with the callback registered on it; ``None``: none here."""
    global _registered_for
    if _monitoring is None:
        return None
    tool = _patch.monitoring_tool()
    if tool is not None and tool != _registered_for:
        _monitoring.register_callback(tool, _PY_START, _started)
        _registered_for = tool
    return tool


def _started(code: types.CodeType, offset: int) -> Any:
    entry = _waiting.get(id(code))
    if entry is not None and entry[0] is code:
        try:
            if not entry[1]():
                return None  # called again at the next start
        except Exception:  # the callback's caller is the user's code: never raise there
            pass
        _waiting.pop(id(code), None)
    return _monitoring.DISABLE


def possible() -> bool:
    """Whether this interpreter has first-call events (3.12+), without taking a tool id."""
    return _monitoring is not None


def arm(codes: list[types.CodeType], then: Callable[[], bool]) -> bool:
    """Call ``then()`` when any of ``codes`` starts running, until it returns true;
    whether armed."""
    tool = _tool()
    if tool is None:
        return False
    monitoring = _monitoring
    for code in codes:
        _waiting[id(code)] = (code, then)
        monitoring.set_local_events(tool, code,
                                    monitoring.get_local_events(tool, code) | _PY_START)
    return True


def disarm(codes: list[types.CodeType]) -> None:
    """No first-call event for ``codes`` any more (rewritten, or flushed)."""
    tool = _tool()
    for code in codes:
        entry = _waiting.get(id(code))
        if entry is not None and entry[0] is code:
            del _waiting[id(code)]
        if tool is not None:
            events = _monitoring.get_local_events(tool, code)
            if events & _PY_START:
                _monitoring.set_local_events(tool, code, events & ~_PY_START)
