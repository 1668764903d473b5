"""Calls through the runtime path: static_call(key)(...), static_call_cond(key)(...) and
key(...), for function, NULL and RET0 targets (the SPEC's call table)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator, Mapping
from typing import Any, Callable

import pytest
from hypothesis import given, strategies as st

from staticcall import (
    DEFINE_STATIC_CALL,
    StaticCall,
    StaticCallNullError,
    define_static_call,
    define_static_call_null,
    define_static_call_ret0,
    static_call,
    static_call_cond,
    static_call_query,
    static_call_return0,
    static_call_update,
)

# The three call forms of the table. Each takes the key expression's value.
FORMS: dict[str, Callable[[Any], Callable[..., Any]]] = {
    "static_call": lambda k: static_call(k),
    "static_call_cond": lambda k: static_call_cond(k),
    "key": lambda k: k,
}


def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def key_in_state(state: str, **kw: Any) -> StaticCall[Any]:
    if state == "function":
        return define_static_call(echo, **kw)
    if state == "null":
        return define_static_call_null(echo, **kw)
    assert state == "ret0"
    return define_static_call_ret0(echo, **kw)


def expected(form: str, state: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The SPEC's table. A returned exception type means "raises"."""
    if state == "function":
        return echo(*args, **kwargs)
    if state == "ret0":
        return 0
    return None if form == "static_call_cond" else StaticCallNullError


# --------------------------------------------------------------------------------------
# The table.
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["function", "null", "ret0"])
@pytest.mark.parametrize("form", list(FORMS))
def test_call_table(form: str, state: str) -> None:
    key = key_in_state(state)
    want = expected(form, state, (1, 2), {"z": 3})
    if want is StaticCallNullError:
        with pytest.raises(StaticCallNullError):
            FORMS[form](key)(1, 2, z=3)
    else:
        got = FORMS[form](key)(1, 2, z=3)
        assert got == want
        assert type(got) is type(want)


@pytest.mark.parametrize("state", ["function", "null", "ret0"])
@pytest.mark.parametrize("form", list(FORMS))
def test_call_table_after_update(form: str, state: str) -> None:
    # the same table holds for a key that reached its state by update
    start = {"function": "null", "null": "ret0", "ret0": "function"}[state]
    key = key_in_state(start)
    static_call_update(key, {"function": echo, "null": None, "ret0": static_call_return0}[state])
    want = expected(form, state, (4,), {})
    if want is StaticCallNullError:
        with pytest.raises(StaticCallNullError):
            FORMS[form](key)(4)
    else:
        assert FORMS[form](key)(4) == want


def test_no_arguments() -> None:
    key = define_static_call(lambda: "called", name="noargs")
    for form in FORMS.values():
        assert form(key)() == "called"
    static_call_update(key, None)
    assert static_call_cond(key)() is None
    with pytest.raises(StaticCallNullError):
        static_call(key)()
    static_call_update(key, static_call_return0)
    assert key() == 0


def test_return_value_and_exceptions_pass_through_unchanged() -> None:
    sentinel = object()
    boom = ValueError("boom")

    def target(flag: bool) -> object:
        if flag:
            raise boom
        return sentinel

    key = define_static_call(target)
    for form in FORMS.values():
        assert form(key)(False) is sentinel
        with pytest.raises(ValueError) as info:
            form(key)(True)
        assert info.value is boom


def test_null_error_names_the_key() -> None:
    key = define_static_call_null(name="nobody_home")
    with pytest.raises(StaticCallNullError, match="nobody_home"):
        static_call(key)()
    with pytest.raises(StaticCallNullError, match="nobody_home"):
        key()


# --------------------------------------------------------------------------------------
# Argument evaluation: always, left to right, exactly once.
# --------------------------------------------------------------------------------------

