"""Line numbers and positions of rewritten functions are those of the original.

Each source is written to a file and compiled twice: one copy is decorated, the other
is the reference. Tracebacks, ``inspect.getsource``, ``sys.settrace`` events,
``sys.monitoring`` line and branch events (3.12+), executed-line sets and the code's
own line and position tables must agree, whatever the target (function, NULL, RET0).
"""

from __future__ import annotations

import collections
import dis
import inspect
import sys
import traceback
import types
from pathlib import Path
from typing import Any

import pytest

import rewrite_helpers as rw
from staticcall import (
    StaticCallNullError,
    define_static_call,
    static_call,
    static_call_cond,
    static_call_return0,
    static_call_sites,
    static_call_update,
    static_calls,
)
from staticcall._opcodes import PY

SOURCES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "simple": ("""
def f(x):
    a = static_call(K)(x)
    b = static_call_cond(K)(a, x)
    return static_call(K2)(b)
""", (1,)),
    "multi-line": ("""
def f(x):
    r = static_call(
        K
    )(
        x,
        rec(
            x + 1
        ),
        k=rec(x),
    )
    s = K2(
        r,
    ) if x else 0
    return static_call_cond(K)(
        s
    )
""", (2,)),
    "control-flow": ("""
def f(n):
    total = []
    for i in range(n):
        if i % 2:
            total.append(static_call(K)(i))
        else:
            total.append(static_call_cond(K2)(i))
        while i > 0:
            i -= 1
            static_call_cond(K)(i)
    try:
        static_call(K)(rec(n))
    except TypeError:
        total.append("caught")
    finally:
        total.append(static_call_cond(K2)(n))
    with Ctx():
        total.append(static_call_cond(K)(n))
    return total
""", (3,)),
    "nested-code": ("""
def f(n):
    def inner(y):
        return static_call(K)(
            y,
        )
    lam = lambda z: static_call_cond(K2)(z)
    xs = [static_call_cond(K)(i) for i in range(n)]
    gen = list(
        static_call_cond(K2)(i)
        for i in range(n)
    )
    return inner(n), lam(n), xs, gen
""", (2,)),
    "generator": ("""
def f(n):
    for i in range(n):
        yield static_call_cond(K)(i)
        yield K2(
            i,
        )
    return static_call_cond(K)(n)
""", (2,)),
    "conditional-args": ("""
def f(x):
    r = static_call_cond(K)(x and rec(x), rec(0) or x, [i for i in range(x)])
    for _ in range(1):
        pass
    return r
""", (2,)),
}

# (state of K, state of K2)
STATES = [("call", "call"), ("null", "null"), ("ret0", "ret0"), ("call", "null"),
          ("null", "call"), ("ret0", "call")]


def good_target(*args: Any, **kwargs: Any) -> Any:
    return ("T", len(args), len(kwargs))


