"""static_call_update() reaches code that is already running: the kernel's promise.

Every test drives one frame that exists before the update -- a ``while`` loop in
another thread, a suspended generator, coroutine or async generator, a closure -- and
checks that the site's next execution after the update returned runs the new target,
through every shape change: function -> function, function -> NULL, NULL -> RET0,
RET0 -> function, and back. Each target returns a distinct marker (``live_helpers.kind``).

Loops run ``HOT`` iterations before the first update, so that with ``PYTHON_JIT=1`` a
trace of the loop exists (with the old constants baked in) when the update happens.
Every wait on another thread is bounded; a stuck thread fails the test, never hangs it.
"""

from __future__ import annotations

import itertools
import threading
import types

import pytest

from live_helpers import (
    HOT,
    NULLERR,
    TIMEOUT,
    TClass,
    Worker,
    assert_live,
    build,
    guarded,
    kind,
    name_of,
    site,
    t_builtin,
    t_func,
    t_func2,
    t_lambda,
    t_method,
    t_object,
    t_partial,
    wait_until,
)
from staticcall import (
    StaticCallNullError,
    define_static_call_null,
    static_call_query,
    static_call_return0,
    static_call_update,
)

RET0 = static_call_return0

#: A walk through every kind of target that makes every shape change at least once:
#: call->call, call->NULL, NULL->RET0, RET0->call, call->RET0, RET0->NULL, NULL->call.
SEQ = [t_func2, None, RET0, t_builtin, RET0, None, t_method, TClass, None, t_object,
       RET0, t_partial, t_lambda, t_func]
START = t_func

FORMS = ["static_call", "static_call_cond", "key_call"]


def observed(form: str, target: object) -> str:
    """kind() of what a site of ``form`` gives for ``target`` (NULL: None or NULLERR)."""
    return name_of(target)


def fresh_key(start: object = START, name: str = "lu_key"):  # type: ignore[no-untyped-def]
    key = define_static_call_null(name=name)
    if start is not None:
        static_call_update(key, start)
    return key


def check_null_result(form: str, result: object) -> None:
    """A NULL site gives None under static_call_cond and raises otherwise."""
    if form == "static_call_cond":
        assert result is None
    else:
        assert result == NULLERR


# --------------------------------------------------------------------------------------
# A hot loop that updates its own key from inside (same thread).
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_update_from_inside_hot_loop(form: str) -> None:
    key = fresh_key()
    ns = build(f"""
@static_calls
def loop(x, hot, steps, step):
    seen = []
    n = 0
    i = 0
    while i < steps:
{guarded(form)}
        seen.append(r)
        n += 1
        if n == hot:
            n = 0
            i += 1
            step(i)
    return seen
""", K=key)
    assert_live(key, 1)
    targets = [START] + SEQ

    def step(i: int) -> None:
        if i < len(targets):
            static_call_update(key, targets[i])

    seen = ns["loop"](1, HOT, len(targets), step)
    assert len(seen) == HOT * len(targets)
    for i, target in enumerate(targets):
        block = {kind(r) for r in seen[i * HOT:(i + 1) * HOT]}
        assert block == {observed(form, target)}, (i, target)
        if target is None:
            check_null_result(form, seen[i * HOT])


# --------------------------------------------------------------------------------------
# A loop running in another thread: paused at a checkpoint inside the loop.
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_running_loop_in_other_thread_paused(form: str) -> None:
    key = fresh_key()
    ns = build(f"""
@static_calls
def worker(x, ctl):
    n = 0
    while True:
{guarded(form)}
        ctl.results.append(r)
        n += 1
        if n % ctl.batch == 0:
            ctl.barrier.wait()      # at the checkpoint: main checks and updates
            ctl.barrier.wait()      # main is done: carry on in this very frame
            if ctl.stop:
                return n
""", K=key)
    assert_live(key, 1)
    ctl = types.SimpleNamespace(results=[], batch=HOT, stop=False,
                                barrier=threading.Barrier(2, timeout=TIMEOUT))
    w = Worker(ns["worker"], 1, ctl, name="lu-paused-loop")
    w.start()

    def check(current: object) -> None:
        got = [kind(r) for r in ctl.results]
        # every execution of the site since the last update, the first one included
        assert len(got) == HOT and set(got) == {observed(form, current)}, (current, got[:3])
        ctl.results.clear()

    try:
        current = START
        for target in SEQ:
            ctl.barrier.wait()
            check(current)
            assert static_call_update(key, target) is current
            current = target
            ctl.barrier.wait()
        ctl.barrier.wait()
        check(current)
        ctl.stop = True
        ctl.barrier.wait()
    except BaseException:
        ctl.barrier.abort()
        raise
    assert w.result() == HOT * (len(SEQ) + 1)


