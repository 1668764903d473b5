"""``staticcall bench``: every way of making a replaceable call, measured side by side.

Method
------
Each call scenario is a generated loop function of one shape::

    def run(n):
        x = 1
        y = None
        for _ in range(n):
            <statement>        # UNROLL copies, to amortise the loop's own cost
            ...

The ``"baseline"`` scenario's statement is ``y = x``. Every figure of a call scenario
is *per statement* with the baseline's cost subtracted, so that ratios compare the cost
of the calls themselves, not of the loop around them. Scenarios run round-robin (one
sample of each per round, the order rotated every round), so that drift of the machine
(frequency, other processes) affects all of them alike. Each sample runs a calibrated
number of loop iterations (about ``sample_time`` seconds); the figures are the minimum
and the median over the rounds, and the noise figure is the spread (interquartile range)
of the raw per-statement times relative to the scenario's net minimum.

Updates (``static_call_update`` latency against the number of sites) and decoration cost
are measured the same way, round-robin, per operation.

Nothing here is a test: the benchmark reports what it measures and whether each target
of the project is met on this machine, this run.
"""

from __future__ import annotations

import builtins
import functools
import gc
import json
import os
import platform
import statistics
import sys
import sysconfig
import time
import types
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from .. import _opcodes as op
from .bench_pipeline import WAYS, measure_pipeline
from .timing import (
    UNROLL,
    Progress,
    calibrate,
    loop_sampler,
    loop_source,
    now as _now,
    quantiles,
    run_rounds,
)

ENV_NAME = "_bench_env"

# --------------------------------------------------------------------------------------
# The namespace every generated loop runs in.
# --------------------------------------------------------------------------------------

ENV_SOURCE = '''
from staticcall import (
    define_static_call, define_static_call_null, define_static_call_ret0,
    static_call, static_call_cond, static_call_return0, static_call_update,
    define_static_key_false, define_static_key_true, static_branch_unlikely,
    define_tracepoint, register_probe,
)

import functools

def target(x):
    return x

def py_forward(x):
    return target(x)

partial_target = functools.partial(target)

def other_target(x):
    return x

def stub(x):
    return 0

class Registry:
    def __init__(self, hook):
        self.hook = hook

registry = Registry(target)
hooks = {"hook": target}

class Forward:
    def __init__(self, func):
        self.func = func

    def __call__(self, x):
        return self.func(x)

forward = Forward(target)
hook = target
no_hook = None

class Handler:
    def method(self, x):
        return x

bound = Handler().method

k_func = define_static_call(target, name="k_func")
k_builtin = define_static_call(abs, name="k_builtin")
k_bound = define_static_call(bound, name="k_bound")
k_null = define_static_call_null(target, name="k_null")
k_ret0 = define_static_call_ret0(target, name="k_ret0")
k_plain = define_static_call(target, name="k_plain")
k_callee = define_static_call(target, name="k_callee")
k_callee_updated = define_static_call(target, name="k_callee_updated")

FLAG_OFF = False
FLAG_ON = True
sk_off = define_static_key_false(name="sk_off")
sk_on = define_static_key_true(name="sk_on")

def probe(x):
    pass

def probe2(x):
    pass

def probe3(x):
    pass

no_trace = None
tp_none = define_tracepoint(probe, name="tp_none")
tp_one = define_tracepoint(probe, name="tp_one")
register_probe(tp_one, probe)
tp_three = define_tracepoint(probe, name="tp_three")
for p in (probe, probe2, probe3):
    register_probe(tp_three, p)

def callee_plain(x):
    if x is None:
        k_callee(x)
    return x

def callee_decorated(x):
    if x is None:
        k_callee(x)
    return x

def callee_updated(x):
    if x is None:
        k_callee_updated(x)
    return x
'''


@dataclass(frozen=True)
class Scenario:
    """One loop scenario."""

    id: str
    label: str
    group: str
    statement: str
    reference: str | None = "direct"
    target: float | None = None
    decorate: bool = False


