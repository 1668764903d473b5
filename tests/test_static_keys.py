"""Static keys (the kernel's jump labels): the runtime side. Definition, naming, state,
the reference count, deferred decrements, the kernel's names, the rewriter's hook,
threads, pickling."""

from __future__ import annotations

import copy
import pickle
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import staticcall
import staticcall._static_keys as sk
from live_helpers import loop_threads
from staticcall import (
    StaticCallError,
    StaticKey,
    define_static_key_deferred_false,
    define_static_key_deferred_true,
    define_static_key_false,
    define_static_key_true,
    static_branch_dec,
    static_branch_disable,
    static_branch_enable,
    static_branch_inc,
    static_branch_likely,
    static_branch_slow_dec_deferred,
    static_branch_unlikely,
    static_key_count,
    static_key_deferred_flush,
    static_key_enabled,
)
from staticcall._keys import UPDATE_LOCK

HERE = Path(__file__).resolve().parent


@pytest.fixture
def tp_mod(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(HERE))
    import tracepoints_module

    return tracepoints_module


@pytest.fixture
def hook_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[StaticKey, bool, bool]]:
    """Install a state-change hook that records (key, enabled, lock held)."""
    calls: list[tuple[StaticKey, bool, bool]] = []

    def hook(key: StaticKey, enabled: bool) -> None:
        calls.append((key, enabled, UPDATE_LOCK._is_owned()))  # type: ignore[attr-defined]

    monkeypatch.setattr(sk, "on_state_change", hook)
    return calls


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


# --------------------------------------------------------------------------------------
# Defining keys, names
# --------------------------------------------------------------------------------------

def test_false_key_starts_disabled_true_key_enabled() -> None:
    off = define_static_key_false(name="off")
    on = define_static_key_true(name="on")
    assert static_branch_unlikely(off) is False and static_branch_likely(off) is False
    assert static_branch_unlikely(on) is True and static_branch_likely(on) is True
    assert static_key_enabled(off) is False and static_key_enabled(on) is True
    assert static_key_count(off) == 0 and static_key_count(on) == 1
    assert isinstance(off, StaticKey) and off.initial is False and on.initial is True
    assert off.enabled is False and on.enabled is True


def test_keys_are_created_only_by_the_define_functions() -> None:
    with pytest.raises(TypeError, match="define_static_key_false"):
        StaticKey()


def test_explicit_name_repr_and_module() -> None:
    key = define_static_key_false(name="my_switch")
    assert key.name == key.__name__ == key.__qualname__ == "my_switch"
    assert key.__module__ == __name__
    assert repr(key) == "<StaticKey 'my_switch' disabled, count 0>"
    static_branch_inc(key)
    static_branch_inc(key)
    assert repr(key) == "<StaticKey 'my_switch' enabled, count 2>"


def test_name_defaults_to_the_name_the_module_binds(tp_mod: Any) -> None:
    assert tp_mod.TRACING.name == "TRACING"
    assert tp_mod.TRACING.__qualname__ == "TRACING"
    assert tp_mod.TRACING.__module__ == "tracepoints_module"
    assert tp_mod.Holder.KEY.name == "KEY"
    assert tp_mod.Holder.KEY.__qualname__ == "Holder.KEY"
    assert "'TRACING'" in repr(tp_mod.TRACING)


def test_an_unbound_key_has_a_placeholder_name() -> None:
    key = define_static_key_false()
    assert key.name == "static_key"


def test_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="name must be a str"):
        define_static_key_false(name=3)  # type: ignore[arg-type]


def test_keys_cannot_be_assigned_or_tested_as_bool() -> None:
    key = define_static_key_false(name="k")
    with pytest.raises(AttributeError, match="static_branch_enable"):
        key.enabled = True  # type: ignore[misc]
    with pytest.raises(TypeError, match="static_branch_unlikely"):
        bool(key)
    with pytest.raises(AttributeError):
        key.no_such_attribute  # noqa: B018


@pytest.mark.parametrize("func", [static_branch_unlikely, static_branch_likely,
                                  static_key_enabled, static_key_count, static_branch_enable,
                                  static_branch_disable, static_branch_inc, static_branch_dec,
                                  static_branch_slow_dec_deferred, static_key_deferred_flush])