def bad_target(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("bad target")


def value_of(state: str) -> Any:
    return {"call": good_target, "null": None, "ret0": static_call_return0,
            "bad": bad_target}[state]


class Ctx:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return False


def rec(v: Any) -> Any:
    return v


class Twin:
    """One source, written to a file, compiled twice; ``g`` is decorated, ``f`` is not.
    ``late``: the keys are defined only once ``g`` is decorated (its static_call sites
    bind at their first execution, which every test's first run of ``g`` is)."""

    def __init__(self, tmp_path: Path, name: str, late: bool = False) -> None:
        source, self.args = SOURCES[name]
        self.path = tmp_path / f"lines_{name.replace('-', '_')}.py"
        self.path.write_text(source)
        self.filename = str(self.path)
        self.K = define_static_call(good_target, name="K")
        self.K2 = define_static_call(good_target, name="K2")
        keys = {"K": self.K, "K2": self.K2}
        env = {"static_call": static_call, "static_call_cond": static_call_cond, "rec": rec,
               "Ctx": Ctx, "__name__": "lines_twin", **({} if late else keys)}
        plain, deco = rw.twin(source, env, filename=self.filename)
        plain.update(keys)
        self.f = plain["f"]
        self.g = static_calls(deco["f"])
        deco.update(keys)

    def set(self, states: tuple[str, str]) -> None:
        static_call_update(self.K, value_of(states[0]))
        static_call_update(self.K2, value_of(states[1]))

    def run(self, func: Any) -> tuple[str, Any]:
        return rw.outcome(lambda: rw.drive(func(*self.args)))


def settrace_events(twin: Twin, func: Any) -> tuple[list[Any], tuple[str, Any]]:
    events: list[Any] = []

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != twin.filename:
            return None
        events.append((event, frame.f_code.co_name, frame.f_lineno))
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        out = twin.run(func)
    finally:
        sys.settrace(old)
    return events, out


def same_outcome(a: tuple[str, Any], b: tuple[str, Any]) -> None:
    assert a[0] == b[0]
    if a[0] == "ok":
        assert a[1] == b[1]
    else:
        assert type(a[1]) is type(b[1])


@pytest.fixture(params=[(name, late) for late in (False, True) for name in SOURCES],
                ids=lambda p: p[0] + ("-late" if p[1] else ""))
def twin(request: Any, tmp_path: Path) -> Twin:
    t = Twin(tmp_path, *request.param)
    # the test is about rewritten code: every site must be live (or bind when it runs)
    sites = [s for s in static_call_sites() if s.filename == t.filename]
    assert sites and all(s.reason is None for s in sites), sites
    return t


# --------------------------------------------------------------------------------------
# The code's own tables.
# --------------------------------------------------------------------------------------

def paired_codes(f: Any, g: Any) -> list[tuple[types.CodeType, types.CodeType]]:
    def key(c: types.CodeType) -> tuple[str, int]:
        return (c.co_qualname if PY >= (3, 11) else c.co_name, c.co_firstlineno)

    a = {key(c): c for c in rw.code_objects(f)}
    b = {key(c): c for c in rw.code_objects(g)}
    assert a.keys() == b.keys()
    return [(a[k], b[k]) for k in a]


def test_firstlineno_and_line_table(twin: Twin) -> None:
    for a, b in paired_codes(twin.f, twin.g):
        assert a.co_firstlineno == b.co_firstlineno
        assert a.co_filename == b.co_filename
        lines_a = {line for _, _, line in a.co_lines() if line is not None}
        lines_b = {line for _, _, line in b.co_lines() if line is not None}
        assert lines_a == lines_b, a.co_name
        starts_a = sorted({line for _, line in dis.findlinestarts(a) if line is not None})
        starts_b = sorted({line for _, line in dis.findlinestarts(b) if line is not None})
        assert starts_a == starts_b, a.co_name


REWRITER_OPS = {
    # what a rewritten site may add, drop or replace
    "LOAD_GLOBAL", "LOAD_ATTR", "LOAD_METHOD", "PUSH_NULL", "PRECALL", "CALL", "CALL_KW",
    "CALL_FUNCTION_EX", "KW_NAMES", "LOAD_CONST", "LOAD_SMALL_INT", "POP_TOP", "SWAP",
    "BUILD_LIST", "LIST_EXTEND", "NOP", "EXTENDED_ARG", "CACHE", "NOT_TAKEN",
    "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP",
    "POP_JUMP_FORWARD_IF_TRUE", "POP_JUMP_IF_TRUE", "STORE_FAST", "BUILD_TUPLE",
    "LOAD_FAST_AND_CLEAR",
}


def kept(i: dis.Instruction) -> tuple[Any, ...]:
    jumps = set(dis.hasjrel) | set(dis.hasjabs) | set(getattr(dis, "hasjump", ()))
    # a jump's target offset moves; its position does not
    return (i.opname, None if i.opcode in jumps else i.argrepr, i.positions)


def test_positions(twin: Twin) -> None:
    """Every instruction the rewriter leaves alone keeps its position; every instruction
    of the rewritten code has a position that the original had."""
    for a, b in paired_codes(twin.f, twin.g):
        ia = list(dis.get_instructions(a))
        ib = list(dis.get_instructions(b))
        # 3.11's drop blocks park a parameter with LOAD_FAST: those carry the span of
        # their call, which no LOAD_FAST of the original has
        spans = {i.positions for i in ia if i.opname.startswith(("CALL", "PRECALL"))}
        kept_a = [kept(i) for i in ia if i.opname not in REWRITER_OPS]
        kept_b = [kept(i) for i in ib if i.opname not in REWRITER_OPS
                  and not (i.opname == "LOAD_FAST" and i.positions in spans)]
        assert kept_a == kept_b, a.co_name
        known = {i.positions for i in ia}
        invented = [(i.opname, i.positions) for i in ib if i.positions not in known]
        assert invented == [], a.co_name
        calls_a = collections.Counter(i.positions for i in ia if i.opname.startswith("CALL"))
        calls_b = collections.Counter(i.positions for i in ib if i.opname.startswith("CALL"))
        assert set(calls_b) <= set(calls_a)


@pytest.mark.skipif(PY < (3, 14), reason="code.co_branches() is 3.14+")
def test_branch_table(twin: Twin) -> None:
    """No branch added or lost (coverage's branch measurement reads this table)."""
    def lines(code: types.CodeType) -> collections.Counter[tuple[Any, ...]]:
        pos = list(code.co_positions())
        return collections.Counter(tuple(pos[off // 2][0] for off in br)
                                   for br in code.co_branches())  # type: ignore[attr-defined]

    for a, b in paired_codes(twin.f, twin.g):
        assert lines(a) == lines(b), a.co_name


def test_getsource(twin: Twin) -> None:
    assert inspect.getsource(twin.g) == inspect.getsource(twin.f)
    assert inspect.getsourcefile(twin.g) == twin.filename
    assert inspect.getsourcelines(twin.g)[1] == inspect.getsourcelines(twin.f)[1]


# --------------------------------------------------------------------------------------
# Tracing: settrace, sys.monitoring, executed lines.
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("states", STATES, ids=lambda s: "-".join(s))
def test_settrace_events(twin: Twin, states: tuple[str, str]) -> None:
    twin.set(states)
    ev_f, out_f = settrace_events(twin, twin.f)
    ev_g, out_g = settrace_events(twin, twin.g)
    same_outcome(out_f, out_g)
    assert ev_g == ev_f
    # executed-line sets, as a line-coverage tool sees them
    assert {(e[1], e[2]) for e in ev_g if e[0] == "line"} == \
        {(e[1], e[2]) for e in ev_f if e[0] == "line"}


@pytest.mark.skipif(PY < (3, 12), reason="sys.monitoring is 3.12+")
@pytest.mark.parametrize("states", STATES, ids=lambda s: "-".join(s))
def test_monitoring_line_and_branch_events(twin: Twin, states: tuple[str, str]) -> None:
    mon = sys.monitoring
    E = mon.events
    branch_events = ([("BRANCH_LEFT", E.BRANCH_LEFT), ("BRANCH_RIGHT", E.BRANCH_RIGHT)]
                     if PY >= (3, 14) else [("BRANCH", E.BRANCH)])

    def collect(func: Any) -> tuple[list[Any], tuple[str, Any]]:
        tool = rw.free_monitoring_tool()
        if tool is None:
            pytest.skip("no free sys.monitoring tool id")
        events: list[Any] = []

        def line_of(code: types.CodeType, offset: int) -> Any:
            return list(code.co_positions())[offset // 2][0]

        def on_line(code: types.CodeType, line: int) -> None:
            if code.co_filename == twin.filename:
                events.append(("LINE", code.co_name, line))

        def on_branch(name: str) -> Any:
            def cb(code: types.CodeType, src: int, dest: int) -> None:
                if code.co_filename == twin.filename:
                    events.append((name, code.co_name, line_of(code, src), line_of(code, dest)))
            return cb

        mask = E.LINE
        mon.use_tool_id(tool, "staticcall-tests")
        try:
            mon.register_callback(tool, E.LINE, on_line)
            for name, ev in branch_events:
                mon.register_callback(tool, ev, on_branch(name))
                mask |= ev
            mon.set_events(tool, mask)
            try:
                out = twin.run(func)
            finally:
                mon.set_events(tool, 0)
        finally:
            mon.register_callback(tool, E.LINE, None)
            for _, ev in branch_events:
                mon.register_callback(tool, ev, None)
            mon.free_tool_id(tool)
        return events, out

    twin.set(states)
    ev_f, out_f = collect(twin.f)
    ev_g, out_g = collect(twin.g)
    same_outcome(out_f, out_g)
    assert [e for e in ev_g if e[0] == "LINE"] == [e for e in ev_f if e[0] == "LINE"]
    assert collections.Counter(e for e in ev_g if e[0] != "LINE") == \
        collections.Counter(e for e in ev_f if e[0] != "LINE")


# --------------------------------------------------------------------------------------
# Tracebacks.
# --------------------------------------------------------------------------------------

TB_SOURCE = """
def in_argument(x):
    return static_call(K)(
        x,
        1 // x,
    )

def in_target(x):
    y = x + 1
    return static_call_cond(K)(x,
                               y)

def key_call(x):
    return K(
        x)

def nested(x):
    def inner():
        return [static_call(K)(i) for i in range(x)]
    return inner()
"""


def frames_in(exc: BaseException, filename: str) -> list[tuple[Any, ...]]:
    out = []
    for fs in traceback.extract_tb(exc.__traceback__):
        if fs.filename == filename:
            out.append((fs.name, fs.lineno, getattr(fs, "end_lineno", None),
                        getattr(fs, "colno", None), getattr(fs, "end_colno", None), fs.line))
    return out


@pytest.mark.parametrize("name,arg,state,exc_type", [
    ("in_argument", 0, "call", ZeroDivisionError),
    ("in_argument", 0, "ret0", ZeroDivisionError),
    ("in_argument", 0, "null", ZeroDivisionError),
    ("in_argument", 1, "bad", ValueError),
    ("in_argument", 1, "null", StaticCallNullError),
    ("in_target", 1, "bad", ValueError),
    ("key_call", 1, "bad", ValueError),
    ("key_call", 1, "null", StaticCallNullError),
    ("nested", 2, "bad", ValueError),
    ("nested", 2, "null", StaticCallNullError),
])
def test_traceback_lines(tmp_path: Path, name: str, arg: int, state: str,
                         exc_type: type[BaseException]) -> None:
    path = tmp_path / "tb_source.py"
    path.write_text(TB_SOURCE)
    K = define_static_call(good_target, name="K")
    env = {"K": K, "static_call": static_call, "static_call_cond": static_call_cond,
           "__name__": "tb_twin"}
    plain, deco = rw.twin(TB_SOURCE, env, filename=str(path))
    f, g = plain[name], static_calls(deco[name])
    assert all(s.reason is None for s in static_call_sites(K))
    static_call_update(K, value_of(state))
    with pytest.raises(exc_type) as info_f:
        f(arg)
    with pytest.raises(exc_type) as info_g:
        g(arg)
    tb_f = frames_in(info_f.value, str(path))
    tb_g = frames_in(info_g.value, str(path))
    assert tb_g == tb_f
    assert tb_g, "the traceback names the function's lines"
    # the formatted traceback shows the same source lines for the function's frames
    entry = f'  File "{path}"'
    text_f = [e for e in traceback.format_exception(info_f.value) if e.startswith(entry)]
    text_g = [e for e in traceback.format_exception(info_g.value) if e.startswith(entry)]
    assert text_g == text_f
    # the target's own frame (a bad target) comes right after the function's frame
    if state == "bad":
        names = [fs.name for fs in traceback.extract_tb(info_g.value.__traceback__)]
        assert names[-1] == "bad_target"
        expected = {"inner", "<listcomp>"} if name == "nested" else {name}
        assert names[-2] in expected  # no trampoline frame in between
