"""Memory: the site table keeps no function alive, and updates leak no references.

- A decorated function that is deleted leaves the site table and is collected.
- Over thousands of update cycles among a fixed set of targets (and failed updates,
  ``static_call_update_many``, ``static_call_override``), the reference counts of the
  targets and of arguments dropped by no-call sites do not grow (every build), and on
  debug builds ``sys.gettotalrefcount()`` does not grow either (small constant slack
  for caches that fill once).
"""

from __future__ import annotations

import gc
import sys
import weakref
from typing import Any, Callable

import pytest

import staticcall
from live_helpers import ALL, LIVE, NULLERR, assert_live, build, kind, name_of
from staticcall import (
    StaticCallError,
    StaticCallNullError,
    _update,
    define_static_call_null,
    static_call_override,
    static_call_query,
    static_call_sites,
    static_call_update,
    static_call_update_many,
)
from staticcall._opcodes import TARGET_IN_HOLDER

DEBUG = hasattr(sys, "gettotalrefcount")
needs_debug = pytest.mark.skipif(not DEBUG, reason="needs a debug build (sys.gettotalrefcount)")

#: the fixed set of targets the cycles go through (every kind, NULL and RET0)
CYCLE = [ALL[n] for n in ("func", "null", "method", "ret0", "builtin", "class", "partial",
                          "object", "func2", "null", "lambda", "ret0")]

SOURCE = """
@static_calls
def sites(x, obj):
    out = []
    out.append(static_call_cond(K)(x))
    out.append(K(x))
    args = (x,)
    out.append(static_call_cond(K)(*args))
    out.append(static_call_cond(mod.K)(x))
    return out

@static_calls
def drop(obj):
    # every argument shape; under NULL (cond) and RET0 the arguments are dropped
    a = static_call_cond(K2)(obj)
    b = static_call_cond(K2)(obj, obj, obj)
    c = static_call_cond(K2)(*[obj, obj])
    d = static_call_cond(K2)(x=obj)
    e = static_call_cond(K2)(obj, **{"y": obj})
    f = static_call_cond(K2)(*(obj,), **{"z": obj})
    return a, b, c, d, e, f
"""


def _sink(*args: Any, **kwargs: Any) -> int:
    return len(args) + len(kwargs)


#: targets for the key of drop(), whose sites pass any arguments
DROP_TARGETS = [None, staticcall.static_call_return0, _sink]


class Env:
    def __init__(self) -> None:
        self.key = define_static_call_null(name="rc")
        self.key2 = define_static_call_null(name="rc2")
        static_call_update(self.key, ALL["func"])
        mod = type(sys)("rc_mod")
        mod.K = self.key  # type: ignore[attr-defined]
        self.ns = build(SOURCE, K=self.key, K2=self.key2, mod=mod)
        assert_live(self.key, 4)
        assert_live(self.key2, 6)
        self.obj = object()

    def run_sites(self) -> None:
        try:
            out = self.ns["sites"](1, self.obj)
        except StaticCallNullError:
            out = [NULLERR]
        want = name_of(static_call_query(self.key))
        assert {kind(r) for r in out} <= {want, "null"}, (want, out)
        self.ns["drop"](self.obj)

    def cycle(self, n: int) -> None:
        for i in range(n):
            static_call_update(self.key, CYCLE[i % len(CYCLE)])
            self.run_sites()


def _refs(objs: list[Any]) -> list[int]:
    return [sys.getrefcount(o) for o in objs]


def test_target_refcounts_do_not_grow() -> None:
    env = Env()
    targets = [t for t in CYCLE if t is not None]
    env.cycle(3 * len(CYCLE))           # warm up: every target has been retired once
    gc.collect()
    before = _refs(targets)
    env.cycle(50 * len(CYCLE))
    gc.collect()
    after = _refs(targets)
    # a leak would add (at least) 50 per target
    grown = {name_of(t): (b, a) for t, b, a in zip(targets, before, after) if a - b > 3}
    assert not grown, grown


@pytest.mark.parametrize("target", ["null", "ret0", "func"])
def test_dropped_arguments_are_released(target: str) -> None:
    env = Env()
    static_call_update(env.key2, ALL[target] if target != "func" else _sink)
    obj = object()
    for _ in range(20):
        env.ns["drop"](obj)
    before = sys.getrefcount(obj)
    for _ in range(2000):
        env.ns["drop"](obj)
    assert sys.getrefcount(obj) == before


def test_failed_updates_do_not_leak_target_references() -> None:
    env = Env()
    new = ALL["func2"]

    def hook(rec: Any) -> None:
        if rec is last[0]:
            raise RuntimeError("injected")

    last = [list(env.key._sc_sites.values())[-1]]
    before = sys.getrefcount(new)
    _update._before_site_patch = hook
    try:
        for _ in range(500):
            with pytest.raises(StaticCallError):
                static_call_update(env.key, new)
    finally:
        _update._before_site_patch = None
    gc.collect()
    assert sys.getrefcount(new) - before <= 3


def _total_delta(work: Callable[[], None], rounds: int = 4) -> list[int]:
    """gettotalrefcount() growth of each of ``rounds`` calls of ``work``, after one
    warm-up call (which may fill caches)."""
    work()
    gc.collect()
    deltas = [0] * rounds           # preallocated: appending would count as growth
    for i in range(rounds):
        before = sys.gettotalrefcount()  # type: ignore[attr-defined]
        work()
        gc.collect()
        deltas[i] = sys.gettotalrefcount() - before  # type: ignore[attr-defined]
    return deltas


