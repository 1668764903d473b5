"""The timing primitives of ``staticcall bench``: loops generated from a statement, run a
calibrated number of times, sampled round-robin, summarised by quantiles."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, TextIO

#: statements per loop iteration, to amortise the loop's own cost
UNROLL = 10


def loop_source(name: str, statement: str, unroll: int = UNROLL) -> str:
    body = "".join(f"        {statement}\n" for _ in range(unroll))
    return (f"def {name}(n):\n"
            f"    x = 1\n"
            f"    y = None\n"
            f"    for _ in range(n):\n"
            f"{body}"
            f"    return y\n")


now = time.perf_counter_ns


def _time_loop(func: Callable[[int], Any], n: int) -> int:
    t0 = now()
    func(n)
    return now() - t0


def loop_sampler(func: Callable[[int], Any], n: int) -> Callable[[], int]:
    def sample() -> int:
        return _time_loop(func, n)

    return sample


def calibrate(func: Callable[[int], Any], sample_time: float, start: int = 16) -> int:
    """Loop count that makes one call of ``func(n)`` last about ``sample_time``."""
    goal = sample_time * 1e9
    n = start
    while True:
        elapsed = _time_loop(func, n)
        if elapsed >= goal / 4 or n >= 1 << 30:
            break
        n *= 4 if elapsed < goal / 64 else 2
    return max(1, int(n * goal / max(elapsed, 1)))


def quantiles(values: list[float]) -> tuple[float, float, float, float]:
    """min, first quartile, median, third quartile."""
    s = sorted(values)
    if len(s) == 1:
        return s[0], s[0], s[0], s[0]
    q = statistics.quantiles(s, n=4, method="inclusive")
    return s[0], q[0], statistics.median(s), q[2]


class Progress:
    """One progress line on stderr (rewritten in place on a terminal)."""

    def __init__(self, stream: TextIO | None, enabled: bool = True) -> None:
        self.stream = stream if enabled else None
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.last = ""
        self.width = 0
        self.t0 = time.monotonic()

    def __call__(self, text: str) -> None:
        if self.stream is None:
            return
        line = f"staticcall bench: {text}  [{time.monotonic() - self.t0:.0f}s]"
        if self.tty:
            pad = " " * max(0, self.width - len(line))
            self.stream.write("\r" + line + pad)
            self.width = len(line)
            self.stream.flush()
        elif text.split(",")[0] != self.last:   # one line per phase when not a terminal
            self.stream.write(line + "\n")
            self.stream.flush()
        self.last = text.split(",")[0]

    def done(self) -> None:
        if self.stream is not None and self.tty:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def run_rounds(cases: list[tuple[str, Callable[[], int], int]], rounds: int,
                progress: Callable[[str], None], what: str) -> dict[str, list[float]]:
    """Round-robin samples: ``cases`` are ``(id, sample, ops)``; returns ns per op."""
    out: dict[str, list[float]] = {cid: [] for cid, _, _ in cases}
    k = len(cases)
    for r in range(rounds):
        progress(f"{what}, round {r + 1}/{rounds}")
        shift = r % k if k else 0
        for cid, sample, ops in cases[shift:] + cases[:shift]:
            out[cid].append(sample() / ops)
    return out
