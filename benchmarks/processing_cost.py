"""Where whole-package processing's import cost goes: the CPU time of importing a copy of
``email`` (its functions made keys, as in ``staticcall bench``) with and without
``staticcall.install("email")``, and the part of it spent processing modules.

CPU time of the importing thread (``time.thread_time_ns``), not wall time, so that other
work on a shared machine moves the figures less; each sample is a fresh interpreter, and
the minimum over samples is reported::

    python benchmarks/processing_cost.py [-n SAMPLES]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from staticcall.tools.bench_packages import make_copies

CHILD = r'''
import importlib, json, pkgutil, sys, time
sys.path.insert(0, sys.argv[2])
import staticcall
from staticcall import _install

spent = [0]
process_module = _install.process_module


def timed(*args):
    t0 = time.thread_time_ns()
    try:
        return process_module(*args)
    finally:
        spent[0] += time.thread_time_ns() - t0


_install.process_module = timed
if sys.argv[1] == "processed":
    staticcall.install("email")
import email
NAMES = ["email"] + sorted(m.name for m in pkgutil.walk_packages(email.__path__, "email."))


def import_all():
    for name in [m for m in sys.modules if m == "email" or m.startswith("email.")]:
        del sys.modules[name]
    spent[0] = 0
    t0 = time.thread_time_ns()
    for name in NAMES:
        importlib.import_module(name)
    return time.thread_time_ns() - t0, spent[0]


import_all()  # what email imports, imported once; the .pyc files written
print(json.dumps(min(import_all() for _ in range(5))))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--samples", type=int, default=8)
    args = parser.parse_args()
    best: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="staticcall-cost-") as tmp:
        path = make_copies(Path(tmp))["keys"]
        for _ in range(args.samples):
            for way in ("keys", "processed"):
                out = subprocess.run([sys.executable, "-c", CHILD, way, str(path)],
                                     capture_output=True, text=True, check=True)
                total, processing = json.loads(out.stdout.splitlines()[-1])
                if way not in best or total < best[way][0]:
                    best[way] = (total, processing)
    ref, (total, processing) = best["keys"][0], best["processed"]
    print(f"import email, functions made keys:   {ref / 1e6:6.2f} ms CPU")
    print(f"the same, processed:                 {total / 1e6:6.2f} ms CPU "
          f"({total / ref:.2f}x), of which processing modules {processing / 1e6:.2f} ms")


if __name__ == "__main__":
    main()
