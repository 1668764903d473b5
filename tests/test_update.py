"""static_call_query, static_call_update, static_call_update_many and
static_call_override on the runtime path, with a model-based state machine and a
threaded smoke test."""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

import staticcall
from live_helpers import loop_threads
from staticcall import (
    StaticCallError,
    StaticCallNullError,
    StaticCallSignatureError,
    define_static_call,
    define_static_call_null,
    define_static_call_ret0,
    static_call,
    static_call_cond,
    static_call_override,
    static_call_query,
    static_call_return0,
    static_call_update,
    static_call_update_many,
)


def proto(x: int) -> int:
    raise AssertionError("a prototype is never called")


def f_one(x: int) -> int:
    return x + 1


def f_two(x: int) -> int:
    return x + 2


def wrong_arity(x: int, y: int) -> int:
    return x + y


class NotAKey:
    pass


NON_CALLABLES = [3, "text", object(), [f_one], 2.5]


def snapshot(key: Any) -> tuple[Any, Any, Any]:
    """What the key does now: (query, cond call result or exception type, call result)."""
    def run(form: Callable[..., Any]) -> Any:
        try:
            return form(5)
        except StaticCallNullError:
            return StaticCallNullError

    return static_call_query(key), run(static_call_cond(key)), run(static_call(key))


# --------------------------------------------------------------------------------------
# query / update.
# --------------------------------------------------------------------------------------

def test_query_each_state() -> None:
    assert static_call_query(define_static_call(f_one)) is f_one
    assert static_call_query(define_static_call_null(proto)) is None
    assert static_call_query(define_static_call_ret0(proto)) is static_call_return0


def test_update_returns_previous_target() -> None:
    key = define_static_call(f_one)
    assert static_call_update(key, f_two) is f_one
    assert static_call_query(key) is f_two
    assert static_call_update(key, None) is f_two
    assert static_call_query(key) is None
    assert static_call_update(key, static_call_return0) is None
    assert static_call_query(key) is static_call_return0
    assert static_call_update(key, f_one) is static_call_return0
    assert static_call_query(key) is f_one
    assert key(1) == 2


def test_update_kernel_spelling_of_ret0() -> None:
    key = define_static_call(f_one)
    static_call_update(key, getattr(staticcall, "__static_call_return0"))
    assert static_call_query(key) is static_call_return0
    assert static_call(key)(1) == 0


@pytest.mark.parametrize("target", [f_one, None, static_call_return0],
                         ids=["function", "null", "ret0"])
