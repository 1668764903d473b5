"""Keys pickle by reference, as functions do: module and name, looked up at load."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pickled_keys_module
from staticcall import (
    StaticCallError,
    define_static_call,
    static_call_query,
    static_call_update,
)

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"
PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_round_trip_is_the_same_key(protocol: int) -> None:
    for key in (pickled_keys_module.trace, pickled_keys_module.doubler,
                pickled_keys_module.Service.hook):
        assert pickle.loads(pickle.dumps(key, protocol)) is key
    holder = pickle.loads(pickle.dumps(pickled_keys_module.holder, protocol))
    assert holder["keys"] == pickled_keys_module.holder["keys"]
    assert all(a is b for a, b in zip(holder["keys"], pickled_keys_module.holder["keys"]))
    assert holder["bound"]() == 42


def test_the_pickle_holds_the_name_not_the_target() -> None:
    data = pickle.dumps(pickled_keys_module.trace, 4)
    assert b"pickled_keys_module" in data and b"trace" in data
    assert b"on_item" not in data  # neither the prototype nor a target travels
    old = static_call_update(pickled_keys_module.doubler, lambda x: x)
    try:
        assert b"lambda" not in pickle.dumps(pickled_keys_module.doubler)
    finally:
        static_call_update(pickled_keys_module.doubler, old)


CHILD = """
    import pickle, sys
    from staticcall import static_call_query, static_call_update
    import pickled_keys_module

    holder = pickle.loads(sys.stdin.buffer.read())
    keys = holder["keys"]
    assert keys[0] is pickled_keys_module.trace and keys[2] is pickled_keys_module.Service.hook
    # the child's own keys, with the child's targets
    assert static_call_query(keys[1]) is pickled_keys_module.double
    results = [holder["bound"](), keys[1](5), keys[2](1)]
    static_call_update(pickled_keys_module.doubler, lambda x: -x)
    results.append(holder["bound"]())
    print(results)
"""


def test_objects_holding_keys_cross_process_boundaries() -> None:
    # the parent's target is not what the child sees: keys travel by name
    old = static_call_update(pickled_keys_module.doubler, lambda x: 0)
    try:
        data = pickle.dumps(pickled_keys_module.holder)
    finally:
        static_call_update(pickled_keys_module.doubler, old)
    path = os.pathsep.join([str(SRC), str(TESTS), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD)], input=data,
                            env={**os.environ, "PYTHONPATH": path}, capture_output=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "[42, 10, 2, -21]"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_key_not_found_by_name_refuses_to_pickle(protocol: int) -> None:
    local = pickled_keys_module.make_local_key()
    for error in (StaticCallError, pickle.PicklingError):
        with pytest.raises(error, match="'local_key'.*pickled_keys_module"):
            pickle.dumps(local, protocol)
    here = define_static_call(len, name="defined_in_a_test")
    with pytest.raises(StaticCallError, match="defined_in_a_test"):
        pickle.dumps({"k": here}, protocol)
    assert static_call_query(here) is len


def test_copies_are_the_key_itself() -> None:
    key = pickled_keys_module.doubler
    assert copy.copy(key) is key and copy.deepcopy([key])[0] is key


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_multiprocessing_workers_have_their_own_targets(method: str) -> None:
    # as with a module global: a spawned worker imports the module afresh, so its key has
    # the target the module's import sets; an initializer sets targets for the worker
    import multiprocessing

    ctx = multiprocessing.get_context(method)
    old = static_call_update(pickled_keys_module.doubler, lambda x: 0)
    try:
        with ctx.Pool(1) as pool:
            assert pool.apply(pickled_keys_module.call_with,
                              (pickled_keys_module.doubler, 21)) == 42
        with ctx.Pool(1, initializer=pickled_keys_module.start_up) as pool:
            assert pool.apply(pickled_keys_module.call_with,
                              (pickled_keys_module.doubler, 21)) == -21
        assert pickled_keys_module.doubler(21) == 0  # the parent's own target
    finally:
        static_call_update(pickled_keys_module.doubler, old)


FORK_CHILD = """
    import multiprocessing
    import pickled_keys_module as m
    from staticcall import static_call_update

    static_call_update(m.doubler, m.negate)  # set before the fork: the worker has it too
    with multiprocessing.get_context("fork").Pool(1) as pool:
        print(pool.apply(m.call_with, (m.doubler, 21)))
"""


def test_a_forked_worker_starts_with_the_parent_s_targets() -> None:
    # in a new process, so that no thread of this one is copied by the fork
    path = os.pathsep.join([str(SRC), str(TESTS), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(FORK_CHILD)],
                            env={**os.environ, "PYTHONPATH": path}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "-21"
