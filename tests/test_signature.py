"""The prototype rule: a new target must accept every call that the prototype accepts.

The property test checks ``staticcall._signature.incompatibility`` against a
brute-force oracle written independently of it. The oracle enumerates every shape of
call (how many positional arguments, which keyword names) that can tell two signatures
apart and *makes the call* to functions built with ``exec`` from the generated
parameter lists, so the interpreter itself is the judge. (``inspect.Signature.bind``
is not a reliable judge before 3.14: it rejects ``f(a=1)`` for ``def f(a=0, /, **kw)``
on 3.11 and 3.12, and accepts ``f(a=1)`` for ``def f(a, /, **kw)`` on 3.13.)
"""

from __future__ import annotations

import functools
import inspect
import itertools
from typing import Any, Callable

import pytest
from hypothesis import given, strategies as st

from staticcall import (
    StaticCallSignatureError,
    define_static_call,
    define_static_call_null,
    static_call_query,
    static_call_update,
)
from staticcall._signature import incompatibility

NAMES = ["a", "b", "c", "d", "e", "f", "g", "h"]
FRESH = "zz_fresh"  # a keyword name neither signature mentions


# --------------------------------------------------------------------------------------
# Generating parameter lists.
# --------------------------------------------------------------------------------------

@st.composite
def parameter_lists(draw: st.DrawFn) -> str:
    """Source text of a random parameter list: positional-only, positional-or-keyword,
    *args, keyword-only and **kwargs parameters, with and without defaults. Names come
    from a small pool so that prototype and candidate often share them."""
    names = iter(draw(st.permutations(NAMES)))
    n_posonly = draw(st.integers(0, 2))
    n_poskw = draw(st.integers(0, 2))
    n_kwonly = draw(st.integers(0, 2))
    varargs, varkw = draw(st.booleans()), draw(st.booleans())
    # defaults of positional parameters form a suffix
    first_default = draw(st.integers(0, n_posonly + n_poskw))
    parts: list[str] = []
    for i in range(n_posonly + n_poskw):
        parts.append(next(names) + ("=0" if i >= first_default else ""))
        if i == n_posonly - 1:
            parts.append("/")
    if varargs:
        parts.append("*" + next(names))
    elif n_kwonly:
        parts.append("*")
    for _ in range(n_kwonly):
        parts.append(next(names) + ("=0" if draw(st.booleans()) else ""))
    if varkw:
        parts.append("**" + next(names))
    return ", ".join(parts)


def build(params: str) -> Callable[..., None]:
    ns: dict[str, Any] = {}
    exec(f"def fn({params}):\n    return None\n", ns)
    return ns["fn"]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------
# The oracle.
# --------------------------------------------------------------------------------------

def accepts(fn: Callable[..., None], n_pos: int, names: tuple[str, ...]) -> bool:
    """Does the interpreter accept ``fn(<n_pos positionals>, <names>=...)``?"""
    try:
        fn(*[0] * n_pos, **dict.fromkeys(names, 0))
    except TypeError:  # the body cannot raise: only binding does
        return False
    return True