def test_non_keys_are_refused_naming_their_type(func: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError, match="StaticKey, not int"):
        func(42)


# --------------------------------------------------------------------------------------
# enable / disable
# --------------------------------------------------------------------------------------

def test_enable_disable_set_the_state_outright() -> None:
    key = define_static_key_false(name="k")
    static_branch_enable(key)
    assert static_branch_unlikely(key) is True and static_key_count(key) == 1
    static_branch_enable(key)
    assert static_key_count(key) == 1
    static_branch_disable(key)
    assert static_branch_likely(key) is False and static_key_count(key) == 0
    static_branch_disable(key)
    assert static_key_count(key) == 0


def test_enable_keeps_a_higher_count() -> None:
    key = define_static_key_false(name="k")
    static_branch_inc(key)
    static_branch_inc(key)
    static_branch_enable(key)
    assert static_key_count(key) == 2


def test_kernel_aliases_of_enable_and_disable() -> None:
    assert staticcall.static_key_enable is static_branch_enable
    assert staticcall.static_key_disable is static_branch_disable
    key = define_static_key_true(name="k")
    staticcall.static_key_disable(key)
    assert not static_key_enabled(key)
    staticcall.static_key_enable(key)
    assert static_key_enabled(key)


# --------------------------------------------------------------------------------------
# The reference count
# --------------------------------------------------------------------------------------

def test_inc_dec_count_references() -> None:
    key = define_static_key_false(name="refs")
    for n in range(1, 4):
        static_branch_inc(key)
        assert static_key_count(key) == n and static_branch_unlikely(key)
    for n in range(2, -1, -1):
        static_branch_dec(key)
        assert static_key_count(key) == n
        assert static_branch_unlikely(key) is (n > 0)


def test_true_key_starts_at_one() -> None:
    key = define_static_key_true(name="t")
    static_branch_inc(key)
    assert static_key_count(key) == 2
    static_branch_dec(key)
    static_branch_dec(key)
    assert static_key_count(key) == 0 and not static_branch_likely(key)


def test_dec_below_zero_is_an_error_naming_the_key() -> None:
    key = define_static_key_false(name="unbalanced")
    with pytest.raises(StaticCallError, match="'unbalanced'.*below zero"):
        static_branch_dec(key)
    assert static_key_count(key) == 0 and not static_key_enabled(key)
    with pytest.raises(StaticCallError, match="'unbalanced'"):
        staticcall.static_key_slow_dec(key)


def test_kernel_aliases_of_inc_and_dec() -> None:
    assert staticcall.static_key_slow_inc is static_branch_inc
    assert staticcall.static_key_slow_dec is static_branch_dec
    key = staticcall.DEFINE_STATIC_KEY_FALSE("slow")
    staticcall.static_key_slow_inc(key)
    assert static_key_count(key) == 1 and static_key_enabled(key)
    staticcall.static_key_slow_dec(key)
    assert static_key_count(key) == 0 and not static_key_enabled(key)


def test_kernel_define_aliases() -> None:
    off = staticcall.DEFINE_STATIC_KEY_FALSE("off_key")
    on = staticcall.DEFINE_STATIC_KEY_TRUE("on_key")
    assert (off.name, static_key_enabled(off)) == ("off_key", False)
    assert (on.name, static_key_enabled(on)) == ("on_key", True)
    assert off.__module__ == on.__module__ == __name__
    lazy = staticcall.DEFINE_STATIC_KEY_DEFERRED_FALSE("lazy_key", 0.5)
    lazy_on = staticcall.DEFINE_STATIC_KEY_DEFERRED_TRUE("lazy_on", 0.5)
    assert lazy.timeout == lazy_on.timeout == 0.5
    assert not static_key_enabled(lazy) and static_key_enabled(lazy_on)
    assert lazy.__module__ == __name__


