"""A ``static_call(K)`` site whose ``K`` is not bound yet when its function is decorated is
listed in the site table with the reason (never silently left slow), still works through
the runtime path once ``K`` exists, and fails ``strict=True``."""

from __future__ import annotations

import pytest

from live_helpers import build
from staticcall import StaticCallError, static_call_sites

SOURCE = """
@static_calls
def early(x):
    return static_call(LATER)(x), static_call_cond(LATER)(x)

def double(x):
    return 2 * x

LATER = staticcall.define_static_call(double)
"""


def test_a_key_defined_later_is_listed_with_the_reason() -> None:
    ns = build(SOURCE)
    assert ns["early"](3) == (6, 6)
    mine = [s for s in static_call_sites() if s.filename == ns["early"].__code__.co_filename]
    assert len(mine) == 2
    for s in mine:
        assert s.state == "trampoline"
        assert s.reason is not None and "'LATER' was not bound" in s.reason
        assert "LATER" in repr(s.key)


def test_strict_refuses_a_key_defined_later() -> None:
    with pytest.raises(StaticCallError, match="'LATER' was not bound"):
        build(SOURCE.replace("@static_calls", "@static_calls(strict=True)"))


def test_a_name_that_never_becomes_a_key_behaves_as_written() -> None:
    ns = build("""
@static_calls
def f(x):
    return static_call(NOT_A_KEY)(x)
""")
    with pytest.raises(NameError):
        ns["f"](1)
    ns["NOT_A_KEY"] = 5
    with pytest.raises(TypeError, match="int"):
        ns["f"](1)