BASELINE = "baseline"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(BASELINE, "empty loop (y = x)", "floor", "y = x", reference=None),
    Scenario("direct", "direct call of a global function", "floor", "y = target(x)",
             reference=None),
    # plain indirect calls
    Scenario("global_var", "call through a global variable", "indirect", "y = hook(x)"),
    Scenario("registry_attr", "call through a registry attribute", "indirect",
             "y = registry.hook(x)"),
    Scenario("dict_lookup", "call through a dict lookup", "indirect", 'y = hooks["hook"](x)'),
    Scenario("forwarder", "call of an object whose __call__ forwards", "indirect",
             "y = forward(x)"),
    Scenario("if_hook_none", "if hook is not None: hook(x), no hook", "indirect",
             "if no_hook is not None: no_hook(x)"),
    Scenario("stub", "call of a stub returning 0", "indirect", "y = stub(x)"),
    # what the undecorated forms are made of: a call from C into Python (a key's call),
    # one more Python call (a trampoline); a builtin call (direct_builtin) is the lookup
    Scenario("c_forward", "call of functools.partial(target): C calls Python", "floor",
             "y = partial_target(x)"),
    Scenario("py_forward", "call of a Python function that calls the target", "floor",
             "y = py_forward(x)"),
    # staticcall, runtime path
    Scenario("undecorated_static_call", "static_call(k)(x), undecorated", "staticcall",
             "y = static_call(k_plain)(x)", target=1.5),
    Scenario("key_call", "k(x), undecorated", "staticcall", "y = k_plain(x)", target=1.5),
    # staticcall, rewritten sites, each against a direct call of the same kind of target
    Scenario("site_function", "rewritten site -> Python function", "staticcall",
             "y = static_call(k_func)(x)", target=1.03, decorate=True),
    Scenario("direct_builtin", "direct call of a builtin (abs)", "floor", "y = abs(x)",
             reference=None),
    Scenario("site_builtin", "rewritten site -> builtin (abs)", "staticcall",
             "y = static_call(k_builtin)(x)", reference="direct_builtin", target=1.03,
             decorate=True),
    Scenario("direct_bound", "direct call of a bound method", "floor", "y = bound(x)",
             reference=None),
    Scenario("site_bound", "rewritten site -> bound method", "staticcall",
             "y = static_call(k_bound)(x)", reference="direct_bound", target=1.03,
             decorate=True),
    Scenario("site_null", "rewritten NULL static_call_cond site", "staticcall",
             "static_call_cond(k_null)(x)", reference="if_hook_none", target=1.1,
             decorate=True),
    Scenario("inline_ret0", "arguments evaluated, constant 0 used", "floor", "x; y = 0",
             reference=None),
    Scenario("site_ret0", "rewritten RET0 site", "staticcall", "y = static_call(k_ret0)(x)",
             reference="inline_ret0", target=1.1, decorate=True),
    # static keys: a branch site against a test of a global flag
    Scenario("flag_off", "if FLAG: ..., a global False", "floor", "if FLAG_OFF: y = x",
             reference=None),
    Scenario("branch_off", "disabled static key branch site", "static keys",
             "if static_branch_unlikely(sk_off): y = x", reference="flag_off", target=1.0,
             decorate=True),
    Scenario("flag_on", "if FLAG: ..., a global True", "floor", "if FLAG_ON: y = x",
             reference=None),
    Scenario("branch_on", "enabled static key branch site", "static keys",
             "if static_branch_unlikely(sk_on): y = x", reference="flag_on", target=1.0,
             decorate=True),
    # tracepoints: the argument is an f-string, built only when a probe is attached
    Scenario("trace_if_none", 'if TRACE is not None: TRACE(f"..."), none', "floor",
             'if no_trace is not None: no_trace(f"item {x!r}")', reference=None),
    Scenario("tp_off", 'tracepoint, no probe, TP(f"...")', "tracepoints",
             'tp_none(f"item {x!r}")', reference="trace_if_none", target=1.0,
             decorate=True),
    Scenario("direct_probe", "direct call of the probe", "floor", "probe(x)",
             reference=None),
    Scenario("tp_one_probe", "tracepoint, one probe", "tracepoints", "tp_one(x)",
             reference="direct_probe", target=1.05, decorate=True),
    Scenario("direct_probes3", "three hand-written probe calls", "floor",
             "probe(x); probe2(x); probe3(x)", reference=None),
    Scenario("tp_three_probes", "tracepoint, three probes", "tracepoints", "tp_three(x)",
             reference="direct_probes3", target=1.1, decorate=True),
    # calls *to* a decorated function
    Scenario("call_plain", "call to an undecorated function", "calls-to",
             "y = callee_plain(x)", reference=None),
    Scenario("call_decorated", "call to its decorated copy", "calls-to",
             "y = callee_decorated(x)", reference="call_plain", target=1.05),
    Scenario("call_decorated_updated", "call to a decorated copy, after shape changes",
             "calls-to", "y = callee_updated(x)", reference="call_plain", target=1.05),
    # whole-package processing: a function given its rewritten code in place (the object
    # every holder has), and a site bound at its first execution
    Scenario("call_processed", "call to a package-processed function (code replaced in "
             "place)", "calls-to", "y = callee_processed(x)", reference="call_plain",
             target=1.05),
    Scenario("site_late", "late-bound site (bound at its first execution) -> function",
             "staticcall", "y = static_call(k_late)(x)", target=1.05, decorate=True),
)

