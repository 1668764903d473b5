"""A tracing hook that costs (almost) nothing until it is switched on.

The hot loop calls the hook through ``static_call_cond``. While the key is NULL, the
rewritten site evaluates the hook's arguments and drops them: no call, no frame. Turning
tracing on is one ``static_call_update``; turning it off is another. The update reaches
the loop even while it is running: the hook below is enabled from inside the loop.

Run: python examples/tracing_hook.py
"""

from __future__ import annotations

import os

from staticcall import (
    define_static_call_null,
    static_call_cond,
    static_call_query,
    static_call_sites,
    static_call_update,
    static_calls,
)


def _trace_prototype(index: int, value: int) -> None:
    """Called once per item with its position and value."""


trace_hook = define_static_call_null(_trace_prototype, name="trace_hook")

events: list[tuple[int, int]] = []


def record(index: int, value: int) -> None:
    events.append((index, value))


@static_calls
def sum_of_squares(items: list[int], enable_at: int | None = None) -> int:
    total = 0
    for index, value in enumerate(items):
        if index == enable_at:
            # Anything may switch tracing on -- here, the loop itself, half way through.
            static_call_update(trace_hook, record)
        static_call_cond(trace_hook)(index, value)
        total += value * value
    return total


def show_sites() -> None:
    for site in static_call_sites(trace_hook):
        where = f"{os.path.basename(site.filename)}:{site.lineno}"
        print(f"  site in {site.function} at {where}: state={site.state}")


def main() -> None:
    items = list(range(1, 11))

    print(f"tracing off: target={static_call_query(trace_hook)}")
    show_sites()
    total = sum_of_squares(items)
    print(f"tracing off: total={total} events={len(events)}")

    static_call_update(trace_hook, record)
    print(f"tracing on: target={getattr(static_call_query(trace_hook), '__name__', None)}")
    show_sites()
    total = sum_of_squares(items)
    print(f"tracing on: total={total} events={len(events)} first={events[0]} last={events[-1]}")

    static_call_update(trace_hook, None)
    events.clear()
    total = sum_of_squares(items, enable_at=6)
    print(f"enabled inside the running loop at item 6: traced items "
          f"{[index for index, _ in events]}")

    static_call_update(trace_hook, None)
    events.clear()
    total = sum_of_squares(items)
    print(f"tracing off again: target={static_call_query(trace_hook)}")
    show_sites()
    print(f"tracing off again: total={total} events={len(events)}")


if __name__ == "__main__":
    main()