class Recorder:
    def __init__(self) -> None:
        self.log: list[str] = []

    def __call__(self, tag: str, value: Any = None) -> Any:
        self.log.append(tag)
        return tag if value is None else value

    def iterable(self, *tags: str) -> Iterator[str]:
        self.log.append("iter")
        for tag in tags:
            self.log.append(tag)
            yield tag

    def mapping(self, **items: Any) -> Mapping[str, Any]:
        log = self.log

        class Recording(Mapping[str, Any]):
            def keys(self):  # type: ignore[no-untyped-def]
                log.append("keys")
                return items.keys()

            def __getitem__(self, name: str) -> Any:
                log.append(f"get:{name}")
                return items[name]

            def __iter__(self) -> Iterator[str]:
                return iter(items)

            def __len__(self) -> int:
                return len(items)

        return Recording()


@pytest.mark.parametrize("state", ["function", "null", "ret0"])
@pytest.mark.parametrize("form", list(FORMS))
def test_arguments_evaluated_once_left_to_right(form: str, state: str) -> None:
    key = key_in_state(state)
    rec = Recorder()
    call = FORMS[form]

    def run() -> Any:
        return call(rec("key", key))(rec("a"), *rec.iterable("b", "c"), rec("d"),
                                     e=rec("e"), **rec.mapping(f="F", g="G"))

    want = expected(form, state, ("a", "b", "c", "d"), {"e": "e", "f": "F", "g": "G"})
    if want is StaticCallNullError:
        with pytest.raises(StaticCallNullError):
            run()
    else:
        assert run() == want
    assert rec.log == ["key", "a", "iter", "b", "c", "d", "e", "keys", "get:f", "get:g"]


@pytest.mark.parametrize("state", ["function", "null", "ret0"])
@pytest.mark.parametrize("form", list(FORMS))
def test_argument_errors_propagate_before_any_call(form: str, state: str) -> None:
    calls: list[Any] = []

    def target(*args: Any) -> None:
        calls.append(args)

    key = define_static_call(target)
    static_call_update(key, {"function": target, "null": None, "ret0": static_call_return0}[state])

    def bad() -> Any:
        raise LookupError("argument failed")

    with pytest.raises(LookupError):
        FORMS[form](key)(1, bad(), 3)
    assert calls == []


@pytest.mark.parametrize("state", ["function", "null", "ret0"])
def test_generator_arguments_are_consumed(state: str) -> None:
    # argument setup is unconditional: a *generator is run to exhaustion even when
    # nothing is called
    key = key_in_state(state)
    consumed: list[int] = []

    def gen() -> Iterator[int]:
        for i in range(3):
            consumed.append(i)
            yield i

    try:
        static_call_cond(key)(*gen())
    finally:
        assert consumed == [0, 1, 2]


# --------------------------------------------------------------------------------------
# Forwarding.
# --------------------------------------------------------------------------------------

_args = st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none()), max_size=5)
_kwargs = st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True),
                          st.integers(), max_size=4)


@given(_args, _kwargs)
def test_args_and_kwargs_are_forwarded(args: list[Any], kwargs: dict[str, Any]) -> None:
    key = FORWARD_KEY
    for form in FORMS.values():
        assert form(key)(*args, **kwargs) == (tuple(args), kwargs)


FORWARD_KEY = define_static_call(echo, name="forward")


def test_forwarding_through_a_simple_prototype() -> None:
    # prototypes with plain positional-or-keyword parameters get a fixed-arity
    # trampoline: positional and keyword spellings both reach the target
    def target(a: int, b: int, c: int) -> tuple[int, int, int]:
        return a, b, c

    key = define_static_call(target)
    for form in FORMS.values():
        assert form(key)(1, 2, 3) == (1, 2, 3)
        assert form(key)(1, c=3, b=2) == (1, 2, 3)
        assert form(key)(c=3, a=1, b=2) == (1, 2, 3)
        assert form(key)(*[1, 2], **{"c": 3}) == (1, 2, 3)


def test_forwarding_through_a_rich_prototype() -> None:
    def target(a: int, /, b: int = 2, *rest: int, c: int, d: int = 4,
               **extra: int) -> tuple[Any, ...]:
        return a, b, rest, c, d, extra

    key = define_static_call(target)
    for form in FORMS.values():
        assert form(key)(1, c=3) == (1, 2, (), 3, 4, {})
        assert form(key)(1, 5, 6, 7, c=3, d=8, x=9) == (1, 5, (6, 7), 3, 8, {"x": 9})


