"""``staticcall bench``: a request pipeline end to end, written each way people write it.

One request handler with three extension points, all in their common default state:

- a trace hook that nothing is attached to (NULL),
- a feature flag whose hook returns ``0`` while the feature is off (RET0),
- a pluggable serializer (a function target).

It is written five ways: static calls in decorated code, globals tested with ``if``,
attributes of a settings object, a dict registry, and pluggy's hook calls (pluggy is
optional: without it that row is reported as unavailable). Every way handles the same
request and returns the same string. The loops are measured interleaved, as the call
scenarios are, and the figures are per request with the empty loop's cost subtracted.
"""

from __future__ import annotations

import builtins
import importlib.util
from typing import Any, Callable

from .timing import calibrate, loop_sampler, loop_source, quantiles, run_rounds

#: way -> what it is
WAYS = {
    "static": "static calls, decorated code",
    "global_if": "globals tested with if",
    "settings": "attributes of a settings object",
    "registry": "a dict registry",
    "pluggy": "pluggy hook calls",
}
REFERENCE = "static"
PIPELINE_UNROLL = 4

ENV_SOURCE = '''
from staticcall import (
    define_static_call, define_static_call_null, define_static_call_ret0, static_call,
    static_call_cond, static_calls,
)

REQ = ("/items/42", 21)

def trace_prototype(req):
    pass

def bonus_prototype(req):
    return 0

def to_text(path, total):
    return path + " " + str(total)

# static calls: the trace hook is NULL, the feature flag's hook RET0
k_trace = define_static_call_null(trace_prototype, name="trace")
k_bonus = define_static_call_ret0(bonus_prototype, name="bonus")
k_serialize = define_static_call(to_text, name="serialize")

@static_calls
def handle_static(req):
    static_call_cond(k_trace)(req)
    total = req[1] * 2 + static_call(k_bonus)(req)
    return static_call(k_serialize)(req[0], total)

# globals and if
TRACE = None
BONUS_ON = False
def bonus(req):
    return 1
SERIALIZE = to_text

def handle_global_if(req):
    if TRACE is not None:
        TRACE(req)
    total = req[1] * 2 + (bonus(req) if BONUS_ON else 0)
    return SERIALIZE(req[0], total)

# a settings object
class Settings:
    def __init__(self):
        self.trace = None
        self.bonus_on = False
        self.bonus = bonus
        self.serialize = to_text

settings = Settings()

def handle_settings(req):
    if settings.trace is not None:
        settings.trace(req)
    total = req[1] * 2 + (settings.bonus(req) if settings.bonus_on else 0)
    return settings.serialize(req[0], total)

# a dict registry
registry = {"serialize": to_text}

def handle_registry(req):
    trace = registry.get("trace")
    if trace is not None:
        trace(req)
    extra = registry.get("bonus")
    total = req[1] * 2 + (extra(req) if extra is not None else 0)
    return registry["serialize"](req[0], total)
'''

PLUGGY_SOURCE = '''
import pluggy

spec = pluggy.HookspecMarker("benchapp")
impl = pluggy.HookimplMarker("benchapp")

class Spec:
    @spec
    def trace(self, req):
        pass

    @spec
    def bonus(self, req):
        pass

    @spec(firstresult=True)
    def serialize(self, path, total):
        pass

class Serializer:
    @impl
    def serialize(self, path, total):
        return to_text(path, total)

pm = pluggy.PluginManager("benchapp")
pm.add_hookspecs(Spec)
pm.register(Serializer())
hook = pm.hook

def handle_pluggy(req):
    hook.trace(req=req)
    total = req[1] * 2 + sum(hook.bonus(req=req))
    return hook.serialize(path=req[0], total=total)
'''


def pluggy_missing() -> str | None:
    """Why the pluggy row cannot run, or ``None``."""
    try:
        found = importlib.util.find_spec("pluggy") is not None
    except (ImportError, ValueError):
        found = False
    return None if found else "pluggy is not installed (pip install 'staticcall[bench]')"


