"""A tracepoint whose argument is an f-string: free until a probe is attached.

``request_done(f"...")`` written as a statement in an ``@static_calls`` function is a
tracepoint site. While no probe is attached the rewritten code jumps over the whole
statement: the f-string is never built (``describe`` below counts how often it runs).
Attaching one probe turns the site into a direct call of that probe; attaching a second
turns it into a direct call of one generated function that calls both, in order.

The last part times the disabled tracepoint next to the usual Python idiom,
``if hook is not None: hook(f"...")``, with ``timeit``: printed, never asserted (timings
depend on the machine).

Run: python examples/tracepoints.py
"""

from __future__ import annotations

import functools
import os
import timeit

from staticcall import (
    define_tracepoint,
    register_probe,
    static_call_sites,
    static_calls,
    tracepoint_enabled,
    tracepoint_probes,
    unregister_probe,
)


def request_done(message: str) -> None:
    """One request was handled; ``message`` says which and how."""


request_done_tp = define_tracepoint(request_done, name="request_done")

evaluated = 0  # how many times a message was built


def describe(n: int) -> str:
    global evaluated
    evaluated += 1
    return f"#{n}"


@static_calls
def handle(requests: range) -> int:
    total = 0
    for n in requests:
        total += n * 2
        request_done_tp(f"request {describe(n)} -> {n * 2}")
    return total


# The usual idiom, for comparison: a global hook that is None while tracing is off.
hook = None


def handle_with_hook(requests: range) -> int:
    total = 0
    for n in requests:
        total += n * 2
        if hook is not None:
            hook(f"request {describe(n)} -> {n * 2}")
    return total


def handle_plain(requests: range) -> int:
    total = 0
    for n in requests:
        total += n * 2
    return total


first: list[str] = []
second: list[str] = []


def to_first(message: str) -> None:
    first.append(message)


def to_second(message: str) -> None:
    second.append(message)


def show(label: str) -> None:
    names = [p.__name__ for p in tracepoint_probes(request_done_tp)]
    states = sorted({s.state for s in static_call_sites(request_done_tp)})
    sites = ",".join(states) or "none"
    print(f"{label}: enabled={tracepoint_enabled(request_done_tp)} probes={names} "
          f"sites={sites}")


def run(label: str) -> None:
    global evaluated
    evaluated = 0
    first.clear()
    second.clear()
    total = handle(range(5))
    print(f"{label}: total={total} messages built={evaluated} "
          f"first={len(first)} second={len(second)}")


def timing() -> None:
    requests = range(1000)
    number, repeat = 100, 9
    loops = {"plain": handle_plain, "tracepoint": handle, "hook": handle_with_hook}
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(repeat):  # interleaved, so that a busy moment hits all three alike
        for name, loop in loops.items():
            t = timeit.timeit(functools.partial(loop, requests), number=number)
            best[name] = min(best[name], t)
    per = number * len(requests) / 1e9
    t_plain, t_tp, t_hook = best["plain"], best["tracepoint"], best["hook"]

    def ns(t: float) -> str:
        return f"{t / per:6.1f} ns/iteration"

    print(f"timing, no probe attached (best of {repeat} runs of {number} x "
          f"{len(requests)} iterations; printed, not checked):")
    print(f"  loop without any tracing:            {ns(t_plain)}")
    print(f"  tracepoint site (no probe):          {ns(t_tp)}  "
          f"{t_tp / t_plain:.2f}x the plain loop")
    print(f"  if hook is not None: hook(f'...'):   {ns(t_hook)}  "
          f"{t_hook / t_plain:.2f}x the plain loop")
    print(f"  tracepoint / hook idiom:             {t_tp / t_hook:.2f}x")


def main() -> None:
    for site in static_call_sites(request_done_tp):
        print(f"site in {site.function} at {os.path.basename(site.filename)}:{site.lineno}: "
              f"kind={site.kind}")

    show("no probe")
    run("no probe")

    register_probe(request_done_tp, to_first)
    show("one probe")
    run("one probe")
    print(f"one probe: first message={first[0]!r}")

    register_probe(request_done_tp, to_second)
    show("two probes")
    run("two probes")
    print(f"two probes: last messages={first[-1]!r} {second[-1]!r}")

    unregister_probe(request_done_tp, to_first)
    unregister_probe(request_done_tp, to_second)
    show("detached")
    run("detached")

    timing()


if __name__ == "__main__":
    main()