SCENARIO_IDS = tuple(s.id for s in SCENARIOS)


@dataclass(frozen=True)
class Mode:
    name: str
    sample_time: float          # seconds per sample
    rounds: int                 # samples per call scenario
    update_sizes: tuple[int, ...]
    other_sites: int            # sites of one more key, updated by no row
    latency_rounds: int
    decorate_sites: int = 10
    import_rounds: int = 11    # interleaved rounds of fresh interpreters (tools/bench_packages)


MODES = {
    "tiny": Mode("tiny", 0.0003, 3, (1, 10), 10, 3, 3, 1),
    # Short samples, many rounds: on a busy machine a short sample is more often left
    # alone by the scheduler, and the minimum over many rounds finds those.
    "quick": Mode("quick", 0.001, 41, (1, 100, 10_000), 0, 7, import_rounds=5),
    "full": Mode("full", 0.003, 151, (1, 10, 100, 1_000, 10_000), 10_000, 21),
}

SITES_PER_FUNCTION = 100


# --------------------------------------------------------------------------------------
# Building the scenarios.
# --------------------------------------------------------------------------------------

PROCESSED_SOURCE = '''
def callee_processed(x):
    if x is None:
        k_callee(x)
    return x
'''


def _processed_callee(env: dict[str, Any]) -> Any:
    """``callee_processed``, from a module processed as ``staticcall.install`` processes
    one, and called once: rewritten then, in place."""
    from .. import _packages

    module = types.ModuleType(ENV_NAME + "_processed")
    module.__dict__["k_callee"] = env["k_callee"]
    exec(compile(PROCESSED_SOURCE, "<staticcall bench processed>", "exec"), module.__dict__)
    _packages.process_module(module)
    module.callee_processed(None)  # its site's first execution (a stub's, on 3.11)
    return module.callee_processed


def make_env() -> dict[str, Any]:
    """A fresh namespace with the targets, keys and callees; decorated where needed."""
    from .. import static_call_return0, static_call_update, static_calls

    env: dict[str, Any] = {"__name__": ENV_NAME, "__builtins__": builtins}
    exec(compile(ENV_SOURCE, "<staticcall bench>", "exec"), env)
    env["callee_processed"] = _processed_callee(env)
    env["callee_decorated"] = static_calls(env["callee_decorated"])
    env["callee_updated"] = static_calls(env["callee_updated"])
    key = env["k_callee_updated"]
    # call -> RET0 -> NULL -> another function: every shape the site has
    static_call_update(key, static_call_return0)
    static_call_update(key, None)
    static_call_update(key, env["other_target"])
    return env


def release(env: dict[str, Any]) -> None:
    """Drop a namespace's contents, so that its decorated functions (and their sites in
    the table) go away: keys live on (the call tables hold them) and keep their old
    targets, which would otherwise keep the namespace alive through their globals."""
    env.clear()
    gc.collect()


def make_loop(scenario: Scenario, env: dict[str, Any], copy: int = 0) -> Callable[[int], Any]:
    """The scenario's loop function (decorated with ``@static_calls`` if it has sites);
    ``copy`` numbers separately compiled copies of the same loop."""
    from .. import static_calls

    name = f"run_{scenario.id}" + (f"_{copy}" if copy else "")
    exec(compile(loop_source(name, scenario.statement), f"<staticcall bench {scenario.id}>",
                 "exec"), env)
    func = env[name]
    if scenario.decorate:
        func = static_calls(func)
        env[name] = func
    if scenario.id == "site_late" and "k_late" not in env:
        # defined once its site is processed: the site binds at its first execution
        from .. import define_static_call

        env["k_late"] = define_static_call(env["target"], name="k_late")
    return func  # type: ignore[no-any-return]


def build_call_loops(env: dict[str, Any] | None = None
                     ) -> tuple[dict[str, Any], list[tuple[Scenario, Callable[[int], Any]]]]:
    env = make_env() if env is None else env
    return env, [(s, make_loop(s, env)) for s in SCENARIOS]


