"""A change made in the middle of another change of the same key, static key or
tracepoint, in the same thread (the update lock is re-entrant): what a signal handler,
or a destructor or callback run by the garbage collector, may do between any two
bytecodes of an update. It is refused, naming the object; the first change completes
(or, when the refusal reaches it, is undone), and every site agrees with its key."""

from __future__ import annotations

import gc
from typing import Any, Callable

import pytest

from live_helpers import LIVE, build
from staticcall import (
    StaticCallError,
    _sites,
    _update,
    define_static_call,
    define_static_call_null,
    define_static_key_false,
    define_tracepoint,
    register_probe,
    static_branch_disable,
    static_branch_enable,
    static_branch_inc,
    static_branch_unlikely,
    static_call_query,
    static_call_sites,
    static_call_update,
    static_call_update_many,
    static_calls,
    static_key_count,
    static_key_enabled,
    tracepoint_probes,
    unregister_probe,
)

THREE_SITES = """
@static_calls
def f(x):
    return static_call_cond(K)(x), static_call_cond(K)(x), static_call_cond(K)(x)
"""


def _at_call(nth: int, inner: Callable[[], None],
             errors: list[BaseException]) -> Callable[[], None]:
    """A function that runs ``inner`` the ``nth`` time it is called, keeping its error as
    a destructor's would be kept (reported, not raised)."""
    calls = [0]

    def tick() -> None:
        calls[0] += 1
        if calls[0] == nth:
            try:
                inner()
            except StaticCallError as exc:
                errors.append(exc)

    return tick


def _during_second_site(monkeypatch: pytest.MonkeyPatch, inner: Callable[[], None],
                        errors: list[BaseException]) -> None:
    """Run ``inner`` when the second site of an update is about to be patched (the first
    one already is)."""
    tick = _at_call(2, inner, errors)
    monkeypatch.setattr(_update, "_before_site_patch", lambda rec: tick())


def _agree(key: Any, f: Callable[[Any], Any]) -> None:
    target = static_call_query(key)
    expect = None if target is None else target(-3)
    assert f(-3) == (expect,) * 3


@pytest.mark.parametrize("inner_target", ["another", "the current one"])
def test_an_update_made_during_an_update_of_the_same_key(
        monkeypatch: pytest.MonkeyPatch, inner_target: str) -> None:
    key = define_static_call_null(name="reentered")
    f = build(THREE_SITES, K=key)["f"]
    errors: list[BaseException] = []
    target = hex if inner_target == "another" else None
    _during_second_site(monkeypatch, lambda: static_call_update(key, target), errors)
    static_call_update(key, abs)
    monkeypatch.setattr(_update, "_before_site_patch", None)
    _agree(key, f)
    # the second update is either refused or in effect: never silently lost
    assert static_call_query(key) is (abs if errors else target)
    assert len(errors) == 1 and "'reentered'" in str(errors[0])
    assert "in the middle of that change" in str(errors[0])
    # and the same through update_many
    errors.clear()
    _during_second_site(monkeypatch, lambda: static_call_update_many({key: hex}), errors)
    static_call_update(key, None)
    monkeypatch.setattr(_update, "_before_site_patch", None)
    assert static_call_query(key) is None
    _agree(key, f)
    assert len(errors) == 1


class _UpdatesOnCollection:
    """Garbage in a reference cycle whose destructor updates a key."""

    def __init__(self, key: Any, target: Any, errors: list[BaseException]) -> None:
        self.me, self.key, self.target, self.errors = self, key, target, errors

    def __del__(self) -> None:
        try:
            static_call_update(self.key, self.target)
        except StaticCallError as exc:
            self.errors.append(exc)