def test_update_to_current_target_does_nothing(target: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    key = define_static_call_null(proto)
    static_call_update(key, target)
    before = snapshot(key)
    from staticcall import _update

    def must_not_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("updating to the current target changed something")

    monkeypatch.setattr(_update, "_apply", must_not_run)
    assert static_call_update(key, target) is target
    assert static_call_update_many({key: target}) == {key: target}
    with static_call_override(key, target):
        assert snapshot(key) == before
    assert snapshot(key) == before


@pytest.mark.parametrize("bad", NON_CALLABLES, ids=lambda b: type(b).__name__)
def test_update_to_non_callable_raises_and_changes_nothing(bad: Any) -> None:
    key = define_static_call(f_one, name="stays_put")
    before = snapshot(key)
    with pytest.raises(TypeError, match="stays_put") as info:
        static_call_update(key, bad)
    assert type(bad).__name__ in str(info.value)
    assert not isinstance(info.value, StaticCallSignatureError)
    assert snapshot(key) == before


def test_update_of_prototypeless_key_to_non_callable_raises() -> None:
    key = define_static_call_null(name="no_proto")
    with pytest.raises(TypeError):
        static_call_update(key, 42)
    assert static_call_query(key) is None


@pytest.mark.parametrize("start", [f_one, None, static_call_return0],
                         ids=["function", "null", "ret0"])
def test_signature_mismatch_raises_and_changes_nothing(start: Any) -> None:
    key = define_static_call_null(proto, name="picky")
    static_call_update(key, start)
    before = snapshot(key)
    for bad in (wrong_arity, lambda: 0, lambda *, x: x, lambda y: y):
        with pytest.raises(StaticCallSignatureError, match="picky") as info:
            static_call_update(key, bad)
        assert isinstance(info.value, TypeError)
        assert isinstance(info.value, StaticCallError)
        assert snapshot(key) == before


def test_prototypeless_key_accepts_any_signature() -> None:
    key = define_static_call_null(name="lax")
    for target in (wrong_arity, lambda: 0, lambda *, x: x):
        static_call_update(key, target)
        assert static_call_query(key) is target


def test_unhashable_defaults_in_prototype_and_target() -> None:
    def proto_with_default(x: int, opts: dict[str, int] = {}) -> int:  # noqa: B006
        raise AssertionError

    def target_with_default(x: int, opts: list[int] = []) -> int:  # noqa: B006
        return x

    key = define_static_call_null(proto_with_default)
    assert static_call_update(key, target_with_default) is None
    assert key(3) == 3
    with pytest.raises(StaticCallSignatureError):
        static_call_update(key, lambda x, opts=[], *, extra: x)  # noqa: B006
    assert static_call_query(key) is target_with_default


# --------------------------------------------------------------------------------------
# update_many.
# --------------------------------------------------------------------------------------

def test_update_many_applies_all_and_returns_previous() -> None:
    a = define_static_call(f_one, name="a")
    b = define_static_call_null(proto, name="b")
    c = define_static_call_ret0(proto, name="c")
    previous = static_call_update_many({a: None, b: f_two, c: f_one})
    assert previous == {a: f_one, b: None, c: static_call_return0}
    assert static_call_query(a) is None
    assert static_call_query(b) is f_two
    assert static_call_query(c) is f_one
    assert static_call_update_many({}) == {}


def test_update_many_accepts_any_mapping() -> None:
    from types import MappingProxyType

    a = define_static_call(f_one, name="a")
    assert static_call_update_many(MappingProxyType({a: f_two})) == {a: f_one}
    assert static_call_query(a) is f_two


@pytest.mark.parametrize("bad", ["non_callable", "signature", "non_key"])
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_update_many_is_all_or_nothing(bad: str, position: str) -> None:
    keys = [define_static_call(f_one, name=f"k{i}") for i in range(3)]
    before = [snapshot(k) for k in keys]
    changes: dict[Any, Any] = {k: f_two for k in keys}
    victim = keys[{"first": 0, "middle": 1, "last": 2}[position]]
    if bad == "non_key":
        items = list(changes.items())
        items.insert({"first": 0, "middle": 1, "last": 3}[position], (NotAKey(), f_two))
        changes = dict(items)
        expected_error: type[Exception] = TypeError
    else:
        changes[victim] = 42 if bad == "non_callable" else wrong_arity
        expected_error = StaticCallSignatureError if bad == "signature" else TypeError
    with pytest.raises(expected_error) as info:
        static_call_update_many(changes)
    if bad == "non_key":
        assert "NotAKey" in str(info.value)
    else:
        assert victim.name in str(info.value)
    assert [snapshot(k) for k in keys] == before


def test_update_many_rejects_non_mapping() -> None:
    key = define_static_call(f_one)
    for bad in ([(key, f_two)], None, 3):
        with pytest.raises(TypeError, match=type(bad).__name__):
            static_call_update_many(bad)  # type: ignore[arg-type]
    assert static_call_query(key) is f_one


# --------------------------------------------------------------------------------------
# override.
# --------------------------------------------------------------------------------------

def test_override_sets_and_restores() -> None:
    key = define_static_call(f_one)
    manager = static_call_override(key, f_two)
    assert static_call_query(key) is f_one  # nothing happens before entry
    with manager:
        assert static_call_query(key) is f_two
        assert key(1) == 3
    assert static_call_query(key) is f_one
    assert key(1) == 2


@pytest.mark.parametrize("inside", [f_two, None, static_call_return0],
                         ids=["function", "null", "ret0"])
@pytest.mark.parametrize("outside", [f_one, None, static_call_return0],
                         ids=["function", "null", "ret0"])
def test_override_between_states(outside: Any, inside: Any) -> None:
    key = define_static_call_null(proto)
    static_call_update(key, outside)
    before = snapshot(key)
    with static_call_override(key, inside):
        assert static_call_query(key) is inside
    assert snapshot(key) == before


def test_override_restores_on_exception() -> None:
    key = define_static_call(f_one)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with static_call_override(key, None):
            assert static_call_cond(key)(1) is None
            raise Boom
    assert static_call_query(key) is f_one
    assert key(1) == 2


def test_override_restores_after_update_inside() -> None:
    key = define_static_call(f_one)
    with static_call_override(key, f_two):
        static_call_update(key, static_call_return0)
    assert static_call_query(key) is f_one


def test_nested_overrides_unwind_in_order() -> None:
    key = define_static_call(f_one)
    seen = []
    with static_call_override(key, f_two):
        seen.append(key(0))
        with static_call_override(key, None):
            seen.append(static_call_cond(key)(0))
            with static_call_override(key, static_call_return0):
                seen.append(key(0))
            seen.append(static_call_cond(key)(0))
        seen.append(key(0))
    seen.append(key(0))
    assert seen == [2, None, 0, None, 2, 1]


def test_nested_overrides_of_several_keys() -> None:
    a, b = define_static_call(f_one, name="a"), define_static_call(f_two, name="b")
    with static_call_override(a, f_two), static_call_override(b, None):
        assert (static_call_query(a), static_call_query(b)) == (f_two, None)
        with pytest.raises(KeyError):
            with static_call_override(a, static_call_return0):
                raise KeyError
        assert static_call_query(a) is f_two
    assert (static_call_query(a), static_call_query(b)) == (f_one, f_two)


def test_override_with_bad_target_changes_nothing() -> None:
    key = define_static_call(f_one)
    with pytest.raises(StaticCallSignatureError):
        with static_call_override(key, wrong_arity):
            pytest.fail("the block must not run")
    with pytest.raises(TypeError):
        with static_call_override(key, 3):
            pytest.fail("the block must not run")
    assert static_call_query(key) is f_one


# --------------------------------------------------------------------------------------
# Non-keys.
# --------------------------------------------------------------------------------------

def _enter_override(obj: Any) -> None:
    with static_call_override(obj, f_one):
        pass


NON_KEY_USES: dict[str, Callable[[Any], Any]] = {
    "static_call": lambda obj: static_call(obj),
    "static_call_cond": lambda obj: static_call_cond(obj),
    "static_call_query": lambda obj: static_call_query(obj),
    "static_call_update": lambda obj: static_call_update(obj, f_one),
    "static_call_update_many": lambda obj: static_call_update_many({obj: f_one}),
    "static_call_override": _enter_override,
}


@pytest.mark.parametrize("use", list(NON_KEY_USES))
@pytest.mark.parametrize("obj", [NotAKey(), f_one, 3, "mod:name"],
                         ids=["NotAKey", "function", "int", "str"])
def test_non_key_raises_type_error_naming_its_type(use: str, obj: Any) -> None:
    with pytest.raises(TypeError, match=type(obj).__name__) as info:
        NON_KEY_USES[use](obj)
    assert not isinstance(info.value, StaticCallError)


def test_none_is_not_a_key() -> None:
    for use in NON_KEY_USES.values():
        with pytest.raises(TypeError, match="NoneType"):
            use(None)


# --------------------------------------------------------------------------------------
# Model-based: random sequences of updates checked against a plain model.
# --------------------------------------------------------------------------------------

def _make_targets() -> list[Any]:
    def make(i: int) -> Callable[[int], tuple[int, int]]:
        def target(x: int) -> tuple[int, int]:
            return (i, x)

        target.__name__ = target.__qualname__ = f"target_{i}"
        return target

    return [make(i) for i in range(3)] + [None, static_call_return0]


GOOD_TARGETS = _make_targets()
BAD_TARGETS = [7, "nope", wrong_arity, lambda: 0]


def model_call(target: Any, form: str, x: int) -> Any:
    if target is None:
        return None if form == "cond" else StaticCallNullError
    if target is static_call_return0:
        return 0
    return target(x)


class UpdateMachine(RuleBasedStateMachine):
    """Keys (with and without prototypes) against a dict of their expected targets."""

    def __init__(self) -> None:
        super().__init__()
        self.keys = [define_static_call_null(proto, name="m0"),
                     define_static_call(GOOD_TARGETS[0], name="m1"),
                     define_static_call_ret0(name="m2")]
        self.model: dict[Any, Any] = {self.keys[0]: None, self.keys[1]: GOOD_TARGETS[0],
                                      self.keys[2]: static_call_return0}
        self.overrides: list[tuple[Any, Any, Any]] = []  # (manager, key, saved model)
        self.calls = [static_call(k) for k in self.keys]  # obtained once, used later

    keys_i = st.integers(0, 2)
    goods = st.sampled_from(GOOD_TARGETS)

    @rule(i=keys_i, new=goods)
    def update(self, i: int, new: Any) -> None:
        key = self.keys[i]
        assert static_call_update(key, new) is self.model[key]
        self.model[key] = new

    @rule(i=keys_i, bad=st.sampled_from(BAD_TARGETS))
    def bad_update(self, i: int, bad: Any) -> None:
        key = self.keys[i]
        if callable(bad) and key.prototype is None:
            return  # any callable fits a key without a prototype
        with pytest.raises(TypeError):
            static_call_update(key, bad)

    @rule(changes=st.dictionaries(keys_i, goods, max_size=3),
          poison=st.one_of(st.none(), st.tuples(keys_i, st.sampled_from(BAD_TARGETS[:2]))))
    def update_many(self, changes: dict[int, Any], poison: tuple[int, Any] | None) -> None:
        mapping = {self.keys[i]: t for i, t in changes.items()}
        if poison is not None:
            mapping[self.keys[poison[0]]] = poison[1]
            with pytest.raises(TypeError):
                static_call_update_many(mapping)
            return
        previous = static_call_update_many(mapping)
        assert previous.keys() == mapping.keys()
        for key, old in previous.items():
            assert old is self.model[key]
        self.model.update(mapping)

    @rule(i=keys_i, new=goods)
    def enter_override(self, i: int, new: Any) -> None:
        key = self.keys[i]
        manager = static_call_override(key, new)
        manager.__enter__()
        self.overrides.append((manager, key, self.model[key]))
        self.model[key] = new

    @precondition(lambda self: bool(self.overrides))
    @rule(fail=st.booleans())
    def exit_override(self, fail: bool) -> None:
        manager, key, saved = self.overrides.pop()
        if fail:
            error = RuntimeError("inside the block")
            assert not manager.__exit__(RuntimeError, error, None)
        else:
            manager.__exit__(None, None, None)
        self.model[key] = saved

    @rule(i=keys_i, x=st.integers(-5, 5))
    def call_obtained_earlier(self, i: int, x: int) -> None:
        want = model_call(self.model[self.keys[i]], "call", x)
        if want is StaticCallNullError:
            with pytest.raises(StaticCallNullError):
                self.calls[i](x)
        else:
            assert self.calls[i](x) == want

    @invariant()
    def every_form_matches_the_model(self) -> None:
        for key in self.keys:
            target = self.model[key]
            assert static_call_query(key) is target
            for form, call in (("call", static_call(key)), ("cond", static_call_cond(key)),
                               ("key", key)):
                want = model_call(target, form, 3)
                if want is StaticCallNullError:
                    with pytest.raises(StaticCallNullError):
                        call(3)
                else:
                    assert call(3) == want

    def teardown(self) -> None:
        while self.overrides:
            manager, key, saved = self.overrides.pop()
            manager.__exit__(None, None, None)
            assert static_call_query(key) is saved


TestUpdateMachine = UpdateMachine.TestCase


# --------------------------------------------------------------------------------------
# Threads: calls never see anything but a valid target.
# --------------------------------------------------------------------------------------

def test_concurrent_calls_during_updates() -> None:
    targets = _make_targets()
    functions = targets[:3]

    def final(x: int) -> tuple[str, int]:
        return ("final", x)

    key = define_static_call_null(proto, name="contended")
    call, cond = static_call(key), static_call_cond(key)
    valid_call = {f(7) for f in functions} | {0}
    valid_cond = valid_call | {None}
    errors: list[BaseException] = []
    stop = threading.Event()
    final_set = threading.Event()
    saw_final = [0]
    n_callers = loop_threads(3)  # one where the JIT tracer race (gh-157740) is
    started = threading.Barrier(n_callers + 1, timeout=30)
    lock = threading.Lock()

    def check(form: str, fn: Callable[[int], Any]) -> Any:
        try:
            result = fn(7)
        except StaticCallNullError:
            if form == "cond":
                raise AssertionError("static_call_cond raised for NULL")
            return None
        allowed = valid_cond if form == "cond" else valid_call
        if result not in allowed and result != ("final", 7):
            raise AssertionError(f"{form} returned {result!r}")
        return result

    def caller() -> None:
        try:
            started.wait()
            for _ in range(2_000_000):  # bounded even if the updater dies
                if final_set.is_set():
                    break
                check("call", call)
                check("cond", cond)
                check("key", key)
                check("call", static_call(key))
            if not final_set.wait(timeout=60):
                raise AssertionError("the updater never finished")
            for form, fn in (("call", call), ("cond", cond), ("key", key),
                             ("call", static_call(key))):
                assert check(form, fn) == ("final", 7)
            with lock:
                saw_final[0] += 1
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            stop.set()

    def updater() -> None:
        try:
            started.wait()
            for n in range(3000):
                if stop.is_set():
                    break
                static_call_update(key, targets[n % len(targets)])
            static_call_update(key, final)
        except BaseException as exc:
            errors.append(exc)
        finally:
            final_set.set()

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=caller) for _ in range(n_callers)]
        threads.append(threading.Thread(target=updater))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(old_interval)
    assert not any(t.is_alive() for t in threads), "threads did not finish"
    if errors:
        raise errors[0]
    assert saw_final[0] == n_callers
    assert static_call_query(key) is final