def make_site_functions(key: Any, count: int, env: dict[str, Any], tag: str) -> list[Any]:
    """Decorated functions holding ``count`` sites of ``key`` in all (never executed)."""
    from .. import static_calls

    env[f"k_{tag}"] = key
    funcs = []
    left = count
    n = 0
    while left > 0:
        here = min(left, SITES_PER_FUNCTION)
        name = f"sites_{tag}_{n}"
        src = (f"def {name}(x):\n    if x is None:\n"
               + f"        k_{tag}(x)\n" * here + "    return x\n")
        exec(compile(src, f"<staticcall bench {tag}>", "exec"), env)
        funcs.append(static_calls(env.pop(name)))
        left -= here
        n += 1
    return funcs


def make_branch_functions(key: Any, count: int, env: dict[str, Any], tag: str) -> list[Any]:
    """Decorated functions holding ``count`` branch sites of the static key ``key``."""
    from .. import static_calls

    env[f"sk_{tag}"] = key
    funcs = []
    for n in range(0, count, SITES_PER_FUNCTION):
        here = min(count - n, SITES_PER_FUNCTION)
        name = f"branches_{tag}_{n}"
        src = (f"def {name}(x):\n"
               + f"    if static_branch_unlikely(sk_{tag}):\n        x += 1\n" * here
               + "    return x\n")
        exec(compile(src, f"<staticcall bench {tag}>", "exec"), env)
        funcs.append(static_calls(env.pop(name)))
    return funcs


def _flip_sampler(key: Any, pairs: int) -> Callable[[], int]:
    from .. import static_branch_disable, static_branch_enable

    def sample() -> int:
        t0 = _now()
        for _ in range(pairs):
            static_branch_enable(key)
            static_branch_disable(key)
        return _now() - t0

    return sample


def decoration_source(sites: int) -> str:
    lines = ["def decorated_example(x):", "    y = x + 1"]
    if sites:
        lines.append("    if x is None:")
        lines += ["        k_func(x)"] * sites
    lines.append("    return y")
    return "\n".join(lines) + "\n"


def make_decoration_case(sites: int, env: dict[str, Any]) -> Callable[[], Any]:
    """A callable that decorates one fresh copy of a function with ``sites`` sites."""
    from .. import static_calls

    ns = dict(env)
    exec(compile(decoration_source(sites), "<staticcall bench decorate>", "exec"), ns)
    proto = ns["decorated_example"]
    code, globals_ = proto.__code__, proto.__globals__

    def decorate_once() -> Any:
        return static_calls(types.FunctionType(code, globals_))

    return decorate_once


# --------------------------------------------------------------------------------------
# Measuring.
# --------------------------------------------------------------------------------------


COPIES = 2


