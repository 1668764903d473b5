"""``@static_calls`` on a class looks at its members without touching their values, and
leaves nothing that holds a site silently on the runtime path."""

from __future__ import annotations

import functools
import sys
import types
from typing import Any

import pytest

from staticcall import (
    StaticCallError,
    define_static_call,
    static_call,
    static_call_override,
    static_call_return0,
    static_call_sites,
    static_call_update,
    static_calls,
)

CALLS: list[str] = []


def target(*args: Any) -> Any:
    """Records the name of the code that called it: a rewritten site calls it directly."""
    CALLS.append(sys._getframe(1).f_code.co_name)
    return ("T", args)


K = define_static_call(target, name="dm_K")


@pytest.fixture(autouse=True)
def _reset() -> Any:
    CALLS.clear()
    static_call_update(K, target)
    yield
    static_call_update(K, target)


def sites_in(part: str) -> list[Any]:
    return [s for s in static_call_sites(K) if s.filename == __file__ and s.function.endswith(part)]


def assert_live(part: str, count: int = 1) -> None:
    sites = sites_in(part)
    assert len(sites) == count, sites
    assert all(s.reason is None and s.state == "call" for s in sites), sites


# --------------------------------------------------------------------------------------
# Members are inspected statically.
# --------------------------------------------------------------------------------------

TOUCHED: list[str] = []


class LazyModule:
    """Like six's MovedModule: any attribute it lacks imports a module."""

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        TOUCHED.append("__get__")
        raise RuntimeError("descriptor evaluated")

    def __getattr__(self, name: str) -> Any:
        TOUCHED.append(f"__getattr__ {name}")
        __import__("staticcall_test_no_such_module_anywhere")


class Guarded:
    """Every attribute access on it records and fails."""

    def __getattribute__(self, name: str) -> Any:
        TOUCHED.append(f"__getattribute__ {name}")
        raise RuntimeError("attribute read")

    def __call__(self) -> None:
        pass


def test_class_members_are_not_touched() -> None:
    TOUCHED.clear()

    class MovedItems(types.ModuleType):
        lazy = LazyModule()
        guarded = Guarded()

        @property
        def prop(self) -> Any:
            TOUCHED.append("property getter")
            return static_call(K)("p")

        def method(self) -> Any:
            return static_call(K)("m")

        @functools.lru_cache  # noqa: B019
        def cached(self, x: int) -> Any:
            return static_call(K)("l", x)

    assert static_calls(MovedItems) is MovedItems
    assert TOUCHED == []
    assert type(vars(MovedItems)["lazy"]) is LazyModule
    items = MovedItems("m")
    assert items.method() == ("T", ("m",))
    assert items.cached(1) == ("T", ("l", 1))
    assert CALLS == ["method", "cached"]
    assert_live("MovedItems.method")
    assert_live("MovedItems.cached")
    assert_live("MovedItems.prop")


# --------------------------------------------------------------------------------------
# Nothing that holds no Python code is accepted silently.
# --------------------------------------------------------------------------------------

def plain(x: Any) -> Any:
    return x


class Holder:
    def meth(self) -> Any:
        return None


@pytest.mark.parametrize("value, what", [
    (5, "int"),
    (types, "module"),
    (functools.partial(plain, 1), "functools.partial"),
    (Holder().meth, "method"),
    (len, "builtin_function_or_method"),
    (int, "type"),
    (functools.lru_cache(len), "_lru_cache_wrapper"),
    (staticmethod(len), "staticmethod"),
])
def test_decorating_what_holds_no_code_raises(value: Any, what: str) -> None:
    with pytest.raises(TypeError, match=what):
        static_calls(value)
    with pytest.raises(TypeError, match=what):
        static_calls(mode="trampoline")(value)


# --------------------------------------------------------------------------------------
# Members the decorator used not to reach.
# --------------------------------------------------------------------------------------

def test_cached_property_is_rewritten() -> None:
    @static_calls
    class C:
        @functools.cached_property
        def cached(self) -> Any:
            return static_call(K)("c")

    assert isinstance(vars(C)["cached"], functools.cached_property)
    assert C().cached == ("T", ("c",))
    assert CALLS == ["cached"]
    assert_live("C.cached")
    with static_call_override(K, static_call_return0):
        assert C().cached == 0


def test_singledispatchmethod_implementations_are_rewritten() -> None:
    @static_calls
    class D:
        @functools.singledispatchmethod
        def handle(self, arg: Any) -> Any:
            return static_call(K)("any", arg)

        @handle.register
        def _(self, arg: int) -> Any:
            return static_call(K)("int", arg)

        @handle.register
        @classmethod
        def _str(cls, arg: str) -> Any:
            return static_call(K)("str", arg)

    d = D()
    assert d.handle(1.5) == ("T", ("any", 1.5))
    assert d.handle(2) == ("T", ("int", 2))
    assert d.handle("x") == ("T", ("str", "x"))
    assert CALLS == ["handle", "_", "_str"]
    assert_live("D.handle")
    assert_live("D._")
    assert_live("D._str")
    with static_call_override(K, static_call_return0):
        assert (d.handle(1.5), d.handle(2), d.handle("x")) == (0, 0, 0)


