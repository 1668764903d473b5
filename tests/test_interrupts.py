"""Interrupted updates: an exception raised at any instruction of staticcall's own code
during an update (what a signal handler raising ``KeyboardInterrupt`` does, at the points
where the interpreter runs it) leaves the update either done or undone, never half."""

from __future__ import annotations

import contextlib
import dis
import gc
import importlib
import itertools
import os
import sys
from typing import Any, Callable, Iterator

import pytest

import staticcall
from live_helpers import HOT, build
from package_helpers import forget
from rewrite_helpers import monitoring_tool
from staticcall import _trigger, static_call_query, static_call_update, static_call_update_many
from test_rollback import SHAPES, Setup

PACKAGE = os.path.dirname(staticcall.__file__)

# an exception raised in a weakref callback is reported and dropped by the interpreter
# (pytest turns the report into a warning): the change then runs through
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


#: where the interpreter runs pending signal handlers (its "eval breaker" checks): as a
#: function starts, at a loop's backward jump, and as a call of C code returns
_STARTS = frozenset({"RESUME"})
_BACK = frozenset({"JUMP_BACKWARD"})
_CALLS = frozenset({"CALL", "CALL_KW", "CALL_FUNCTION_EX"})


class _Points:
    """Counts the points of staticcall's own code where a signal handler could run, and
    raises ``KeyboardInterrupt`` at the n-th."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.last: dict[int, tuple[str, bool]] = {}  # id(frame) -> (opcode, called Python)

    def started(self, frame: Any) -> None:
        """A Python frame starts: if its caller is watched, that call checks (in the
        callee's RESUME), not the caller after it."""
        caller = frame.f_back
        if caller is not None and id(caller) in self.last:
            self.last[id(caller)] = (self.last[id(caller)][0], True)
        if frame.f_code.co_filename.startswith(PACKAGE):
            self.last[id(frame)] = ("", False)

    def instruction(self, frame: Any, offset: int) -> None:
        name = dis.opname[frame.f_code.co_code[offset]]
        before, python = self.last.get(id(frame), ("", False))
        self.last[id(frame)] = (name, False)
        if name in _STARTS or before in _BACK or (before in _CALLS and not python):
            self.count += 1
            if self.count == self.n:
                raise KeyboardInterrupt(f"at point {self.n}")


@contextlib.contextmanager
def interrupt_at(n: int) -> Iterator[_Points]:
    """Raise ``KeyboardInterrupt`` at the n-th point of staticcall's own code where a
    signal handler could run (``_STARTS``...), from a callback run before that
    instruction: an exception raised there propagates from the instruction (3.11: a
    trace function's ``opcode`` event; 3.12+: a ``sys.monitoring`` ``INSTRUCTION``
    event, which needs no re-instrumentation of running code)."""
    points = _Points(n)
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "opcode":
                points.instruction(frame, frame.f_lasti)
            return local

        def calls(frame: Any, event: str, arg: Any) -> Any:
            points.started(frame)
            if frame.f_code.co_filename.startswith(PACKAGE):
                frame.f_trace_lines = False
                frame.f_trace_opcodes = True
                return local
            return None

        sys.settrace(calls)
        try:
            yield points
        finally:
            sys.settrace(None)
        return

    events = monitoring.events

    def start(code: Any, offset: int) -> Any:
        points.started(sys._getframe(1))
        return None

    def step(code: Any, offset: int) -> Any:
        if not code.co_filename.startswith(PACKAGE):
            return monitoring.DISABLE
        frame = sys._getframe(1)
        if id(frame) not in points.last:
            points.last[id(frame)] = ("", False)
        points.instruction(frame, offset)
        return None

    with monitoring_tool({events.PY_START: start, events.INSTRUCTION: step},
                         "staticcall interrupt test"):
        yield points


def _where(exc: BaseException) -> str:
    """Where in staticcall the exception was raised."""
    tb, out = exc.__traceback__, "?"
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.startswith(PACKAGE):
            out = f"{os.path.basename(code.co_filename)}:{tb.tb_lineno} ({code.co_name})"
        tb = tb.tb_next
    return out


def every_interrupt(change: Callable[[], Any], observe: Callable[[], Any],
                    undo: Callable[[], Any]) -> int:
    """Run ``change`` interrupted at each point in turn, until a run is not; after each
    interrupted run, what ``observe`` sees must be what it saw before the change, or what
    it sees after an uninterrupted one, and ``undo`` (then the change again) must work.
    Returns how many points there were."""
    before = observe()
    change()
    after = observe()
    undo()
    assert observe() == before and before != after
    n = 0
    while True:
        n += 1
        where = None
        with interrupt_at(n) as count:
            try:
                change()
            except KeyboardInterrupt as exc:
                where = _where(exc)
        if where is None and count.count < n:  # the change ran through: past its last point
            assert observe() == after
            undo()
            assert observe() == before
            assert n > 5, "no point found: the interruptions did not reach staticcall's code"
            return n - 1
        # (or the exception was raised in a weakref callback, which reports and drops it:
        # the change then ran through as well)
        state = observe()
        assert state in (before, after), (n, where, state)
        assert where is not None or state == after
        try:
            if state == after:
                undo()
            assert observe() == before, (n, where)
        except staticcall.StaticCallError as exc:
            raise AssertionError(f"interrupted at {n}, {where}: {exc}") from None


@pytest.mark.parametrize("old,new", [("func", "ret0"), ("null", "func2"), ("ret0", "method"),
                                     ("func", "builtin")])
def test_an_update_interrupted_anywhere_is_done_or_undone(old: str, new: str) -> None:
    s = Setup(["intr"], [SHAPES[old]])
    key = s.keys[0]

    def observe() -> Any:
        return s.behaviour(0), static_call_query(key)

    points = every_interrupt(lambda: static_call_update(key, SHAPES[new]), observe,
                             lambda: static_call_update(key, SHAPES[old]))
    assert points > 20  # where a signal handler could run during one update


def test_update_many_interrupted_anywhere_is_done_or_undone() -> None:
    s = Setup(["intr_a", "intr_b"], [SHAPES["func"], SHAPES["null"]])
    a, b = s.keys

    def observe() -> Any:
        return s.behaviour(0), s.behaviour(1), static_call_query(a), static_call_query(b)

    every_interrupt(lambda: static_call_update_many({a: SHAPES["ret0"], b: SHAPES["func2"]}),
                    observe,
                    lambda: static_call_update_many({a: SHAPES["func"], b: None}))


BRANCHES = """
@static_calls
def branch(x):
    if static_branch_unlikely(SK):
        return "on"
    return "off"

@static_calls
def loop(n):
    r = None
    for _ in range(n):
        r = "on" if static_branch_likely(SK) else "off"
    return r
"""


@pytest.mark.parametrize("op", ["enable", "disable", "inc", "dec", "enable_deferred",
                                "disable_deferred"])
def test_a_static_key_change_interrupted_anywhere_is_done_or_undone(op: str) -> None:
    """``*_deferred``: a deferred key with a decrement pending, which the change drops."""
    deferred = op.endswith("_deferred")
    op = op.removesuffix("_deferred")
    key = (staticcall.define_static_key_deferred_false(60, name="intr_sk") if deferred
           else staticcall.define_static_key_false(name="intr_sk"))
    if op in ("disable", "dec") or deferred:
        staticcall.static_branch_inc(key)
    if deferred:
        staticcall.static_branch_slow_dec_deferred(key)
    ns = build(BRANCHES, SK=key, static_branch_likely=staticcall.static_branch_likely,
               static_branch_unlikely=staticcall.static_branch_unlikely)
    ns["loop"](HOT)

    def observe() -> Any:
        return (ns["branch"](1), ns["loop"](3), staticcall.static_branch_unlikely(key),
                staticcall.static_key_enabled(key), staticcall.static_key_count(key),
                repr(key))  # with the decrements pending

    change, undo = {
        "enable": (staticcall.static_branch_enable, staticcall.static_branch_disable),
        "disable": (staticcall.static_branch_disable, staticcall.static_branch_enable),
        "inc": (staticcall.static_branch_inc, staticcall.static_branch_dec),
        "dec": (staticcall.static_branch_dec, staticcall.static_branch_inc),
    }[op]
    if deferred:  # the pending decrement back, as it was
        back = {"enable": staticcall.static_branch_slow_dec_deferred,
                "disable": lambda k: (staticcall.static_branch_inc(k),
                                      staticcall.static_branch_slow_dec_deferred(k))}[op]
        every_interrupt(lambda: change(key), observe, lambda: back(key))
        staticcall.static_key_deferred_flush(key)
        return
    every_interrupt(lambda: change(key), observe, lambda: undo(key))


TRACED = """
@static_calls
def traced(x):
    TP(x)
    return x
"""


@pytest.mark.parametrize("count", [0, 1, 2])
def test_a_probe_change_interrupted_anywhere_is_done_or_undone(count: int) -> None:
    """Attaching a probe to a tracepoint with ``count`` probes, and detaching it."""
    def proto(x: Any) -> None: ...

    tp = staticcall.define_tracepoint(proto, name="intr_tp")
    seen: list[Any] = []
    probes = [lambda x, i=i: seen.append((i, x)) for i in range(count + 1)]
    for p in probes[:count]:
        staticcall.register_probe(tp, p)
    ns = build(TRACED, TP=tp)

    def observe() -> Any:
        seen.clear()
        ns["traced"](1)
        tp(2)  # the runtime path
        return list(seen), staticcall.tracepoint_probes(tp), staticcall.tracepoint_enabled(tp)

    every_interrupt(lambda: staticcall.register_probe(tp, probes[count]), observe,
                    lambda: staticcall.unregister_probe(tp, probes[count]))
    every_interrupt(lambda: staticcall.unregister_probe(tp, probes[count - 1])
                    if count else staticcall.register_probe(tp, probes[0]), observe,
                    lambda: staticcall.register_probe(tp, probes[count - 1])
                    if count else staticcall.unregister_probe(tp, probes[0]))


DECORATED = """
def f(x):
    return static_call(K)(x) + K(x)
"""


def test_decorating_interrupted_anywhere_leaves_the_table_whole() -> None:
    """An interrupted ``@static_calls`` returns nothing: what it registered goes with the
    code no function runs, and decorating again works."""
    def double(x: Any) -> Any:
        return 2 * x

    key = staticcall.define_static_call(double, name="intr_deco")
    ns = build(DECORATED, K=key)
    made: list[Any] = []

    def observe() -> Any:
        sites = staticcall.static_call_sites(key)
        if len(sites) not in (0, 2):  # code no function runs, not freed yet (a cycle)
            gc.collect()
            sites = staticcall.static_call_sites(key)
        out = [made[-1](1)] if made else []
        return out, sorted((s.lineno, s.state) for s in sites)

    def undo() -> None:  # the decorated function goes, and with it its sites
        made.clear()
        gc.collect()

    points = every_interrupt(lambda: made.append(staticcall.static_calls(ns["f"])), observe,
                             undo)
    assert points > 100


_SERIAL = itertools.count()

PACKAGE_KEYS = """
from staticcall import define_static_call

def _double(x):
    return 2 * x

DOUBLE = define_static_call(_double, name="intr_double")
"""
PACKAGE_APP = """
from .keys import DOUBLE

def handler(x):
    return DOUBLE(x) + 1
"""


@pytest.mark.parametrize("way", ["event", "stubs"])
def test_a_first_call_interrupted_anywhere_still_rewrites(way: str, tmp_path: Any,
                                                          monkeypatch: Any) -> None:
    """The first call of a processed function, interrupted at any point of its rewrite:
    the function still computes what it should, and a later call rewrites it (it does
    not stay on the slow path for good)."""
    if way == "stubs":
        monkeypatch.setattr(_trigger, "arm", lambda codes, then: False)
    elif _trigger.possible():
        pytest.skip("the first call's rewrite runs in a sys.monitoring callback, where no "
                    "event (and so no interruption here) reaches it")
    monkeypatch.syspath_prepend(str(tmp_path))
    def fresh() -> Any:
        name = f"sc_intr_{os.getpid()}_{next(_SERIAL)}"
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / "keys.py").write_text(PACKAGE_KEYS)
        (tmp_path / name / "app.py").write_text(PACKAGE_APP)
        staticcall.install(name)
        return importlib.import_module(f"{name}.app")

    try:
        n = 0
        while True:
            n += 1
            app = fresh()
            where = None
            with interrupt_at(n) as count:
                try:
                    result = app.handler(3)
                except KeyboardInterrupt as exc:
                    where = _where(exc)
            if where is None and count.count < n:
                assert n > 5
                break
            assert where is not None or result == 7
            for _ in range(3):
                assert app.handler(3) == 7, (n, where)
            sites = [s for s in staticcall.static_call_sites() if s.filename == app.__file__]
            assert [s.state for s in sites] == ["call"], (n, where, sites)
            key = app.DOUBLE
            old = static_call_update(key, lambda x: 100)
            try:
                assert app.handler(3) == 101, (n, where)
            finally:
                static_call_update(key, old)
            package = app.__name__.rpartition(".")[0]
            staticcall.uninstall(package)
            forget(package)
            del app, key, old, sites
    finally:
        staticcall.uninstall()
