"""No cycles, no self-targets: a key may not reach itself through its targets."""

from __future__ import annotations

import functools
import types
import weakref
from typing import Any, Callable

import pytest

import staticcall
from staticcall import (
    StaticCall,
    StaticCallError,
    declare_static_call,
    define_static_call,
    define_static_call_null,
    export_static_call,
    static_call,
    static_call_cond,
    static_call_override,
    static_call_query,
    static_call_return0,
    static_call_sites,
    static_call_update,
    static_call_update_many,
    static_calls,
)
from staticcall._keys import MAX_CHAIN


def plus_one(x: int) -> int:
    return x + 1


def times_two(x: int) -> int:
    return 2 * x


def key(name: str, target: Callable[[int], int] = plus_one) -> StaticCall[Any]:
    return define_static_call(target, name=name)


def assert_unchanged(k: StaticCall[Any], target: Any, value: int = 3) -> None:
    assert static_call_query(k) is target
    expected = target(value)
    assert k(value) == expected
    assert static_call(k)(value) == expected
    assert static_call_cond(k)(value) == expected


def test_a_key_cannot_target_itself() -> None:
    a = key("self_a")
    with pytest.raises(StaticCallError, match=r"'self_a'.*cycle: self_a -> self_a"):
        static_call_update(a, a)
    assert_unchanged(a, plus_one)
    assert "self_a" in repr(a)


def test_a_key_cannot_target_its_own_trampolines() -> None:
    a = key("tramp_a")
    for tramp in (static_call(a), static_call_cond(a)):
        with pytest.raises(StaticCallError, match=r"cycle: tramp_a -> static_call.*tramp_a\)"
                                                 r" -> tramp_a"):
            static_call_update(a, tramp)
    # the trampolines handed out while the target binds differently, too
    static_call_update(a, lambda *args, **kwargs: 0)
    for tramp in (static_call(a), static_call_cond(a)):
        with pytest.raises(StaticCallError, match="cycle"):
            static_call_update(a, tramp)
    for tramp in (a._sc_call_tramp, a._sc_cond_tramp, a._sc_call_any, a._sc_cond_any):
        with pytest.raises(StaticCallError, match="cycle"):
            static_call_update(a, tramp)
    static_call_update(a, plus_one)
    assert_unchanged(a, plus_one)


def test_two_key_cycle_is_named() -> None:
    a, b = key("two_a"), key("two_b")
    static_call_update(b, a)
    with pytest.raises(StaticCallError, match="two_a -> two_b -> two_a"):
        static_call_update(a, b)
    assert_unchanged(a, plus_one)
    assert static_call_query(b) is a
    assert b(1) == 2


def test_longer_cycle_through_trampolines_handles_and_wrappers() -> None:
    a, b, c, d = key("long_a"), key("long_b"), key("long_c"), key("long_d")
    static_call_update(b, static_call(c))
    static_call_update(c, export_static_call(d))
    static_call_update(d, functools.partial(a))
    with pytest.raises(StaticCallError,
                       match=r"long_a -> long_b -> static_call\(long_c\) -> long_c -> "
                             r"handle '.*:long_d' -> long_d -> partial -> long_a"):
        static_call_update(a, b)
    assert_unchanged(a, plus_one)
    assert b(5) == 6


@pytest.mark.parametrize("wrap", ["partial", "method", "staticmethod", "declared", "cond"])
def test_wrapped_self_targets(wrap: str) -> None:
    a = key(f"wrapped_{wrap}")
    handle = export_static_call(a)
    target: Any = {
        "partial": lambda: functools.partial(a),
        "method": lambda: types.MethodType(a, 1),
        "staticmethod": lambda: staticmethod(a),
        "declared": lambda: declare_static_call(handle.name),
        "cond": lambda: static_call_cond(handle),
    }[wrap]()
    with pytest.raises(StaticCallError, match="cycle"):
        static_call_update(a, target)
    assert_unchanged(a, plus_one)


