"""``scripts/soak_pair.py``, the two programs ``scripts/soak --baseline`` compares, runs on
every interpreter and sees no stale result: each call started after the final update (or
rebinding) returned reaches the final target.

The worker threads run one loop: one thread where CPython's JIT tracer race (gh-157740)
would crash the interpreter (``loop_threads``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from live_helpers import TIMEOUT, loop_threads

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "soak_pair.py"


@pytest.mark.parametrize("targets", ["functions", "shapes"])
@pytest.mark.parametrize("mode", ["library", "baseline"])
def test_soak_pair_sees_no_stale_result(mode: str, targets: str) -> None:
    cmd = [sys.executable, str(SCRIPT), "--mode", mode, "--targets", targets, "--iterations", "300",
           "--threads", str(loop_threads(4)), "--min-seconds", "0.05", "--after-final", "50"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT * 4)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"soak_pair: mode={mode} stale=0 " in r.stdout, r.stdout
