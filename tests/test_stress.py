"""Concurrent calls and updates: every result comes from a target that was current.

Several threads call decorated functions (sites of every form, in plain functions, a
method and a suspended generator) in a loop while another thread makes thousands of
updates across every kind of callable target, NULL and RET0, one key at a time and
several at once (``static_call_update_many``).

The updater publishes, per key, the list of targets it set (``history``), how many
updates had *started* and how many had *returned*. A caller reads "returned" before a
site executes and "started" after: the site's result must come from one of the targets
set in between, and when no update was in flight, from exactly the current one. After
the last update every thread must see the final targets. Any exception other than the
``StaticCallNullError`` of a NULL site fails the test.

Where CPython's JIT tracer race (gh-157740) crashes threads that run one loop, with or
without staticcall, each test runs one thread per loop (``loop_threads``); ``scripts/soak``
runs the many-thread variant there (``STATICCALL_STRESS_THREADS``).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from typing import Any

import pytest

from live_helpers import (
    ALL,
    HOT,
    NULLERR,
    TIMEOUT,
    Worker,
    assert_live,
    build,
    kind,
    loop_threads,
    name_of,
)
from staticcall import (
    StaticCallNullError,
    define_static_call_null,
    static_call_query,
    static_call_update,
    static_call_update_many,
)

SOURCE = """
import time

def slow(x):
    time.sleep(0)          # lets other threads run in the middle of the argument list
    return x

@static_calls
def plain(x):
    return static_call(K0)(x)

@static_calls
def cond(x):
    return static_call_cond(K0)(x)

@static_calls
def keycall(x):
    return K1(x)

@static_calls
def cond_slow_args(x):
    return static_call_cond(K1)(slow(x))

@static_calls
def plain_slow_args(x):
    return static_call(K0)(slow(x))

@static_calls
def star(x):
    args = (x,)
    return static_call(K1)(*args)

@static_calls
def loop(x, n):
    r = None
    for _ in range(n):
        r = static_call_cond(K0)(x)
    return r

@static_calls
class Holder:
    def method(self, x):
        return static_call_cond(K1)(x)

@static_calls
def gen():
    x = yield
    while True:
        x = yield static_call_cond(K0)(x)