def test_forwarding_through_a_long_prototype() -> None:
    names = [f"p{i}" for i in range(40)]
    ns: dict[str, Any] = {}
    exec(f"def target({', '.join(names)}):\n    return ({', '.join(names)},)\n", ns)
    key = define_static_call(ns["target"])
    args = tuple(range(40))
    for form in FORMS.values():
        assert form(key)(*args) == args
        assert form(key)(*args[:20], **{n: i for i, n in enumerate(names) if i >= 20}) == args


def trace(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def loose(a: int = 0, *rest: int, b: int = 0, **kw: int) -> tuple[Any, ...]:
    return a, rest, b, kw


@pytest.mark.parametrize("target", [trace, loose], ids=["varargs", "keyword_only"])
@pytest.mark.parametrize("form", ["static_call", "static_call_cond"])
def test_call_forms_pass_arguments_as_written(form: str, target: Callable[..., Any]) -> None:
    def proto(a: int, b: int) -> Any:
        raise AssertionError

    key = define_static_call_null(proto)
    static_call_update(key, target)  # it fits: it accepts every call the prototype does
    assert key(1, b=2) == target(1, b=2)
    assert FORMS[form](key)(1, b=2) == target(1, b=2)


def test_parameter_named_like_an_internal_name() -> None:
    # parameter names that an implementation might use internally still forward
    def target(static_call_target: int, args: int, kwargs: int, self: int, key: int,
               func: int) -> tuple[int, ...]:
        return static_call_target, args, kwargs, self, key, func

    key = define_static_call(target)
    for form in FORMS.values():
        assert form(key)(1, 2, 3, 4, 5, 6) == (1, 2, 3, 4, 5, 6)
        assert form(key)(static_call_target=1, args=2, kwargs=3, self=4, key=5,
                         func=6) == (1, 2, 3, 4, 5, 6)


def test_obtained_call_follows_updates() -> None:
    # f = static_call(K) called later still works through the runtime path
    key = define_static_call(lambda x: x + 1, name="later")
    call, cond = static_call(key), static_call_cond(key)
    assert call(1) == 2 and cond(1) == 2
    static_call_update(key, lambda x: x + 2)
    assert call(1) == 3 and cond(1) == 3 and key(1) == 3
    static_call_update(key, None)
    assert cond(1) is None
    with pytest.raises(StaticCallNullError):
        call(1)
    static_call_update(key, static_call_return0)
    assert call(1) == 0 and cond(1) == 0


def test_keys_reached_any_way() -> None:
    key = define_static_call(lambda x: x * 2, name="anyway")

    class Service:
        def __init__(self) -> None:
            self.hook = key

        def run(self, x: int) -> int:
            return static_call(self.hook)(x) + static_call_cond(self.hook)(x)

    local = key
    assert static_call(local)(2) == 4
    assert Service().run(3) == 12
    assert [static_call(k)(1) for k in [key, key]] == [2, 2]
    assert list(map(static_call(key), [1, 2])) == [2, 4]


def test_recursion_through_a_key() -> None:
    def fact(n: int) -> int:
        return 1 if n <= 1 else n * static_call(fact_key)(n - 1)

    fact_key = define_static_call(fact)
    assert fact_key(10) == 3628800
    assert static_call_cond(fact_key)(5) == 120


# --------------------------------------------------------------------------------------
# Targets of every kind.
# --------------------------------------------------------------------------------------

def proto(a: int, b: int, /) -> Any:
    """Two positional arguments."""
    raise AssertionError


def add(a: int, b: int) -> int:
    return a + b


def add_with_base(base: int, a: int, b: int) -> int:
    return base + a + b


class Accumulator:
    def __init__(self, base: int) -> None:
        self.base = base

    def add(self, a: int, b: int) -> int:
        return self.base + a + b

    @classmethod
    def cadd(cls, a: int, b: int) -> int:
        return -(a + b)

    @staticmethod
    def sadd(a: int, b: int) -> int:
        return 1000 + a + b


class Pair:
    def __init__(self, a: int, b: int) -> None:
        self.a, self.b = a, b

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pair) and (self.a, self.b) == (other.a, other.b)

    __hash__ = None  # type: ignore[assignment]


