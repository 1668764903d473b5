"""The compiled accelerator (``staticcall._accel``) and its pure-Python fallback.

- ``STATICCALL_ACCEL`` chooses: ``1`` requires the extension, ``0`` forces the fallback,
  anything else is an error. The matrix sets ``1``, so an interpreter where the build
  failed fails loudly instead of silently running the slower path.
- The runtime-path tests run again in a subprocess with ``STATICCALL_ACCEL=0``, so both
  paths are tested wherever the suite runs.
- The extension's public surface is fuzzed: wrong types, calls before a target is set,
  NULL/RET0 transitions while other threads call, a target that retargets (and drops the
  last reference to) itself while it runs, cycles of forwarders, reference counts on
  debug builds.
"""

from __future__ import annotations

import copy
import gc
import os
import pickle
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest

from live_helpers import loop_threads
from staticcall import (
    StaticCallNullError,
    _forward,
    declare_static_call,
    define_static_call,
    define_static_call_null,
    define_tracepoint,
    export_static_call,
    register_probe,
    static_call,
    static_call_cond,
    static_call_return0,
    static_call_update,
)

HERE = Path(__file__).resolve().parent
DEBUG = hasattr(sys, "gettotalrefcount")
accel = pytest.importorskip("staticcall._accel") if _forward.ACCELERATED else None
needs_accel = pytest.mark.skipif(not _forward.ACCELERATED, reason="the accelerator is not in use")

#: The tests of the runtime path (keys, handles, tracepoints, updates, memory), run
#: again on the pure-Python path.
RUNTIME_TESTS = ["test_keys.py", "test_key_unwrap.py", "test_calls.py", "test_pickle_keys.py",
                 "test_tracepoints.py", "test_cycles.py", "test_exports.py", "test_update.py",
                 "test_refcount.py", "test_memory.py", "test_accel.py"]


def test_the_choice_follows_the_environment() -> None:
    choice = os.environ.get("STATICCALL_ACCEL", "")
    if choice == "1":
        assert _forward.ACCELERATED
    elif choice == "0":
        assert not _forward.ACCELERATED
    key = define_static_call(abs, name="choice")
    assert isinstance(key, _forward.ForwarderOf)
    if _forward.ACCELERATED:
        assert type(static_call).__name__ == "builtin_function_or_method"
        assert static_call.__module__ == "staticcall._accel"


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_a_bogus_choice_is_an_error() -> None:
    done = _run("import staticcall", STATICCALL_ACCEL="fast")
    assert done.returncode != 0
    assert "STATICCALL_ACCEL='fast' is not a choice" in done.stderr
    assert "StaticCallError" in done.stderr


@pytest.mark.parametrize("choice", ["0", ""])
def test_the_package_works_with_each_choice(choice: str) -> None:
    done = _run("import staticcall as s\n"
                "k = s.define_static_call(abs)\n"
                "assert k(-2) == 2 and s.static_call(k)(-3) == 3\n"
                "s.static_call_update(k, None)\n"
                "assert s.static_call_cond(k)(1) is None\n"
                "from staticcall import _forward\n"
                "print(_forward.ACCELERATED)", STATICCALL_ACCEL=choice)
    assert done.returncode == 0, done.stderr
    if choice == "0":
        assert done.stdout.strip() == "False"


@pytest.mark.skipif(os.environ.get("STATICCALL_ACCEL") == "0", reason="already the fallback")
def test_the_runtime_tests_pass_on_the_pure_python_path() -> None:
    # -k: not this test again (the subprocess would start another)
    args = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
            "-k", "not pure_python_path", *[str(HERE / t) for t in RUNTIME_TESTS]]
    done = subprocess.run(args, capture_output=True, text=True, cwd=HERE.parent, timeout=900,
                          env={**os.environ, "STATICCALL_ACCEL": "0"})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


# --------------------------------------------------------------------------------------
# The extension's surface.
# --------------------------------------------------------------------------------------

def _forwarder(target: Any = None) -> Any:
    assert accel is not None
    fwd = accel.Forwarder()
    if target is not None:
        accel.set_target(fwd, target)
    return fwd


