"""A tracepoint statement the compiler copies (a ``finally`` body runs on the normal and
the exceptional path) skips its arguments on every path or on none."""

from __future__ import annotations

from typing import Any

from live_helpers import build
from staticcall import define_tracepoint, static_call_sites


def item(*args: Any) -> None: ...


def test_every_copy_of_a_statement_shares_one_fate() -> None:
    tp = define_tracepoint(item, name="tp_finally")
    log: list[Any] = []
    ns = build("""
@static_calls
def f(x):
    try:
        pass
    finally:
        TP((num(note(x)) < num(x) <= num(x)), (x if x else x))
""", TP=tp, note=lambda v: log.append(v) or v, num=lambda v: v)
    sites = static_call_sites(tp)
    assert len(sites) == 2
    assert len({s.reason is None for s in sites}) == 1, sites
    ns["f"](5)
    assert log in ([], [5])
