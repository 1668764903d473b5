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

The programs also hold branch sites of static keys and tracepoint statements; their
states (a static key on or off, a tracepoint's probe set) change between runs, and
during runs (targets and probes that change them when called, changes between
resumptions). The undecorated reference is ``Program.reference``: the same source,
except that each tracepoint statement ``T(args)`` reads ``if tracepoint_enabled(T):
T(args)`` (arguments evaluated only while a probe is attached).

The number of examples comes from the hypothesis profile (``HYPOTHESIS_PROFILE``). With
``STATICCALL_FUZZ_DUMP=path`` each program is written to ``path`` before it runs, so that
one that crashes the interpreter can be read afterwards.
"""

from __future__ import annotations

import os
import types
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings

import rewrite_helpers as rw
import staticcall
from fuzz_programs import SK_STATES, STATES, Program, programs
from staticcall import (
    StaticCallNullError,
    define_static_call_null,
    define_static_key_false,
    define_tracepoint,
    register_probe,
    static_branch_disable,
    static_branch_enable,
    static_branch_likely,
    static_branch_unlikely,
    static_call,
    static_call_cond,
    static_call_query,
    static_call_return0,
    static_call_sites,
    static_call_update,
    static_calls,
    static_key_enabled,
    tracepoint_enabled,
    tracepoint_probes,
    unregister_probe,
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
    """Keys, static keys, tracepoints, targets, probes and the log for one program."""

    def __init__(self, nkeys: int, nskeys: int = 0, ntps: int = 0) -> None:
        self.log: list[Any] = []
        self.keys = [define_static_call_null(name=f"K{i}") for i in range(nkeys)]
        self.skeys = [define_static_key_false(name=f"S{i}") for i in range(nskeys)]
        self.tps = [define_tracepoint(None, name=f"T{i}") for i in range(ntps)]
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

        def make_probe(name: str) -> Any:
            def probe(*args: Any, **kwargs: Any) -> Any:
                log.append(("probe", name, rw.freeze(args), rw.freeze(kwargs)))
                if name == "raise":
                    raise ValueError("probe raised")
                if name == "flip" and self.skeys:
                    # flips static key 0 from inside a tracepoint's call
                    self._set_static_key(0, "off" if static_key_enabled(self.skeys[0])
                                         else "on")
                return "ignored"  # a tracepoint's value is None whatever probes return
            probe.__qualname__ = f"probe_{name}"
            return probe

        self.probes = {name: make_probe(name) for name in ("p0", "p1", "raise", "flip")}

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
                self.values[f"u{i}:{state}"] = self._updater(f"u{i}:{state}", i, state)
        for i in range(nskeys):
            for state in SK_STATES:
                self.values[f"s{i}:{state}"] = self._updater(f"s{i}:{state}", nkeys + i,
                                                             state)
        for i in range(ntps):
            for state in ("none", "p0", "p0p1"):
                self.values[f"t{i}:{state}"] = self._updater(
                    f"t{i}:{state}", nkeys + nskeys + i, state)
        m = types.ModuleType("rw_fuzz_m")
        env: dict[str, Any] = {
            "rec": rec, "boom": boom, "num": num, "Ctx": Ctx, "ACtx": ACtx, "AIter": rw.AIter,
            "Suspend": rw.Suspend, "sc": staticcall,
            "m": m, "static_call": static_call, "static_call_cond": static_call_cond,
            "static_branch_likely": static_branch_likely,
            "static_branch_unlikely": static_branch_unlikely,
            "tracepoint_enabled": tracepoint_enabled,
            "__name__": "rw_fuzz",
        }
        for prefix, objs in (("K", self.keys), ("S", self.skeys), ("T", self.tps)):
            for i, obj in enumerate(objs):
                env[f"{prefix}{i}"] = obj
                setattr(m, f"{prefix}{i}", obj)
        self.env = env

    def _updater(self, name: str, slot: int, state: str) -> Any:
        def updater(*args: Any, **kwargs: Any) -> Any:
            self.log.append(("call", name, rw.freeze(args), rw.freeze(kwargs)))
            self.set_slot(slot, state)
            return 1
        updater.__qualname__ = name
        return updater

    def _set_static_key(self, index: int, state: str) -> None:
        (static_branch_enable if state == "on" else static_branch_disable)(self.skeys[index])

    def _set_probes(self, index: int, state: str) -> None:
        tp = self.tps[index]
        want = {"none": [], "p0": ["p0"], "p1": ["p1"], "p0p1": ["p0", "p1"],
                "p1p0": ["p1", "p0"], "p0raise": ["p0", "raise"], "flip": ["flip"]}[state]
        probes = [self.probes[n] for n in want]
        have = list(tracepoint_probes(tp))
        if have == probes:
            return
        # one probe at a time, as a program would: the site sees each step
        for p in have:
            if p not in probes or have.index(p) != probes.index(p):
                unregister_probe(tp, p)
        for p in probes:
            if p not in tracepoint_probes(tp):
                register_probe(tp, p)
        assert list(tracepoint_probes(tp)) == probes

    def set_slot(self, slot: int, state: str) -> None:
        nkeys, nskeys = len(self.keys), len(self.skeys)
        if slot < nkeys:
            static_call_update(self.keys[slot], self.values[state])
        elif slot < nkeys + nskeys:
            self._set_static_key(slot - nkeys, state)
        else:
            self._set_probes(slot - nkeys - nskeys, state)

    def set(self, states: tuple[str, ...]) -> None:
        for slot, state in enumerate(states):
            self.set_slot(slot, state)

    def sites(self, filename: str) -> list[Any]:
        return [s for k in [*self.keys, *self.skeys, *self.tps] for s in static_call_sites(k)
                if s.filename == filename]

    def run(self, func: Any, program: Program, states: tuple[str, ...]) -> tuple[Any, list[Any]]:
        self.set(states)
        self.log.clear()

        def before_resume(n: int) -> None:
            update = program.resume_updates.get(n)
            if update is not None:
                slot, state = update
                self.log.append(("update", slot, state))
                self.set_slot(slot, state)

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
    dump = os.environ.get("STATICCALL_FUZZ_DUMP")
    if dump:  # the program about to run, for a crash that takes the process down
        with open(dump, "w", encoding="utf-8") as fh:
            fh.write(repr(program) + "\n")
    world = World(program.nkeys, program.nskeys, program.ntps)
    world.set(program.steps[0])
    filename = rw.register_source(program.source, "fuzz")
    deco: dict[str, Any] = dict(world.env)
    exec(compile(program.source, filename, "exec"), deco)
    g = static_calls(deco["f"])
    sites = world.sites(filename)
    # a tracepoint site left on the runtime path evaluates its arguments, as Python does
    runtime = frozenset(s.lineno for s in sites if s.kind == "tracepoint" and s.reason)
    reference = program.reference_for(runtime)
    if reference != program.source:
        note(reference)
    plain: dict[str, Any] = dict(world.env)
    # the same file name: line numbers are the same, the reference's lines differ only
    # where a tracepoint statement is spelled out
    exec(compile(reference, filename, "exec"), plain)
    f = plain["f"]
    assert sites, "every program has at least one site"
    # every generated call site is rewritten (a call the compiler copies into both
    # branches of a conditional argument included); a branch or tracepoint site may
    # stay on the runtime path where the README says so (3.11's copy of a while test, a
    # statement too long for one jump)
    for s in sites:
        assert s.kind in ("branch", "tracepoint") or s.reason is None, s
        if s.reason is not None:
            event(f"{s.kind} site on the runtime path: {s.reason}")
    kinds = sorted({s.kind for s in sites})
    event(f"{len(sites)} sites rewritten")
    event(f"kind: {program.kind}")
    event(f"site kinds: {kinds}")
    for states in program.steps:
        plain_out, plain_log = world.run(f, program, states)
        deco_out, deco_log = world.run(g, program, states)
        rw.assert_stack_bound(g)  # with the switches as these states set them
        same(plain_out, deco_out)
        assert plain_log == deco_log
    # the table follows the last state
    world.set(program.steps[-1])
    nkeys, nskeys = program.nkeys, program.nskeys
    for slot, state in enumerate(program.steps[-1]):
        if slot < nkeys:
            obj = world.keys[slot]
            expected = {"null": "null", "ret0": "ret0"}.get(state, "call")
        elif slot < nkeys + nskeys:
            obj = world.skeys[slot - nkeys]
            expected = "enabled" if state == "on" else "disabled"
        else:
            obj = world.tps[slot - nkeys - nskeys]
            expected = "disabled" if state == "none" else "enabled"
        for s in static_call_sites(obj):
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