def _n_positional(sig: inspect.Signature) -> int:
    return sum(1 for p in sig.parameters.values()
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def oracle(proto: Callable[..., None], cand: Callable[..., None]
           ) -> tuple[int, tuple[str, ...]] | None:
    """A call ``proto`` accepts and ``cand`` does not, or ``None``.

    Complete: every call is (n positional arguments, set of keyword names); names that
    neither signature mentions all behave like ``FRESH``, and beyond the larger number
    of positional slots one more positional argument behaves like any more."""
    sp, sc = inspect.signature(proto), inspect.signature(cand)
    universe = sorted({*sp.parameters, *sc.parameters, FRESH})
    for n_pos in range(max(_n_positional(sp), _n_positional(sc)) + 2):
        for k in range(len(universe) + 1):
            for names in itertools.combinations(universe, k):
                if accepts(proto, n_pos, names) and not accepts(cand, n_pos, names):
                    return n_pos, names
    return None


def test_oracle_sanity() -> None:
    assert oracle(build("a"), build("a")) is None
    assert oracle(build("a"), build("b")) == (0, ("a",))
    assert oracle(build("a, b=0"), build("a")) is not None
    assert oracle(build("*, a"), build("**k")) is None
    assert oracle(build(""), build("a")) == (0, ())


# --------------------------------------------------------------------------------------
# The property.
# --------------------------------------------------------------------------------------

@given(parameter_lists(), parameter_lists())
def test_incompatibility_matches_the_oracle(proto_params: str, cand_params: str) -> None:
    proto, cand = build(proto_params), build(cand_params)
    witness = oracle(proto, cand)
    why = incompatibility(inspect.signature(proto), inspect.signature(cand))
    if witness is None:
        assert why is None, f"def p({proto_params}) / def c({cand_params}): {why}"
    else:
        assert why is not None, (f"def c({cand_params}) accepted for def p({proto_params}) "
                                 f"but p accepts {witness} and c does not")


@given(parameter_lists(), parameter_lists())
def test_update_follows_the_rule(proto_params: str, cand_params: str) -> None:
    proto, cand = build(proto_params), build(cand_params)
    key = define_static_call_null(proto, name="fuzzed")
    if oracle(proto, cand) is None:
        assert static_call_update(key, cand) is None
        assert static_call_query(key) is cand
    else:
        with pytest.raises(StaticCallSignatureError, match="fuzzed"):
            static_call_update(key, cand)
        assert static_call_query(key) is None


@given(parameter_lists())
def test_every_signature_fits_itself(params: str) -> None:
    sig = inspect.signature(build(params))
    assert incompatibility(sig, sig) is None
    assert incompatibility(sig, inspect.signature(build("*args, **kwargs"))) is None


# --------------------------------------------------------------------------------------
# Examples.
# --------------------------------------------------------------------------------------

FITS = [
    ("x", "x"),
    ("x, y=1", "x, y=1"),
    ("x", "x, y=1"),                  # an extra optional parameter
    ("x", "*args, **kwargs"),
    ("x, /, *, y", "*args, **kwargs"),
    ("x, /", "y, /"),                 # positional-only names are not part of the contract
    ("x, /", "y"),
    ("x", "x, *args"),
    ("x", "x, **kwargs"),
    ("*, x", "x"),                    # keyword-only fits positional-or-keyword
    ("*, x", "**kwargs"),
    ("x=0", "x=1"),
    ("*args", "*rest"),
    ("x, /, *args", "*args"),
    ("**kw", "**other"),
    ("", "x=0"),
]

MISFITS = [
    ("x", "x, y"),                    # an extra required parameter
    ("x", "y"),                       # a renamed keyword
    ("*, x", "*, y"),
    ("x", "x, /"),                    # prototype allows f(x=...)
    ("x", ""),
    ("x, y=0", "x"),                  # prototype allows two positionals
    ("x=0", "x"),                     # prototype allows f()
    ("*args", "x"),
    ("**kw", "x=0"),                  # prototype allows any keyword
    ("**kw", "*args"),
    ("x, /, **kw", "x, **kw"),        # prototype allows f(1, x=2)
    ("*a, **kw", "a=0, *r, **kw"),    # prototype allows f(1, a=2)
    ("*, x", "x, /"),
    ("*, x", "*, x, y"),
    ("x, *args", "*args"),            # prototype allows f(x=...)
]


@pytest.mark.parametrize(("proto", "cand"), FITS, ids=[f"({p})<-({c})" for p, c in FITS])
def test_fits(proto: str, cand: str) -> None:
    assert oracle(build(proto), build(cand)) is None  # the examples themselves are right
    key = define_static_call_null(build(proto), name="fits")
    target = build(cand)
    static_call_update(key, target)
    assert static_call_query(key) is target


@pytest.mark.parametrize(("proto", "cand"), MISFITS,
                         ids=[f"({p})<-({c})" for p, c in MISFITS])
def test_misfits(proto: str, cand: str) -> None:
    assert oracle(build(proto), build(cand)) is not None
    key = define_static_call_null(build(proto), name="misfit")
    with pytest.raises(StaticCallSignatureError, match="misfit") as info:
        static_call_update(key, build(cand))
    assert isinstance(info.value, TypeError)
    assert static_call_query(key) is None


def test_same_signature_ok() -> None:
    def proto(a: int, b: str = "", *, c: float) -> int:
        raise AssertionError

    def impl(a: int, b: str = "", *, c: float) -> int:
        return a

    key = define_static_call_null(proto)
    static_call_update(key, impl)
    assert key(1, c=2.0) == 1


def test_annotations_and_default_values_do_not_matter() -> None:
    def proto(a: int, b: str = "x") -> int:
        raise AssertionError

    def impl(a: bytes, b: list[int] = [1]) -> str:  # noqa: B006
        return "ok"

    key = define_static_call_null(proto)
    static_call_update(key, impl)
    assert key(1) == "ok"


def test_candidate_kinds_are_checked_through_their_signature() -> None:
    def proto(a: int, b: int) -> int:
        raise AssertionError

    class Good:
        def __init__(self, a: int, b: int) -> None:
            pass

        def method(self, a: int, b: int) -> int:
            return a

    class Bad:
        def __init__(self, a: int) -> None:
            pass

        def method(self, a: int) -> int:
            return a

    def three(x: int, a: int, b: int) -> int:
        return x

    key = define_static_call_null(proto)
    for good in (Good, Good(1, 2).method, functools.partial(three, 1), define_static_call(proto)):
        static_call_update(key, good)
    for bad in (Bad, Bad(1).method, functools.partial(three, 1, 2)):
        with pytest.raises(StaticCallSignatureError):
            static_call_update(key, bad)


def _unreadable_builtins() -> list[Any]:
    found = []
    for obj in (max, min, getattr, iter, next, vars, dict.pop, range, type):
        try:
            inspect.signature(obj)
        except (TypeError, ValueError):
            found.append(obj)
    return found


class Opaque:
    """A callable whose signature inspect cannot read."""

    @property
    def __signature__(self) -> Any:
        raise ValueError("no signature")

    def __call__(self, *args: Any) -> str:
        return "opaque"


def test_unreadable_signatures_are_accepted() -> None:
    def proto(a: int, *, keyword: int) -> int:
        raise AssertionError

    opaque = Opaque()
    with pytest.raises(ValueError):
        inspect.signature(opaque)
    key = define_static_call_null(proto)
    static_call_update(key, opaque)
    assert static_call_query(key) is opaque
    for builtin in _unreadable_builtins():
        static_call_update(key, builtin)
        assert static_call_query(key) is builtin


def test_readable_builtin_signatures_are_checked() -> None:
    import operator

    def proto(a: int, b: int) -> int:
        raise AssertionError

    key = define_static_call_null(proto)
    # operator.add is (a, b, /): the prototype also allows f(a=1, b=2)
    with pytest.raises(StaticCallSignatureError):
        static_call_update(key, operator.add)

    def positional(a: int, b: int, /) -> int:
        raise AssertionError

    key2 = define_static_call_null(positional)
    static_call_update(key2, operator.add)
    assert key2(2, 3) == 5


def test_error_message_names_the_call_the_candidate_rejects() -> None:
    def proto(x: int) -> int:
        raise AssertionError

    def cand(y: int) -> int:
        return y

    key = define_static_call_null(proto, name="explained")
    with pytest.raises(StaticCallSignatureError) as info:
        static_call_update(key, cand)
    message = str(info.value)
    assert "explained" in message
    assert "x=" in message