@needs_accel
def test_wrong_inputs_raise_type_errors() -> None:
    assert accel is not None
    fwd = _forwarder()
    with pytest.raises(TypeError, match="no target"):
        fwd(1)
    bad_calls = [
        lambda: accel.Forwarder(1),
        lambda: accel.Forwarder(x=1),
        lambda: accel.Forwarder.__new__(int),
        lambda: accel.set_target(fwd),
        lambda: accel.set_target(fwd, abs, abs),
        lambda: accel.set_target(abs, abs),
        lambda: accel.set_target(fwd, 3),
        lambda: accel.set_target(fwd, None),
        lambda: accel.set_entries(fwd, abs),
        lambda: accel.set_entries(1, abs, abs),
        lambda: accel.set_entries(fwd, abs, 1),
        lambda: accel.set_fallbacks(abs),
        lambda: accel.set_fallbacks(abs, 1),
        lambda: accel.enable_vectorcall(int),
        lambda: accel.enable_vectorcall(fwd),
        lambda: static_call(1),
        lambda: static_call_cond("key"),
        lambda: static_call(fwd),       # a forwarder with no entries is no key
        lambda: static_call(define_tracepoint(None, name="tp_not_key")),
    ]
    for bad in bad_calls:
        with pytest.raises(TypeError):
            bad()
    with pytest.raises(TypeError):
        fwd.__dict__ = 1
    fwd.__dict__ = {"a": 1}
    assert fwd.a == 1
    assert fwd.__get__(None, object) is fwd


@needs_accel
def test_calls_forward_every_argument_shape() -> None:
    def target(*args: Any, **kwargs: Any) -> Any:
        return args, kwargs

    fwd = _forwarder(target)
    assert fwd() == ((), {})
    assert fwd(1, 2, x=3) == ((1, 2), {"x": 3})
    assert fwd(*range(40), **{f"k{i}": i for i in range(40)}) == (
        tuple(range(40)), {f"k{i}": i for i in range(40)})
    assert fwd.__call__(5) == ((5,), {})
    with pytest.raises(ZeroDivisionError):
        _forwarder(lambda: 1 / 0)()


@needs_accel
def test_a_subclass_that_defines_call_keeps_it() -> None:
    assert accel is not None

    class Own(accel.Forwarder):  # type: ignore[misc, name-defined]
        def __call__(self, *args: Any) -> str:
            return "own"

    assert accel.enable_vectorcall(Own) is False
    obj = Own()
    accel.set_target(obj, abs)
    assert obj(-1) == "own"

    class Plain(_forward.ForwarderOf):  # type: ignore[type-arg]
        pass

    obj2 = Plain.__new__(Plain)
    accel.set_target(obj2, abs)
    assert obj2(-1) == 1
    assert accel.enable_vectorcall(Plain) is True


@needs_accel
def test_a_target_that_retargets_itself_and_drops_its_last_reference() -> None:
    assert accel is not None
    fwd = _forwarder()
    freed = []

    def make() -> Any:
        payload = [1, 2, 3]

        def running(x: int) -> int:
            # the forwarder holds the only reference to this function (and its cell)
            accel.set_target(fwd, abs)
            gc.collect()
            return x + sum(payload)

        weakref.finalize(running, freed.append, True)
        return running

    accel.set_target(fwd, make())
    assert fwd(1) == 7
    gc.collect()
    assert freed == [True]
    assert fwd(-4) == 4


SELF_REPLACING_C_TARGET = """
import functools
from staticcall import define_static_call, static_call_update

def plain(x):
    return x

def make_cached():
    @functools.lru_cache(maxsize=8)
    def cached(x):
        static_call_update(K, plain)  # drops the key's reference to the lru_cache wrapper
        junk = [bytearray(80) for _ in range(3000)]  # reuses the memory it had
        return x * 2
    return cached

K = define_static_call(plain, name="K")
for i in range(50):
    static_call_update(K, make_cached())
    assert K(i) == 2 * i
print("ok")
"""


@pytest.mark.parametrize("choice", ["0", "1"] if accel is not None else ["0"])
def test_a_c_target_that_replaces_itself_while_it_runs(choice: str) -> None:
    """A key's own call holds its target until the call returns, on both paths: an
    ``lru_cache`` wrapper (C code that uses itself after calling back into Python) that
    updates its key was freed under its own call on the pure-Python path."""
    done = _run(SELF_REPLACING_C_TARGET, STATICCALL_ACCEL=choice)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@needs_accel
def test_a_key_whose_target_updates_the_key_while_running() -> None:
    key = define_static_call(lambda x: x, name="reentrant", prototype=None)
    seen = []

    def first(x: int) -> int:
        static_call_update(key, lambda x: x * 10)   # frees nothing that runs
        seen.append(static_call(key)(x))
        return x + 1

    static_call_update(key, first)
    assert key(1) == 2
    assert seen == [10]
    assert key(1) == 10 and static_call(key)(2) == 20