def test_update_many_refuses_a_cycle_formed_by_the_new_targets() -> None:
    a, b, c = key("many_a"), key("many_b"), key("many_c")
    with pytest.raises(StaticCallError, match=r"many_(a|b) -> many_(a|b) -> many_(a|b)"):
        static_call_update_many({a: b, b: a, c: times_two})
    for k in (a, b, c):
        assert_unchanged(k, plus_one)
    with pytest.raises(StaticCallError, match="many_c -> many_c"):
        static_call_update_many({a: times_two, c: c})
    assert_unchanged(a, plus_one)
    # the same keys in a chain are fine, and so is breaking a link while adding one
    static_call_update_many({a: b, b: c})
    assert a(3) == 4
    static_call_update_many({c: a, a: times_two})
    assert c(3) == 6 and b(3) == 6


def test_update_many_sees_existing_targets_too() -> None:
    a, b, c = key("mix_a"), key("mix_b"), key("mix_c")
    static_call_update(c, a)
    with pytest.raises(StaticCallError, match="mix_a -> mix_b -> mix_c -> mix_a"):
        static_call_update_many({a: b, b: c})
    assert_unchanged(a, plus_one)
    assert_unchanged(b, plus_one)


def test_override_refuses_a_cycle_and_changes_nothing() -> None:
    a = key("override_a")
    with pytest.raises(StaticCallError, match="cycle"):
        with static_call_override(a, static_call(a)):
            raise AssertionError("not entered")
    assert_unchanged(a, plus_one)


site_a = key("site_a")
site_b = key("site_b")


@static_calls
def use_site_keys(x: int) -> tuple[int, int]:
    return static_call(site_a)(x), site_b(x)


def test_refused_cycle_leaves_rewritten_sites_alone() -> None:
    static_call_update(site_b, site_a)
    states = [s.state for s in static_call_sites(site_a)]
    assert states
    with pytest.raises(StaticCallError, match="site_a -> site_b -> site_a"):
        static_call_update(site_a, site_b)
    assert [s.state for s in static_call_sites(site_a)] == states
    assert use_site_keys(3) == (4, 4)
    static_call_update(site_a, times_two)
    assert use_site_keys(3) == (6, 6)


def test_chains_without_cycles_work() -> None:
    a, b = key("chain_a"), key("chain_b", times_two)
    static_call_update(a, b)
    assert a(3) == 6 and static_call(a)(3) == 6
    static_call_update(b, static_call_return0)
    assert a(3) == 0
    c = define_static_call(a, name="chain_c")  # a new key can target a chain
    static_call_update(b, plus_one)
    assert c(1) == 2


def test_overlong_chains_are_refused() -> None:
    first = key("deep_0")
    chain = [first]
    for i in range(1, MAX_CHAIN + 1):
        chain.append(define_static_call(chain[-1], name=f"deep_{i}"))
    assert chain[-1](1) == 2
    with pytest.raises(StaticCallError, match=f"more than {MAX_CHAIN} keys"):
        define_static_call(chain[-1], name="too_deep")
    other = define_static_call_null(name="deep_other")
    with pytest.raises(StaticCallError, match=f"more than {MAX_CHAIN} keys"):
        static_call_update(other, chain[-1])
    assert static_call_query(other) is None


class Reflector:
    """A target whose repr shows the key that calls it."""

    def __init__(self) -> None:
        self.key: Any = None

    def __call__(self, x: int) -> int:
        return x

    def __repr__(self) -> str:
        return f"Reflector({self.key!r})"


class BrokenRepr:
    def __call__(self, x: int) -> int:
        return x

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_repr_is_robust() -> None:
    a = key("repr_a")
    reflector = Reflector()
    reflector.key = a
    static_call_update(a, reflector)
    text = repr(a)
    assert text.startswith("<StaticCall 'repr_a' -> Reflector(")
    static_call_update(a, BrokenRepr())
    assert "repr failed" in repr(a) and "BrokenRepr" in repr(a)
    b = key("repr_b")
    static_call_update(a, b)
    assert repr(a) == "<StaticCall 'repr_a' -> <StaticCall 'repr_b'>>"