# --------------------------------------------------------------------------------------
# A loop running in another thread, never paused.
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_running_loop_in_other_thread_free(form: str) -> None:
    """The loop reads how many updates had *returned* before each execution of the site
    (``ctl.done``) and how many had *started* after it (``ctl.started``): its result must
    come from one of the targets set in between, and when no update was in flight, from
    exactly the current one."""
    key = fresh_key()
    ns = build(f"""
@static_calls
def worker(x, ctl):
    counts = ctl.counts
    log = ctl.log
    n = 0
    while True:
        done = ctl.done
        if done < 0:
            return n
{guarded(form)}
        started = ctl.started
        if done == started:
            counts[done] += 1
            if counts[done] <= 64:
                log.append((done, started, r))
        else:
            log.append((done, started, r))
        n += 1
        if n == ctl.hot:
            ctl.is_hot.set()
""", K=key)
    assert_live(key, 1)
    history = [START] + SEQ
    ctl = types.SimpleNamespace(done=0, started=0, hot=HOT, is_hot=threading.Event(),
                                counts=[0] * len(history), log=[])
    w = Worker(ns["worker"], 1, ctl, name="lu-free-loop")
    w.start()
    assert ctl.is_hot.wait(TIMEOUT), "the loop did not get hot"
    for i, target in enumerate(SEQ, start=1):
        wait_until(lambda: ctl.counts[i - 1] >= 20 or not w.is_alive(),
                   what=f"the loop to run target #{i - 1}")
        ctl.started = i
        static_call_update(key, target)
        ctl.done = i
    wait_until(lambda: ctl.counts[-1] >= 20 or not w.is_alive(), what="the final target")
    ctl.done = -1
    w.result()
    for done, started, r in ctl.log:
        allowed = {name_of(t) for t in history[done:started + 1]}
        assert kind(r) in allowed, (done, started, r)
    assert all(c >= 20 for c in ctl.counts), ctl.counts


# --------------------------------------------------------------------------------------
# Suspended generators, coroutines and async generators.
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_suspended_generator(form: str) -> None:
    key = fresh_key()
    ns = build(f"""
@static_calls
def gen(x):
    while True:
{guarded(form)}
        yield r
""", K=key)
    assert_live(key, 1)
    g = ns["gen"](1)
    for _ in range(HOT):
        assert kind(next(g)) == "func"
    frame = g.gi_frame
    for target in SEQ:
        static_call_update(key, target)
        first = next(g)
        assert g.gi_frame is frame
        assert kind(first) == observed(form, target), target
        if target is None:
            check_null_result(form, first)
        for _ in range(50):
            assert kind(next(g)) == observed(form, target)
    g.close()


@types.coroutine
def _pause(value: object) -> object:
    return (yield value)


@pytest.mark.parametrize("form", FORMS)
def test_suspended_coroutine(form: str) -> None:
    key = fresh_key()
    ns = build(f"""
@static_calls
async def coro(x, pause):
    while True:
{guarded(form)}
        await pause(r)
""", K=key)
    assert_live(key, 1)
    c = ns["coro"](1, _pause)
    try:
        for _ in range(HOT):
            assert kind(c.send(None)) == "func"
        for target in SEQ:
            static_call_update(key, target)
            first = c.send(None)
            assert kind(first) == observed(form, target), target
            if target is None:
                check_null_result(form, first)
            assert kind(c.send(None)) == observed(form, target)
    finally:
        c.close()


def _asend(agen: object) -> object:
    """One step of an async generator, driven without an event loop."""
    try:
        agen.asend(None).send(None)  # type: ignore[attr-defined]
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the async generator awaited something")


def _aclose(agen: object) -> None:
    try:
        agen.aclose().send(None)  # type: ignore[attr-defined]
    except StopIteration:
        pass


@pytest.mark.parametrize("form", FORMS)
def test_suspended_async_generator(form: str) -> None:
    key = fresh_key()
    ns = build(f"""
@static_calls
async def agen(x):
    while True:
{guarded(form)}
        yield r
""", K=key)
    assert_live(key, 1)
    ag = ns["agen"](1)
    try:
        for _ in range(HOT):
            assert kind(_asend(ag)) == "func"
        for target in SEQ:
            static_call_update(key, target)
            first = _asend(ag)
            assert kind(first) == observed(form, target), target
            if target is None:
                check_null_result(form, first)
            assert kind(_asend(ag)) == observed(form, target)
    finally:
        _aclose(ag)


@pytest.mark.parametrize("form", FORMS)
def test_closures_created_before_the_update(form: str) -> None:
    """Nested functions, lambdas and generator expressions made before an update (their
    code objects are constants of the decorated function) run the new target after it."""
    key = fresh_key()
    ns = build(f"""
@static_calls
def make(x):
    def inner():
{guarded(form, indent=8)}
        return r
    def raw():
        return {site(form)}
    lam = lambda: {site(form)}
    genexp = ({site(form, x="y")} for y in iter(int, 1))   # endless
    return inner, raw, lam, genexp
""", K=key)
    assert_live(key, 4)
    inner, raw, lam, genexp = ns["make"](1)
    for _ in range(HOT):
        assert kind(inner()) == "func"
        assert kind(next(genexp)) == "func"
    for target in SEQ:
        static_call_update(key, target)
        want = observed(form, target)
        assert kind(inner()) == want
        if target is None and form != "static_call_cond":
            with pytest.raises(StaticCallNullError):
                raw()
            with pytest.raises(StaticCallNullError):
                lam()
            # the generator expression's frame dies with the exception: make a new one
            with pytest.raises(StaticCallNullError):
                next(genexp)
            genexp = ns["make"](0)[3]
        else:
            assert kind(raw()) == want
            assert kind(lam()) == want
            got = next(genexp)
            assert kind(got) == want, got


