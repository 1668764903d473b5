"""Differential fuzzing of INLINE-mode rewriting.

Hypothesis writes functions with static call sites in random syntactic contexts
(``fuzz_programs.programs``). Each is compiled twice; one copy is decorated with
``@static_calls``. Both run under the same sequence of key states (function targets
that record their calls, a raising target, NULL, RET0), and, for generators and
coroutines, the same updates between resumptions. Return values, exceptions and the
ordered log of side effects (argument evaluations, target calls, context managers)
must be identical. ``StaticCallNullError`` messages may differ by the site suffix only.

Updates are also made during a run: by targets that update a key when called, and
between resumptions of generators and coroutines, including while a site's arguments
are being evaluated.

The number of examples comes from the hypothesis profile (``HYPOTHESIS_PROFILE``).
"""

from __future__ import annotations

import types
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings

import rewrite_helpers as rw
import staticcall
from fuzz_programs import STATES, Program, programs
from staticcall import (
    StaticCallNullError,
    define_static_call_null,
    static_call,
    static_call_cond,
    static_call_query,
    static_call_return0,
    static_call_sites,
    static_call_update,
    static_calls,
)


def num(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, (tuple, list, str)):
        return len(v)
    return 0


class World:
    """Keys, targets and the log for one program."""

    def __init__(self, nkeys: int) -> None:
        self.log: list[Any] = []
        self.keys = [define_static_call_null(name=f"K{i}") for i in range(nkeys)]
        log = self.log

        def rec(tag: int, value: Any) -> Any:
            log.append(("rec", tag, rw.freeze(value)))
            return value

        def boom(tag: int, value: Any) -> Any:
            log.append(("boom", tag, rw.freeze(value)))
            if num(value) % 2:
                raise ValueError(f"boom {tag}")
            return value

        def make_target(name: str, index: int) -> Any:
            def target(*args: Any, **kwargs: Any) -> Any:
                log.append(("call", name, rw.freeze(args), rw.freeze(kwargs)))
                return (index * 3 + sum(num(a) for a in args)
                        + sum(num(v) for v in kwargs.values())) % 4
            target.__qualname__ = name
            return target

        def raiser(*args: Any, **kwargs: Any) -> Any:
            log.append(("call", "raise", rw.freeze(args), rw.freeze(kwargs)))
            raise ValueError("target raised")

        class Ctx:
            def __init__(self, tag: int) -> None:
                self.tag = tag

            def __enter__(self) -> None:
                log.append(("enter", self.tag))

            def __exit__(self, tp: Any, exc: Any, tb: Any) -> bool:
                log.append(("exit", self.tag, tp.__name__ if tp else None))
                return False

        class ACtx(Ctx):
            async def __aenter__(self) -> None:
                await rw.Suspend(None)
                self.__enter__()

            async def __aexit__(self, *exc: Any) -> bool:
                await rw.Suspend(None)
                return self.__exit__(*exc)

        self.values: dict[str, Any] = {
            "t0": make_target("t0", 0), "t1": make_target("t1", 1), "raise": raiser,
            "null": None, "ret0": static_call_return0}
        for i in range(nkeys):
            for state in STATES:
                self.values[f"u{i}:{state}"] = self._updater(i, state)
        m = types.ModuleType("rw_fuzz_m")
        env: dict[str, Any] = {
            "rec": rec, "boom": boom, "num": num, "Ctx": Ctx, "ACtx": ACtx, "AIter": rw.AIter,
            "Suspend": rw.Suspend, "sc": staticcall,
            "m": m, "static_call": static_call, "static_call_cond": static_call_cond,
            "__name__": "rw_fuzz",
        }
        for i, key in enumerate(self.keys):
            env[f"K{i}"] = key
            setattr(m, f"K{i}", key)
        self.env = env

    def _updater(self, index: int, state: str) -> Any:
        name = f"u{index}:{state}"

        def updater(*args: Any, **kwargs: Any) -> Any:
            self.log.append(("call", name, rw.freeze(args), rw.freeze(kwargs)))
            static_call_update(self.keys[index], self.values[state])
            return 1
        updater.__qualname__ = name
        return updater

    def set(self, states: tuple[str, ...]) -> None:
        for key, state in zip(self.keys, states):
            static_call_update(key, self.values[state])

    def run(self, func: Any, program: Program, states: tuple[str, ...]) -> tuple[Any, list[Any]]:
        self.set(states)
        self.log.clear()

        def before_resume(n: int) -> None:
            update = program.resume_updates.get(n)
            if update is not None:
                index, state = update
                self.log.append(("update", index, state))
                static_call_update(self.keys[index], self.values[state])

        out = rw.outcome(lambda: rw.drive(func(*program.args), before_resume))
        return out, list(self.log)


