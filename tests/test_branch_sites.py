"""Branch sites of static keys and tracepoint sites, rewritten.

- ``if static_branch_unlikely(K):`` (and ``likely``, ``not``, ``elif``, ``while``, a
  conditional expression, attribute forms) becomes one jump: no load of the key or of
  the function, no call, no test; both states take the right path, and a change of
  state reaches running loops and suspended generators.
- A tracepoint's statement site skips its arguments while no probe is attached, calls
  the probe directly with one, the generated function with several.
- Both kinds are in the site table; a failed patch changes nothing.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import staticcall
from live_helpers import LIVE, Worker, build, loop_threads, wait_until
from rewrite_helpers import assert_no_lookup
from staticcall import (
    StaticCallError,
    define_static_key_false,
    define_static_key_true,
    define_tracepoint,
    register_probe,
    static_branch_disable,
    static_branch_enable,
    static_branch_likely,
    static_branch_unlikely,
    static_call_sites,
    static_calls,
    static_key_enabled,
    unregister_probe,
)

BRANCHES = """
@static_calls
def forms(x):
    out = []
    if static_branch_unlikely(K):
        out.append("if")
    else:
        out.append("else")
    if not static_branch_likely(K):
        out.append("not")
    if x < 0:
        out.append("neg")
    elif static_branch_unlikely(K):
        out.append("elif")
    out.append("on" if static_branch_unlikely(K) else "off")
    if sc.static_branch_likely(mod.K):
        out.append("attr")
    n = 0
    while static_branch_unlikely(K) and n < 3:
        n += 1
    out.append(n)
    return out
"""


def expected(enabled: bool) -> list[Any]:
    if enabled:
        return ["if", "elif", "on", "attr", 3]
    return ["else", "not", "off", 0]


def _env(key: Any) -> dict[str, Any]:
    mod = type(staticcall)("branch_mod")
    mod.K = key  # type: ignore[attr-defined]
    return build(BRANCHES, K=key, sc=staticcall, mod=mod,
                 static_branch_unlikely=static_branch_unlikely,
                 static_branch_likely=static_branch_likely)


def _live_branches(key: Any) -> list[staticcall.Site]:
    sites = [s for s in static_call_sites(key) if s.kind == "branch"]
    if LIVE:
        # 3.11 tests a while loop again at its end with a backward jump: that copy
        # stays on the runtime path (the table says why)
        bad = [s for s in sites if s.reason is not None and "BACKWARD" not in s.reason]
        assert bad == []
    return sites


@pytest.mark.parametrize("initial", [False, True])
def test_every_form_takes_the_right_path_in_both_states(initial: bool) -> None:
    key = (define_static_key_true if initial else define_static_key_false)(name="br")
    f = _env(key)["forms"]
    assert len(_live_branches(key)) >= 6
    assert f(1) == expected(initial)
    for state in (not initial, initial, not initial):
        (static_branch_enable if state else static_branch_disable)(key)
        assert f(1) == expected(state)
        assert {s.state for s in _live_branches(key)} == {"enabled" if state else "disabled"}


def test_a_branch_site_loads_no_key_and_calls_nothing() -> None:
    key = define_static_key_false(name="br_nolookup")
    f = _env(key)["forms"]
    if not LIVE:
        pytest.skip("no rewriting on this interpreter")
    funcs = ("static_branch_unlikely", "static_branch_likely")
    if staticcall._opcodes.LOAD_FAST_CHECKS_BINDING:
        # 3.11's while loop keeps its backward test on the runtime path
        funcs = ("static_branch_likely",)
    assert_no_lookup(f, "K", *funcs, attrs=("static_branch_likely",))


def test_a_loop_running_in_another_thread_follows_a_flip() -> None:
    key = define_static_key_false(name="br_thread")
    ns = build("""
@static_calls
def loop(stop, seen):
    while not stop.is_set():
        if static_branch_unlikely(K):
            seen.add("on")
        else:
            seen.add("off")
""", K=key, static_branch_unlikely=static_branch_unlikely)
    stop = threading.Event()
    seen: set[str] = set()
    workers = [Worker(ns["loop"], stop, seen) for _ in range(loop_threads(2))]
    for w in workers:
        w.start()
    try:
        wait_until(lambda: "off" in seen, what="the disabled path")
        static_branch_enable(key)
        seen.clear()
        wait_until(lambda: "on" in seen, what="the enabled path")
        seen.clear()
        wait_until(lambda: len(seen) > 0)
        assert seen == {"on"}
        static_branch_disable(key)
        seen.clear()
        wait_until(lambda: len(seen) > 0)
        assert seen == {"off"}
    finally:
        stop.set()
        for w in workers:
            w.result()


def test_a_suspended_generator_follows_a_flip_when_resumed() -> None:
    key = define_static_key_false(name="br_gen")
    ns = build("""
