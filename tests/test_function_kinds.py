"""``@static_calls`` on every kind of function, and what the decorator preserves."""

from __future__ import annotations

import functools
import gc
import inspect
import sys
import types
from typing import Any

import pytest

import rewrite_helpers as rw
import staticcall as sc
from staticcall import (
    DEFINE_STATIC_KEY_FALSE,
    StaticCallError,
    StaticCallNullError,
    StaticCallPermissionError,
    declare_static_call,
    define_static_call,
    export_static_call,
    static_branch_disable,
    static_branch_enable,
    static_branch_unlikely,
    static_call,
    static_call_cond,
    static_call_override,
    static_call_return0,
    static_call_sites,
    static_call_update,
    static_calls,
)
from staticcall._opcodes import PY

CALLS: list[tuple[str, tuple[Any, ...]]] = []


def target(*args: Any, **kwargs: Any) -> Any:
    """The default target of K: records its caller's code name."""
    CALLS.append((sys._getframe(1).f_code.co_name, args))
    return ("T", args)


def other(*args: Any, **kwargs: Any) -> Any:
    CALLS.append((sys._getframe(1).f_code.co_name, args))
    return ("O", args)


K = define_static_call(target, name="fk_K")
MISSING = declare_static_call("rw_no_such_module_anywhere:key")


@pytest.fixture(autouse=True)
def _reset() -> Any:
    CALLS.clear()
    static_call_update(K, target)
    yield
    static_call_update(K, target)


def sites_in(qualname_part: str) -> list[sc.Site]:
    return [s for s in static_call_sites(K)
            if s.filename == __file__ and qualname_part in s.function]


def assert_live(func: Any, qualname_part: str | None = None, count: int | None = None) -> None:
    """``func``'s sites are rewritten: live table entries, no lookup of ``K`` left."""
    part = qualname_part or func.__qualname__
    sites = sites_in(part)
    assert sites, f"no site recorded for {part}"
    if count is not None:
        assert len(sites) == count, sites
    for s in sites:
        assert s.reason is None and s.state == "call", s
    rw.assert_no_lookup(func, "K", "static_call", "static_call_cond")


def direct_callers() -> set[str]:
    return {name for name, _ in CALLS}


# --------------------------------------------------------------------------------------
# Plain, nested, closures.
# --------------------------------------------------------------------------------------

@static_calls
def plain(x: int, y: int = 2, *rest: int, z: int = 3, **kw: int) -> Any:
    """Plain docstring."""
    return static_call(K)(x, y), static_call_cond(K)(z), K(*rest, **kw)


def test_plain_function() -> None:
    assert plain(1) == (("T", (1, 2)), ("T", (3,)), ("T", ()))
    assert direct_callers() == {"plain"}
    assert_live(plain, "plain", count=3)
    with static_call_override(K, static_call_return0):
        assert plain(1) == (0, 0, 0)
    with static_call_override(K, None):
        with pytest.raises(StaticCallNullError):
            plain(1)


def test_nested_function() -> None:
    @static_calls
    def nested(x: int) -> Any:
        return static_call(K)(x)

    assert nested(4) == ("T", (4,))
    assert direct_callers() == {"nested"}
    assert_live(nested, "test_nested_function.<locals>.nested", count=1)


def test_closure_cells_are_shared() -> None:
    def make() -> Any:
        count = 0

        def bump(x: int) -> Any:
            nonlocal count
            count += 1
            return static_call(K)(x, count)

        def get() -> int:
            return count

        return bump, get

    bump, get = make()
    new = static_calls(bump)
    assert new.__closure__ is not None and bump.__closure__ is not None
    assert [c for c in new.__closure__] == [c for c in bump.__closure__]
    assert all(a is b for a, b in zip(new.__closure__, bump.__closure__))
    assert new(7) == ("T", (7, 1))
    assert bump(7) == ("T", (7, 2))  # the original still works, through the runtime path
    assert get() == 2
    assert_live(new, "make.<locals>.bump", count=1)


def test_closure_with_class_cell_and_super() -> None:
    class Base:
        def m(self, x: int) -> Any:
            return ("base", x)

    class C(Base):
        @static_calls
        def m(self, x: int) -> Any:
            return super().m(x), static_call(K)(x), __class__  # noqa: F821

    assert C().m(2) == (("base", 2), ("T", (2,)), C)
    assert direct_callers() == {"m"}
    assert_live(C.m, "C.m", count=1)