"""

#: (function name, key index): which key each site function calls through
SITES = [("plain", 0), ("cond", 0), ("keycall", 1), ("cond_slow_args", 1),
         ("plain_slow_args", 0), ("star", 1), ("loop", 0), ("method", 1), ("gen", 0)]

UPDATES = 6000
CALLERS = loop_threads(3)
AFTER_FINAL = 50


class Board:
    """What the updater publishes, per key."""

    def __init__(self, keys: list[Any], start: list[Any]) -> None:
        self.keys = keys
        self.history: list[list[str]] = [[name_of(t)] for t in start]
        self.started = [1] * len(keys)
        self.done = [1] * len(keys)
        self.final = False


def _updater(board: Board, seed: int) -> int:
    rnd = random.Random(seed)
    targets = list(ALL.values())
    n = 0
    while n < UPDATES:
        if rnd.random() < 0.2:
            new = {i: rnd.choice(targets) for i in range(len(board.keys))}
            for i, t in new.items():
                board.history[i].append(name_of(t))
                board.started[i] = len(board.history[i])
            static_call_update_many({board.keys[i]: t for i, t in new.items()})
            for i in new:
                board.done[i] = len(board.history[i])
            n += len(new)
        else:
            i = rnd.randrange(len(board.keys))
            t = rnd.choice(targets)
            board.history[i].append(name_of(t))
            board.started[i] = len(board.history[i])
            static_call_update(board.keys[i], t)
            board.done[i] = len(board.history[i])
            n += 1
        if n % 64 == 0:
            time.sleep(0)
    return n


def _caller(board: Board, fns: list[tuple[str, Any, int]], problems: list[str]) -> int:
    after_final = 0
    calls = 0
    while after_final < AFTER_FINAL:
        final = board.final
        for name, fn, k in fns:
            done = board.done[k]
            try:
                r = fn(1)
            except StaticCallNullError:
                r = NULLERR
            except BaseException as exc:
                problems.append(f"{name}: unexpected {type(exc).__name__}: {exc}")
                return calls
            started = board.started[k]
            got = kind(r)
            allowed = board.history[k][done - 1:started]
            if got not in allowed:
                problems.append(f"{name}: got {got!r} ({r!r}), allowed {allowed} "
                                f"(updates {done}..{started} of key {k})")
            if final and got != board.history[k][-1]:
                problems.append(f"{name}: after the last update got {got!r}, "
                                f"final target {board.history[k][-1]!r}")
            calls += 1
            if len(problems) > 20:
                return calls
        if final:
            after_final += 1
    return calls


@pytest.fixture
def fast_switching():  # type: ignore[no-untyped-def]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.mark.parametrize("seed", [1, 2])
def test_concurrent_calls_and_updates(seed: int, fast_switching: None) -> None:
    keys = [define_static_call_null(name=f"stress{i}") for i in range(2)]
    start = [ALL["func"], ALL["ret0"]]
    for k, t in zip(keys, start):
        static_call_update(k, t)
    ns = build(SOURCE, K0=keys[0], K1=keys[1])
    assert_live(keys[0], 5)
    assert_live(keys[1], 4)
    board = Board(keys, start)

    def make_fns() -> list[tuple[str, Any, int]]:
        holder = ns["Holder"]()
        g = ns["gen"]()
        next(g)
        fns = {name: ns[name] for name, _ in SITES if name in ns}
        fns["method"] = holder.method
        fns["gen"] = g.send
        fns["loop"] = lambda x: ns["loop"](x, 3)
        return [(name, fns[name], k) for name, k in SITES]

    # warm up: hot loops (a trace under the JIT), specialised calls
    warm = make_fns()
    for _ in range(HOT // 10):
        for _name, fn, _k in warm:
            try:
                fn(1)
            except StaticCallNullError:
                pass

    problems: list[str] = []
    callers = [Worker(_caller, board, make_fns(), problems, name=f"stress-caller-{i}")
               for i in range(CALLERS)]
    updater = Worker(_updater, board, seed, name="stress-updater")
    for w in callers:
        w.start()
    updater.start()
    try:
        made = updater.result(timeout=TIMEOUT * 4)
        assert made >= UPDATES
    finally:
        board.final = True
    calls = [w.result(timeout=TIMEOUT * 4) for w in callers]
    assert not problems, "\n".join(problems[:20])
    assert all(c >= AFTER_FINAL * len(SITES) for c in calls), calls
    # and the main thread agrees
    for name, fn, k in make_fns():
        try:
            r = fn(1)
        except StaticCallNullError:
            r = NULLERR
        assert kind(r) == board.history[k][-1], name


def test_concurrent_updaters_serialise(fast_switching: None) -> None:
    """Several threads update the same keys at once: updates are serialised (the site
    table and the key always agree), none is lost or torn."""
    keys = [define_static_call_null(name=f"ser{i}") for i in range(2)]
    ns = build(SOURCE, K0=keys[0], K1=keys[1])
    targets = list(ALL.values())
    n_updaters = loop_threads(4)
    barrier = threading.Barrier(n_updaters, timeout=TIMEOUT)

    def updater(seed: int) -> list[Any]:
        rnd = random.Random(seed)
        barrier.wait()
        for _ in range(500):
            if rnd.random() < 0.3:
                static_call_update_many({k: rnd.choice(targets) for k in keys})
            else:
                static_call_update(rnd.choice(keys), rnd.choice(targets))
        return []

    workers = [Worker(updater, s, name=f"ser-{s}") for s in range(n_updaters)]
    for w in workers:
        w.start()
    for w in workers:
        w.result(timeout=TIMEOUT * 4)
    # every site executes what its key says
    for name, k in SITES:
        if name in ("method", "gen", "loop"):
            continue
        key = keys[k]
        want = name_of(static_call_query(key))
        try:
            r = ns[name](1)
        except StaticCallNullError:
            r = NULLERR
        assert kind(r) == want, (name, want, r)