@pytest.mark.parametrize("form", FORMS)
def test_many_suspended_frames_of_one_function(form: str) -> None:
    """One update reaches every suspended frame of the same code at once."""
    key = fresh_key()
    ns = build(f"""
@static_calls
def gen(x):
    while True:
{guarded(form)}
        yield r
""", K=key)
    gens = [ns["gen"](1) for _ in range(20)]
    for g in gens:
        assert kind(next(g)) == "func"
    for target in SEQ:
        static_call_update(key, target)
        assert {kind(next(g)) for g in gens} == {observed(form, target)}
    for g in gens:
        g.close()


# --------------------------------------------------------------------------------------
# An update while a frame is in the middle of a site's argument list.
# --------------------------------------------------------------------------------------

SHAPES = {"func": t_func, "func2": t_func2, "null": None, "ret0": RET0}


def _arg_suspended_gen(form: str, key: object):  # type: ignore[no-untyped-def]
    ns = build(f"""
@static_calls
def gen():
    while True:
{guarded(form, x="(yield 'ready')")}
        yield r
""", K=key)
    assert_live(key, 1)
    return ns["gen"]()


def _calls(name: str, form: str) -> bool:
    """Whether a site of ``form`` makes a call for the target named ``name``."""
    return name in ("func", "func2") or (name == "null" and form != "static_call_cond")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("older,old,new", [
    t for t in itertools.product(SHAPES, repeat=3) if t[0] != t[1] and t[1] != t[2]])
def test_update_during_argument_evaluation(form: str, older: str, old: str, new: str) -> None:
    """A frame suspended inside a site's argument list, across an update, runs the new
    target: a site whose arguments can run code loads its target again at the call.
    Never a target replaced before the site began, and never a NULL it did not see."""
    key = fresh_key(SHAPES[older])
    static_call_update(key, SHAPES[old])
    g = _arg_suspended_gen(form, key)
    assert next(g) == "ready"
    static_call_update(key, SHAPES[new])
    r = g.send(1)
    assert kind(r) == new, (older, old, new, r)
    # the next execution of the site is entirely after the update
    assert next(g) == "ready"
    assert kind(g.send(1)) == new
    g.close()


@pytest.mark.parametrize("form,old,new", [
    ("static_call_cond", "func", "func2"),
    ("static_call", "func", "null"),
    ("static_call", "null", "func"),
])
def test_update_during_argument_evaluation_calls_new_target(form: str, old: str,
                                                            new: str) -> None:
    key = fresh_key(SHAPES[old])
    g = _arg_suspended_gen(form, key)
    assert next(g) == "ready"
    static_call_update(key, SHAPES[new])
    assert kind(g.send(1)) == new
    g.close()


def test_update_from_the_arguments_themselves() -> None:
    """The argument expression itself performs the update (no threads): a site that
    began while the key was RET0 calls the new target; it must not raise a NULL error
    the key never had, nor call the function the key had before RET0."""
    key = fresh_key(t_func)
    action: list[object] = []

    def arg(x: object) -> object:
        if action:
            static_call_update(key, action.pop())
        return x

    ns = build("""
@static_calls
def f(x):
    return static_call(K)(arg(x))
""", K=key, arg=arg)
    assert_live(key, 1)
    static_call_update(key, None)
    static_call_update(key, RET0)
    action.append(t_func2)
    assert kind(ns["f"](1)) == "func2"
    assert kind(ns["f"](1)) == "func2"
    static_call_update(key, t_func)
    static_call_update(key, RET0)
    action.append(t_builtin)
    assert kind(ns["f"](1)) == "builtin"
    assert kind(ns["f"](1)) == "builtin"
    static_call_update(key, None)
    action.append(t_func)
    assert kind(ns["f"](1)) == "func"  # the update made by its own argument
    assert kind(ns["f"](1)) == "func"
    assert static_call_query(key) is t_func


@pytest.mark.parametrize("form", FORMS)
def test_mortal_and_immortal_targets_alternate(form: str) -> None:
    """Static types such as ``dict`` and ``tuple`` are immortal on 3.12+. A site that
    has run (and specialised its constant load) with a function target must accept an
    immortal one, and the other way round (3.14 debug builds assert on a mismatch)."""
    key = fresh_key(tuple)
    ns = build(f"""
@static_calls
def f(x):
{guarded(form, indent=4)}
    return r
""", K=key)
    assert_live(key, 1)
    for target, want in [(tuple, ()), (t_func, ("func", ())), (dict, {}), (None, None),
                         (tuple, ()), (RET0, 0), (frozenset, frozenset()), (t_func2, None)]:
        static_call_update(key, target)
        for _ in range(50):
            r = ns["f"](())
        if target is None:
            check_null_result(form, r)
        elif target is t_func2:
            assert r == ("func2", ())
        else:
            assert r == want and type(r) is type(want), (target, r)
