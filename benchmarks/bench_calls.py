"""The call scenarios of ``staticcall bench``, for pyperf.

Every scenario of ``staticcall bench`` that measures a call (and the decoration cost)
runs here as one pyperf benchmark, built from the same code (``staticcall.tools.bench``):
the same generated loops, the same targets, keys and decorated functions. pyperf adds
what the in-process command cannot: worker processes, warm-ups, its own statistics and
system checks (``python -m pyperf system tune``).

    python benchmarks/bench_calls.py -o results.json
    python benchmarks/ratios.py results.json

Benchmark names are ``call_<scenario>`` (ns per statement, loop included: the
``call_baseline`` benchmark is the empty loop to subtract) and
``decorate_<n>_sites`` (one decoration of a fresh function). See benchmarks/README.md.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import pyperf

from staticcall.tools import bench as _bench


def time_loop(loops: int, func: Callable[[int], Any]) -> float:
    t0 = pyperf.perf_counter()
    func(loops)
    return pyperf.perf_counter() - t0


def time_repeat(loops: int, once: Callable[[], Any]) -> float:
    t0 = pyperf.perf_counter()
    for _ in range(loops):
        once()
    return pyperf.perf_counter() - t0


def add_metadata(runner: pyperf.Runner) -> None:
    info = _bench.header_info(_bench.MODES["quick"])
    runner.metadata["staticcall_version"] = info["staticcall"]
    runner.metadata["staticcall_rewriting"] = info["rewriting"]
    runner.metadata["staticcall_jit"] = info["jit"]["detail"]


def main() -> None:
    runner = pyperf.Runner()
    add_metadata(runner)
    env, loops = _bench.build_call_loops()
    for scenario, func in loops:
        runner.bench_time_func(f"call_{scenario.id}", time_loop, func,
                               inner_loops=_bench.UNROLL,
                               metadata={"description": scenario.label,
                                         "statement": scenario.statement})
    for sites in (0, _bench.MODES["full"].decorate_sites):
        once = _bench.make_decoration_case(sites, env)
        runner.bench_time_func(f"decorate_{sites}_sites", time_repeat, once,
                               metadata={"description": f"decorate a function with "
                                                        f"{sites} sites"})


if __name__ == "__main__":
    sys.exit(main())
