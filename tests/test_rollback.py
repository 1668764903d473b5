"""All-or-nothing updates: a site that cannot be retargeted leaves everything as it was.

``staticcall._update._before_site_patch`` is a test hook, called with each site record
before the site is patched. Making it raise on the N-th site of a key (sites spread over
several functions) simulates a site that cannot be retargeted after N-1 sites already
were: the update must raise ``StaticCallError`` naming that site (``file:line``), and
every site, the key's target, the runtime path (key call, ``static_call(k)``,
``static_call_cond(k)``) and running frames must still execute the old target.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import pytest

import staticcall
from live_helpers import (
    ALL,
    HOT,
    LIVE,
    NULLERR,
    assert_live,
    build,
    kind,
    name_of,
)
from staticcall import (
    StaticCallError,
    StaticCallNullError,
    _update,
    define_static_call_null,
    static_call,
    static_call_cond,
    static_call_query,
    static_call_sites,
    static_call_update,
    static_call_update_many,
)

SOURCE = """
@static_calls
def f_plain(x):
    a = static_call({K})(x)
    b = static_call_cond({K})(x)
    return a, b

@static_calls
def f_cond(x):
    return static_call_cond({K})(x)

@static_calls
def f_key(x):
    return [{K}(x), {K}(x)]

@static_calls
def f_loop(x, n):
    r = None
    for _ in range(n):
        r = static_call_cond({K})(x)
    return r

@static_calls
def f_gen(x):
    while True:
        yield static_call_cond({K})(x)
"""
#: sites per key in SOURCE
NSITES = 7

SHAPES = {name: ALL[name] for name in ("func", "func2", "null", "ret0", "builtin", "method")}
PAIRS = [(a, b) for a in ("func", "null", "ret0") for b in SHAPES if a != b]


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except StaticCallNullError:
        return NULLERR


class Setup:
    """One key (or several) with NSITES sites each, in five functions."""

    def __init__(self, names: list[str], start: list[Any]) -> None:
        self.keys = [define_static_call_null(name=n) for n in names]
        for k, t in zip(self.keys, start):
            static_call_update(k, t)
        env = {f"K{i}": k for i, k in enumerate(self.keys)}
        self.ns = [build(SOURCE.replace("{K}", f"K{i}"), **env) for i in range(len(self.keys))]
        for k in self.keys:
            assert_live(k, NSITES)
        # running frames that exist before the failed update
        self.gens = [ns["f_gen"](1) for ns in self.ns]
        for i, g in enumerate(self.gens):
            for _ in range(HOT // 10):
                next(g)
            self.ns[i]["f_loop"](1, HOT)   # hot: a trace under the JIT

    def behaviour(self, i: int) -> list[str]:
        """kind() of every site of key ``i``, and of the key's runtime path."""
        ns, key = self.ns[i], self.keys[i]
        a, b = _call(ns["f_plain"], 1) if not _raises(ns["f_plain"]) else (NULLERR, None)
        out = [kind(a), kind(b), kind(_call(ns["f_cond"], 1))]
        if _raises(ns["f_key"]):
            out += ["null", "null"]
        else:
            out += [kind(r) for r in ns["f_key"](1)]
        out.append(kind(ns["f_loop"](1, 3)))
        out.append(kind(next(self.gens[i])))
        # the runtime path
        out.append(kind(_call(key, 1)))
        out.append(kind(_call(static_call(key), 1)))
        out.append(kind(_call(static_call_cond(key), 1)))
        return out

    def expect(self, target: Any) -> list[str]:
        name = name_of(target)
        return [name] * 10

    def states(self, i: int) -> list[tuple[str, int, str]]:
        return sorted((s.function, s.lineno, s.state) for s in static_call_sites(self.keys[i]))


def _raises(fn: Callable[..., Any]) -> bool:
    try:
        fn(1)
    except StaticCallNullError:
        return True
    return False


@contextlib.contextmanager
def fail_at(n: int, exc: BaseException | None = None) -> Iterator[list[Any]]:
    """Make the n-th patched site (1-based, over the whole update) raise."""
    seen: list[Any] = []

    def hook(rec: Any) -> None:
        seen.append(rec)
        if len(seen) == n:
            raise exc if exc is not None else RuntimeError("injected failure")

    assert _update._before_site_patch is None
    _update._before_site_patch = hook
    try:
        yield seen
    finally:
        _update._before_site_patch = None


@pytest.mark.parametrize("old,new", PAIRS)
def test_failed_update_changes_nothing(old: str, new: str) -> None:
    s = Setup(["rb"], [SHAPES[old]])
    before = s.behaviour(0)
    assert before == s.expect(SHAPES[old])
    states = s.states(0)
    for n in range(1, NSITES + 1):
        with fail_at(n) as seen:
            with pytest.raises(StaticCallError) as info:
                static_call_update(s.keys[0], SHAPES[new])
        assert len(seen) == n
        failed = seen[-1]
        msg = str(info.value)
        assert failed.where in msg and "rb" in msg, msg
        assert isinstance(info.value.__cause__, RuntimeError)
        assert static_call_query(s.keys[0]) is SHAPES[old]
        assert s.behaviour(0) == before, (n, s.behaviour(0))
        assert s.states(0) == states
    # the same update, without the failure, reaches everything
    assert static_call_update(s.keys[0], SHAPES[new]) is SHAPES[old]
    assert s.behaviour(0) == s.expect(SHAPES[new])


