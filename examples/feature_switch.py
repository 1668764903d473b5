"""A feature switch as a RET0 key.

``loyalty_discount`` starts as RET0: its rewritten site makes no call at all and yields
the constant ``0`` (the argument is still evaluated, as every static call's arguments
are). Switching the feature on retargets the key to the real function; switching it off
puts ``static_call_return0`` back.

Run: python examples/feature_switch.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from staticcall import (
    define_static_call_ret0,
    static_call,
    static_call_query,
    static_call_return0,
    static_call_sites,
    static_call_update,
    static_calls,
)


@dataclass
class Order:
    customer: str
    cents: int
    orders_before: int


def _discount_prototype(order: Order) -> int:
    """Discount in cents for ``order``."""
    raise NotImplementedError


loyalty_discount = define_static_call_ret0(_discount_prototype, name="loyalty_discount")

calls = 0


def ten_percent_for_regulars(order: Order) -> int:
    global calls
    calls += 1
    return order.cents // 10 if order.orders_before >= 3 else 0


@static_calls
def total(orders: list[Order]) -> int:
    return sum(order.cents - static_call(loyalty_discount)(order) for order in orders)


def describe() -> str:
    target = static_call_query(loyalty_discount)
    name = "RET0" if target is static_call_return0 else getattr(target, "__name__", target)
    states = ",".join(site.state for site in static_call_sites(loyalty_discount))
    return f"target={name} sites={states}"


def main() -> int:
    orders = [Order("ann", 10_000, 5), Order("bob", 2_500, 0), Order("cyd", 4_000, 3)]

    print(f"feature off: {describe()}")
    print(f"feature off: total={total(orders)} discount calls={calls}")

    static_call_update(loyalty_discount, ten_percent_for_regulars)
    print(f"feature on: {describe()}")
    print(f"feature on: total={total(orders)} discount calls={calls}")

    static_call_update(loyalty_discount, static_call_return0)
    before = calls
    print(f"feature off again: {describe()}")
    print(f"feature off again: total={total(orders)} discount calls={calls - before}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
