"""``static_call_override`` when several overrides of one key are active at once."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from staticcall import (
    StaticCallError,
    define_static_call,
    static_call,
    static_call_override,
    static_call_query,
    static_call_update,
    static_calls,
)


def base(x: int) -> str:
    return "base"


def a(x: int) -> str:
    return "a"


def b(x: int) -> str:
    return "b"


def c(x: int) -> str:
    return "c"


K = define_static_call(base, name="ov_K")


@static_calls
def use(x: int) -> str:
    return static_call(K)(x)


@pytest.fixture(autouse=True)
def _reset() -> Any:
    static_call_update(K, base)
    yield
    static_call_update(K, base)


def now() -> str:
    target = static_call_query(K)
    assert use(1) == target(1) == K(1)  # sites, runtime path and key agree
    return target(1)


def test_two_tasks_ending_out_of_order() -> None:
    seen: list[tuple[str, str]] = []

    async def task(name: str, func: Any, entered: asyncio.Event, go: asyncio.Event) -> None:
        with static_call_override(K, func):
            entered.set()
            await go.wait()
        seen.append((f"{name} ended", now()))

    async def main() -> None:
        a_in, b_in, a_go, b_go = (asyncio.Event() for _ in range(4))
        ta = asyncio.create_task(task("A", a, a_in, a_go))
        await a_in.wait()
        tb = asyncio.create_task(task("B", b, b_in, b_go))
        await b_in.wait()
        seen.append(("both in", now()))
        a_go.set()
        await ta
        b_go.set()
        await tb

    asyncio.run(main())
    # A ending while B is active leaves B's target; B ending restores the original
    assert seen == [("both in", "b"), ("A ended", "b"), ("B ended", "base")]


@pytest.mark.parametrize("order", ["abc", "acb", "bac", "bca", "cab", "cba"])
def test_any_exit_order_ends_with_the_original(order: str) -> None:
    funcs = {"a": a, "b": b, "c": c}
    managers = {name: static_call_override(K, f) for name, f in funcs.items()}
    for name in "abc":
        managers[name].__enter__()
    active = ["a", "b", "c"]
    for name in order:
        managers[name].__exit__(None, None, None)
        active.remove(name)
        # the most recent override still active decides the target
        assert now() == (active[-1] if active else "base"), (order, name)


def test_nested_overrides_unwind_in_order() -> None:
    with static_call_override(K, a) as before_a:
        assert before_a is base and now() == "a"
        with static_call_override(K, b) as before_b:
            assert before_b is a and now() == "b"
        assert now() == "a"
    assert now() == "base"


def test_plain_update_inside_an_override_is_undone_at_its_end() -> None:
    with static_call_override(K, a):
        static_call_update(K, b)
        assert now() == "b"
    assert now() == "base"


def test_threads_ending_out_of_order() -> None:
    entered = [threading.Event(), threading.Event()]
    go = [threading.Event(), threading.Event()]
    done = [threading.Event(), threading.Event()]

    def worker(i: int, func: Any) -> None:
        with static_call_override(K, func):
            entered[i].set()
            go[i].wait(10)
        done[i].set()

    threads = [threading.Thread(target=worker, args=(0, a)),
               threading.Thread(target=worker, args=(1, b))]
    threads[0].start()
    assert entered[0].wait(10)
    threads[1].start()
    assert entered[1].wait(10)
    go[0].set()
    assert done[0].wait(10)
    assert now() == "b"
    go[1].set()
    for t in threads:
        t.join(10)
    assert now() == "base"


def test_restore_that_fails_raises_on_that_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    import staticcall._update as upd

    manager = static_call_override(K, a)
    manager.__enter__()
    real = upd.static_call_update

    def failing(key: Any, func: Any) -> Any:
        raise RuntimeError("cannot restore")

    monkeypatch.setattr(upd, "static_call_update", failing)
    with pytest.raises(StaticCallError, match="could not be restored"):
        manager.__exit__(None, None, None)
    monkeypatch.setattr(upd, "static_call_update", real)
    assert now() == "a"  # not silent: the exit raised, and says what is left


def test_exits_without_a_matching_entry_are_errors_naming_the_key() -> None:
    never_entered = static_call_override(K, a)
    with pytest.raises(RuntimeError, match="'ov_K'.*not entered"):
        never_entered.__exit__(None, None, None)
    assert now() == "base"
    first, second = static_call_override(K, a), static_call_override(K, b)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    # ending it again, while another override is in effect, changes nothing
    with pytest.raises(RuntimeError, match="'ov_K'.*ended already"):
        first.__exit__(None, None, None)
    assert now() == "b"
    second.__exit__(None, None, None)
    assert now() == "base"
    with pytest.raises(RuntimeError, match="'ov_K'.*ended already"):
        second.__exit__(None, None, None)
    with pytest.raises(RuntimeError, match="'ov_K'.*entered already"):
        second.__enter__()
    assert now() == "base"


def test_an_exit_whose_restore_is_refused_can_be_retried() -> None:
    """The restore at an override's end is an update, which may be refused (here it
    would form a cycle): the override stays in effect, and its exit can be made again."""
    first = define_static_call(base, name="ov_retry_first")
    second = define_static_call(base, name="ov_retry_second")
    static_call_update(first, second)
    override = static_call_override(first, a)
    override.__enter__()
    static_call_update(second, first)  # first -> a now: no cycle yet
    with pytest.raises(StaticCallError, match="cycle"):
        override.__exit__(None, None, None)  # first -> second -> first
    assert static_call_query(first) is a  # still overridden
    static_call_update(second, base)
    override.__exit__(None, None, None)  # retried: restored
    assert static_call_query(first) is second
    with pytest.raises(RuntimeError, match="ended already"):
        override.__exit__(None, None, None)
