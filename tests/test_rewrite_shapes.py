"""INLINE-mode rewriting of call shapes (``@static_calls``).

Each shape of ``call_shapes.SHAPES`` is compiled twice: one copy is decorated, the other
stays on the runtime path. Both run under the same sequence of targets (functions,
NULL, RET0, in both keys) and must give the same results, exceptions and side effects,
while the decorated copy's sites are rewritten: live table entries, no lookup of the
key or of ``static_call`` left, targets called straight from the function's own frame,
and no call at all (no profiler or ``sys.monitoring`` event) for RET0 and NULL-cond.
"""

from __future__ import annotations

import re
import sys
import types
from typing import Any
from unittest import mock

import pytest

import rewrite_helpers as rw
import staticcall
from call_shapes import SHAPES, Shape
from staticcall import (
    StaticCallError,
    StaticCallNullError,
    _exports,
    define_static_call,
    define_static_call_null,
    export_static_call,
    static_call,
    static_call_cond,
    static_call_return0,
    static_call_sites,
    static_call_update,
    static_calls,
)
from staticcall._opcodes import PY

STAR_MESSAGE = re.compile(r"after \*\*? must be (an iterable|a mapping)")
STATE_OF = {"call": "call", "call2": "call", "null": "null", "ret0": "ret0"}
# (state of K, state of K2) for each step after decoration
STEPS = [("call", "call"), ("null", "null"), ("ret0", "ret0"), ("call2", "null"),
         ("null", "ret0"), ("ret0", "call2"), ("call", "call")]


# --------------------------------------------------------------------------------------
# The environment a shape runs in.
# --------------------------------------------------------------------------------------

class Env:
    def __init__(self) -> None:
        self.log = rw.Log()
        self.targets: list[Any] = []
        self.K = define_static_call(self.target("K"), name="K")
        self.K2 = define_static_call(self.target("K2"), name="K2")
        self.keys = (self.K, self.K2)
        m = types.ModuleType("rw_shapes_m")
        m.K, m.K2 = self.K, self.K2  # type: ignore[attr-defined]
        sys.modules[m.__name__] = m  # the latest environment's keys
        pkg = types.ModuleType("rw_shapes_pkg")
        pkg.mod = m  # type: ignore[attr-defined]
        log = self.log

        class Ctx:
            def __init__(self, tag: Any) -> None:
                self.tag = tag

            def __enter__(self) -> Any:
                log.rec("enter", self.tag)
                return self.tag

            def __exit__(self, tp: Any, exc: Any, tb: Any) -> bool:
                log.rec("exit", (self.tag, tp.__name__ if tp else None))
                return False

        class ACtx(Ctx):
            async def __aenter__(self) -> Any:
                return self.__enter__()

            async def __aexit__(self, *exc: Any) -> bool:
                await rw.Suspend(None)
                return self.__exit__(*exc)

        # each environment exports its own K under the same name: drop the previous one's
        _exports._EXPORTS.pop(f"{__name__}:K", None)
        self.ns: dict[str, Any] = {
            "K": self.K, "K2": self.K2, "static_call": static_call,
            "static_call_cond": static_call_cond, "sc": staticcall, "m": m, "pkg": pkg,
            "H": export_static_call(self.K), "rec": log.rec, "Suspend": rw.Suspend,
            "Ctx": Ctx, "ACtx": ACtx, "AIter": rw.AIter,
        }

    def target(self, name: str) -> Any:
        t = self.log.target(name, caller=True)
        self.targets.append(t)
        return t

    def value(self, key_name: str, state: str) -> Any:
        if state == "null":
            return None
        if state == "ret0":
            return static_call_return0
        return self.target(key_name if state == "call" else key_name + "'")

    def set(self, states: tuple[str, str]) -> None:
        for key, state in zip(self.keys, states):
            static_call_update(key, self.value(key.name, state))

    def forbidden_codes(self) -> set[types.CodeType]:
        """Code that a no-call site must not run: trampolines, RET0, the targets."""
        codes = {static_call_return0.__code__}
        for key in self.keys:
            for tramp in (static_call(key), static_call_cond(key)):
                code = getattr(tramp, "__code__", None)
                if code is not None:
                    codes.add(code)
        for t in self.targets:
            codes.add(t.__code__)
        ret_none = getattr(staticcall._keys, "_return_none", None)
        if ret_none is not None:
            codes.add(ret_none.__code__)
        return codes

    def forbidden_callables(self) -> list[Any]:
        out: list[Any] = [static_call, static_call_cond, static_call_return0, *self.keys,
                          self.ns["H"], *self.targets]
        for key in self.keys:
            out += [static_call(key), static_call_cond(key)]
        return out