def same(plain: tuple[str, Any], deco: tuple[str, Any]) -> None:
    assert plain[0] == deco[0], (plain, deco)
    if plain[0] == "ok":
        assert rw.freeze(plain[1]) == rw.freeze(deco[1])
        return
    p, d = plain[1], deco[1]
    assert type(p) is type(d), (p, d)
    if not isinstance(p, StaticCallNullError):
        assert str(p) == str(d)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.data_too_large])
@given(programs())
def test_rewritten_function_behaves_as_the_original(program: Program) -> None:
    note(program.source)
    world = World(program.nkeys)
    world.set(program.steps[0])
    filename = rw.register_source(program.source, "fuzz")
    plain, deco = rw.twin(program.source, world.env, filename=filename)
    f = plain["f"]
    g = static_calls(deco["f"])
    sites = [s for k in world.keys for s in static_call_sites(k) if s.filename == filename]
    assert sites, "every program has at least one site"
    # every generated site is rewritten (a call the compiler copies into both branches
    # of a conditional argument included)
    for s in sites:
        assert s.reason is None, s
    event(f"{len(sites)} sites rewritten")
    event(f"kind: {program.kind}")
    for states in program.steps:
        plain_out, plain_log = world.run(f, program, states)
        deco_out, deco_log = world.run(g, program, states)
        same(plain_out, deco_out)
        assert plain_log == deco_log
    # the table follows the last state
    world.set(program.steps[-1])
    for key, state in zip(world.keys, program.steps[-1]):
        expected = {"null": "null", "ret0": "ret0"}.get(state, "call")
        for s in static_call_sites(key):
            if s.filename == filename and s.reason is None:
                assert s.state == expected


# --------------------------------------------------------------------------------------
# Updates made while a site's arguments are being evaluated.
# --------------------------------------------------------------------------------------

UPDATE_SRC = """
def f(v):
    return static_call(K)(upd(v))

def g(v):
    r = static_call(K)((yield 1))
    return r
"""


def _update_world() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    def a(*args: Any) -> str:
        return "A"

    key = define_static_call_null(name="K")
    static_call_update(key, a)

    def upd(v: Any) -> int:
        static_call_update(key, v)
        return 1

    env = {"K": key, "static_call": static_call, "upd": upd, "__name__": "rw_upd"}
    plain, deco = rw.twin(UPDATE_SRC, env, stem="upd")
    return key, plain, deco


def _b(*args: Any) -> str:
    return "B"


@pytest.mark.parametrize("start", ["function", "null", "ret0"])
@pytest.mark.parametrize("decorated", [False, True])
def test_update_during_argument_evaluation(start: str, decorated: bool) -> None:
    """The update has returned before the site calls: the new target is called."""
    key, plain, deco = _update_world()
    f = static_calls(deco["f"]) if decorated else plain["f"]
    start_target = {"function": static_call_query(key), "null": None,
                    "ret0": static_call_return0}[start]
    for new, expected in [(_b, "B"), (static_call_return0, 0)]:
        static_call_update(key, start_target)
        assert f(new) == expected
    static_call_update(key, start_target)
    with pytest.raises(StaticCallNullError):
        f(None)


@pytest.mark.parametrize("decorated", [False, True])
def test_update_while_suspended_in_arguments(decorated: bool) -> None:
    key, plain, deco = _update_world()
    g = static_calls(deco["g"]) if decorated else plain["g"]
    for new, expected in [(_b, "B"), (static_call_return0, 0)]:
        it = g(None)
        assert next(it) == 1
        static_call_update(key, new)
        with pytest.raises(StopIteration) as stop:
            it.send(0)
        assert stop.value.value == expected
    it = g(None)
    next(it)
    static_call_update(key, None)
    with pytest.raises(StaticCallNullError):
        it.send(0)
