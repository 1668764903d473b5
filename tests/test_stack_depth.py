"""Rewritten code reserves the stack every path needs, including the paths that the
shape switches jump over as assembled (a skipped statement, a drop block)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import rewrite_helpers as rw
from staticcall import (
    define_static_call_null,
    define_static_call_ret0,
    static_call,
    static_call_cond,
    static_call_return0,
    static_call_update,
    static_calls,
)

SOURCES = {
    # statements whose arguments are plain: with no call the switch skips them whole
    "statement-params": """
def f(a, b, c):
    static_call_cond(K)(a, b, c, 4, 5)
    return a
""",
    "statement-locals": """
def f(n):
    out = 0
    for i in range(n):
        x = i * 2
        static_call_cond(K)(x, i, n, "const")
        out += x
    return out
""",
    "value-plain": """
def f(a, b):
    y = static_call(K)(a, b, 3, 4, 5, 6)
    return y
""",
    "statement-computed": """
def f(a):
    static_call_cond(K)(a + 1, str(a), [a, a], *[a], **{"k": a})
    return a
""",
    "nested-plain": """
def f(a):
    def g(b):
        static_call_cond(K)(a, b, a, b)
        return b
    return g(a)
""",
}


def _deep(*args: Any, **kwargs: Any) -> Any:
    # a target whose own frames sit right above the caller's on the frame stack: a
    # caller whose stack overflowed would corrupt these locals
    def inner(x: Any, y: Any, z: Any) -> Any:
        return (x, y, z)
    return ("seen", args, kwargs, inner(1, 2, 3))


def _build(name: str) -> tuple[dict[str, Any], dict[str, Any], Any]:
    key = define_static_call_null(name=f"stack_{name}")
    plain, other = rw.twin(SOURCES[name], {"K": key, "static_call": static_call,
                                          "static_call_cond": static_call_cond},
                           stem=f"stack_{name}")
    other["f"] = static_calls(other["f"])
    return plain, other, key


@pytest.mark.parametrize("name", SOURCES)
def test_stack_size_covers_the_original(name: str) -> None:
    plain, other, _ = _build(name)
    for a, b in itertools.zip_longest(rw.code_objects(plain["f"]), rw.code_objects(other["f"])):
        assert a is not None and b is not None
        assert b.co_stacksize >= a.co_stacksize, (name, a.co_name)


@pytest.mark.parametrize("name", SOURCES)
def test_every_shape_passes_the_arguments_as_written(name: str) -> None:
    """The decorated copy and the undecorated one (runtime path) make the same calls
    with the same arguments, in every target state, the switched-over paths included."""
    plain, other, key = _build(name)
    args = {"statement-params": (1, 2, 3), "statement-locals": (4,), "value-plain": (7, 8),
            "statement-computed": (5,), "nested-plain": (6,)}[name]
    seen: list[Any] = []

    def target(*a: Any, **kw: Any) -> Any:
        seen.append((a, kw))
        return _deep(*a, **kw)

    for state in (None, target, static_call_return0, None, target):
        static_call_update(key, state)
        seen.clear()
        want = _kind(rw.outcome(lambda: plain["f"](*args)))
        runtime_calls = list(seen)
        seen.clear()
        got = _kind(rw.outcome(lambda: other["f"](*args)))
        assert seen == runtime_calls, (name, state)
        assert got == want, (name, state)
        if state is target:
            assert seen, name


def _kind(outcome: tuple[str, Any]) -> tuple[str, Any]:
    """Exceptions compare by type (their messages may name the site)."""
    return (outcome[0], type(outcome[1])) if outcome[0] == "raise" else outcome


def test_ret0_key_statement_then_function() -> None:
    key = define_static_call_ret0(name="stack_ret0")
    seen: list[Any] = []

    @static_calls
    def f(a: int, b: int) -> int:
        static_call(key)(a, b, a, b)
        return a + b

    assert f(1, 2) == 3 and seen == []
    static_call_update(key, lambda *a: seen.append(_deep(*a)))
    for i in range(3):
        assert f(i, 10) == i + 10
    assert [s[1] for s in seen] == [(i, 10, i, 10) for i in range(3)]
    assert all(s[3] == (1, 2, 3) for s in seen)