def build(shape: Shape, initial: str = "call") -> tuple[Env, Any, Any]:
    env = Env()
    env.set((initial, initial))
    plain, deco = rw.twin(shape.source, env.ns, stem=f"shape-{shape.name}")
    g = static_calls(deco["f"])
    return env, plain["f"], g


def run(env: Env, func: Any, args: tuple[Any, ...]) -> tuple[tuple[str, Any], list[Any]]:
    env.log.clear()
    out = rw.outcome(lambda: rw.drive(func(*args)))
    return out, list(env.log.items)


def strip_callers(items: list[Any]) -> list[Any]:
    return [x[:4] if x[0] == "call" else x for x in items]


def assert_same(plain: tuple[str, Any], deco: tuple[str, Any], filename: str | None) -> None:
    assert plain[0] == deco[0], (plain, deco)
    if plain[0] == "ok":
        assert plain[1] == deco[1]
        return
    p, d = plain[1], deco[1]
    assert type(p) is type(d), (p, d)
    if isinstance(d, StaticCallNullError):
        # the rewritten site names itself; the runtime path may not
        assert filename is None or filename in str(d), str(d)
    elif STAR_MESSAGE.search(str(p)) and STAR_MESSAGE.search(str(d)):
        # "<callee>() argument after * must be an iterable": the callee differs (the
        # trampoline, the target, or none when a no-call site unpacks the arguments)
        pass
    else:
        assert str(p) == str(d)


# --------------------------------------------------------------------------------------
# Shapes: rewritten, and equivalent to the runtime path in every state.
# --------------------------------------------------------------------------------------

def limited(shapes: list[Shape]) -> list[Any]:
    """``shapes`` as parameters; a known limitation is a strict expected failure."""
    out = []
    for shape in shapes:
        why = shape.limited()
        marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
        out.append(pytest.param(shape, id=shape.name, marks=marks))
    return out