def _assert_no_growth(deltas: list[int], per_round: int) -> None:
    # A leak of one reference per update would add ``per_round`` every round; allow a
    # small constant slack for caches, but no steady growth.
    assert all(d < max(32, per_round // 20) for d in deltas), deltas
    assert sum(deltas) < max(64, per_round // 10), deltas


@needs_debug
def test_total_refcount_update_cycles() -> None:
    env = Env()
    n = 100 * len(CYCLE)
    _assert_no_growth(_total_delta(lambda: env.cycle(n)), n)


@needs_debug
def test_total_refcount_failed_updates() -> None:
    env = Env()
    recs = list(env.key._sc_sites.values())

    def hook(rec: Any) -> None:
        if rec is recs[2]:
            raise RuntimeError("injected")

    def work() -> None:
        _update._before_site_patch = hook
        try:
            for i in range(300):
                try:
                    static_call_update(env.key, CYCLE[i % len(CYCLE)])
                except StaticCallError:
                    pass
        finally:
            _update._before_site_patch = None
        env.run_sites()

    _assert_no_growth(_total_delta(work), 300)


@needs_debug
def test_total_refcount_update_many_and_override() -> None:
    env = Env()

    def work() -> None:
        for i in range(300):
            a, b = CYCLE[i % len(CYCLE)], DROP_TARGETS[i % len(DROP_TARGETS)]
            static_call_update_many({env.key: a, env.key2: b})
            env.run_sites()
            with static_call_override(env.key, CYCLE[(i + 5) % len(CYCLE)]):
                env.run_sites()

    _assert_no_growth(_total_delta(work), 300)


@needs_debug
def test_total_refcount_no_call_sites() -> None:
    env = Env()

    def work() -> None:
        for target in DROP_TARGETS:
            static_call_update(env.key2, target)
            for _ in range(300):
                env.ns["drop"](env.obj)

    _assert_no_growth(_total_delta(work), 900)


# --------------------------------------------------------------------------------------
# The site table keeps no function alive.
# --------------------------------------------------------------------------------------

DECORATED = """
@static_calls
def f(x):
    return static_call(K)(x), static_call_cond(K)(x)

@static_calls
def g(x):
    while True:
        x = yield K(x)

@static_calls
class C:
    def m(self, x):
        return static_call(K)(x)
"""


def test_deleted_functions_leave_the_table_and_are_collected() -> None:
    key = define_static_call_null(name="gc_key")
    static_call_update(key, ALL["func"])
    ns = build(DECORATED, K=key)
    filename = ns["f"].__code__.co_filename
    assert len(static_call_sites(key)) == 4
    refs = [weakref.ref(ns["f"]), weakref.ref(ns["g"]), weakref.ref(ns["C"]),
            weakref.ref(ns["C"].__dict__["m"])]
    # use them, and update, so that every constant slot has been written
    for t in CYCLE:
        static_call_update(key, t)
        try:
            ns["f"](1)
        except StaticCallNullError:
            pass
    gen = ns["g"](1)
    next(gen)
    del gen
    ns.clear()
    gc.collect()
    assert [r() for r in refs] == [None] * 4
    assert static_call_sites(key) == []
    assert [s for s in static_call_sites() if s.filename == filename] == []
    # updates still work, with nothing left to patch
    static_call_update(key, ALL["func2"])
    assert key(1) == ("func2", 1)


def test_suspended_generator_keeps_its_sites_in_the_table() -> None:
    """A generator still suspended after its function was deleted is still updated."""
    key = define_static_call_null(name="gc_gen")
    static_call_update(key, ALL["func"])
    ns = build(DECORATED, K=key)
    gen = ns["g"](1)
    assert kind(next(gen)) == "func"
    ns.clear()
    gc.collect()
    static_call_update(key, ALL["func2"])
    assert kind(gen.send(1)) == "func2"
    gen.close()


def test_decorate_and_delete_many_times() -> None:
    """Functions decorated and deleted in a loop do not accumulate in the table."""
    key = define_static_call_null(name="gc_many")
    static_call_update(key, ALL["func"])
    refs = []
    for i in range(200):
        ns = build(DECORATED, K=key)
        refs.append(weakref.ref(ns["f"]))
        static_call_update(key, CYCLE[i % len(CYCLE)])
        ns.clear()
    gc.collect()
    assert all(r() is None for r in refs)
    assert static_call_sites(key) == []


def test_closure_outliving_its_decorated_function_is_still_updated() -> None:
    key = define_static_call_null(name="gc_closure")
    static_call_update(key, ALL["func"])
    ns = build("""
@static_calls
def outer():
    def inner(x):
        return static_call(K)(x)
    return inner
""", K=key)
    inner = ns["outer"]()
    ref = weakref.ref(ns["outer"])
    ns.clear()
    gc.collect()
    assert ref() is None
    static_call_update(key, ALL["func2"])
    assert kind(inner(1)) == "func2"


def test_equal_code_from_two_decorations_is_tracked_separately() -> None:
    """Code objects compare by value: two decorations of the same source (same key and
    target, so equal constants) must keep separate table entries, so that collecting
    one does not take the other's sites out of the table."""
    key = define_static_call_null(name="gc_equal")
    static_call_update(key, ALL["func"])
    src = "@static_calls\ndef f(x):\n    return static_call(K)(x)\n"
    first = build(src, K=key)
    second = build(src, K=key)
    if LIVE and not TARGET_IN_HOLDER:  # (elsewhere each site's holder is its own constant)
        assert first["f"].__code__ == second["f"].__code__   # the premise of the test
    first.clear()
    gc.collect()
    assert len(static_call_sites(key)) == 1
    static_call_update(key, ALL["func2"])
    assert kind(second["f"](1)) == "func2"
