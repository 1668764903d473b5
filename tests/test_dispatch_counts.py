"""How many instructions a rewritten site executes, counted with opcode tracing
(``frame.f_trace_opcodes``): the layouts' promises, on every interpreter.

A NULL statement site whose arguments are constants and locals bound on every path
(parameters, a loop variable, a local assigned before a loop) runs its switch alone;
one whose local may be unbound keeps evaluating it, so ``UnboundLocalError`` is raised
exactly as by the original.
"""

from __future__ import annotations

import dis
import sys
import types
from typing import Any, Callable

import pytest

import rewrite_helpers as rw
from staticcall import (
    define_static_call_null,
    define_static_call_ret0,
    static_call,
    static_call_cond,
    static_calls,
)

trace = define_static_call_null(print, name="trace")
zero = define_static_call_ret0(print, name="zero")


def executed_on(func: Callable[..., Any], line: int, *args: Any) -> list[str]:
    """The opcodes ``func(*args)`` executes on line ``line`` of its body (1: the line
    after ``def``), its own code only, but for the loop's jump back: counted with opcode
    tracing, or where the interpreter emits no opcode event (3.12 ignores
    ``f_trace_opcodes`` set inside the trace function) with ``sys.monitoring``."""
    code = func.__code__
    target_line = code.co_firstlineno + line
    lines = [pos[0] for pos in code.co_positions()]
    seen: list[str] = []
    events = 0

    def record(offset: int) -> None:
        nonlocal events
        events += 1
        name = dis.opname[code.co_code[offset]]
        if lines[offset // 2] == target_line and not name.startswith("JUMP_BACKWARD"):
            seen.append(name)  # (the loop's jump back stands on the last line)

    def tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code is not code:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode":
            record(frame.f_lasti)
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        func(*args)
    finally:
        sys.settrace(old)
    if events:
        return seen
    mon = sys.monitoring
    tool = rw.free_monitoring_tool()
    assert tool is not None
    mon.use_tool_id(tool, "dispatch counts")
    try:
        mon.register_callback(tool, mon.events.INSTRUCTION,
                              lambda c, offset: record(offset) if c is code else None)
        mon.set_local_events(tool, code, mon.events.INSTRUCTION)
        func(*args)
    finally:
        mon.set_local_events(tool, code, 0)
        mon.register_callback(tool, mon.events.INSTRUCTION, None)
        mon.free_tool_id(tool)
    assert events
    return seen


def loop_site(items: list[int]) -> None:
    for item in items:
        static_call_cond(trace)(item)


def local_before_loop(n: int) -> None:
    x = 1
    for _ in range(n):
        static_call_cond(trace)(x)


def ret0_value(n: int) -> Any:
    x = 1
    y = None
    for _ in range(n):
        y = static_call(zero)(x)
    return y


def maybe_unbound(flag: bool) -> None:
    if flag:
        m = 1
    static_call_cond(trace)(m)  # noqa: F821 (unbound when flag is false)


@pytest.mark.parametrize("func, line, args", [
    (loop_site, 2, ([1, 2, 3],)),
    (local_before_loop, 3, (3,)),
])
def test_null_statement_site_runs_its_switch_only(func: Callable[..., Any], line: int,
                                                   args: tuple[Any, ...]) -> None:
    rewritten = static_calls(func)
    ops = executed_on(rewritten, line, *args)
    assert ops == ["JUMP_FORWARD"] * 3, ops
    # the original evaluates the argument and calls
    assert len(executed_on(func, line, *args)) > len(ops)


def test_ret0_value_site_runs_the_value_and_two_jumps() -> None:
    ops = executed_on(static_calls(ret0_value), 4, 2)
    # per execution: the switch, the constant, the jump to the store, the store
    assert ops == ["JUMP_FORWARD", "LOAD_CONST", "JUMP_FORWARD", "STORE_FAST"] * 2, ops


def test_local_bound_on_some_paths_is_still_evaluated() -> None:
    rewritten = static_calls(maybe_unbound)
    rewritten(True)
    with pytest.raises(UnboundLocalError):
        maybe_unbound(False)
    with pytest.raises(UnboundLocalError):
        rewritten(False)
