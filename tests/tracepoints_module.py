"""A module for tests/test_static_keys.py and tests/test_tracepoints.py: static keys and
tracepoints defined at module level (pickling by reference, the command line). Imported
by name (``tracepoints_module``), as the command line imports modules."""

from __future__ import annotations

import staticcall as sc


def item_added(index: int, value: str) -> None:
    """An item was added to the list."""


def log_probe(index: int, value: str) -> None:
    LOG.append((index, value))


LOG: list[tuple[int, str]] = []

TRACING = sc.define_static_key_false()
VERBOSE = sc.define_static_key_true(name="verbose")
LAZY_OFF = sc.define_static_key_deferred_false(0.05)
KERNEL_KEY = sc.DEFINE_STATIC_KEY_FALSE("kernel_key")

ITEM_ADDED = sc.define_tracepoint(item_added)
ITEM_REMOVED = sc.define_tracepoint(item_added, name="item_removed")
KERNEL_TRACE = sc.DEFINE_TRACE("kernel_trace", item_added)


class Holder:
    KEY = sc.define_static_key_false()
    TP = sc.define_tracepoint(lambda n: None)


sc.register_probe(ITEM_REMOVED, log_probe)