def test_original_function_stays_correct() -> None:
    def f(x: int) -> Any:
        return static_call(K)(x)

    g = static_calls(f)
    for fn in (f, g):
        assert fn(1) == ("T", (1,))
        with static_call_override(K, other):
            assert fn(1) == ("O", (1,))
        with static_call_override(K, None):
            with pytest.raises(StaticCallNullError):
                fn(1)
        with static_call_override(K, static_call_return0):
            assert fn(1) == 0


# --------------------------------------------------------------------------------------
# Generators, coroutines, async generators.
# --------------------------------------------------------------------------------------

def test_generator_function() -> None:
    @static_calls
    def gen(n: int) -> Any:
        for i in range(n):
            yield static_call(K)(i)
        return static_call_cond(K)(n)

    assert inspect.isgeneratorfunction(gen)
    assert_live(gen, "gen", count=2)
    assert rw.drive(gen(2)) == [("T", (0,)), ("T", (1,)), ("return", ("T", (2,)))]
    assert direct_callers() == {"gen"}
    # a suspended generator follows an update
    it = gen(3)
    assert next(it) == ("T", (0,))
    static_call_update(K, static_call_return0)
    assert next(it) == 0
    static_call_update(K, other)
    assert next(it) == ("O", (2,))
    static_call_update(K, None)
    with pytest.raises(StopIteration) as stop:
        next(it)
    assert stop.value.value is None


def test_coroutine_function() -> None:
    @static_calls
    async def coro(n: int) -> Any:
        out = []
        for i in range(n):
            out.append(static_call(K)(await rw.Suspend(i)))
        return out

    assert inspect.iscoroutinefunction(coro)
    assert_live(coro, "coro", count=1)
    seen = []

    def between(n: int) -> None:
        seen.append(n)
        if n == 2:
            static_call_update(K, other)

    # the update happens while the second call's argument is awaited: that call
    # already sees it (the site loads its target again after its arguments)
    assert rw.drive(coro(3), between) == [("T", (0,)), ("O", (1,)), ("O", (2,))]
    assert seen == [1, 2, 3]


def test_async_generator_function() -> None:
    @static_calls
    async def agen(n: int) -> Any:
        for i in range(n):
            yield static_call_cond(K)(await rw.Suspend(i))

    assert inspect.isasyncgenfunction(agen)
    assert_live(agen, "agen", count=1)
    assert rw.drive(agen(2)) == [("T", (0,)), ("T", (1,))]
    static_call_update(K, None)
    assert rw.drive(agen(2)) == [None, None]


# --------------------------------------------------------------------------------------
# Methods, staticmethod and classmethod (both orders), properties.
# --------------------------------------------------------------------------------------

class Methods:
    factor = 10

    @static_calls
    def method(self, x: int) -> Any:
        return static_call(K)(self.factor, x)

    @staticmethod
    @static_calls
    def static_inner(x: int) -> Any:
        return static_call(K)("s", x)

    @static_calls
    @staticmethod
    def static_outer(x: int) -> Any:
        return static_call(K)("S", x)

    @classmethod
    @static_calls
    def class_inner(cls, x: int) -> Any:
        return static_call(K)(cls.factor, "c", x)

    @static_calls
    @classmethod
    def class_outer(cls, x: int) -> Any:
        return static_call(K)(cls.factor, "C", x)


@pytest.mark.parametrize("name", ["method", "static_inner", "static_outer", "class_inner",
                                  "class_outer"])
def test_methods(name: str) -> None:
    raw = vars(Methods)[name]
    if name.startswith("static"):
        assert isinstance(raw, staticmethod)
    elif name.startswith("class"):
        assert isinstance(raw, classmethod)
    obj = Methods()
    bound = getattr(obj, name)
    result = bound(1)
    assert result[0] == "T" and result[1][-1] == 1
    expected = {"method": (10, 2), "static_inner": ("s", 2), "static_outer": ("S", 2),
                "class_inner": (10, "c", 2), "class_outer": (10, "C", 2)}[name]
    assert bound(2) == ("T", expected)
    if name != "method":
        assert getattr(Methods, name)(2) == ("T", expected)
    assert direct_callers() == {name}
    func = getattr(raw, "__func__", raw)
    assert_live(func, f"Methods.{name}", count=1)
    with static_call_override(K, static_call_return0):
        assert bound(1) == 0