@static_calls
def gen():
    while True:
        yield "on" if static_branch_unlikely(K) else "off"
""", K=key, static_branch_unlikely=static_branch_unlikely)
    g = ns["gen"]()
    assert next(g) == "off"
    static_branch_enable(key)
    assert next(g) == "on"
    static_branch_disable(key)
    assert next(g) == "off"


ASYNC = """
import types

@types.coroutine
def pause():
    yield

@static_calls
async def agen():
    while True:
        TP("agen")
        yield "on" if static_branch_unlikely(K) else "off"

@static_calls
async def coro(out):
    while True:
        await pause()
        TP("coro")
        out.append("on" if static_branch_unlikely(K) else "off")
"""


def _step(awaitable: Any) -> Any:
    try:
        awaitable.send(None)
    except StopIteration as stop:
        return stop.value
    return None


def test_suspended_coroutines_and_async_generators_follow_flips_and_probes() -> None:
    key = define_static_key_false(name="br_async")
    tp = define_tracepoint(None, name="tp_async")
    ns = build(ASYNC, K=key, TP=tp, static_branch_unlikely=static_branch_unlikely)
    assert {s.kind for s in static_call_sites(key) + static_call_sites(tp)} == {
        "branch", "tracepoint"}
    gen, out, seen = ns["agen"](), [], []
    coro = ns["coro"](out)
    _step(coro)  # suspended in its first await
    assert _step(gen.__anext__()) == "off"
    for state in (True, False, True):
        (static_branch_enable if state else static_branch_disable)(key)
        probe = seen.append
        register_probe(tp, probe)
        want = "on" if state else "off"
        assert _step(gen.__anext__()) == want
        _step(coro)
        assert out[-1] == want
        assert seen == ["agen", "coro"]
        unregister_probe(tp, probe)
        seen.clear()
    _step(coro)
    assert _step(gen.__anext__()) == "on" and seen == []
    coro.close()
    static_branch_disable(key)


def test_a_failed_flip_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    key = define_static_key_false(name="br_fail")
    f = _env(key)["forms"]
    if not LIVE:
        pytest.skip("no rewriting on this interpreter")
    from staticcall import _patch

    real, writes = _patch.write_operand, []

    def failing(cell: Any, value: int) -> None:
        writes.append(value)
        if len(writes) == 3:
            raise RuntimeError("injected")
        real(cell, value)

    monkeypatch.setattr(_patch, "write_operand", failing)
    with pytest.raises(StaticCallError, match="br_fail"):
        static_branch_enable(key)
    monkeypatch.setattr(_patch, "write_operand", real)
    assert len(writes) > 3                      # the first two were undone
    assert not static_key_enabled(key)
    assert f(1) == expected(False)
    static_branch_enable(key)
    assert f(1) == expected(True)


# --------------------------------------------------------------------------------------
# Tracepoint sites.
# --------------------------------------------------------------------------------------

def item(x: Any) -> None: ...


TRACED = """
@static_calls
def traced(x):
    TP(note(f"item {x!r}"))
    return x