@needs_accel
def test_cycles_of_forwarders_end_in_recursion_error() -> None:
    a, b = _forwarder(), _forwarder()
    accel.set_target(a, b)  # type: ignore[union-attr]
    accel.set_target(b, a)  # type: ignore[union-attr]
    with pytest.raises(RecursionError):
        a(1)
    self_loop = _forwarder()
    accel.set_target(self_loop, self_loop)  # type: ignore[union-attr]
    with pytest.raises(RecursionError):
        self_loop()
    accel.set_target(a, abs)  # type: ignore[union-attr]
    assert b(-1) == 1


@needs_accel
def test_forwarders_in_reference_cycles_are_collected() -> None:
    def cycle() -> weakref.ref[Any]:
        fwd = _forwarder()
        fwd.self_ref = fwd
        accel.set_target(fwd, lambda: fwd)  # type: ignore[union-attr]
        accel.set_entries(fwd, lambda: fwd, lambda: fwd)  # type: ignore[union-attr]
        assert fwd() is fwd
        return weakref.ref(fwd)

    ref = cycle()
    gc.collect()
    assert ref() is None


@needs_accel
def test_copies_and_pickles_show_no_target() -> None:
    def secret_target() -> None:
        pass

    fwd = _forwarder(secret_target)
    for take in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="cannot pickle"):
            take(fwd)  # the base type refuses; keys pickle by reference
    assert all(getattr(fwd, n, None) is not secret_target for n in dir(fwd))
    assert fwd.__reduce__ and fwd.__dict__ == {}


@needs_accel
def test_lookups_of_keys_handles_and_fallbacks() -> None:
    key = define_static_call(abs, name="looked_up")
    tramp = static_call(key)
    assert tramp is static_call(key) and tramp(-2) == 2
    handle = export_static_call(key)
    assert static_call(handle) is tramp
    declared = declare_static_call(f"{__name__}:looked_up")
    globals()["looked_up"] = key
    try:
        assert static_call_cond(declared)(-5) == 5
    finally:
        del globals()["looked_up"]
    static_call_update(key, None)
    assert static_call_cond(key)(1) is None
    with pytest.raises(StaticCallNullError):
        static_call(key)(1)
    assert tramp is static_call(key)   # the same trampoline follows the target
    static_call_update(key, static_call_return0)
    assert tramp(9) == 0 and key(9) == 0


def _hammer(key: Any, stop: threading.Event, errors: list[BaseException]) -> None:
    good = {None, 0, 3}
    try:
        while not stop.is_set():
            for _ in range(200):
                try:
                    values = (key(3), static_call(key)(3), static_call_cond(key)(3))
                except StaticCallNullError:
                    continue
                assert set(values) <= good, values
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        errors.append(exc)


@needs_accel
def test_updates_from_another_thread_while_calling() -> None:
    key = define_static_call_null(lambda x, /: None, name="raced")
    targets = [lambda x: x, None, static_call_return0, abs, lambda x: 3, None]
    stop, errors = threading.Event(), []  # type: ignore[var-annotated]
    workers = [threading.Thread(target=_hammer, args=(key, stop, errors))
               for _ in range(loop_threads(3))]
    for w in workers:
        w.start()
    try:
        for i in range(3000):
            static_call_update(key, targets[i % len(targets)])
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert errors == []


@needs_accel
def test_tracepoints_forward_to_their_probes() -> None:
    tp = define_tracepoint(lambda x, /: None, name="accel_tp")
    got: list[int] = []
    assert tp(1) is None
    register_probe(tp, got.append)
    tp(2)
    assert got == [2]


@pytest.mark.skipif(not DEBUG, reason="needs a debug build (sys.gettotalrefcount)")
def test_total_refcount_of_forwarding_and_lookups() -> None:
    key = define_static_call(abs, name="counted")
    handle = export_static_call(key)
    targets = [abs, None, static_call_return0, lambda x: x, None]

    def work() -> None:
        for i in range(500):
            static_call_update(key, targets[i % len(targets)])
            for call in (key, static_call(key), static_call_cond(key), static_call(handle)):
                try:
                    call(-1)
                except StaticCallNullError:
                    pass
            try:
                static_call(i)
            except TypeError:
                pass
        static_call_update(key, abs)

    work()
    gc.collect()
    deltas = [0] * 4
    for i in range(4):
        before = sys.gettotalrefcount()  # type: ignore[attr-defined]
        work()
        gc.collect()
        deltas[i] = sys.gettotalrefcount() - before  # type: ignore[attr-defined]
    assert all(d < 32 for d in deltas) and sum(deltas) < 64, deltas