# --------------------------------------------------------------------------------------
# functools.wraps wrappers.
# --------------------------------------------------------------------------------------

def logged(fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return ("wrapped", fn(*args, **kwargs))
    return wrapper


def test_wraps_wrapper() -> None:
    @static_calls
    @logged
    def inner(x: int) -> Any:
        return static_call(K)(x)

    assert inner.__name__ == "inner"
    assert inner(3) == ("wrapped", ("T", (3,)))
    assert direct_callers() == {"inner"}
    assert_live(inner.__wrapped__, "test_wraps_wrapper.<locals>.inner", count=1)
    with static_call_override(K, static_call_return0):
        assert inner(3) == ("wrapped", 0)


def test_wraps_chain_of_two() -> None:
    @static_calls
    @logged
    @logged
    def inner(x: int) -> Any:
        return static_call_cond(K)(x)

    assert inner(3) == ("wrapped", ("wrapped", ("T", (3,))))
    assert direct_callers() == {"inner"}
    assert_live(inner.__wrapped__.__wrapped__, "test_wraps_chain_of_two.<locals>.inner")


def test_wraps_wrapper_reaching_function_another_way() -> None:
    holder: dict[str, Any] = {}

    def inner(x: int) -> Any:
        return static_call(K)(x)

    holder["fn"] = inner

    @functools.wraps(inner)
    def wrapper(x: int) -> Any:
        return holder["fn"](x)

    out = static_calls(wrapper)
    assert out is wrapper
    assert wrapper(5) == ("T", (5,))
    assert direct_callers() == {"inner"}
    with static_call_override(K, static_call_return0):
        assert wrapper(5) == 0
    assert sites_in("wrapper_reaching_function_another_way.<locals>.inner")


def test_wraps_chain_ending_in_builtin_is_left_alone() -> None:
    @functools.wraps(len)
    def wrapper(x: Any) -> int:
        return len(x)

    assert static_calls(wrapper) is wrapper  # its own code has no site: nothing to change
    assert wrapper([1, 2]) == 2
    with pytest.raises(TypeError, match="builtin_function_or_method"):
        static_calls(len)  # holds no Python code at all


def _branchy_wrapper(fn: Any) -> Any:
    """A wrapper whose own code has a site: a branch of ``SWITCH``."""
    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        if static_branch_unlikely(SWITCH):
            return ("on", fn(*args))
        return ("off", fn(*args))
    return wrapper


def _through_holder(fn: Any) -> Any:
    holder = {"fn": fn}

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        return holder["fn"](*args)
    return wrapper


SWITCH = DEFINE_STATIC_KEY_FALSE("function_kinds_switch")


@pytest.mark.parametrize("wrap", [logged, _through_holder, _branchy_wrapper],
                         ids=["closure", "reached-another-way", "wrapper-with-a-site"])
def test_a_wrapper_reaches_rewritten_code_only_once_it_is_laid_out(
        wrap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decorating a wrapper (``functools.wraps``) gives the wrapped function, and a
    wrapper further in, their rewritten code only after its sites are laid out for
    their keys: a call made in between (as from another thread) runs code that takes
    the enabled branch."""
    from staticcall import _decorator

    def inner(x: int) -> Any:
        if static_branch_unlikely(SWITCH):
            return "on"
        return "off"

    obj = logged(wrap(inner))
    seen: list[Any] = []
    real = _decorator.register

    def register(func: Any, records: Any) -> None:
        seen.append(obj(1))  # as if from another thread, just before the lay-out
        real(func, records)

    monkeypatch.setattr(_decorator, "register", register)
    static_branch_enable(SWITCH)
    try:
        out = static_calls(obj)
        expected = out(1)
        assert "off" not in repr(expected), expected
        assert seen and all(s == expected for s in seen), (seen, expected)
    finally:
        static_branch_disable(SWITCH)


# --------------------------------------------------------------------------------------
# Class decorator.
# --------------------------------------------------------------------------------------

def test_class_decorator() -> None:
    class Box:
        builtin_member = len
        __class_getitem__ = classmethod(types.GenericAlias)
        value = 3

        def method(self, x: int) -> Any:
            return static_call(K)("m", x)

        @staticmethod
        def smeth(x: int) -> Any:
            return static_call(K)("s", x)

        @classmethod
        def cmeth(cls, x: int) -> Any:
            return static_call(K)("c", cls.value, x)

        @property
        def prop(self) -> Any:
            return static_call_cond(K)("p")

        @prop.setter
        def prop(self, v: Any) -> None:
            self.stored = static_call(K)("set", v)

        @prop.deleter
        def prop(self) -> None:
            self.deleted = static_call(K)("del")

        @logged
        def wrapped(self, x: int) -> Any:
            return static_call(K)("w", x)

        class Inner:  # a nested class: decorated too
            def meth(self) -> Any:
                return K("inner")

    alias, builtin = vars(Box)["__class_getitem__"], vars(Box)["builtin_member"]
    out = static_calls(Box)
    assert out is Box
    assert vars(Box)["__class_getitem__"] is alias and vars(Box)["builtin_member"] is builtin
    assert Box[int] == types.GenericAlias(Box, (int,))
    assert isinstance(vars(Box)["smeth"], staticmethod)
    assert isinstance(vars(Box)["cmeth"], classmethod)
    assert isinstance(vars(Box)["prop"], property)
    b = Box()
    assert b.method(1) == ("T", ("m", 1))
    assert Box.smeth(1) == ("T", ("s", 1))
    assert Box.cmeth(1) == ("T", ("c", 3, 1))
    assert b.prop == ("T", ("p",))
    b.prop = 5
    assert b.stored == ("T", ("set", 5))
    del b.prop
    assert b.deleted == ("T", ("del",))
    assert b.wrapped(1) == ("wrapped", ("T", ("w", 1)))
    assert Box.builtin_member([1]) == 1
    assert Box.Inner().meth() == ("T", ("inner",))
    assert direct_callers() == {"method", "smeth", "cmeth", "prop", "wrapped", "meth"}
    for name in ("method", "smeth", "cmeth", "wrapped"):
        assert all(s.reason is None for s in sites_in(f"Box.{name}")), name
        assert sites_in(f"Box.{name}"), name
    assert len(sites_in("Box.prop")) == 3
    with static_call_override(K, static_call_return0):
        assert (b.method(1), Box.smeth(1), Box.cmeth(1), b.prop) == (0, 0, 0, 0)
    with static_call_override(K, None):
        assert b.prop is None
        with pytest.raises(StaticCallNullError):
            b.method(1)


def test_class_decorator_twice_changes_nothing() -> None:
    @static_calls
    class Twice:
        def m(self) -> Any:
            return static_call(K)()

    before = dict(vars(Twice))
    n = len(sites_in("Twice.m"))
    assert static_calls(Twice) is Twice
    assert dict(vars(Twice)) == before
    assert len(sites_in("Twice.m")) == n == 1
    assert Twice().m() == ("T", ())


# --------------------------------------------------------------------------------------
# Decorating twice, what is preserved.
# --------------------------------------------------------------------------------------

def test_decorating_twice_changes_nothing() -> None:
    def f(x: int) -> Any:
        return static_call(K)(x)

    g = static_calls(f)
    code = g.__code__
    assert static_calls(g) is g
    assert static_calls(mode="inline")(g) is g
    assert g.__code__ is code
    assert len(sites_in("test_decorating_twice_changes_nothing.<locals>.f")) == 1
    assert g(1) == ("T", (1,))


def test_decorator_preserves_attributes() -> None:
    cell_value = object()

    def make() -> Any:
        captured = cell_value

        def f(a: int, /, b: "str" = "B", *args: int, c: float = 1.5, **kw: Any) -> list[int]:
            """The docstring."""
            return static_call(K)(a, b, captured, c)

        return f

    f = make()
    f.custom = {"x": 1}  # type: ignore[attr-defined]
    f.__module__ = "some.module"
    g = static_calls(f)
    for attr in ("__name__", "__qualname__", "__module__", "__doc__", "__defaults__",
                 "__kwdefaults__", "__dict__", "__globals__"):
        assert getattr(g, attr) == getattr(f, attr), attr
    assert g.__dict__ is f.__dict__ or g.__dict__ == f.__dict__
    assert g.custom == {"x": 1}  # type: ignore[attr-defined]
    assert g.__annotations__ == f.__annotations__
    assert inspect.signature(g) == inspect.signature(f)
    assert g.__closure__ is not None and f.__closure__ is not None
    assert all(a is b for a, b in zip(g.__closure__, f.__closure__))
    assert g.__code__.co_name == f.__code__.co_name
    assert g.__code__.co_qualname == f.__code__.co_qualname
    assert g.__code__.co_firstlineno == f.__code__.co_firstlineno
    assert g.__code__.co_filename == f.__code__.co_filename
    assert g.__code__.co_flags == f.__code__.co_flags
    assert g.__code__.co_argcount == f.__code__.co_argcount
    assert g.__code__.co_posonlyargcount == f.__code__.co_posonlyargcount
    assert g.__code__.co_kwonlyargcount == f.__code__.co_kwonlyargcount
    assert g.__code__.co_freevars == f.__code__.co_freevars
    assert g(1) == ("T", (1, "B", cell_value, 1.5))
    assert inspect.getdoc(g) == "The docstring."


def test_decorator_preserves_lazy_annotations_and_type_params() -> None:
    src = "def f[T](x: T, y: 'Later') -> T:\n    return static_call(K)(x)\n" if PY >= (3, 12) \
        else "def f(x: 'T', y: 'Later') -> 'T':\n    return static_call(K)(x)\n"
    ns: dict[str, Any] = {"static_call": static_call, "K": K, "__name__": __name__}
    exec(compile(src, rw.register_source(src), "exec"), ns)
    f = ns["f"]
    g = static_calls(f)
    if PY >= (3, 12):
        assert g.__type_params__ == f.__type_params__
    assert g.__annotations__ == f.__annotations__
    assert g(1, 2) == ("T", (1,))


def test_collected_function_leaves_the_table() -> None:
    def make() -> Any:
        def doomed(x: int) -> Any:
            return static_call(K)(x)
        return static_calls(doomed)

    g = make()
    assert len(sites_in("make.<locals>.doomed")) == 1
    del g
    gc.collect()
    assert sites_in("make.<locals>.doomed") == []


# --------------------------------------------------------------------------------------
# Modes: trampoline, strict.
# --------------------------------------------------------------------------------------

def test_trampoline_mode_records_without_rewriting() -> None:
    def f(x: int) -> Any:
        return static_call(K)(x), static_call_cond(K)(x), K(x)

    g = static_calls(mode="trampoline")(f)
    sites = sites_in("test_trampoline_mode_records_without_rewriting.<locals>.f")
    assert len(sites) == 3
    for s in sites:
        assert s.state == "trampoline" and s.reason, s
    globals_, _ = rw.loads(g)
    assert "K" in globals_  # not rewritten
    assert g(1) == (("T", (1,)),) * 3
    assert "trampoline" in direct_callers()  # the runtime path
    with static_call_override(K, static_call_return0):
        assert g(1) == (0, 0, 0)
    with static_call_override(K, None):
        with pytest.raises(StaticCallNullError):
            g(1)
    # still "trampoline" whatever the target
    static_call_update(K, None)
    assert {s.state for s in sites_in("records_without_rewriting.<locals>.f")} == {"trampoline"}


def test_trampoline_and_inline_mode_list_the_same_sites() -> None:
    """Both modes read the code the same way: sites inside ``try``/``except`` (which need
    the exception table's stack depths) are listed in trampoline mode too, with the same
    lines and tail flags as in inline mode."""
    def f(x: int) -> Any:
        try:
            return static_call(K)(x)
        except ValueError:
            return static_call_cond(K)(-x)
        finally:
            K(x)

    twin = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__,
                              f.__closure__)
    static_calls(mode="trampoline")(f)
    tramp = sorted((s.lineno, s.tail, s.cond, s.state)
                   for s in sites_in("test_trampoline_and_inline_mode_list_the_same_sites"))
    g = static_calls(twin)
    live = sorted((s.lineno, s.tail, s.cond, s.state)
                  for s in sites_in("test_trampoline_and_inline_mode_list_the_same_sites")
                  if s.state != "trampoline")
    assert tramp and all(state == "trampoline" for *_, state in tramp)
    assert [t[:3] for t in tramp] == [t[:3] for t in live]
    with static_call_override(K, target):
        assert g(3) == ("T", (3,))


def test_unknown_mode() -> None:
    with pytest.raises(ValueError):
        static_calls(mode="bogus")


def unresolvable(x: int) -> Any:
    return static_call(MISSING)(x), static_call(K)(x)


def test_unresolvable_handle_stays_on_runtime_path() -> None:
    g = static_calls(unresolvable)
    entries = [s for s in static_call_sites() if s.function == "unresolvable"
               and s.filename == __file__]
    assert entries, "the unresolvable site is in the table"
    missing = [s for s in entries if s.key is not K]
    assert missing and all(s.state == "trampoline" and s.reason for s in missing)
    assert "rw_no_such_module_anywhere" in missing[0].reason  # says what is missing
    # the resolvable site of the same function is rewritten
    assert [s.reason for s in entries if s.key is K] == [None]
    with pytest.raises(StaticCallError, match="rw_no_such_module_anywhere"):
        g(1)


def test_unresolvable_handle_behaves_as_undecorated() -> None:
    """The site is left as written: ``static_call(MISSING)`` fails before its arguments
    are evaluated, ``MISSING(...)`` after, as without the decorator."""
    src = "def f(x):\n    return static_call(M)(rec(x))\n\ndef g(x):\n    return M(rec(x))\n"
    log: list[Any] = []
    env = {"M": MISSING, "static_call": static_call, "rec": log.append,
           "__name__": "rw_missing_twin"}
    plain, deco = rw.twin(src, env, stem="missing")
    for name, evaluated in (("f", []), ("g", [1])):
        for fn in (plain[name], static_calls(deco[name])):
            log.clear()
            with pytest.raises(StaticCallError, match="rw_no_such_module_anywhere"):
                fn(1)
            assert log == evaluated, name


GPL_SRC = """
def f(x):
    return static_call(H)(rec(x)), static_call_cond(H)(rec(x + 1)), H(rec(x + 2))
"""


@pytest.mark.parametrize("licence", [None, "MIT", "GPL", "Dual MIT/GPL"])
def test_gpl_only_handle(licence: str | None) -> None:
    """A GPL-only handle is a site only in a GPL-compatible module; elsewhere the site
    stays on the runtime path, which refuses the call exactly as undecorated code does."""
    handle = export_static_call(K, gpl=True)
    log: list[Any] = []

    def rec(v: Any) -> Any:
        log.append(v)
        return v

    env = {"H": handle, "static_call": static_call, "static_call_cond": static_call_cond,
           "rec": rec, "__name__": "rw_gpl_twin"}
    if licence is not None:
        env["__license__"] = licence
    plain, deco = rw.twin(GPL_SRC, env, stem="gpl")
    f, g = plain["f"], static_calls(deco["f"])
    sites = [s for s in static_call_sites(K) if s.filename == g.__code__.co_filename]
    assert len(sites) == 3
    if licence is not None and "GPL" in licence:
        assert all(s.reason is None and s.state == "call" for s in sites)
        assert g(1) == (("T", (1,)), ("T", (2,)), ("T", (3,)))
        assert direct_callers() == {"f"}
        return
    assert all(s.state == "trampoline" and "GPL" in (s.reason or "") for s in sites)
    for state in (target, None, static_call_return0):
        static_call_update(K, state)
        outcomes = []
        for fn in (f, g):
            log.clear()
            with pytest.raises(StaticCallPermissionError) as info:
                fn(1)
            outcomes.append((str(info.value), list(log)))
        assert outcomes[0] == outcomes[1]
    with pytest.raises(StaticCallError, match="GPL"):
        static_calls(strict=True)(rw.twin(GPL_SRC, env, stem="gpl-strict")[1]["f"])


def test_strict_raises_for_site_left_on_runtime_path() -> None:
    def f(x: int) -> Any:
        return static_call(MISSING)(x)

    with pytest.raises(StaticCallError, match="rw_no_such_module_anywhere"):
        static_calls(strict=True)(f)


def test_strict_accepts_a_clean_function() -> None:
    def f(x: int) -> Any:
        return static_call(K)(x), sc.static_call_cond(K)(x), K(x)

    g = static_calls(strict=True)(f)
    assert g(1) == (("T", (1,)),) * 3
    assert direct_callers() == {"f"}