def measure_calls(mode: Mode,
                  progress: Callable[[str], None]) -> tuple[list[dict[str, Any]], float]:
    """Every call scenario, round-robin. Each loop exists in COPIES separately compiled
    copies, measured alike; a scenario's figures come from its faster copy, so that one
    copy that happens to be laid out, specialised or traced badly does not skew a ratio."""
    progress("building the call scenarios")
    env = make_env()
    loops = [(s, c, make_loop(s, env, c)) for s in SCENARIOS for c in range(COPIES)]
    counts: dict[tuple[str, int], int] = {}
    for i, (s, c, func) in enumerate(loops):
        progress(f"calibrating, {s.id} ({i + 1}/{len(loops)})")
        func(16)  # warm up: specialisation, and the decorated copies' first calls
        counts[s.id, c] = calibrate(func, mode.sample_time)
    cases = [(f"{s.id}#{c}", loop_sampler(func, counts[s.id, c]), counts[s.id, c] * UNROLL)
             for s, c, func in loops]
    raw = run_rounds(cases, mode.rounds, progress, "measuring calls")
    best: dict[str, int] = {}
    for s in SCENARIOS:
        best[s.id] = min(range(COPIES), key=lambda c: min(raw[f"{s.id}#{c}"]))
    stats = {s.id: quantiles(raw[f"{s.id}#{best[s.id]}"]) for s in SCENARIOS}
    b_min, _, b_med, _ = stats[BASELINE]
    rows: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    for s in SCENARIOS:
        mn, q1, med, q3 = stats[s.id]
        if s.id == BASELINE:
            net_min, net_med = mn, med
        else:
            net_min, net_med = mn - b_min, med - b_med
        row: dict[str, Any] = {
            "id": s.id, "label": s.label, "group": s.group, "kind": "call",
            "statement": s.statement, "unit": "ns/call",
            "ns_min": net_min, "ns_median": net_med,
            "raw_ns_min": mn, "raw_ns_q1": q1, "raw_ns_median": med, "raw_ns_q3": q3,
            "noise": (q3 - q1) / net_min if net_min > 0 else None,
            "reference": s.reference, "ratio": None, "ratio_median": None,
            "raw_ratio": None, "delta_ns": None,
            "target": s.target, "met": None,
            "loops": counts[s.id, best[s.id]], "unroll": UNROLL, "rounds": mode.rounds,
            "samples_ns": raw[f"{s.id}#{best[s.id]}"],
            "copy": best[s.id],
            "copies_raw_ns_min": [min(raw[f"{s.id}#{c}"]) for c in range(COPIES)],
            "copies_raw_ns_median": [statistics.median(raw[f"{s.id}#{c}"])
                                     for c in range(COPIES)],
        }
        rows.append(row)
        by_id[s.id] = row
    for row in rows:
        ref = by_id.get(row["reference"]) if row["reference"] else None
        if ref is None:
            continue
        row["delta_ns"] = row["ns_min"] - ref["ns_min"]
        row["raw_ratio"] = row["raw_ns_min"] / ref["raw_ns_min"]
        if ref["ns_min"] > 0.05:
            row["ratio"] = max(row["ns_min"], 0.0) / ref["ns_min"]
        if ref["ns_median"] > 0.05:
            row["ratio_median"] = max(row["ns_median"], 0.0) / ref["ns_median"]
        if row["target"] is not None and row["ratio"] is not None:
            row["met"] = row["ratio"] <= row["target"]
    del loops, cases
    release(env)
    return rows, b_min


def _latency_row(cid: str, label: str, kind: str, unit: str, values: list[float],
                 ops: int, rounds: int, **extra: Any) -> dict[str, Any]:
    mn, q1, med, q3 = quantiles(values)
    row = {
        "id": cid, "label": label, "group": kind, "kind": kind, "unit": unit,
        "ns_min": mn, "ns_median": med, "raw_ns_min": mn, "raw_ns_q1": q1,
        "raw_ns_median": med, "raw_ns_q3": q3, "noise": (q3 - q1) / mn if mn > 0 else None,
        "reference": None, "ratio": None, "ratio_median": None, "raw_ratio": None,
        "delta_ns": None, "target": None, "met": None,
        "loops": ops, "unroll": 1, "rounds": rounds, "samples_ns": values,
    }
    row.update(extra)
    return row


def _update_sampler(key: Any, a: Any, b: Any, pairs: int) -> Callable[[], int]:
    from .. import static_call_update

    def sample() -> int:
        t0 = _now()
        for _ in range(pairs):
            static_call_update(key, a)
            static_call_update(key, b)
        return _now() - t0

    return sample


def _calibrate_ops(one: Callable[[int], int], sample_time: float) -> int:
    """How many operations make a sample of about ``sample_time``; ``one(k)`` times k."""
    k = 1
    while True:
        elapsed = one(k)
        if elapsed >= sample_time * 1e9 / 4 or k >= 1 << 20:
            return max(1, int(k * sample_time * 1e9 / max(elapsed, 1)))
        k *= 4


