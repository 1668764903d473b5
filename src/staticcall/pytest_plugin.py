"""pytest plugin: the ``static_call_override`` fixture.

``static_call_override(key, func)`` retargets ``key`` for the current test; every key
it touched is restored when the test ends, whether it passed or failed.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest


@pytest.fixture
def static_call_override() -> Iterator[Callable[[Any, Any], Any]]:
    from ._keys import as_key
    from ._update import static_call_update

    saved: list[tuple[Any, Any]] = []

    def override(key: Any, func: Any) -> Any:
        k = as_key(key, "update")
        previous = static_call_update(k, func)
        saved.append((k, previous))
        return previous

    yield override
    for k, previous in reversed(saved):
        static_call_update(k, previous)