def test_a_key_may_target_a_declaration_not_resolved_yet() -> None:
    handle = declare_static_call("_cycles_not_importable_yet:key")
    lazy = define_static_call(handle, name="lazy")  # defining does not resolve it
    assert static_call_query(lazy) is handle
    other = define_static_call_null(name="lazy_other")
    # an update does resolve it, to check for cycles, and names what is missing
    with pytest.raises(StaticCallError, match="_cycles_not_importable_yet"):
        static_call_update(other, handle)
    assert static_call_query(other) is None


class CallsThroughKey:
    """Instances are called through the class's ``__call__``, here a key (keys do not bind)."""

    __call__: Any = None


@pytest.mark.parametrize("wrap", ["proxy", "lru_cache", "class_call", "method_wrapper",
                                  "class_call_tracepoint"])
def test_self_targets_through_c_level_forwarders(wrap: str) -> None:
    a = define_static_call_null(name=f"c_level_{wrap}")
    static_call_update(a, plus_one)
    if wrap == "proxy":
        target: Any = weakref.proxy(a)
    elif wrap == "lru_cache":
        target = functools.lru_cache(maxsize=None)(a)
    elif wrap == "method_wrapper":
        target = a.__call__
    elif wrap == "class_call_tracepoint":
        tp = staticcall.define_tracepoint(None, name="through_tp")
        staticcall.register_probe(tp, a)
        target = type("Forwarder", (CallsThroughKey,), {"__call__": tp})()
    else:
        cls = type("Forwarder", (CallsThroughKey,), {"__call__": a})
        target = cls()
    with pytest.raises(StaticCallError, match=f"cycle: c_level_{wrap} -> .* -> c_level_{wrap}"):
        static_call_update(a, target)
    assert_unchanged(a, plus_one)


def test_forwarders_without_a_cycle_are_fine() -> None:
    a, b = key("fine_a"), key("fine_b")
    static_call_update(a, weakref.proxy(b))  # an unhashable target
    assert a(1) == 2
    static_call_update_many({a: functools.lru_cache(maxsize=None)(b), b: times_two})
    assert a(2) == 4


class CallsAStaticmethod:
    """Called through a ``staticmethod`` as ``__call__`` (which has no ``__self__``)."""

    __call__ = staticmethod(plus_one)


def test_proxies_of_objects_called_through_class_attributes() -> None:
    """A proxy's referent called through a staticmethod, or a key, set as the class's
    ``__call__``: checked like the referent itself, with no AttributeError."""
    a = key("proxy_of_staticmethod")
    held = CallsAStaticmethod()
    proxy = weakref.proxy(held)
    static_call_update(a, proxy)
    assert a(1) == 2
    tp = staticcall.define_tracepoint(None, name="proxy_probe")
    staticcall.register_probe(tp, proxy)
    staticcall.unregister_probe(tp, proxy)
    forwarder = type("Forwarder", (CallsThroughKey,), {"__call__": a})()
    with pytest.raises(StaticCallError, match="cycle: proxy_of_staticmethod -> weakref.proxy"):
        static_call_update(a, weakref.proxy(forwarder))
    assert_unchanged(a, proxy)
    static_call_update(a, plus_one)  # (keys live on: leave no proxy to die in one)


def test_a_dead_proxy_leads_nowhere() -> None:
    a = key("dead_proxy_a")

    class Target:
        def __call__(self, x: int) -> int:
            return x

    target = Target()
    proxy = weakref.proxy(target)
    del target
    static_call_update(a, proxy)  # the check does not raise ReferenceError
    assert static_call_query(a) is proxy
    static_call_update(a, plus_one)


DEEP_CHAIN = """
    import functools, sys
    from staticcall import define_static_call, define_static_call_null, static_call_update

    def f(*args):
        return args

    head = tail = define_static_call(f, name="k0")
    for i in range(1, 60_000):
        # extended at the far end, each update sees a short chain downstream
        new = define_static_call_null(name=f"k{i}")
        static_call_update(new, f)
        static_call_update(tail, functools.partial(new) if i % 2 else new)
        tail = new
    try:
        head(1)
    except RecursionError:
        print("RecursionError")
"""


def test_a_very_long_chain_is_a_recursion_error_not_a_crash() -> None:
    import subprocess
    import sys
    import textwrap

    result = subprocess.run([sys.executable, "-c", textwrap.dedent(DEEP_CHAIN)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.strip() == "RecursionError"
