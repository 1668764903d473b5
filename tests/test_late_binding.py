"""Late binding: a ``static_call(K)``/``static_call_cond(K)`` site whose ``K`` is not a key
when its code is processed (defined further down, imported later, assigned at start-up)
binds at its first execution, like a PLT slot, and is a direct call from then on (in the
frame that bound it too); while ``K`` is not a key the site behaves exactly as the
original code."""

from __future__ import annotations

import sys
import threading
import types
from typing import Any

import pytest

from live_helpers import LIVE, TIMEOUT, Worker, build, callers, loop_threads
from staticcall import (
    StaticCallPermissionError,
    define_static_call,
    define_static_call_null,
    define_static_call_ret0,
    explain,
    export_static_call,
    static_call_sites,
    static_call_update,
)

needs_rewriting = pytest.mark.skipif(not LIVE, reason="sites are not rewritten here")


def double(x: Any) -> Any:
    return 2 * x


def negate(x: Any) -> Any:
    return -x


def mine(ns: dict[str, Any]) -> list[Any]:
    filename = next(v.__code__.co_filename for v in ns.values()
                    if isinstance(v, types.FunctionType) and v.__module__ == ns["__name__"])
    return sorted((s for s in static_call_sites() if s.filename == filename),
                  key=lambda s: (s.lineno, s.function))


LATER = """
@static_calls
def early(x):
    return static_call(LATER)(x), static_call_cond(LATER)(x)

LATER = staticcall.define_static_call(double)
"""


@needs_rewriting
def test_a_key_defined_further_down_binds_at_its_first_execution() -> None:
    ns = build(LATER, double=double)
    before = mine(ns)
    assert [(s.state, s.bound_at, s.reason) for s in before] == [("unbound", None, None)] * 2
    assert all("LATER" in repr(s.key) for s in before)
    assert static_call_sites(ns["LATER"]) == []
    assert ns["early"](3) == (6, 6)
    after = mine(ns)
    assert [(s.state, s.bound_at, s.key) for s in after] == \
        [("call", "first execution", ns["LATER"])] * 2
    assert len(static_call_sites(ns["LATER"])) == 2
    # a direct call now: the target's caller is the function itself, no trampoline
    assert callers(lambda: ns["early"](4), double) == ["early", "early"]
    static_call_update(ns["LATER"], negate)
    assert ns["early"](5) == (-5, -5)


def test_a_site_bound_at_processing_says_so() -> None:
    ns = build("""
K = staticcall.define_static_call(double)
@static_calls
def f(x):
    return static_call(K)(x)
""", double=double)
    assert [(s.state, s.bound_at) for s in mine(ns)] == \
        [("call" if LIVE else "trampoline", "processing")]


@needs_rewriting
def test_the_frame_that_binds_calls_directly_from_then_on() -> None:
    calls: list[str] = []

    def configure() -> None:
        ns["K"] = define_static_call(double, name="configured")

    ns = build("""
@static_calls
def loop(n):
    out = []
    for i in range(n):
        if i == 2:
            configure()
        try:
            out.append(static_call(K)(i))
        except NameError:
            out.append("unbound")
    return out
""", configure=configure)

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is double.__code__:
            calls.append(frame.f_back.f_code.co_name)

    sys.setprofile(profile)
    try:
        out = ns["loop"](5)
    finally:
        sys.setprofile(None)
    assert out == ["unbound", "unbound", 4, 6, 8]
    # the binding execution calls through the trampoline, the later ones directly
    assert calls[1:] == ["loop", "loop"]
    assert [s.bound_at for s in mine(ns)] == ["first execution"]


@needs_rewriting
def test_a_name_that_is_not_a_key_behaves_as_written() -> None:
    evaluated: list[Any] = []

    def side(x: Any) -> Any:
        evaluated.append(x)
        return x

    ns = build("""
@static_calls
def f(x):
    return static_call(NOPE)(side(x))
""", side=side)
    assert [s.state for s in mine(ns)] == ["unbound"]
    with pytest.raises(NameError, match="'NOPE' is not defined"):
        ns["f"](1)
    ns["NOPE"] = 5
    with pytest.raises(TypeError, match="expects a StaticCall key or handle, not int"):
        ns["f"](2)
    ns["NOPE"] = [1]
    with pytest.raises(TypeError, match="unhashable"):
        ns["f"](3)
    assert evaluated == []  # static_call(NOPE) fails before the arguments, as written
    assert [s.state for s in mine(ns)] == ["unbound"]
    ns["NOPE"] = define_static_call(double, name="nope")
    assert ns["f"](4) == 8
    assert evaluated == [4]
    assert [(s.state, s.bound_at) for s in mine(ns)] == [("call", "first execution")]


@needs_rewriting
def test_a_key_assigned_at_start_up() -> None:
    ns = build("""
HOOK = None

def configure(key):
    global HOOK
    HOOK = key

@static_calls
def handle(x):
    return static_call_cond(HOOK)(x)
""")
    with pytest.raises(TypeError, match="not NoneType"):
        ns["handle"](1)
    ns["configure"](define_static_call_null(name="hook"))
    assert ns["handle"](1) is None
    static_call_update(ns["HOOK"], double)
    assert ns["handle"](2) == 4