FORK_DURING_UPDATE = """
import os, signal, sys, threading, time
sys.path.insert(0, {tests!r})
from live_helpers import build
from staticcall import _update, define_static_call_null, static_call_query, static_call_update

key = define_static_call_null(name="forked_key")
ns = build("@static_calls\\ndef f(x):\\n    return static_call_cond(K)(x)\\n", K=key)
started = threading.Event()

def slow(rec):  # an update that takes a while: another thread holds the lock meanwhile
    started.set()
    time.sleep(0.3)

_update._before_site_patch = slow
updater = threading.Thread(target=static_call_update, args=(key, abs))
updater.start()
started.wait()
pid = os.fork()
if pid == 0:
    signal.alarm(10)  # a deadlocked child dies instead of hanging the test
    _update._before_site_patch = None
    # the fork waited for the update: the child has all of it, and can update itself
    print("child sees", static_call_query(key), ns["f"](-2), flush=True)
    static_call_update(key, hex)
    print("child updated", ns["f"](-2), flush=True)
    os._exit(0)
updater.join()
_, status = os.waitpid(pid, 0)
print("child status", status, flush=True)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_fork_during_an_update_in_another_thread_gets_a_usable_lock() -> None:
    """The child of a fork made while another thread updates must neither inherit the
    update lock held by a thread it does not have (its first update would hang) nor a
    half-made update: the fork waits for the update to end."""
    import os
    import subprocess

    script = FORK_DURING_UPDATE.format(tests=os.path.dirname(__file__))
    r = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "child sees <built-in function abs> 2" in r.stdout, r.stdout + r.stderr
    assert "child updated -0x2" in r.stdout, r.stdout + r.stderr
    assert "child status 0" in r.stdout, r.stdout + r.stderr