def test_concurrent_inc_dec_keep_an_exact_count(hook_calls: list[Any]) -> None:
    key = define_static_key_false(name="threads")
    n_threads, rounds = loop_threads(8), 2000  # one under 3.15's JIT tracer race (gh-157740)
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                static_branch_inc(key)
                assert static_branch_unlikely(key)
                static_branch_dec(key)
            for _ in range(rounds):
                static_branch_inc(key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    assert static_key_count(key) == n_threads * rounds and static_key_enabled(key)
    for _ in range(n_threads * rounds):
        static_branch_dec(key)
    assert static_key_count(key) == 0 and not static_key_enabled(key)
    states = [enabled for k, enabled, _ in hook_calls if k is key]
    # every transition is a real change: they alternate, starting with "enable"
    assert states and states[0] is True and states[-1] is False
    assert all(a is not b for a, b in zip(states, states[1:]))


# --------------------------------------------------------------------------------------
# Deferred decrements
# --------------------------------------------------------------------------------------

def test_deferred_decrement_to_zero_takes_effect_later() -> None:
    key = define_static_key_deferred_false(0.05, name="lazy")
    static_branch_inc(key)
    static_branch_slow_dec_deferred(key)
    assert static_key_enabled(key)  # still enabled: the decrement is pending
    assert static_key_count(key) == 1
    assert "pending" in repr(key)
    assert wait_for(lambda: not static_key_enabled(key))
    assert static_key_count(key) == 0
    assert "pending" not in repr(key)


def test_increment_meanwhile_cancels_the_deferred_decrement() -> None:
    key = define_static_key_deferred_false(0.05, name="lazy")
    static_branch_inc(key)
    static_branch_slow_dec_deferred(key)
    static_branch_inc(key)
    assert key._sk_timer is None and key._sk_pending == 0
    time.sleep(0.2)  # well past the timeout: nothing may have changed
    assert static_key_enabled(key) and static_key_count(key) == 1


def test_deferred_decrement_above_one_takes_effect_at_once() -> None:
    key = define_static_key_deferred_false(60, name="lazy")
    static_branch_inc(key)
    static_branch_inc(key)
    static_branch_slow_dec_deferred(key)
    assert static_key_count(key) == 1 and key._sk_pending == 0


def test_flush_applies_a_pending_decrement_now() -> None:
    key = define_static_key_deferred_false(60, name="lazy")
    static_branch_inc(key)
    static_branch_slow_dec_deferred(key)
    assert static_key_enabled(key)
    static_key_deferred_flush(key)
    assert not static_key_enabled(key) and static_key_count(key) == 0
    assert key._sk_timer is None
    static_key_deferred_flush(key)  # nothing pending: nothing happens
    assert static_key_count(key) == 0


def test_deferred_decrement_below_zero_is_an_error() -> None:
    key = define_static_key_deferred_false(60, name="lazy_unbalanced")
    static_branch_inc(key)
    static_branch_slow_dec_deferred(key)
    with pytest.raises(StaticCallError, match="'lazy_unbalanced'.*below zero"):
        static_branch_slow_dec_deferred(key)
    with pytest.raises(StaticCallError, match="below zero"):
        static_branch_dec(key)
    static_key_deferred_flush(key)
    assert static_key_count(key) == 0


def test_deferred_true_key_and_enable_disable_drop_pending() -> None:
    key = define_static_key_deferred_true(60, name="lazy_true")
    static_branch_slow_dec_deferred(key)
    assert static_key_enabled(key) and key._sk_pending == 1
    static_branch_enable(key)
    assert static_key_enabled(key) and key._sk_pending == 0 and key._sk_timer is None
    assert static_key_count(key) == 1
    static_branch_slow_dec_deferred(key)
    static_branch_disable(key)
    assert not static_key_enabled(key) and key._sk_pending == 0 and key._sk_timer is None


def test_deferred_on_a_plain_key_is_a_plain_decrement() -> None:
    key = define_static_key_false(name="plain")
    static_branch_inc(key)
    static_branch_slow_dec_deferred(key)
    assert not static_key_enabled(key)


def test_deferred_kernel_aliases(tp_mod: Any) -> None:
    assert staticcall.static_key_slow_dec_deferred is static_branch_slow_dec_deferred
    assert staticcall.static_branch_deferred_inc is static_branch_inc
    key = tp_mod.LAZY_OFF
    assert key.timeout == 0.05
    staticcall.jump_label_rate_limit(key, 30)
    assert key.timeout == 30.0
    staticcall.static_branch_deferred_inc(key)
    staticcall.static_key_slow_dec_deferred(key)
    assert static_key_enabled(key)
    static_key_deferred_flush(key)
    assert not static_key_enabled(key)
    staticcall.jump_label_rate_limit(key, 0.05)
    with pytest.raises(ValueError, match="timeout"):
        staticcall.jump_label_rate_limit(key, -1)
    plain = define_static_key_false(name="not_deferred")
    with pytest.raises(TypeError, match="'not_deferred'.*deferred"):
        staticcall.jump_label_rate_limit(plain, 1)
    assert plain.timeout is None


@pytest.mark.parametrize("timeout, error", [(-1, ValueError), (float("nan"), ValueError),
                                            ("1", TypeError), (True, TypeError),
                                            (None, TypeError), (float("inf"), ValueError),
                                            (1e12, ValueError)])
def test_bad_timeouts_are_refused(timeout: Any, error: type[Exception]) -> None:
    # (a timer cannot wait longer than threading.TIMEOUT_MAX: its thread would fail and
    # leave the decrement pending; None would make a key that is not deferred)
    with pytest.raises(error, match="timeout"):
        define_static_key_deferred_false(timeout)
    with pytest.raises(error, match="timeout"):
        staticcall.define_static_key_deferred_true(timeout)
    key = define_static_key_deferred_false(0.5, name="rate_limited")
    with pytest.raises(error, match="'rate_limited'.*timeout"):
        staticcall.jump_label_rate_limit(key, timeout)
    assert key.timeout == 0.5


def test_a_failing_deferred_decrement_stays_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    key = define_static_key_deferred_false(0.01, name="stuck")
    static_branch_inc(key)

    def refuse(k: StaticKey, enabled: bool) -> None:
        raise RuntimeError("site busy")

    monkeypatch.setattr(sk, "on_state_change", refuse)
    with pytest.warns(staticcall.StaticCallWarning, match="'stuck'.*still pending"):
        static_branch_slow_dec_deferred(key)
        assert wait_for(lambda: key._sk_timer is None)
    assert static_key_enabled(key) and key._sk_pending == 1
    with pytest.raises(StaticCallError, match="site busy"):
        static_key_deferred_flush(key)
    monkeypatch.setattr(sk, "on_state_change", None)
    static_key_deferred_flush(key)
    assert not static_key_enabled(key)


# --------------------------------------------------------------------------------------
# The hook the rewriter sets
# --------------------------------------------------------------------------------------

def test_hook_is_called_on_every_change_only_under_the_lock(
        hook_calls: list[tuple[StaticKey, bool, bool]]) -> None:
    key = define_static_key_false(name="hooked")
    static_branch_inc(key)    # 0 -> 1: enable
    static_branch_inc(key)    # 1 -> 2: no change
    static_branch_enable(key)  # no change
    static_branch_dec(key)    # 2 -> 1: no change
    static_branch_dec(key)    # 1 -> 0: disable
    static_branch_disable(key)  # no change
    static_branch_enable(key)  # enable
    assert [(k, e) for k, e, _ in hook_calls] == [(key, True), (key, False), (key, True)]
    assert all(locked for _, _, locked in hook_calls)


def test_hook_sees_the_old_state_and_a_failure_changes_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = define_static_key_false(name="fragile")
    seen: list[bool] = []

    def hook(k: StaticKey, enabled: bool) -> None:
        seen.append(static_branch_unlikely(k))
        raise RuntimeError("cannot patch")

    monkeypatch.setattr(sk, "on_state_change", hook)
    with pytest.raises(StaticCallError, match="'fragile'.*cannot patch"):
        static_branch_inc(key)
    assert seen == [False]
    assert static_key_count(key) == 0 and not static_key_enabled(key)
    with pytest.raises(StaticCallError):
        static_branch_enable(key)
    assert static_key_count(key) == 0 and not static_key_enabled(key)


def test_hook_errors_that_are_static_call_errors_pass_unchanged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = define_static_key_true(name="k")
    error = StaticCallError("site x.py:3 could not be patched")

    def hook(k: StaticKey, enabled: bool) -> None:
        raise error

    monkeypatch.setattr(sk, "on_state_change", hook)
    with pytest.raises(StaticCallError) as info:
        static_branch_disable(key)
    assert info.value is error
    assert static_key_enabled(key) and static_key_count(key) == 1


def test_keys_have_a_site_table_for_the_rewriter() -> None:
    key = define_static_key_false(name="k")
    assert key._sk_sites == {}
    assert key in sk.all_static_keys()


# --------------------------------------------------------------------------------------
# Pickling, copying
# --------------------------------------------------------------------------------------

def test_keys_pickle_by_reference(tp_mod: Any) -> None:
    for key in (tp_mod.TRACING, tp_mod.VERBOSE, tp_mod.KERNEL_KEY, tp_mod.Holder.KEY):
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            assert pickle.loads(pickle.dumps(key, proto)) is key
    # VERBOSE is named "verbose" but bound as VERBOSE: pickling follows the binding
    assert tp_mod.VERBOSE.name == "verbose"


def test_a_key_not_reachable_by_name_refuses_to_pickle() -> None:
    local = define_static_key_false(name="local_key")
    with pytest.raises(pickle.PicklingError, match="'local_key'"):
        pickle.dumps(local)


def test_copy_returns_the_key_itself() -> None:
    key = define_static_key_false(name="k")
    assert copy.copy(key) is key and copy.deepcopy(key) is key


def test_pickle_in_another_process(tp_mod: Any, tmp_path: Path) -> None:
    import subprocess

    data = tmp_path / "key.pickle"
    data.write_bytes(pickle.dumps([tp_mod.TRACING, tp_mod.ITEM_ADDED]))
    code = ("import pickle, sys; sys.path.insert(0, sys.argv[2]); "
            "import tracepoints_module; objs = pickle.loads(open(sys.argv[1], 'rb').read()); "
            "assert objs == [tracepoints_module.TRACING, tracepoints_module.ITEM_ADDED]; "
            "print('ok')")
    proc = subprocess.run([sys.executable, "-c", code, str(data), str(HERE)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@pytest.fixture(autouse=True)
def _no_leftover_hooks() -> Iterator[None]:
    installed = sk.on_state_change  # the rewriter's, set when the package is imported
    yield
    assert sk.on_state_change is installed


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:.*multi-threaded.*:DeprecationWarning")
def test_a_pending_deferred_decrement_is_applied_in_a_forked_child() -> None:
    import os

    key = define_static_key_deferred_false(0.05, name="forked")
    static_branch_inc(key)
    static_branch_slow_dec_deferred(key)
    r, w = os.pipe()
    with UPDATE_LOCK:  # held across the fork: no other thread holds it then
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        ok = wait_for(lambda: not static_key_enabled(key))
        os.write(w, b"1" if ok else b"0")
        os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 1) == b"1"
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    static_key_deferred_flush(key)
    assert not static_key_enabled(key)


FORK_AFTER_IMPORTS = """
import os, sys, time
import staticcall as sc
if "threading" in sys.modules:
    sys.exit(99)  # this order is what is tested: threading imported after staticcall
k = sc.define_static_key_deferred_false(0.05, name="k")
sc.static_branch_inc(k)
sc.static_branch_slow_dec_deferred(k)  # pending: its timer imports threading
pid = os.fork()
if pid == 0:
    deadline = time.monotonic() + 20
    while sc.static_key_enabled(k) and time.monotonic() < deadline:
        time.sleep(0.01)
    os._exit(3 if sc.static_key_enabled(k) else 0)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_applies_the_decrement_when_threading_came_after_staticcall() -> None:
    """At-fork hooks run in the order they were registered: the child's timer must be
    started after threading's own hook has run, or it never fires."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", FORK_AFTER_IMPORTS], capture_output=True,
                       text=True, timeout=60)
    if r.returncode == 99:
        pytest.skip("threading is imported at start-up here")
    assert r.returncode == 0, r.stderr