class CallableAdder:
    def __call__(self, a: int, b: int) -> int:
        return 10 * (a + b)


TARGETS: dict[str, Any] = {
    "function": add,
    "lambda": lambda a, b: a * b,
    "builtin": operator.add,
    "builtin_method": "{}-{}".format,
    "bound_method": Accumulator(100).add,
    "classmethod": Accumulator.cadd,
    "staticmethod": Accumulator.sadd,
    "class": Pair,
    "partial": functools.partial(add_with_base, 7),
    "callable_object": CallableAdder(),
    "another_key": define_static_call(add, name="inner_add"),
}


@pytest.mark.parametrize("kind", list(TARGETS))
def test_targets_of_every_kind(kind: str) -> None:
    target = TARGETS[kind]
    want = target(2, 3)
    key = define_static_call_null(proto, name=f"every_{kind}")
    assert static_call_update(key, target) is None
    assert static_call_query(key) is target
    for form in FORMS.values():
        assert form(key)(2, 3) == want
    assert static_call_update(key, static_call_return0) is target
    assert key(2, 3) == 0


def test_builtin_targets_with_keyword_forwarding() -> None:
    key = define_static_call_null(name="builtin_kw")
    static_call_update(key, sorted)
    assert key([3, 1, 2], reverse=True) == [3, 2, 1]
    static_call_update(key, max)
    assert static_call(key)(3, 9, 2) == 9
    assert static_call_cond(key)([1, 5], default=0) == 5
    static_call_update(key, dict)
    assert key(a=1) == {"a": 1}


def test_key_targeting_another_key_follows_it() -> None:
    inner = define_static_call(add, name="inner")
    outer = define_static_call_null(proto, name="outer")
    static_call_update(outer, inner)
    assert static_call_query(outer) is inner
    assert outer(1, 2) == 3
    static_call_update(inner, lambda a, b: a - b)
    assert outer(5, 2) == 3
    static_call_update(inner, static_call_return0)
    assert static_call(outer)(5, 2) == 0
    # the outer key has a target (the inner key), so even the cond form calls it;
    # the inner key is NULL, and calling a NULL key raises
    static_call_update(inner, None)
    with pytest.raises(StaticCallNullError, match="inner"):
        static_call_cond(outer)(1, 2)


def test_generator_and_coroutine_targets_return_their_objects() -> None:
    def gen(n: int) -> Iterator[int]:
        yield from range(n)

    async def coro(n: int) -> int:
        return n

    key = define_static_call(gen)
    assert list(key(3)) == [0, 1, 2]
    assert list(static_call_cond(key)(2)) == [0, 1]
    ckey = define_static_call(coro)
    c = static_call(ckey)(5)
    with pytest.raises(StopIteration) as info:
        c.send(None)
    assert info.value.value == 5


# --------------------------------------------------------------------------------------
# The kernel's self-test (kernel/static_call_inline.c: test_static_call_init).
# --------------------------------------------------------------------------------------

def func_a(x: int) -> int:
    return x + 1


def func_b(x: int) -> int:
    return x + 2


sc_selftest = DEFINE_STATIC_CALL("sc_selftest", func_a)

#: (func, val, expect); func None means "no update", as in the kernel's table.
STATIC_CALL_DATA = [
    (None, 2, 3),
    (func_b, 2, 4),
    (func_a, 2, 3),
]


def test_kernel_selftest() -> None:
    static_call_update(sc_selftest, func_a)
    results = []
    for func, val, expect in STATIC_CALL_DATA:
        if func is not None:
            static_call_update(sc_selftest, func)
        got = static_call(sc_selftest)(val)
        assert got == expect
        results.append(got)
    assert results == [3, 4, 3]


def test_kernel_selftest_with_null() -> None:
    key = DEFINE_STATIC_CALL("sc_selftest_null", func_a)
    assert static_call(key)(2) == 3
    assert static_call_update(key, None) is func_a
    assert static_call_cond(key)(2) is None
    with pytest.raises(StaticCallNullError):
        static_call(key)(2)
    assert static_call_update(key, func_b) is None
    assert static_call(key)(2) == 4
    assert static_call_update(key, func_a) is func_b
    assert static_call(key)(2) == 3