def test_failure_message_names_file_and_line() -> None:
    s = Setup(["rb_where"], [SHAPES["func"]])
    sites = {(x.filename, x.lineno) for x in static_call_sites(s.keys[0])}
    for n in range(1, NSITES + 1):
        with fail_at(n) as seen:
            with pytest.raises(StaticCallError) as info:
                static_call_update(s.keys[0], SHAPES["ret0"])
        rec = seen[-1]
        assert (rec.filename, rec.lineno) in sites
        assert f"{rec.filename}:{rec.lineno}" in str(info.value)


def test_base_exception_in_the_middle_rolls_back() -> None:
    """A KeyboardInterrupt during an update propagates as is, after the rollback."""
    s = Setup(["rb_kbd"], [SHAPES["func"]])
    before = s.behaviour(0)
    with fail_at(NSITES // 2 + 1, KeyboardInterrupt()):
        with pytest.raises(KeyboardInterrupt):
            static_call_update(s.keys[0], None)
    assert static_call_query(s.keys[0]) is SHAPES["func"]
    assert s.behaviour(0) == before


@pytest.mark.parametrize("old,new", [("func", "null"), ("ret0", "func2"), ("null", "ret0"),
                                     ("func", "method")])
def test_failed_update_many_changes_nothing(old: str, new: str) -> None:
    s = Setup(["rb_a", "rb_b"], [SHAPES[old], SHAPES["func2" if old != "func2" else "func"]])
    olds = [static_call_query(k) for k in s.keys]
    news = [SHAPES[new], SHAPES["ret0"] if olds[1] is not SHAPES["ret0"] else SHAPES["func"]]
    before = [s.behaviour(i) for i in range(2)]
    states = [s.states(i) for i in range(2)]
    for n in range(1, 2 * NSITES + 1):
        with fail_at(n) as seen:
            with pytest.raises(StaticCallError) as info:
                static_call_update_many({s.keys[0]: news[0], s.keys[1]: news[1]})
        failed = seen[-1]
        assert failed.where in str(info.value)
        assert failed.key is s.keys[0 if n <= NSITES else 1]
        for i in range(2):
            assert static_call_query(s.keys[i]) is olds[i]
            assert s.behaviour(i) == before[i], (n, i)
            assert s.states(i) == states[i]
    previous = static_call_update_many({s.keys[0]: news[0], s.keys[1]: news[1]})
    assert previous == {s.keys[0]: olds[0], s.keys[1]: olds[1]}
    for i in range(2):
        assert s.behaviour(i) == s.expect(news[i])


def test_failed_override_restores_nothing_and_keeps_old() -> None:
    """static_call_override whose entry update fails leaves the key as it was."""
    s = Setup(["rb_ovr"], [SHAPES["func"]])
    before = s.behaviour(0)
    with fail_at(3):
        with pytest.raises(StaticCallError):
            with staticcall.static_call_override(s.keys[0], SHAPES["func2"]):
                raise AssertionError("the body must not run")
    assert s.behaviour(0) == before
    with staticcall.static_call_override(s.keys[0], SHAPES["func2"]):
        assert s.behaviour(0) == s.expect(SHAPES["func2"])
    assert s.behaviour(0) == before


def test_code_collected_during_a_failed_update_is_not_written_after_free(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The table holds code objects weakly. A function whose last reference goes away
    in the middle of an update (a collection triggered by the update itself) must stay
    alive until the update, and its rollback, no longer write into its code."""
    import gc
    import weakref

    from staticcall import _patch

    key = define_static_call_null(name="rb_gc")
    static_call_update(key, SHAPES["func"])
    src = "@static_calls\ndef f(x):\n    return static_call(K)(x)\n"
    doomed = build(src, K=key)
    kept = build(src.replace("f(x)", "g(x)"), K=key)
    recs = list(key._sc_sites.values())
    assert [r.function for r in recs] == ["f", "g"]
    if not LIVE:
        pytest.skip("no code is patched on this interpreter")
    import ctypes

    code_of = {ctypes.addressof(cell): weakref.ref(r.code)
               for r in recs for cell, _on, _off in r.switch_cells}
    writes: list[int] = []
    dead_writes: list[int] = []
    real = _patch.write_operand

    def checked(cell: Any, value: int) -> None:
        ref = code_of.get(ctypes.addressof(cell))
        writes.append(ctypes.addressof(cell))
        if ref is not None and ref() is None:
            dead_writes.append(ctypes.addressof(cell))
        real(cell, value)

    monkeypatch.setattr(_patch, "write_operand", checked)

    def hook(rec: Any) -> None:
        if rec.function == "g":
            doomed.clear()
            gc.collect()
            raise RuntimeError("injected")

    monkeypatch.setattr(_update, "_before_site_patch", hook)
    with pytest.raises(StaticCallError):
        static_call_update(key, SHAPES["ret0"])
    monkeypatch.setattr(_update, "_before_site_patch", None)
    # f's switch was written, then written back by the rollback, after f was dropped
    assert len(writes) >= 2 and set(writes) <= set(code_of)
    assert dead_writes == []
    gc.collect()
    assert [r.function for r in key._sc_sites.values()] == ["g"]
    static_call_update(key, SHAPES["func2"])
    assert kind(kept["g"](1)) == "func2"
