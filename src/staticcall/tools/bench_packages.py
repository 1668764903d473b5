"""``staticcall bench``: what whole-package processing costs at import time.

The package is a copy of the standard library's ``email`` (29 modules, compiled to
``.pyc`` files) in which every
module ends by turning each of its functions into a key (the module's global becomes
``define_static_call(func)``), so that each call between its functions is a site: 166
keys, about 500 sites. Each sample is a fresh interpreter that imports the copy once
(which also imports everything ``email`` needs, and writes the copy's ``.pyc`` files),
removes ``email`` and its submodules from ``sys.modules``, and times importing them all
again: fresh module objects, each function made and processed anew. Three ways are
interleaved, rotating their order every round:

- ``plain``: an unchanged copy of ``email``;
- ``keys``: the copy whose functions are keys, unprocessed (the reference);
- ``processed``: the same with ``staticcall.install("email")``: the target is at most
  1.3x ``keys``. Processing pre-scans every function's code and arranges to rewrite each
  candidate at its first call; a last row times that rewriting for all of them at once
  (``flush``), the work a program spreads over the first calls it makes.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

WAYS = ("plain", "keys", "processed")
TARGET = 1.3

#: appended to every module of the "keys" copy
EPILOGUE = """

def _staticcall_bench_keys():
    import types
    from staticcall import define_static_call
    g = globals()
    for name, value in list(g.items()):
        if (type(value) is types.FunctionType and value.__globals__ is g
                and not name.startswith("__")):
            g[name] = define_static_call(value, name=name, prototype=...)


_staticcall_bench_keys()
del _staticcall_bench_keys
"""

CHILD = r'''
import importlib, json, pkgutil, sys, time
sys.path.insert(0, sys.argv[2])
import staticcall
from staticcall import _packages

way = sys.argv[1]
if way == "processed":
    staticcall.install("email")
import email
NAMES = ["email"] + sorted(m.name for m in pkgutil.walk_packages(email.__path__, "email."))


def import_all():
    for name in [m for m in sys.modules if m == "email" or m.startswith("email.")]:
        del sys.modules[name]
    t0 = time.perf_counter_ns()
    for name in NAMES:
        importlib.import_module(name)
    return time.perf_counter_ns() - t0


import_all()  # what email imports, imported once
ns = import_all()
out = {"ns": ns, "modules": len(NAMES)}
if way == "processed":
    out["waiting"] = sum(1 for u in list(_packages.WAITING) if u.state == _packages.PENDING
                         and u.root.co_filename.startswith(email.__path__[0]))
    t0 = time.perf_counter_ns()
    _packages.flush()
    out["flush_ns"] = time.perf_counter_ns() - t0
    out["sites"] = sum(1 for s in staticcall.static_call_sites()
                       if s.filename.startswith(email.__path__[0]))
print(json.dumps(out))
'''


def make_copies(folder: Path) -> dict[str, Path]:
    """Two copies of ``email`` under ``folder``: ``plain/email`` and ``keys/email``."""
    import email

    source = Path(email.__file__).parent
    out = {}
    for way in ("plain", "keys"):
        dest = folder / way / "email"
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
        if way == "keys":
            for path in dest.rglob("*.py"):
                path.write_text(path.read_text(encoding="utf-8") + EPILOGUE, encoding="utf-8")
        # imports read .pyc files, as they do from the standard library (written here
        # whatever PYTHONDONTWRITEBYTECODE says)
        compileall.compile_dir(str(dest), quiet=1)
        out[way] = folder / way
    out["processed"] = out["keys"]
    return out


def _sample(way: str, path: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "STATICCALL_PACKAGES"}
    proc = subprocess.run([sys.executable, "-c", CHILD, way, str(path)], capture_output=True,
                          text=True, timeout=300, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"staticcall bench: the {way} import sample failed:\n"
                           f"{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


LABELS = {
    "plain": "import email (a copy: 29 modules), as it is",
    "keys": "import email, its functions made keys (unprocessed)",
    "processed": "the same, processed by staticcall.install('email')",
    "flush": "rewrite every processed email function at once (flush)",
}


def measure_imports(rounds: int, progress: Callable[[str], None],
                    make_row: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    """Interleaved samples of each way; rows made with ``make_row(id, label, kind,
    unit, values, ops, rounds, **extra)`` (the bench's latency rows)."""
    samples: dict[str, list[dict[str, Any]]] = {w: [] for w in WAYS}
    with tempfile.TemporaryDirectory(prefix="staticcall-bench-") as tmp:
        paths = make_copies(Path(tmp))
        for r in range(rounds):
            progress(f"import cost, round {r + 1}/{rounds}")
            shift = r % len(WAYS)
            for way in WAYS[shift:] + WAYS[:shift]:
                samples[way].append(_sample(way, paths[way]))
    rows = []
    for way in WAYS:
        values = [float(s["ns"]) for s in samples[way]]
        rows.append(make_row(f"import_email_{way}", LABELS[way], "import", "ns/import",
                             values, 1, rounds, modules=samples[way][0]["modules"]))
    processed = samples["processed"]
    rows.append(make_row("import_email_flush", LABELS["flush"], "import", "ns/flush",
                         [float(s["flush_ns"]) for s in processed], 1, rounds,
                         sites=processed[0]["sites"], waiting=processed[0]["waiting"]))
    by_id = {r["id"]: r for r in rows}
    row, ref = by_id["import_email_processed"], by_id["import_email_keys"]
    row.update(reference=ref["id"], target=TARGET,
               ratio=row["ns_min"] / ref["ns_min"],
               ratio_median=row["ns_median"] / ref["ns_median"],
               raw_ratio=row["ns_min"] / ref["ns_min"],
               delta_ns=row["ns_min"] - ref["ns_min"])
    row["met"] = row["ratio"] <= TARGET
    keys = by_id["import_email_keys"]
    keys.update(reference="import_email_plain",
                ratio=keys["ns_min"] / by_id["import_email_plain"]["ns_min"])
    return rows


def format_rows(rows: list[dict[str, Any]], fmt_time: Callable[[float], str],
                table: Callable[..., list[str]]) -> list[str]:
    """The import rows as a table (ratio and target where there is one)."""
    lines = []
    for r in rows:
        target = "-" if r["target"] is None else f"<= {r['target']:g}x"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
        extra = (f"{r['sites']} sites, {r['waiting']} functions waited"
                 if "sites" in r else "")
        lines.append([r["id"], r["label"], fmt_time(r["ns_min"]), fmt_time(r["ns_median"]),
                      r["reference"] or "-", ratio, target, met, extra])
    return table(["scenario", "what", "min", "median", "reference", "ratio", "target",
                  "met", "notes"], lines, {2, 3, 5})