def measure_updates(mode: Mode, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    from .. import define_static_call, static_call_return0, static_call_sites

    env = make_env()
    target, other = env["target"], env["other_target"]
    keep: list[Any] = []
    rows: list[dict[str, Any]] = []

    def key_with(n: int, tag: str) -> Any:
        key = define_static_call(target, name=f"k_{tag}")
        keep.extend(make_site_functions(key, n, env, tag))
        return key

    def pairs_for(key: Any, a: Any, b: Any) -> int:
        return max(1, _calibrate_ops(
            lambda k: _update_sampler(key, a, b, k)(), mode.sample_time))

    # A key with one site, before the keys with many sites exist.
    progress("update latency, one site and nothing else")
    alone = key_with(1, "alone")
    few_others = len(static_call_sites()) - 1
    pairs = pairs_for(alone, other, target)
    values = run_rounds([("x", _update_sampler(alone, other, target, pairs), 2 * pairs)],
                         mode.latency_rounds, progress, "update latency alone")["x"]
    rows.append(_latency_row("update_1_site_alone",
                             "update: key with 1 site, before the large keys exist",
                             "update", "ns/update", values, 2 * pairs, mode.latency_rounds,
                             sites=1, other_sites=few_others))
    # Keys with 1 .. 10,000 sites, all present at once; plus a second key with many sites.
    keys: dict[int, Any] = {}
    for n in mode.update_sizes:
        progress(f"update latency, decorating functions with {n} sites")
        keys[n] = key_with(n, f"n{n}")
    if mode.other_sites:
        progress(f"update latency, decorating {mode.other_sites} sites of another key")
        key_with(mode.other_sites, "other")
    total = len(static_call_sites())
    cases = []
    meta: dict[str, tuple[str, int, int]] = {}
    for n, key in keys.items():
        pairs = pairs_for(key, other, target)
        cid = f"update_{n}_sites"
        cases.append((cid, _update_sampler(key, other, target, pairs), 2 * pairs))
        meta[cid] = (f"update: key with {n:,} site{'s' if n != 1 else ''}", n, total - n)
    # a shape change (call <-> RET0) on the mid-sized key
    mid = mode.update_sizes[len(mode.update_sizes) // 2]
    pairs = pairs_for(keys[mid], static_call_return0, target)
    cid = f"update_{mid}_sites_shape"
    cases.append((cid, _update_sampler(keys[mid], static_call_return0, target, pairs), 2 * pairs))
    meta[cid] = (f"update: key with {mid:,} sites, call <-> RET0", mid, total - mid)
    # flipping a static key with as many branch sites as the largest key has sites
    from .. import define_static_key_false

    big = max(mode.update_sizes)
    progress(f"update latency, decorating functions with {big} branch sites")
    sk = define_static_key_false(name="sk_flip")
    keep.extend(make_branch_functions(sk, big, env, "flip"))
    pairs = max(1, _calibrate_ops(lambda k: _flip_sampler(sk, k)(), mode.sample_time))
    cid = f"flip_{big}_branch_sites"
    cases.append((cid, _flip_sampler(sk, pairs), 2 * pairs))
    meta[cid] = (f"static key flip: {big:,} branch sites", big, total)
    raw = run_rounds(cases, mode.latency_rounds, progress, "update latency")
    for cid, _, ops in cases:
        label, n, others = meta[cid]
        rows.append(_latency_row(cid, label, "update", "ns/update", raw[cid], ops,
                                 mode.latency_rounds, sites=n, other_sites=others))
    keep.clear()
    release(env)
    return rows


def _repeat_sampler(once: Callable[[], Any], k: int) -> Callable[[], int]:
    def sample() -> int:
        t0 = _now()
        for _ in range(k):
            once()
        return _now() - t0

    return sample


def _repeat_once(once: Callable[[], Any], k: int) -> int:
    return _repeat_sampler(once, k)()


def measure_decoration(mode: Mode, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    env = make_env()
    cases: list[tuple[str, Callable[[], int], int]] = []
    meta = {}
    for sites in (0, mode.decorate_sites):
        once = make_decoration_case(sites, env)
        once()
        progress(f"decoration, calibrating ({sites} sites)")
        k = _calibrate_ops(functools.partial(_repeat_once, once), mode.sample_time)
        cid = f"decorate_{sites}_sites"
        cases.append((cid, _repeat_sampler(once, k), k))
        meta[cid] = (f"decorate: function with {sites} site{'s' if sites != 1 else ''}"
                     if sites else "decorate: function without sites", sites)
    raw = run_rounds(cases, mode.latency_rounds, progress, "decoration")
    release(env)
    return [_latency_row(cid, meta[cid][0], "decorate", "ns/function", raw[cid], ops,
                         mode.latency_rounds, sites=meta[cid][1])
            for cid, _, ops in cases]


# --------------------------------------------------------------------------------------
# The run, its header and its output.
# --------------------------------------------------------------------------------------

def jit_state() -> dict[str, Any]:
    """Whether this interpreter has a JIT and whether it is on."""
    env = os.environ.get("PYTHON_JIT")
    jit = getattr(sys, "_jit", None)
    enabled: bool | None
    if jit is not None:
        available = bool(jit.is_available())
        enabled = bool(jit.is_enabled())
        detail = "on" if enabled else ("available, off" if available else "not built in")
    elif sys.implementation.name == "cpython" and op.CODE_ASSIGNMENT_CLEARS_VERSION:
        built = "--enable-experimental-jit" in (sysconfig.get_config_var("CONFIG_ARGS") or "")
        available = built
        enabled = None if built else False
        detail = ("built in; state unknown (no sys._jit)" if built else "not built in")
    else:
        available, enabled = False, False
        detail = "none"
    if env is not None:
        detail += f" (PYTHON_JIT={env})"
    return {"available": available, "enabled": enabled, "detail": detail, "PYTHON_JIT": env}


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def header_info(mode: Mode) -> dict[str, Any]:
    from .. import __version__
    from .._decorator import UNSUPPORTED

    impl = sys.implementation.name
    return {
        "staticcall": __version__,
        "mode": mode.name,
        "interpreter": sys.executable,
        "implementation": {"cpython": "CPython", "pypy": "PyPy"}.get(impl, impl),
        "version": platform.python_version(),
        "version_full": sys.version.replace("\n", " "),
        "jit": jit_state(),
        "rewriting": "on" if UNSUPPORTED is None else f"off: {UNSUPPORTED}",
        "debug_build": hasattr(sys, "gettotalrefcount"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": _load_average(),
    }


def run(mode: str | Mode = "quick", progress: TextIO | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result. ``progress`` gets a progress line."""
    m = MODES[mode] if isinstance(mode, str) else mode
    report = Progress(progress, enabled=progress is not None)
    result = header_info(m)
    t0 = time.perf_counter()
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        calls, baseline = measure_calls(m, report)
        gc.enable()
        gc.collect()
        gc.disable()
        latency = measure_updates(m, report)
        gc.enable()
        gc.collect()
        gc.disable()
        latency += measure_decoration(m, report)
        gc.enable()
        gc.collect()
        gc.disable()
        pipeline = measure_pipeline(m.sample_time, m.rounds, report)
        from . import bench_packages

        latency += bench_packages.measure_imports(m.import_rounds, report, _latency_row)
    finally:
        if was_enabled:
            gc.enable()
        report.done()
    result["method"] = {
        "unroll": UNROLL,
        "copies": COPIES,
        "baseline": BASELINE,
        "baseline_ns": baseline,
        "sample_time_s": m.sample_time,
        "rounds": m.rounds,
        "latency_rounds": m.latency_rounds,
        "timer": "time.perf_counter_ns",
        "description": (
            "call figures are per statement with the empty loop's cost subtracted; "
            "min and median over interleaved rounds; noise = interquartile range of the raw "
            "per-statement times / net min; ratio = net min / the reference's net min"),
    }
    result["rows"] = calls + latency + pipeline["rows"]
    result["pipeline"] = {"unavailable": pipeline["unavailable"],
                          "summary": pipeline["summary"]}
    result["elapsed_s"] = time.perf_counter() - t0
    return result


def _fmt_time(ns: float | None) -> str:
    if ns is None:
        return "-"
    a = abs(ns)
    if a >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if a >= 1e4:
        return f"{ns / 1e3:.1f} us"
    if a >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.2f} ns"


def _fmt_ratio(r: float | None, target: float | None = None) -> str:
    if r is None:
        return "-"
    text = f"{r:.2f}x"
    if target is not None and float(text[:-1]) == target and r != target:
        text = f"{r:.3f}x"  # the side of the target it falls on
    return text


def _fmt_noise(n: float | None) -> str:
    return "-" if n is None else f"{100 * n:.0f}%"


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]


def format_text(result: dict[str, Any]) -> str:
    jit = result["jit"]["detail"]
    method = result["method"]
    out = [
        f"staticcall {result['staticcall']} bench ({result['mode']} run, "
        f"{result['elapsed_s']:.1f} s)",
        f"interpreter: {result['implementation']} {result['version']}  {result['interpreter']}",
        f"version:     {result['version_full']}",
        f"JIT:         {jit}",
        f"rewriting:   {result['rewriting']}"
        + ("   (debug build)" if result.get("debug_build") else ""),
        f"machine:     {result['platform']}, {result['cpus']} CPUs"
        + (f", load average {result['load_average'][0]:.2f} at the start"
           if result.get("load_average") else ""),
        "",
        f"Calls: ns per call with the empty loop's cost ({method['baseline_ns']:.2f} ns per "
        f"statement) subtracted;",
        f"min and median over {method['rounds']} interleaved rounds, from the faster of "
        f"{method['copies']} copies of each loop;",
        "noise = interquartile range / min; ratio = min / the reference's min; "
        "delta = min - the reference's min.",
        "",
    ]
    ids = {r["id"]: r for r in result["rows"]}
    call_rows = []
    for r in result["rows"]:
        if r["kind"] != "call":
            continue
        met = "-" if r["target"] is None else ("n/a" if r["met"] is None
                                                else ("yes" if r["met"] else "NO"))
        ref = r["reference"] or "-"
        call_rows.append([
            r["id"], r["label"], f"{r['ns_min']:.2f}", f"{r['ns_median']:.2f}",
            _fmt_noise(r["noise"]), ref if ref in ids else "-",
            _fmt_ratio(r["ratio"], r["target"]),
            "-" if r["delta_ns"] is None else f"{r['delta_ns']:+.2f}",
            "-" if r["target"] is None else f"<= {r['target']:g}x", met,
        ])
    out += _table(["scenario", "what", "ns/call", "median", "noise", "reference", "ratio",
                   "delta", "target", "met"], call_rows, {2, 3, 4, 6, 7})
    out += ["", f"Updates and decoration: time per operation, min and median over "
            f"{method['latency_rounds']} interleaved rounds.", ""]
    lat_rows = []
    for r in result["rows"]:
        if r["kind"] in ("call", "pipeline", "import"):
            continue
        extra = ""
        if r["kind"] == "update":
            extra = f"{r.get('other_sites', 0):,}"
        lat_rows.append([r["id"], r["label"], _fmt_time(r["ns_min"]),
                         _fmt_time(r["ns_median"]), _fmt_noise(r["noise"]), extra or "-"])
    out += _table(["scenario", "what", "min", "median", "noise", "other sites"], lat_rows,
                  {2, 3, 4, 5})
    imports = [r for r in result["rows"] if r["kind"] == "import"]
    if imports:
        from . import bench_packages

        out += ["", "Whole-package processing at import: ns per import of email's 29 modules, "
                "in fresh interpreters;", "min and median over "
                f"{imports[0]['rounds']} interleaved rounds (see staticcall.tools."
                "bench_packages).", ""]
        out += bench_packages.format_rows(imports, _fmt_time, _table)
    out += pipeline_lines(result)
    targets = [r for r in result["rows"] if r["target"] is not None]
    missed = [r for r in targets if r["met"] is False]
    unknown = [r for r in targets if r["met"] is None]
    out.append("")
    out.append(f"targets met: {sum(1 for r in targets if r['met'])} of {len(targets)}"
               + (f"; missed: {', '.join(r['id'] for r in missed)}" if missed else "")
               + (f"; not measurable (the reference costs no measurable time over the "
                  f"empty loop): {', '.join(r['id'] for r in unknown)}" if unknown else ""))
    return "\n".join(out) + "\n"


def pipeline_lines(result: dict[str, Any]) -> list[str]:
    rows = [r for r in result["rows"] if r["kind"] == "pipeline"]
    table = [[r["id"], r["label"], f"{r['ns_min']:.1f}", f"{r['ns_median']:.1f}",
              _fmt_noise(r["noise"]), _fmt_ratio(r["ratio"]),
              "-" if r.get("delta_ns") is None else f"{r['delta_ns']:+.1f}"] for r in rows]
    table += [[f"pipeline_{way}", f"request pipeline: {WAYS[way]}", "unavailable", "-", "-",
               "-", why] for way, why in result["pipeline"]["unavailable"].items()]
    return (["", "A request pipeline (a NULL trace hook, a RET0 feature flag, a pluggable "
             "serializer): ns per request,", "each way against static calls "
             "(tools/bench_pipeline.py).", ""]
            + _table(["scenario", "what", "ns/request", "median", "noise", "ratio", "delta"],
                     table, {2, 3, 4, 5})
            + ["", result["pipeline"]["summary"]])


def format_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, sort_keys=False) + "\n"


def main(json_output: bool = False, quick: bool = False, tiny: bool = False,
         out: TextIO | None = None, err: TextIO | None = None,
         plot: str | None = None) -> int:
    """Run, print the table (or JSON), and with ``plot`` draw the chart into that file
    (matplotlib is checked for first, so that a missing one fails before the run)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if plot is not None:
        from .plot import check_target, require_matplotlib

        require_matplotlib()
        check_target(plot)
    mode = "tiny" if tiny else ("quick" if quick else "full")
    result = run(mode, progress=err)
    out.write(format_json(result) if json_output else format_text(result))
    out.flush()
    if plot is not None:
        from .plot import draw

        err.write(f"staticcall bench: chart written to {draw(result, plot)}\n")
    return 0