def make_env() -> tuple[dict[str, Any], dict[str, str]]:
    """The handlers' namespace and the ways that cannot run here, with the reason."""
    env: dict[str, Any] = {"__name__": "_bench_pipeline", "__builtins__": builtins}
    exec(compile(ENV_SOURCE, "<staticcall bench pipeline>", "exec"), env)
    unavailable: dict[str, str] = {}
    why = pluggy_missing()
    if why is None:
        try:
            exec(compile(PLUGGY_SOURCE, "<staticcall bench pipeline pluggy>", "exec"), env)
        except ImportError as exc:
            why = f"pluggy cannot be imported: {exc}"
    if why is not None:
        unavailable["pluggy"] = why
    expected = env["handle_static"](env["REQ"])
    for way in WAYS:
        if way not in unavailable:
            got = env[f"handle_{way}"](env["REQ"])
            if got != expected:
                raise AssertionError(f"pipeline {way!r} returned {got!r}, not {expected!r}")
    return env, unavailable


def _loops(env: dict[str, Any], ways: list[str]) -> dict[str, Callable[[int], Any]]:
    statements = {"empty": "y = x", **{w: f"y = handle_{w}(REQ)" for w in ways}}
    loops = {}
    for name, statement in statements.items():
        exec(compile(loop_source(f"pipe_{name}", statement, PIPELINE_UNROLL),
                     f"<staticcall bench pipeline {name}>", "exec"), env)
        loops[name] = env[f"pipe_{name}"]
    return loops


def measure_pipeline(sample_time: float, rounds: int,
                     progress: Callable[[str], None]) -> dict[str, Any]:
    """Rows (ns per request, each against the static-call way), the ways that could not
    run, and the summary line; ``rounds`` interleaved samples of ``sample_time`` s."""
    progress("building the pipeline")
    env, unavailable = make_env()
    ways = [w for w in WAYS if w not in unavailable]
    loops = _loops(env, ways)
    cases = []
    for name, func in loops.items():
        func(16)
        n = calibrate(func, sample_time)
        cases.append((name, loop_sampler(func, n), n * PIPELINE_UNROLL, n))
    raw = run_rounds([(c, s, ops) for c, s, ops, _ in cases], rounds, progress,
                     "measuring the pipeline")
    base_min, _, base_med, _ = quantiles(raw["empty"])
    rows: list[dict[str, Any]] = []
    for name, _, _, n in cases:
        if name == "empty":
            continue
        mn, q1, med, q3 = quantiles(raw[name])
        rows.append({
            "id": f"pipeline_{name}", "label": f"request pipeline: {WAYS[name]}",
            "group": "pipeline", "kind": "pipeline", "unit": "ns/request", "way": name,
            "ns_min": mn - base_min, "ns_median": med - base_med,
            "raw_ns_min": mn, "raw_ns_q1": q1, "raw_ns_median": med, "raw_ns_q3": q3,
            "noise": (q3 - q1) / max(mn - base_min, 1e-9), "reference": None,
            "ratio": None, "target": None, "met": None, "loops": n,
            "unroll": PIPELINE_UNROLL, "rounds": rounds, "samples_ns": raw[name],
        })
    ref = next(r for r in rows if r["way"] == REFERENCE)
    for r in rows:
        if r is not ref:
            r["reference"] = ref["id"]
            r["ratio"] = r["ns_min"] / ref["ns_min"] if ref["ns_min"] > 0 else None
            r["delta_ns"] = r["ns_min"] - ref["ns_min"]
    env.clear()
    return {"rows": rows, "unavailable": unavailable, "summary": summary(rows, unavailable)}


def summary(rows: list[dict[str, Any]], unavailable: dict[str, str]) -> str:
    """One line: what static calls save (or cost) per request against each other way."""
    ref = next(r for r in rows if r["way"] == REFERENCE)
    parts = []
    for r in rows:
        if r is ref:
            continue
        saved = r["ns_min"] - ref["ns_min"]
        parts.append(f"{abs(saved):.0f} ns {'less' if saved >= 0 else 'more'} than "
                     f"{WAYS[r['way']]} ({r['ns_min']:.0f} ns)")
    parts += [f"{WAYS[w]} not measured ({why})" for w, why in unavailable.items()]
    return f"per request, static calls take {ref['ns_min']:.0f} ns: " + ", ".join(parts)