def test_singledispatch_function_implementations_are_rewritten() -> None:
    @functools.singledispatch
    def show(arg: Any) -> Any:
        return static_call(K)("any", arg)

    @show.register
    def _(arg: int) -> Any:
        return static_call(K)("int", arg)

    assert static_calls(show) is show
    assert show(1.5) == ("T", ("any", 1.5))
    assert show(2) == ("T", ("int", 2))
    assert CALLS == ["show", "_"]
    assert_live("show")
    assert_live("<locals>._")


def test_nested_classes_are_rewritten_and_other_classes_are_not() -> None:
    class Elsewhere:
        def meth(self) -> Any:
            return static_call(K)("elsewhere")

    @static_calls
    class Outer:
        Alias = Elsewhere  # defined elsewhere: not part of this class

        class Inner:
            class Deeper:
                def meth(self) -> Any:
                    return static_call(K)("deeper")

    assert Outer.Inner.Deeper().meth() == ("T", ("deeper",))
    assert CALLS == ["meth"]
    assert_live("Outer.Inner.Deeper.meth")
    assert sites_in("Elsewhere.meth") == []


def test_partialmethod_is_rewritten() -> None:
    @static_calls
    class P:
        def _both(self, a: Any, b: Any) -> Any:
            return static_call(K)(a, b)

        first = functools.partialmethod(_both, "first")

    assert P().first(2) == ("T", ("first", 2))
    assert CALLS == ["_both"]
    assert_live("P._both")


def test_partial_member_is_listed_with_a_reason() -> None:
    def helper(x: Any) -> Any:
        return static_call(K)(x)

    class Q:
        call = functools.partial(helper, 1)

    assert static_calls(Q) is Q
    sites = sites_in(".helper")
    assert len(sites) == 1 and sites[0].state == "trampoline", sites
    assert "functools.partial" in (sites[0].reason or ""), sites
    assert Q.call() == ("T", (1,))

    class Strict:
        call = functools.partial(helper, 2)

    with pytest.raises(StaticCallError, match="functools.partial"):
        static_calls(strict=True)(Strict)


def test_strict_accepts_members_it_rewrites() -> None:
    @static_calls(strict=True)
    class S:
        @functools.cached_property
        def cached(self) -> Any:
            return static_call(K)("c")

        class Inner:
            def meth(self) -> Any:
                return K("i")

    assert S().cached == ("T", ("c",))
    assert S.Inner().meth() == ("T", ("i",))
    assert CALLS == ["cached", "meth"]


def test_members_without_python_code_are_left_as_they_are() -> None:
    @functools.wraps(len)
    def wraps_builtin(x: Any) -> int:
        return len(x)

    class M:
        builtin = len
        __class_getitem__ = classmethod(types.GenericAlias)
        cached_builtin = functools.lru_cache(len)
        wrapper = wraps_builtin
        static_builtin = staticmethod(len)
        number = 5
        key = K

        def method(self) -> Any:
            return static_call(K)("m")

    before = dict(vars(M))
    assert static_calls(M) is M
    after = dict(vars(M))
    assert after.pop("method") is not before.pop("method")
    assert all(after[name] is value for name, value in before.items())
    assert M().method() == ("T", ("m",))
    assert M[int] == types.GenericAlias(M, (int,))


def test_a_wrappers_own_sites_are_rewritten() -> None:
    def traced(f: Any) -> Any:
        @functools.wraps(f)
        def wrapper(*args: Any) -> Any:
            return static_call(K)("w", f(*args))
        return wrapper

    @static_calls
    @traced
    @traced
    def inner(x: int) -> Any:
        return static_call(K)("i", x)

    assert inner(1) == ("T", ("w", ("T", ("w", ("T", ("i", 1))))))
    assert CALLS == ["inner", "wrapper", "wrapper"]
    assert_live("traced.<locals>.wrapper", count=2)
    assert_live("<locals>.inner")
    assert inner.__wrapped__.__wrapped__.__name__ == "inner"
    with static_call_override(K, static_call_return0):
        assert inner(1) == 0
    assert static_calls(inner) is inner
    assert len(sites_in("traced.<locals>.wrapper")) == 2


class Proxy:
    """A transparent proxy whose ``__wrapped__`` is a property (as wrapt's is)."""

    def __init__(self, func: Any) -> None:
        self._func = func

    @property
    def __wrapped__(self) -> Any:
        TOUCHED.append("__wrapped__ property")
        return self._func

    def __call__(self, *args: Any) -> Any:
        return self._func(*args)


def test_proxy_passed_itself_is_followed_but_not_as_a_member() -> None:
    def proxied(x: int) -> Any:
        return static_call(K)("p", x)

    proxy = Proxy(proxied)
    assert static_calls(proxy) is proxy
    assert proxy(1) == ("T", ("p", 1))
    assert CALLS == ["proxied"]
    assert_live("<locals>.proxied")

    TOUCHED.clear()

    def member(x: int) -> Any:
        return static_call(K)("m", x)

    class WithProxy:
        wrapped = Proxy(member)

    assert static_calls(WithProxy) is WithProxy
    assert TOUCHED == []  # a member's properties are not evaluated
    assert sites_in("<locals>.member") == []
