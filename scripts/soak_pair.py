"""One side of ``scripts/soak --baseline``: worker threads run one loop over a call while the
main thread keeps changing what that call reaches.

``--mode library``: the loop calls a rewritten site, ``static_call(K)(x)``, and the main
thread calls ``static_call_update(K, ...)`` with t1, t2, t3 in turn.
``--mode baseline``: the same without staticcall: the loop calls a plain global ``T(x)``
and the main thread rebinds ``T``.
``--targets shapes``: the changes also change the site's shape: the loop calls
``static_call_cond(K)(x)`` and the targets are t1, NULL (``None``) and RET0 (the baseline:
t1 and functions returning None and 0).

After ``--iterations`` changes the main thread lets the workers run on alone until
``--min-seconds`` have passed since they started (the baseline's changes take almost no
time: this way both modes run the loop in the worker threads for about as long), then makes
a last change, to ``t_final``, and publishes that it returned. Every worker checks each call
it *started* after that: one that still reached another target is a stale result. The
program prints one line, ``soak_pair: mode=... stale=N checked=N ...``, and exits 1 when a
result was stale or a worker failed. Under CPython 3.15's JIT tracer race (gh-157740) it may
instead be killed by SIGSEGV, in both modes: that is what ``scripts/soak --baseline`` counts.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any


def t1(x: int) -> tuple[str, int]:
    return ("t1", x)


def t2(x: int) -> tuple[str, int]:
    return ("t2", x)


def t3(x: int) -> tuple[str, int]:
    return ("t3", x)


def t_final(x: int) -> tuple[str, int]:
    return ("final", x)


def t_none(x: int) -> None:
    return None


def t_ret0(x: int) -> int:
    return 0


TARGETS = (t1, t2, t3)
T = t1  # the baseline's plain global


def baseline_work(n: int, x: int) -> list[Any]:
    acc = []
    for _ in range(n):
        acc.append(T(x))
    return acc


#: The library's loop, as in the reproducer of gh-157740: run with exec() by library mode
#: only, so that the baseline never imports staticcall.
LIBRARY_SOURCE = """
from staticcall import define_static_call, static_call, static_call_cond, static_calls

K = define_static_call(t1, name="soak_pair")

@static_calls
def work(n, x):
    acc = []
    for _ in range(n):
        acc.append(SITE(K)(x))
    return acc
"""


class State:
    def __init__(self) -> None:
        self.final = False           # set once the final change has returned
        self.stop = threading.Event()
        self.stale = 0
        self.checked = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()


def worker(work: Any, state: State, after_final: int) -> None:
    checked = stale = 0
    try:
        while not state.stop.is_set():
            final = state.final      # read before the calls start
            acc = work(10, 0)
            if final:
                checked += len(acc)
                stale += sum(1 for r in acc if r != ("final", 0))
                if checked >= after_final:
                    break
    except BaseException as exc:  # reported by the main thread
        state.errors.append(f"{type(exc).__name__}: {exc}")
    with state.lock:
        state.checked += checked
        state.stale += stale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("library", "baseline"), required=True)
    ap.add_argument("--targets", choices=("functions", "shapes"), default="functions",
                    help="functions: t1, t2, t3; shapes: t1, NULL, RET0 (functions)")
    ap.add_argument("--iterations", type=int, default=3000,
                    help="changes the main thread makes before the final one (3000)")
    ap.add_argument("--threads", type=int, default=4, help="worker threads (4)")
    ap.add_argument("--switch-interval", type=float, default=1e-4,
                    help="sys.setswitchinterval (1e-4)")
    ap.add_argument("--min-seconds", type=float, default=0.5,
                    help="the workers run at least this long before the final change (0.5)")
    ap.add_argument("--after-final", type=int, default=200,
                    help="calls each worker checks after the final change (200)")
    args = ap.parse_args(argv)

    targets: tuple[Any, ...] = TARGETS
    if args.mode == "library":
        from staticcall import static_call_return0, static_call_update

        site = "static_call" if args.targets == "functions" else "static_call_cond"
        ns: dict[str, Any] = {"t1": t1}
        exec(compile(LIBRARY_SOURCE.replace("SITE", site), "<soak_pair library>", "exec"), ns)
        work, key = ns["work"], ns["K"]
        if args.targets == "shapes":
            targets = (t1, None, static_call_return0)

        def change(target: Any) -> None:
            static_call_update(key, target)
    else:
        work = baseline_work
        if args.targets == "shapes":
            targets = (t1, t_none, t_ret0)

        def change(target: Any) -> None:
            global T
            T = target

    state = State()
    sys.setswitchinterval(args.switch_interval)
    threads = [threading.Thread(target=worker, args=(work, state, args.after_final),
                                daemon=True, name=f"soak-worker-{i}")
               for i in range(args.threads)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for i in range(args.iterations):
        change(targets[i % 3])
    changing = time.perf_counter() - t0
    while time.perf_counter() - t0 < args.min_seconds:
        time.sleep(0.01)
    change(t_final)
    state.final = True
    for t in threads:
        t.join(60)
    state.stop.set()
    stuck = [t.name for t in threads if t.is_alive()]
    jit = getattr(sys, "_jit", None)
    print(f"soak_pair: mode={args.mode} stale={state.stale} checked={state.checked} "
          f"targets={args.targets} iterations={args.iterations} threads={args.threads} "
          f"jit={bool(jit and jit.is_enabled())} changing={changing:.2f}s "
          f"total={time.perf_counter() - t0:.2f}s",
          flush=True)
    for e in state.errors:
        print(f"soak_pair: worker failed: {e}", flush=True)
    if stuck:
        print(f"soak_pair: workers still running after 60 s: {stuck}", flush=True)
    return 1 if state.stale or state.errors or stuck else 0


if __name__ == "__main__":
    sys.exit(main())