"""


def _traced() -> tuple[Any, Any, list[Any]]:
    tp = define_tracepoint(item, name="tp_site")
    notes: list[Any] = []

    def note(v: Any) -> Any:
        notes.append(v)
        return v

    ns = build(TRACED, TP=tp, note=note)
    return tp, ns["traced"], notes


def test_no_probe_skips_the_arguments() -> None:
    tp, traced, notes = _traced()
    sites = static_call_sites(tp)
    assert [(s.kind, s.state) for s in sites] == [("tracepoint", "disabled")]
    assert traced(1) == 1
    if LIVE:
        assert sites[0].reason is None
        assert notes == []                       # not even the f-string was built
        assert_no_lookup(traced, "TP")           # (its arguments stay, jumped over)
    else:
        assert notes == ["item 1"]               # the runtime path evaluates them


def test_probes_are_called_directly_in_order_and_detached() -> None:
    tp, traced, notes = _traced()
    calls: list[Any] = []
    p1 = lambda x: calls.append(("p1", x))  # noqa: E731
    p2 = lambda x: calls.append(("p2", x))  # noqa: E731
    register_probe(tp, p1)
    assert [s.state for s in static_call_sites(tp)] == ["enabled"]
    traced(1)
    assert calls == [("p1", "item 1")] and notes == ["item 1"]
    register_probe(tp, p2)
    traced(2)
    assert calls[1:] == [("p1", "item 2"), ("p2", "item 2")]
    unregister_probe(tp, p1)
    traced(3)
    assert calls[3:] == [("p2", "item 3")]
    unregister_probe(tp, p2)
    notes.clear()
    traced(4)
    assert calls[4:] == []
    assert notes == ([] if LIVE else ["item 4"])


def test_one_probe_is_called_by_the_site_itself_several_by_one_generated_function() -> None:
    """What calls a probe: the rewritten function itself with one probe (the probe is the
    site's target), one generated function with several; the runtime path goes through
    the tracepoint to the generated function either way."""
    import sys

    tp, traced, _ = _traced()
    callers: list[tuple[str, ...]] = []

    def probe(x: Any) -> None:
        callers.append((sys._getframe(1).f_code.co_name, sys._getframe(2).f_code.co_name))

    def other(x: Any) -> None:
        pass

    register_probe(tp, probe)
    traced(1)
    register_probe(tp, other)
    traced(2)
    direct, generated = callers
    if LIVE:
        assert direct[0] == "traced"
        assert generated[0] != "traced" and generated[1] == "traced"
    else:
        assert direct[0] == generated[0] != "traced"
    unregister_probe(tp, probe)
    unregister_probe(tp, other)


def test_a_probes_exception_reaches_the_site() -> None:
    tp, traced, _ = _traced()

    def bad(x: Any) -> None:
        raise KeyError(x)

    register_probe(tp, bad)
    with pytest.raises(KeyError):
        traced(1)
    unregister_probe(tp, bad)
    assert traced(2) == 2


def test_probes_attached_while_a_loop_runs() -> None:
    tp = define_tracepoint(item, name="tp_thread")
    ns = build("""
@static_calls
def loop(stop):
    n = 0
    while not stop.is_set():
        TP(n)
        n += 1
""", TP=tp)
    stop = threading.Event()
    seen: list[Any] = []
    workers = [Worker(ns["loop"], stop) for _ in range(loop_threads(2))]
    for w in workers:
        w.start()
    try:
        for _ in range(20):
            def probe(x: Any) -> None:
                seen.append(x)

            register_probe(tp, probe)
            wait_until(lambda: len(seen) > 0, what="the probe to be called")
            unregister_probe(tp, probe)
            seen.clear()
    finally:
        stop.set()
        for w in workers:
            w.result()


def test_a_tracepoint_whose_value_is_used_stays_on_the_runtime_path() -> None:
    tp = define_tracepoint(item, name="tp_value")
    ns = build("""
@static_calls
def f(x):
    return TP(x)
""", TP=tp)
    assert ns["f"](1) is None
    (site,) = static_call_sites(tp)
    if LIVE:
        assert site.reason is not None and "statement" in site.reason
    with pytest.raises(StaticCallError, match="statement"):
        build("""
@static_calls(strict=True)
def g(x):
    return TP(x)
""", TP=tp)


def test_the_decorator_accepts_a_function_with_only_branch_sites() -> None:
    key = define_static_key_false(name="br_only")

    @static_calls
    def f() -> int:
        return 1 if static_branch_unlikely(key) else 2

    assert f() == 2


@pytest.mark.parametrize("body", [
    "TP(x := g())\n    return x",
    "TP([y := v for v in g2()])\n    return y",
    "TP(x := g())\n    del x\n    return 5",
])
def test_a_tracepoint_whose_arguments_bind_a_variable_is_left_as_written(body: str) -> None:
    # skipping the arguments would leave the variable unbound, and code after them may
    # load it without a check (3.12+): such a site stays on the runtime path
    tp = define_tracepoint(item, name="tp_walrus")
    ns = build(f"@static_calls\ndef f(g, g2):\n    {body}\n", TP=tp)
    assert ns["f"](lambda: 5, lambda: [5]) == 5
    (site,) = static_call_sites(tp)
    if LIVE:
        assert site.reason is not None and "assign" in site.reason
