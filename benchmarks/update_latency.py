#!/usr/bin/env python3
"""How long static_call_update() takes, by the number of sites it retargets.

    python benchmarks/update_latency.py [--quick] [--repeat N] [--sites-per-function N]
                                        [--profile SITES] [--json]

For a key with 1, 10, 100, 1000 and 10000 sites (decorated functions generated with
exec), and for a key with 1 site while 10000 sites of other keys exist, it times
updates between two function targets (call -> call, the common case) and between a
function and RET0 (a shape change), and prints the median time per update in
microseconds. Targets: 10000 sites under 30 ms; one site under 100 us whatever other
keys exist.

``--profile SITES`` runs cProfile over updates of the key with that many sites and
prints where the time goes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from typing import Any, Callable

import staticcall
from staticcall import (
    define_static_call_null,
    static_call,
    static_call_return0,
    static_call_sites,
    static_call_update,
    static_calls,
)

SIZES = [1, 10, 100, 1000, 10000]
OTHER_SITES = 10000
TARGET_10K_MS = 30.0
TARGET_1_US = 100.0


def target_a(x: Any) -> Any:
    return ("a", x)


def target_b(x: Any) -> Any:
    return ("b", x)


def make_sites(key: Any, count: int, per_function: int, tag: str) -> list[Callable[..., Any]]:
    """``count`` sites of ``key`` in decorated functions of ``per_function`` sites each."""
    lines: list[str] = []
    names: list[str] = []
    made = 0
    i = 0
    while made < count:
        n = min(per_function, count - made)
        name = f"f_{tag}_{i}"
        body = ", ".join(["static_call(K)(x)"] * n)
        lines.append(f"@static_calls\ndef {name}(x):\n    return ({body},)\n")
        names.append(name)
        made += n
        i += 1
    ns: dict[str, Any] = {"K": key, "static_call": static_call, "static_calls": static_calls}
    exec(compile("\n".join(lines), f"<update_latency {tag}>", "exec"), ns)
    return [ns[n] for n in names]


def time_updates(key: Any, pair: tuple[Any, Any], repeat: int,
                 batch: int) -> tuple[list[float], list[float]]:
    """Microseconds per update, one value per batch of ``batch`` updates: wall-clock
    time, and this thread's CPU time (which other processes on a busy machine do not
    inflate)."""
    wall, cpu = [], []
    a, b = pair
    static_call_update(key, a)
    gc_was = gc.isenabled()
    gc.collect()
    gc.disable()
    n = 2 * (batch // 2)
    try:
        for _ in range(repeat):
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            for _ in range(batch // 2):
                static_call_update(key, b)
                static_call_update(key, a)
            t1 = time.perf_counter_ns()
            c1 = time.thread_time_ns()
            wall.append((t1 - t0) / 1000 / n)
            cpu.append((c1 - c0) / 1000 / n)
    finally:
        if gc_was:
            gc.enable()
    return wall, cpu


def batch_for(sites: int) -> int:
    return max(2, min(200, 20000 // max(sites, 1)))


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    keep: list[Any] = []          # keeps the generated functions (and their sites) alive
    sizes = [s for s in SIZES if not args.quick or s <= 1000]

    def measure(label: str, key: Any, sites: int, fns: list[Any], target: float | None) -> None:
        assert len(static_call_sites(key)) == sites, (len(static_call_sites(key)), sites)
        batch = batch_for(sites)
        call, call_cpu = time_updates(key, (target_a, target_b), args.repeat, batch)
        shape, shape_cpu = time_updates(key, (target_a, static_call_return0), args.repeat,
                                        batch)
        # sanity: the updates reach the sites
        static_call_update(key, target_b)
        assert set(fns[0](1)) == set(fns[-1](1)) == {("b", 1)}
        rows.append({
            "case": label, "sites": sites,
            "call_us": statistics.median(call), "call_min_us": min(call),
            "shape_us": statistics.median(shape), "shape_min_us": min(shape),
            "call_cpu_us": statistics.median(call_cpu),
            "shape_cpu_us": statistics.median(shape_cpu),
            "target_us": target,
        })

    for n in sizes:
        key = define_static_call_null(name=f"lat{n}")
        static_call_update(key, target_a)
        fns = make_sites(key, n, args.sites_per_function, f"n{n}")
        keep.append(fns)
        target = TARGET_10K_MS * 1000 if n == 10000 else (TARGET_1_US if n == 1 else None)
        measure(f"{n} sites", key, n, fns, target)
        if n >= 1000:
            del fns, keep[-1]
            gc.collect()

    # one site while many sites of other keys exist
    others = max(s for s in sizes) if args.quick else OTHER_SITES
    other_keys = [define_static_call_null(name=f"other{i}") for i in range(10)]
    for i, k in enumerate(other_keys):
        static_call_update(k, target_a)
        keep.append(make_sites(k, others // 10, args.sites_per_function, f"o{i}"))
    key = define_static_call_null(name="lonely")
    static_call_update(key, target_a)
    fns = make_sites(key, 1, 1, "lonely")
    keep.append(fns)
    measure(f"1 site, {others} other sites", key, 1, fns, TARGET_1_US)
    del keep
    return rows


def profile(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    key = define_static_call_null(name="prof")
    static_call_update(key, target_a)
    fns = make_sites(key, args.profile, args.sites_per_function, "prof")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(10):
        static_call_update(key, target_b)
        static_call_update(key, target_a)
        static_call_update(key, static_call_return0)
        static_call_update(key, target_a)
    prof.disable()
    del fns
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def describe() -> str:
    jit = getattr(sys, "_jit", None)
    jit_on = bool(jit and jit.is_enabled())
    from staticcall import _patch

    mode = "inline" if _patch.unsupported_reason() is None else "trampoline"
    return (f"Python {sys.version.split()[0]} ({sys.implementation.name}"
            f"{', debug' if hasattr(sys, 'gettotalrefcount') else ''}), "
            f"JIT {'on' if jit_on else 'off'}, staticcall {staticcall.__version__} {mode} mode")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="sizes up to 1000, fewer repeats")
    p.add_argument("--repeat", type=int, default=None, help="batches per case (default 15)")
    p.add_argument("--sites-per-function", type=int, default=1)
    p.add_argument("--profile", type=int, metavar="SITES", default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.repeat is None:
        args.repeat = 5 if args.quick else 15
    if args.profile:
        profile(args)
        return 0
    rows = run(args)
    if args.json:
        json.dump({"python": describe(), "rows": rows}, sys.stdout, indent=2)
        print()
        return 0
    print(describe())
    print(f"median of {args.repeat} batches; {args.sites_per_function} site(s) per function; "
          f"PYTHON_JIT={os.environ.get('PYTHON_JIT', '')!r}")
    print()
    print("microseconds per update: wall-clock median (min) over the batches, and the")
    print("median CPU time of the updating thread (judged against the target: a busy")
    print("machine inflates wall-clock time, not CPU time)")
    print(f"{'case':<28} {'call -> call':>20} {'cpu':>9} {'call <-> RET0':>20} {'cpu':>9}"
          f" {'target':>7}  ok")
    failed = False
    for r in rows:
        tgt = r["target_us"]
        worst = max(r["call_cpu_us"], r["shape_cpu_us"])
        ok = "" if tgt is None else ("yes" if worst < tgt else "NO")
        failed |= ok == "NO"
        call = f"{r['call_us']:.1f} ({r['call_min_us']:.1f})"
        shape = f"{r['shape_us']:.1f} ({r['shape_min_us']:.1f})"
        print(f"{r['case']:<28} {call:>20} {r['call_cpu_us']:>9.1f} {shape:>20} "
              f"{r['shape_cpu_us']:>9.1f} {'' if tgt is None else f'{tgt:.0f}':>7}  {ok}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
