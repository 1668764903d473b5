"""Ratios and targets from a pyperf result file of benchmarks/bench_calls.py.

    python benchmarks/ratios.py results.json [other.json ...]

For each file: every call scenario's median and minimum with the empty loop
(``call_baseline``) subtracted, its ratio to its reference scenario and the project's
target, as ``staticcall bench`` prints them.
"""

from __future__ import annotations

import sys

import pyperf

from staticcall.tools import bench as _bench


def table(path: str) -> str:
    suite = pyperf.BenchmarkSuite.load(path)
    by_name = {b.get_name(): b for b in suite.get_benchmarks()}
    meta = suite.get_metadata()

    def ns(name: str, stat: str) -> float | None:
        bench = by_name.get(name)
        if bench is None:
            return None
        values = bench.get_values()
        return 1e9 * (bench.median() if stat == "median" else min(values))

    lines = [f"{path}: {meta.get('python_implementation', '?')} "
             f"{meta.get('python_version', '?')}, JIT {meta.get('staticcall_jit', '?')}",
             f"{'scenario':<24} {'median ns':>9} {'min ns':>9} {'reference':<16} "
             f"{'ratio':>7} {'target':>8}  met"]
    base = {stat: ns("call_baseline", stat) for stat in ("median", "min")}
    net: dict[str, dict[str, float]] = {}
    for s in _bench.SCENARIOS:
        row = {}
        for stat in ("median", "min"):
            v = ns(f"call_{s.id}", stat)
            if v is not None and base[stat] is not None:
                row[stat] = v if s.id == _bench.BASELINE else v - base[stat]  # type: ignore[operator]
        if row:
            net[s.id] = row
    for s in _bench.SCENARIOS:
        if s.id not in net:
            continue
        r = net[s.id]
        ref = net.get(s.reference or "")
        ratio = None
        if ref and ref.get("median", 0) > 0.05:
            ratio = max(r["median"], 0.0) / ref["median"]
        met = "-" if s.target is None or ratio is None else ("yes" if ratio <= s.target else "NO")
        lines.append(f"{s.id:<24} {r.get('median', float('nan')):9.2f} "
                     f"{r.get('min', float('nan')):9.2f} {(s.reference if ref else '-'):<16} "
                     f"{'-' if ratio is None else f'{ratio:.2f}x':>7} "
                     f"{'-' if s.target is None else f'<= {s.target:g}x':>8}  {met}")
    for name in sorted(n for n in by_name if n.startswith("decorate_")):
        lines.append(f"{name:<24} {ns(name, 'median') / 1e3:9.1f} us per function")  # type: ignore[operator]
    lines.append("ratio = median / the reference's median, the empty loop subtracted from both")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print("\n\n".join(table(p) for p in argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