@needs_rewriting
def test_a_late_null_or_ret0_site_makes_no_call() -> None:
    ns = build("""
@static_calls
def stmt(x):
    static_call_cond(HOOK)(x)
    return x

@static_calls
def value(x):
    return static_call(ZERO)(x)
""")
    ns["HOOK"] = define_static_call_null(name="late_hook")
    ns["ZERO"] = define_static_call_ret0(name="late_zero")
    assert ns["stmt"](1) == 1 and ns["value"](1) == 0  # binds them
    made: list[Any] = []  # calls made by stmt and value: Python calls and C calls

    def profile(frame: Any, event: str, arg: Any) -> None:
        caller = frame.f_back if event == "call" else frame
        if event in ("call", "c_call") and caller.f_code.co_name in ("stmt", "value"):
            made.append((event, frame.f_code.co_name))

    sys.setprofile(profile)
    try:
        assert ns["stmt"](2) == 2 and ns["value"](2) == 0
    finally:
        sys.setprofile(None)
    assert made == []
    assert {s.state for s in mine(ns)} == {"null", "ret0"}


@needs_rewriting
def test_a_late_attribute_chain() -> None:
    mod = types.ModuleType("late_chain_mod")
    ns = build("""
@static_calls
def f(x):
    return static_call(mod.K)(x) + 1
""", mod=mod)
    with pytest.raises(AttributeError):
        ns["f"](1)
    mod.K = define_static_call(double, name="chain")  # type: ignore[attr-defined]
    assert ns["f"](3) == 7
    assert [(s.function, s.bound_at) for s in mine(ns)] == [("f", "first execution")]


def test_strict_accepts_late_sites() -> None:
    ns = build(LATER.replace("@static_calls", "@static_calls(strict=True)"), double=double)
    assert ns["early"](1) == (2, 2)


@needs_rewriting
def test_late_handles_are_checked_against_the_calling_module() -> None:
    key = define_static_call(double, name="late_gpl")
    ns = build("""
@static_calls
def f(x):
    return static_call(H)(x)
""")
    ns["H"] = export_static_call(key, gpl=True)  # this module has no GPL licence
    with pytest.raises(StaticCallPermissionError, match="GPL-only"):
        ns["f"](1)
    assert [s.state for s in mine(ns)] == ["unbound"]
    ns["__license__"] = "GPL"
    assert ns["f"](2) == 4
    assert [(s.key, s.bound_at) for s in mine(ns)] == [(key, "first execution")]


@needs_rewriting
def test_threads_bind_a_site_once() -> None:
    ns = build("""
@static_calls
def f(x):
    return static_call(K)(x)
""")
    ns["K"] = key = define_static_call(double, name="threaded")
    n = loop_threads(4)
    start = threading.Barrier(n)

    def run() -> list[Any]:
        start.wait(TIMEOUT)
        return [ns["f"](i) for i in range(50)]

    workers = [Worker(run) for _ in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        assert w.result() == [2 * i for i in range(50)]
    assert len(static_call_sites(key)) == 1


@needs_rewriting
def test_an_update_while_suspended_in_the_arguments_is_seen() -> None:
    ns = build("""
@static_calls
def gen():
    r = static_call(K)((yield "suspended"))
    yield r
""")
    ns["K"] = key = define_static_call(double, name="gen_late")
    g = ns["gen"]()
    assert next(g) == "suspended"  # bound before the arguments ran
    static_call_update(key, negate)
    assert g.send(7) == -7


SHAPES = {
    "statement": "static_call_cond(K)(x)\n    return x",
    "value": "return static_call(K)(x) + 1",
    "code in arguments": "return static_call(K)(abs(x) + 0)",
    "keywords": "return static_call(K)(x=x)",
    "star": "return static_call(K)(*[x], **{})",
    "nested": "return static_call(K)(static_call(K)(x))",
    "conditional": "return static_call(K)(x if x else -x)",
}


@needs_rewriting
@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_layout_binds_late(shape: str) -> None:
    def ident(x: Any) -> Any:
        return 1000 + x

    ns = build(f"@static_calls\ndef f(x):\n    {SHAPES[shape]}\n")
    sites = mine(ns)
    assert sites and all(s.state == "unbound" and s.reason is None for s in sites), sites
    ns["K"] = key = define_static_call(ident, name="shaped")
    first = ns["f"](3)
    assert ns["f"](3) == first
    assert all(s.bound_at == "first execution" and s.state == "call" for s in mine(ns))
    static_call_update(key, None)
    if shape == "statement":
        assert ns["f"](3) == 3
    static_call_update(key, ident)
    assert ns["f"](3) == first
    assert "binding: bound" in explain(ns["f"])


@needs_rewriting
def test_explain_shows_the_binding() -> None:
    ns = build(LATER, double=double)
    text = explain(ns["early"])
    assert "not bound yet" in text and "binding: unbound: calls the binder" in text
    ns["early"](1)
    text = explain(ns["early"])
    assert "bound at its first execution" in text and "binding: bound" in text


@needs_rewriting
@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_site_that_could_not_bind_runs_as_written(shape: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A binding that fails leaves the site unbound, with the reason: every execution then
    calls what the original code calls, also where the layout loads the target again
    after the arguments (it raised an internal error there)."""
    from staticcall import _sites

    def ident(x: Any) -> Any:
        return 1000 + x

    def refuse(self: Any, rec: Any) -> None:
        raise RuntimeError("no lay-out today")

    ns = build(f"@static_calls\ndef f(x):\n    {SHAPES[shape]}\n")
    ns["K"] = key = define_static_call(ident, name="unbindable")
    monkeypatch.setattr(_sites.Patcher, "lay_out", refuse)
    expected = {"statement": 3, "nested": 2003}.get(shape, 1003 + (shape == "value"))
    assert ns["f"](3) == expected
    monkeypatch.undo()
    assert ns["f"](3) == expected  # stays unbound (the failure is kept), runs as written
    assert all("could not be bound" in (s.reason or "") for s in mine(ns))
    static_call_update(key, negate)
    assert ns["f"](3) == {"statement": 3, "nested": 3, "value": -2}.get(shape, -3)