def test_a_destructor_run_by_the_collector_during_an_update(
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = define_static_call_null(name="collected_mid_update")
    f = build(THREE_SITES, K=key)["f"]
    errors: list[BaseException] = []
    _UpdatesOnCollection(key, hex, errors)
    _during_second_site(monkeypatch, gc.collect, errors)
    static_call_update(key, abs)
    monkeypatch.setattr(_update, "_before_site_patch", None)
    _agree(key, f)
    assert len(errors) == 1 and "'collected_mid_update'" in str(errors[0])


def test_a_refusal_that_reaches_the_first_update_undoes_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal handler's exception propagates into the update it interrupted."""
    key = define_static_call_null(name="interrupted")
    f = build(THREE_SITES, K=key)["f"]
    seen: list[Any] = []

    def handler(rec: Any) -> None:
        seen.append(rec)
        if len(seen) == 2:
            static_call_update(key, hex)

    monkeypatch.setattr(_update, "_before_site_patch", handler)
    with pytest.raises(StaticCallError, match="'interrupted'.*in the middle"):
        static_call_update(key, abs)
    monkeypatch.setattr(_update, "_before_site_patch", None)
    assert static_call_query(key) is None
    _agree(key, f)


def _during_branch_patch(monkeypatch: pytest.MonkeyPatch, inner: Callable[[], None],
                         errors: list[BaseException]) -> None:
    """Run ``inner`` once the first branch site of a change is patched."""
    real = _sites.Patcher.set_branch
    tick = _at_call(1, inner, errors)

    def set_branch(self: Any, rec: Any, enabled: bool) -> None:
        real(self, rec, enabled)
        tick()

    monkeypatch.setattr(_sites.Patcher, "set_branch", set_branch)


BRANCHES = """
@static_calls
def g():
    a = 1 if static_branch_unlikely(S) else 0
    b = 1 if static_branch_unlikely(S) else 0
    return a, b
"""


@pytest.mark.parametrize("inner", ["inc", "enable"])
def test_a_static_key_changed_while_its_sites_are_patched(
        monkeypatch: pytest.MonkeyPatch, inner: str) -> None:
    key = define_static_key_false(name="flipped_twice")
    g = build(BRANCHES, S=key, static_branch_unlikely=static_branch_unlikely)["g"]
    static_branch_inc(key)
    errors: list[BaseException] = []
    change = {"inc": static_branch_inc, "enable": static_branch_enable}[inner]
    _during_branch_patch(monkeypatch, lambda: change(key), errors)
    static_branch_disable(key)  # count 1 -> 0, patching both sites
    monkeypatch.undo()
    # the second change is either refused or counted: never silently lost
    enabled = not errors
    assert (static_key_count(key), static_key_enabled(key)) == (int(enabled), enabled)
    assert g() == (int(enabled),) * 2
    assert {s.state for s in static_call_sites(key)} == {"enabled" if enabled else "disabled"}
    if LIVE:
        assert len(errors) == 1 and "static key 'flipped_twice'" in str(errors[0])


def test_a_tracepoint_changed_while_its_sites_are_patched(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tp = define_tracepoint(None, name="probed_twice")
    calls: list[Any] = []
    ns = build("@static_calls\ndef h(x):\n    TP(x)\n    TP(x)\n", TP=tp)
    first, second = (lambda x: calls.append(("first", x))), (lambda x: calls.append(x))
    errors: list[BaseException] = []
    _during_branch_patch(monkeypatch, lambda: register_probe(tp, second), errors)
    register_probe(tp, first)
    monkeypatch.undo()
    assert tracepoint_probes(tp) == (first,)
    ns["h"](1)
    assert calls == [("first", 1)] * 2
    if LIVE:
        assert len(errors) == 1 and "tracepoint 'probed_twice'" in str(errors[0])
    unregister_probe(tp, first)


def test_a_key_updated_while_a_decoration_lays_out_its_sites(
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = define_static_call_null(name="decorated_meanwhile")
    real = _sites.Patcher.lay_out
    errors: list[BaseException] = []
    tick = _at_call(1, lambda: static_call_update(key, hex), errors)

    def lay_out(self: Any, rec: Any) -> None:
        real(self, rec)
        tick()

    monkeypatch.setattr(_sites.Patcher, "lay_out", lay_out)
    ns = build(THREE_SITES.replace("@static_calls\n", ""), K=key)
    f = static_calls(ns["f"])
    monkeypatch.undo()
    _agree(key, f)
    if LIVE:
        assert len(errors) == 1 and "'decorated_meanwhile'" in str(errors[0])
    static_call_update(key, abs)
    _agree(key, f)


LATE_AND_BOUND = """
@static_calls
def late(x):
    return static_call(K)(abs(x))    # K is not bound yet: a late site (code in its arguments)

K = KEY

@static_calls
def bound(x):
    return static_call(K)(x)
"""


def _old(x: int) -> str:
    return "old"


def _new(x: int) -> str:
    return "new"


def test_a_late_site_first_run_during_an_update_of_its_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A late site whose first execution comes in the middle of an update of its key has
    not been listed by that update: it binds at a later execution instead, and never
    calls the old target after the update returns."""
    key = define_static_call(_old, name="late_mid_update")
    ns = build(LATE_AND_BOUND, KEY=key)
    seen: list[str] = []
    tick = _at_call(1, lambda: seen.append(ns["late"](1)), [])
    monkeypatch.setattr(_update, "_before_site_patch", lambda rec: tick())
    static_call_update(key, _new)
    monkeypatch.setattr(_update, "_before_site_patch", None)
    assert seen in (["old"], ["new"])  # ran once, in the middle: either is right
    assert ns["late"](1) == "new" and ns["bound"](1) == "new"
    if LIVE:
        late = [s for s in static_call_sites(key) if s.function.endswith("late")]
        assert [s.bound_at for s in late] == ["first execution"]
    static_call_update(key, _old)
    assert ns["late"](1) == "old" and ns["bound"](1) == "old"