@pytest.mark.parametrize("initial", ["call", "null", "ret0"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_shape_is_equivalent_to_runtime_path(shape: Shape, initial: str) -> None:
    env, f, g = build(shape, initial)
    filename = g.__code__.co_filename
    for which, key in enumerate(env.keys):
        sites = rw.sites_of(key, filename)
        assert shape.accepts(which, len(sites)), sites
        assert all(s.function for s in sites)
    for states in STEPS:
        env.set(states)
        plain_out, plain_log = run(env, f, shape.args)
        deco_out, deco_log = run(env, g, shape.args)
        assert_same(plain_out, deco_out, None if shape.limited() else filename)
        assert strip_callers(plain_log) == strip_callers(deco_log)


@pytest.mark.parametrize("initial", ["call", "null", "ret0"])
@pytest.mark.parametrize("shape", limited(SHAPES))
def test_shape_is_rewritten(shape: Shape, initial: str) -> None:
    env, f, g = build(shape, initial)
    filename = g.__code__.co_filename
    for which, key in enumerate(env.keys):
        if rw.sites_of(key, filename):
            rw.assert_rewritten(key, filename)
            assert {s.state for s in rw.sites_of(key, filename)} == {STATE_OF[initial]}
    rw.assert_no_lookup(g, *shape.gone, attrs=shape.gone_attrs)
    own_code = {c.co_name for c in rw.code_objects(g)}
    for states in STEPS:
        env.set(states)
        for key, state in zip(env.keys, states):
            assert {s.state for s in rw.sites_of(key, filename)} <= {STATE_OF[state]}
        _, deco_log = run(env, g, shape.args)
        # a rewritten site calls its target from the function's own frame
        callers = {x[4] for x in deco_log if x[0] == "call"}
        assert callers <= own_code, (callers, own_code)


@pytest.mark.parametrize("shape", limited(SHAPES))
def test_no_call_event_for_no_call_sites(shape: Shape) -> None:
    """RET0 and NULL-cond sites make no call: no profiler 'call'/'c_call' event for the
    target, a trampoline, static_call itself or static_call_return0."""
    env, f, g = build(shape)

    def profiled(func: Any, forbidden: set[types.CodeType]) -> list[Any]:
        bad: list[Any] = []

        def profile(frame: Any, event: str, arg: Any) -> None:
            if event == "call" and frame.f_code in forbidden:
                bad.append(frame.f_code)
            elif event == "c_call" and (arg == static_call or arg == static_call_cond):
                bad.append(arg)

        old = sys.getprofile()
        sys.setprofile(profile)
        try:
            rw.outcome(lambda: rw.drive(func(*shape.args)))
        finally:
            sys.setprofile(old)
        return bad

    for states in [("ret0", "ret0"), ("null", "null"), ("ret0", "null")]:
        env.set(states)
        forbidden = env.forbidden_codes()
        assert profiled(g, forbidden) == []
        if states == ("ret0", "ret0"):
            # the check can see them: the undecorated copy goes through them
            assert profiled(f, forbidden) != []


@pytest.mark.skipif(PY < (3, 12), reason="sys.monitoring is 3.12+")
@pytest.mark.parametrize("shape", limited(SHAPES))
def test_no_monitoring_call_event_for_no_call_sites(shape: Shape) -> None:
    E = sys.monitoring.events
    env, f, g = build(shape)

    def monitored(func: Any) -> tuple[list[Any], list[Any]]:
        calls: list[Any] = []
        starts: list[Any] = []

        def on_call(code: Any, offset: int, callable_: Any, arg0: Any) -> None:
            calls.append(callable_)

        def on_start(code: Any, offset: int) -> None:
            starts.append(code)

        with rw.monitoring_tool({E.CALL: on_call, E.PY_START: on_start}):
            rw.outcome(lambda: rw.drive(func(*shape.args)))
        forbidden = env.forbidden_callables()
        forbidden_codes = env.forbidden_codes()
        return ([c for c in calls if any(c is x or c == x for x in forbidden)],
                [c for c in starts if c in forbidden_codes])

    for states in [("ret0", "ret0"), ("null", "null")]:
        env.set(states)
        assert monitored(g) == ([], [])
        if states == ("ret0", "ret0"):
            # the check can see them: the undecorated copy goes through them
            bad_calls, bad_starts = monitored(f)
            assert bad_calls and bad_starts


def test_monitoring_sees_the_call_of_a_function_target() -> None:
    """Counterpart of the test above: with a function target the CALL event names it."""
    if PY < (3, 12):
        pytest.skip("sys.monitoring is 3.12+")
    shape = next(s for s in SHAPES if s.name == "positional")
    env, f, g = build(shape)
    target = env.target("T")
    static_call_update(env.K, target)
    calls: list[Any] = []
    with rw.monitoring_tool({sys.monitoring.events.CALL:
                             lambda code, off, c, a0: calls.append(c)}):
        g(1)
    assert any(c is target for c in calls)
    assert not any(c is static_call_return0 or c == static_call for c in calls)


# --------------------------------------------------------------------------------------
# Explicit behaviour of each target kind at a rewritten site.
# --------------------------------------------------------------------------------------

SRC_BASIC = """
def call(x):
    return static_call(K)(rec(1, x), k=rec(2, x))
def cond(x):
    return static_call_cond(K)(rec(1, x), k=rec(2, x))
def keycall(x):
    return K(rec(1, x), k=rec(2, x))
"""


def basic() -> tuple[Env, dict[str, Any]]:
    env = Env()
    _, deco = rw.twin(SRC_BASIC, env.ns, stem="basic")
    funcs = {name: static_calls(deco[name]) for name in ("call", "cond", "keycall")}
    return env, funcs


def test_function_target_is_called_directly() -> None:
    env, funcs = basic()
    for name, g in funcs.items():
        env.log.clear()
        assert g(3) == ("K", (3,), {"k": 3})
        assert env.log.items == [("rec", 1, 3), ("rec", 2, 3),
                                 ("call", "K", (3,), (("k", 3),), name)]


def test_null_target() -> None:
    env, funcs = basic()
    static_call_update(env.K, None)
    for name in ("call", "keycall"):
        env.log.clear()
        with pytest.raises(StaticCallNullError) as info:
            funcs[name](4)
        # arguments were evaluated first
        assert env.log.items == [("rec", 1, 4), ("rec", 2, 4)]
        msg = str(info.value)
        assert "'K'" in msg
        line = funcs[name].__code__.co_firstlineno + 1
        assert f"{funcs[name].__code__.co_filename}:{line}" in msg
    env.log.clear()
    assert funcs["cond"](4) is None
    assert env.log.items == [("rec", 1, 4), ("rec", 2, 4)]


def test_ret0_target() -> None:
    env, funcs = basic()
    static_call_update(env.K, static_call_return0)
    for name, g in funcs.items():
        env.log.clear()
        assert g(5) == 0
        assert env.log.items == [("rec", 1, 5), ("rec", 2, 5)]


def test_any_callable_target() -> None:
    env, funcs = basic()

    class Obj:
        def __call__(self, *a: Any, **k: Any) -> Any:
            return ("obj", a, k)

        def meth(self, *a: Any, **k: Any) -> Any:
            return ("meth", a, k)

    import functools
    for target, expected in [
        (Obj(), ("obj", (6,), {"k": 6})),
        (Obj().meth, ("meth", (6,), {"k": 6})),
        (functools.partial(lambda *a, **k: (a, k), 0), ((0, 6), {"k": 6})),
        (lambda *a, **k: (a, k), ((6,), {"k": 6})),
        (dict, None),
    ]:
        static_call_update(env.K, target)
        for g in funcs.values():
            if target is dict:
                with pytest.raises(TypeError):
                    g(6)
            else:
                assert g(6) == expected


def test_builtin_target() -> None:
    env = Env()
    B = define_static_call_null(name="B")  # no prototype: any callable fits
    _, deco = rw.twin("def f(xs):\n    return static_call(B)(xs), B(xs)\n",
                      dict(env.ns, B=B))
    g = static_calls(deco["f"])
    rw.assert_rewritten(B, g.__code__.co_filename, count=2)
    with pytest.raises(StaticCallNullError):
        g([1])
    static_call_update(B, sorted)
    assert g([3, 1, 2]) == ([1, 2, 3], [1, 2, 3])
    static_call_update(B, len)
    assert g([3, 1, 2]) == (3, 3)
    static_call_update(B, str.upper)  # a method descriptor
    assert g("ab") == ("AB", "AB")


# --------------------------------------------------------------------------------------
# Site table entries: tail, cond, lineno.
# --------------------------------------------------------------------------------------

SRC_TABLE = """
def f(x):
    a = static_call(K)(x)
    if x:
        return static_call_cond(K)(a)
    b = [static_call(K)(i) for i in range(2)]
    return K(
        a,
        b,
    ) + 1

def g(x):
    return static_call(
        K
    )(
        x,
    )

h = lambda x: K2(x)

def k(x):
    return m.K2(static_call_cond(K2)(x))
"""


def test_table_entries() -> None:
    env = Env()
    _, deco = rw.twin(SRC_TABLE, env.ns, stem="table")
    fns = {name: static_calls(deco[name]) for name in ("f", "g", "h", "k")}
    filename = fns["f"].__code__.co_filename
    lines = SRC_TABLE.splitlines()

    def line_of(text: str) -> int:
        (n,) = [n for n, line in enumerate(lines, 1) if text in line]
        return n

    listcomp_fn = "f" if PY >= (3, 12) else "f.<locals>.<listcomp>"
    # (key, function, lineno, cond, tail)
    expect = sorted([
        ("K", "f", line_of("a = static_call(K)"), False, False),
        ("K", "f", line_of("return static_call_cond(K)(a)"), True, True),
        ("K", listcomp_fn, line_of("b = [static_call"), False, False),
        ("K", "f", line_of("return K("), False, False),
        ("K", "g", line_of("return static_call("), False, True),
        ("K2", "<lambda>", line_of("h = lambda"), False, True),
        ("K2", "k", line_of("m.K2(static_call_cond"), False, True),
        ("K2", "k", line_of("m.K2(static_call_cond"), True, False),
    ])
    sites = static_call_sites(env.K) + static_call_sites(env.K2)
    got = sorted((s.key.name, s.function, s.lineno, s.cond, s.tail) for s in sites)
    assert got == expect
    for s in sites:
        assert s.filename == filename
        assert s.where == f"{filename}:{s.lineno}"
        assert s.reason is None
        assert s.state == "call"
    assert fns["g"](1) == ("K", (1,), {})
    assert fns["k"](1) == ("K2", (("K2", (1,), {}),), {})


def test_site_dataclass_is_frozen() -> None:
    env = Env()
    _, deco = rw.twin("def f(x):\n    return K(x)\n", env.ns)
    g = static_calls(deco["f"])
    (site,) = static_call_sites(env.K)
    with pytest.raises(Exception):
        site.state = "null"  # type: ignore[misc]
    assert g(1) == ("K", (1,), {})


# --------------------------------------------------------------------------------------
# Not sites: keys reached another way still work, through the runtime path.
# --------------------------------------------------------------------------------------

SRC_NOT_SITES = """
def shadow_param(K, x):
    return K(x), static_call(K)(x)

def shadow_local(x):
    K = KEY_HOLDER[0]
    return K(x), static_call_cond(K)(x)

def via_local(x):
    k = K
    return k(x), static_call(k)(x), static_call_cond(k)(x)

class Holder:
    def __init__(self):
        self.k = K
    def via_attr(self, x):
        return self.k(x), static_call(self.k)(x)

def via_attr(x):
    return Holder().via_attr(x)

def called_later(x):
    g = static_call(K)
    h = static_call_cond(K)
    return g(x), h(x)

def via_getattr(x):
    return getattr(m, "K")(x), static_call(getattr(m, "K"))(x)

def via_subscript(x):
    return KEYS[0](x), static_call(KEYS[0])(x)
"""

NOT_SITES = ["shadow_param", "shadow_local", "via_local", "via_attr", "called_later",
             "via_getattr", "via_subscript"]


@pytest.mark.parametrize("name", NOT_SITES)
def test_not_sites_work_through_runtime_path(name: str) -> None:
    env = Env()
    env.ns["KEY_HOLDER"] = [env.K]
    env.ns["KEYS"] = [env.K]
    _, deco = rw.twin(SRC_NOT_SITES, env.ns, stem="notsites")
    if name == "via_attr":
        deco["Holder"] = static_calls(deco["Holder"])
    g = static_calls(deco[name])
    args: tuple[Any, ...] = (env.K, 7) if name == "shadow_param" else (7,)
    filename = g.__code__.co_filename
    for key_state in ["call", "null", "ret0", "call2"]:
        static_call_update(env.K, env.value("K", key_state))
        out = rw.outcome(lambda: g(*args))
        if key_state == "null":
            assert out[0] == "raise" and isinstance(out[1], StaticCallNullError)
        elif key_state == "ret0":
            assert out == ("ok", (0,) * len(out[1]))
        else:
            expected = ("K" if key_state == "call" else "K'", (7,), {})
            assert out[0] == "ok" and all(v == expected for v in out[1]), out
            # through the runtime path: a trampoline or the key sits between (or the
            # key, a partial, calls the target from C: then the caller is the function)
            calls = [x for x in env.log.items if x[0] == "call"]
            assert calls
    # nothing of it is a live, rewritten site
    for s in rw.sites_of(env.K, filename):
        assert s.state == "trampoline" and s.reason, s


def test_local_shadowing_is_not_a_site() -> None:
    env = Env()
    _, deco = rw.twin(SRC_NOT_SITES, env.ns, stem="shadow")
    g = static_calls(deco["shadow_param"])
    assert rw.sites_of(env.K, g.__code__.co_filename) == []
    other = lambda x: ("other", x)  # noqa: E731
    with pytest.raises(TypeError):
        g(other, 1)  # static_call(<lambda>) is not a key: the runtime path says so
    assert g(env.K2, 2) == (("K2", (2,), {}), ("K2", (2,), {}))


def test_called_later_is_not_a_site_for_strict() -> None:
    """``g = static_call(K)`` called later is not a site: strict has nothing to object to."""
    env = Env()
    _, deco = rw.twin(SRC_NOT_SITES, env.ns, stem="strict-later")
    g = static_calls(strict=True)(deco["called_later"])
    assert g(1) == (("K", (1,), {}), ("K", (1,), {}))


def test_rebinding_the_global_is_not_seen() -> None:
    env = Env()
    src = "def f(x):\n    return static_call(K)(x), K(x), m.K(x)\n"
    plain, deco = rw.twin(src, env.ns, stem="rebind")
    g = static_calls(deco["f"])
    f = plain["f"]
    other = define_static_call(lambda *a, **k: ("other", a), name="other")
    m2 = types.ModuleType("m2")
    m2.K = other  # type: ignore[attr-defined]
    with mock.patch.dict(deco, {"K": other, "m": m2}), \
            mock.patch.dict(plain, {"K": other, "m": m2}):
        # the rewritten site bound K when decorated, as a linker binds a symbol
        assert g(1) == (("K", (1,), {}),) * 3
        # the undecorated copy looks the name up at each call
        assert f(1) == (("other", (1,)),) * 3
        static_call_update(env.K, static_call_return0)
        assert g(1) == (0, 0, 0)
    # the table still lists the sites under K
    assert len(rw.sites_of(env.K, g.__code__.co_filename)) == 3
    assert rw.sites_of(other) == []


def test_global_that_is_not_a_key_at_decoration() -> None:
    """A name that is not a key when the decorator runs does not form a site, even if it
    is bound to a key later."""
    env = Env()
    src = "def f(x):\n    return LATER(x), static_call(LATER)(x)\n"
    ns = dict(env.ns, LATER=lambda x: ("plain", x))
    _, deco = rw.twin(src, ns, stem="later")
    g = static_calls(deco["f"])
    assert rw.sites_of(env.K, g.__code__.co_filename) == []
    deco["LATER"] = env.K
    assert g(1) == (("K", (1,), {}), ("K", (1,), {}))
    static_call_update(env.K, None)
    with pytest.raises(StaticCallNullError):
        g(1)


def test_undefined_global_at_decoration() -> None:
    env = Env()
    src = "def f(x):\n    return static_call(MISSING)(x)\n"
    _, deco = rw.twin(src, env.ns, stem="missing")
    g = static_calls(deco["f"])
    with pytest.raises(NameError):
        g(1)
    deco["MISSING"] = env.K
    assert g(1) == ("K", (1,), {})


def test_strict_accepts_fully_rewritten_function() -> None:
    env = Env()
    shape = next(s for s in SHAPES if s.name == "nested-mixed-forms")
    _, deco = rw.twin(shape.source, env.ns, stem="strict-ok")
    g = static_calls(strict=True)(deco["f"])
    rw.assert_rewritten(env.K, g.__code__.co_filename)


def test_static_call_error_is_base_of_null_error() -> None:
    assert issubclass(StaticCallNullError, StaticCallError)
    assert issubclass(StaticCallNullError, TypeError)
