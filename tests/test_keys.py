"""Keys: definition (primary names and kernel aliases), identity, names and metadata."""

from __future__ import annotations

import copy
import doctest
import inspect
import pickle
import pydoc
import sys
from typing import Callable

import pytest
from hypothesis import given, strategies as st

import staticcall
from staticcall import (
    DECLARE_STATIC_CALL,
    DEFINE_STATIC_CALL,
    DEFINE_STATIC_CALL_NULL,
    DEFINE_STATIC_CALL_RET0,
    StaticCall,
    StaticCallHandle,
    StaticCallNullError,
    declare_static_call,
    define_static_call,
    define_static_call_null,
    define_static_call_ret0,
    static_call,
    static_call_cond,
    static_call_query,
    static_call_return0,
    static_call_update,
)


def add_one(x: int) -> int:
    """Return x plus one."""
    return x + 1


def proto_int(x: int) -> int:
    """The prototype of an int hook."""
    raise AssertionError("a prototype is never called")


class Holder:
    def method(self, x: int) -> int:
        """A method's docstring."""
        return x * 10


# --------------------------------------------------------------------------------------
# Definition.
# --------------------------------------------------------------------------------------

def test_define_static_call_targets_func() -> None:
    key = define_static_call(add_one)
    assert isinstance(key, StaticCall)
    assert static_call_query(key) is add_one
    assert key(1) == 2
    assert static_call(key)(2) == 3
    assert static_call_cond(key)(3) == 4


def test_define_static_call_null() -> None:
    key = define_static_call_null(proto_int)
    assert static_call_query(key) is None
    assert static_call_cond(key)(1) is None
    with pytest.raises(StaticCallNullError):
        static_call(key)(1)
    with pytest.raises(StaticCallNullError):
        key(1)


def test_define_static_call_null_without_prototype() -> None:
    key = define_static_call_null(name="bare_null")
    assert key.name == "bare_null"
    assert static_call_query(key) is None
    assert static_call_cond(key)(1, 2, z=3) is None
    # no prototype: any target fits
    static_call_update(key, lambda *a, **k: (a, k))
    assert key(1, z=2) == ((1,), {"z": 2})


def test_define_static_call_ret0() -> None:
    key = define_static_call_ret0(proto_int)
    assert static_call_query(key) is static_call_return0
    assert key(5) == 0
    assert static_call(key)(5) == 0
    assert static_call_cond(key)(5) == 0


def test_define_static_call_ret0_without_prototype() -> None:
    key = define_static_call_ret0(name="bare_ret0")
    assert static_call_query(key) is static_call_return0
    assert key(1, 2, 3, a=4) == 0


def test_prototype_is_the_signature_of_the_default_target() -> None:
    key = define_static_call(add_one)
    with pytest.raises(staticcall.StaticCallSignatureError):
        static_call_update(key, lambda x, y: x)
    assert static_call_query(key) is add_one


def test_prototype_of_null_and_ret0_keys_is_checked() -> None:
    for key in (define_static_call_null(proto_int), define_static_call_ret0(proto_int)):
        before = static_call_query(key)
        with pytest.raises(staticcall.StaticCallSignatureError):
            static_call_update(key, lambda: 1)
        assert static_call_query(key) is before
        static_call_update(key, add_one)
        assert key(1) == 2


def test_prototype_must_be_callable_or_none() -> None:
    with pytest.raises(TypeError):
        define_static_call_null(42, name="bad")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        define_static_call_ret0("nope", name="bad")  # type: ignore[arg-type]


def test_define_static_call_rejects_non_callable() -> None:
    with pytest.raises(TypeError, match="int"):
        define_static_call(3)  # type: ignore[arg-type]


def test_key_type_cannot_be_instantiated_directly() -> None:
    with pytest.raises(TypeError):
        StaticCall(add_one)  # type: ignore[call-arg]


def test_explicit_name() -> None:
    key = define_static_call(add_one, name="my_hook")
    assert key.name == "my_hook"
    assert key.__name__ == "my_hook"
    assert "my_hook" in repr(key)


def test_name_must_be_str() -> None:
    with pytest.raises(TypeError):
        define_static_call(add_one, name=3)  # type: ignore[arg-type]


def test_nameless_prototype_needs_a_name() -> None:
    class NoName:
        def __call__(self, x: int) -> int:
            return x

    obj = NoName()
    assert not hasattr(obj, "__name__")
    with pytest.raises(TypeError):
        define_static_call(obj)
    key = define_static_call(obj, name="named")
    assert key(4) == 4


# --------------------------------------------------------------------------------------
# Kernel aliases.
# --------------------------------------------------------------------------------------

def test_DEFINE_STATIC_CALL() -> None:
    key = DEFINE_STATIC_CALL("kernel_style", add_one)
    assert isinstance(key, StaticCall)
    assert key.name == "kernel_style"
    assert static_call_query(key) is add_one
    assert static_call(key)(1) == 2
    assert key.__module__ == __name__
    with pytest.raises(staticcall.StaticCallSignatureError):
        static_call_update(key, lambda: 0)


def test_DEFINE_STATIC_CALL_rejects_non_callable() -> None:
    with pytest.raises(TypeError):
        DEFINE_STATIC_CALL("bad", None)  # type: ignore[arg-type]


def test_DEFINE_STATIC_CALL_NULL() -> None:
    key = DEFINE_STATIC_CALL_NULL("kernel_null", proto_int)
    assert key.name == "kernel_null"
    assert static_call_query(key) is None
    assert static_call_cond(key)(1) is None
    with pytest.raises(StaticCallNullError):
        static_call(key)(1)
    with pytest.raises(staticcall.StaticCallSignatureError):
        static_call_update(key, lambda: 0)
    bare = DEFINE_STATIC_CALL_NULL("kernel_null_bare")
    assert static_call_query(bare) is None
    assert bare.__module__ == __name__


def test_DEFINE_STATIC_CALL_RET0() -> None:
    key = DEFINE_STATIC_CALL_RET0("kernel_ret0", proto_int)
    assert key.name == "kernel_ret0"
    assert static_call_query(key) is static_call_return0
    assert static_call(key)(7) == 0
    with pytest.raises(staticcall.StaticCallSignatureError):
        static_call_update(key, lambda: 0)
    bare = DEFINE_STATIC_CALL_RET0("kernel_ret0_bare")
    assert bare(1, 2, x=3) == 0
    assert bare.__module__ == __name__


def test_DECLARE_STATIC_CALL() -> None:
    handle = DECLARE_STATIC_CALL("keys_module:rt_declared_key")
    assert isinstance(handle, StaticCallHandle)
    import keys_module

    assert static_call_query(handle) is keys_module.triple
    assert handle(2) == 6
    assert static_call(handle)(3) == 9


def test_aliases_are_exported() -> None:
    for name in ("DEFINE_STATIC_CALL", "DEFINE_STATIC_CALL_NULL", "DEFINE_STATIC_CALL_RET0",
                 "DECLARE_STATIC_CALL", "EXPORT_STATIC_CALL", "EXPORT_STATIC_CALL_GPL",
                 "EXPORT_STATIC_CALL_TRAMP", "EXPORT_STATIC_CALL_TRAMP_GPL",
                 "__static_call_return0"):
        assert name in staticcall.__all__
        assert callable(getattr(staticcall, name))


def test_kernel_name_of_return0() -> None:
    assert getattr(staticcall, "__static_call_return0") is static_call_return0
    ns: dict[str, object] = {}
    exec("from staticcall import __static_call_return0 as r", ns)
    assert ns["r"] is static_call_return0
    key = DEFINE_STATIC_CALL("via_kernel_ret0", getattr(staticcall, "__static_call_return0"))
    assert static_call_query(key) is static_call_return0
    assert static_call_cond(key)(1) == 0


def test_define_static_call_with_return0_target_is_ret0() -> None:
    key = define_static_call(static_call_return0, name="ret0_via_define")
    assert static_call_query(key) is static_call_return0
    assert "RET0" in repr(key)
    assert key() == 0


# --------------------------------------------------------------------------------------
# static_call_return0.
# --------------------------------------------------------------------------------------

_values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(allow_nan=False),
                    st.lists(st.integers(), max_size=3))


@given(st.lists(_values, max_size=6),
       st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True), _values,
                       max_size=4))
def test_static_call_return0_returns_zero_for_anything(args: list[object],
                                                       kwargs: dict[str, object]) -> None:
    result = static_call_return0(*args, **kwargs)
    assert result == 0 and type(result) is int


def test_static_call_return0_is_the_ret0_target_everywhere() -> None:
    # the same object is what RET0 keys report, whatever made them
    keys = [define_static_call_ret0(name="r1"), DEFINE_STATIC_CALL_RET0("r2"),
            define_static_call_ret0(proto_int)]
    assert all(static_call_query(k) is static_call_return0 for k in keys)


# --------------------------------------------------------------------------------------
# Generic type, identity.
# --------------------------------------------------------------------------------------

def test_generic_subscription_at_runtime() -> None:
    alias = StaticCall[Callable[[int], int]]
    assert alias.__origin__ is StaticCall  # type: ignore[attr-defined]
    assert alias.__args__ == (Callable[[int], int],)  # type: ignore[attr-defined]
    key: StaticCall[Callable[[int], int]] = define_static_call(add_one)
    assert isinstance(key, StaticCall)
    # annotations using the alias evaluate
    def uses(k: StaticCall[Callable[[int], int]]) -> int:
        return static_call(k)(1)

    assert inspect.get_annotations(uses, eval_str=True)["k"] == alias
    assert uses(key) == 2


def test_keys_compare_and_hash_by_identity() -> None:
    a = define_static_call(add_one, name="same")
    b = define_static_call(add_one, name="same")
    assert a == a
    assert a != b
    assert not (a == b)
    assert len({a, b}) == 2
    assert hash(a) == object.__hash__(a)
    h = hash(a)
    static_call_update(a, lambda x: x)
    assert hash(a) == h
    assert a in {a: 1}
    static_call_update(a, None)
    assert hash(a) == h and a == a
    assert a != add_one and add_one != a


def test_keys_are_not_copied_and_pickle_only_by_name() -> None:
    key = define_static_call(add_one)
    assert copy.copy(key) is key
    assert copy.deepcopy(key) is key
    assert copy.deepcopy({"k": key})["k"] is key
    with pytest.raises(pickle.PicklingError, match="add_one"):
        pickle.dumps(key)  # not reachable by name from this module


# --------------------------------------------------------------------------------------
# Names, repr, metadata.
# --------------------------------------------------------------------------------------

def test_default_name_from_target() -> None:
    key = define_static_call(add_one)
    assert key.name == "add_one"
    assert isinstance(key.name, str)


def test_default_name_from_prototype() -> None:
    assert define_static_call_null(proto_int).name == "proto_int"
    assert define_static_call_ret0(proto_int).name == "proto_int"


def test_metadata_from_target() -> None:
    key = define_static_call(add_one)
    assert key.__name__ == "add_one"
    assert key.__qualname__ == add_one.__qualname__
    assert key.__doc__ == "Return x plus one."
    assert key.__module__ == __name__


def test_metadata_from_prototype() -> None:
    for key in (define_static_call_null(proto_int), define_static_call_ret0(proto_int)):
        assert key.__name__ == "proto_int"
        assert key.__qualname__ == proto_int.__qualname__
        assert key.__doc__ == "The prototype of an int hook."
        assert key.__module__ == __name__


def test_metadata_of_nested_and_method_targets() -> None:
    def inner(x: int) -> int:
        """Inner doc."""
        return x

    key = define_static_call(inner)
    assert key.__qualname__ == inner.__qualname__
    assert "<locals>" in key.__qualname__
    assert key.__doc__ == "Inner doc."
    mkey = define_static_call(Holder().method)
    assert mkey.name == "method"
    assert mkey.__qualname__ == "Holder.method"
    assert mkey.__doc__ == "A method's docstring."


def test_metadata_does_not_follow_updates() -> None:
    key = define_static_call(add_one)

    def other(x: int) -> int:
        """Other doc."""
        return x

    static_call_update(key, other)
    assert key.__name__ == "add_one"
    assert key.__doc__ == "Return x plus one."
    assert key.name == "add_one"


def test_module_is_the_defining_module() -> None:
    import keys_module

    assert keys_module.rt_declared_key.__module__ == "keys_module"
    assert keys_module.make_key().__module__ == "keys_module"
    for key in (define_static_call(add_one), define_static_call_null(name="n"),
                define_static_call_ret0(name="r"), DEFINE_STATIC_CALL("k", add_one),
                DEFINE_STATIC_CALL_NULL("k"), DEFINE_STATIC_CALL_RET0("k")):
        assert key.__module__ == __name__


def test_repr_shows_name_and_target() -> None:
    key = define_static_call(add_one, name="repr_key")
    text = repr(key)
    assert "repr_key" in text
    assert "add_one" in text
    static_call_update(key, None)
    text = repr(key)
    assert "repr_key" in text and "NULL" in text and "add_one" not in text
    static_call_update(key, static_call_return0)
    text = repr(key)
    assert "repr_key" in text and "RET0" in text and "NULL" not in text
    assert "NULL" in repr(define_static_call_null(name="x"))
    assert "RET0" in repr(define_static_call_ret0(name="x"))


def test_key_as_class_attribute_is_the_same_key() -> None:
    key = define_static_call(add_one, name="attr_key")

    class Service:
        hook = key

        def run(self, x: int) -> int:
            return static_call(self.hook)(x)

    svc = Service()
    assert Service.hook is key
    assert svc.hook is key
    assert Service.__dict__["hook"] is key
    assert svc.run(1) == 2
    # calling through the instance does not pass the instance
    assert svc.hook(5) == 6
    static_call_update(svc.hook, None)
    assert static_call_query(key) is None


def test_key_as_class_attribute_of_a_slotted_class() -> None:
    key = define_static_call(add_one, name="slotted_hook")

    class Slotted:
        __slots__ = ("x",)
        hook = key

    assert Slotted().hook is key


# --------------------------------------------------------------------------------------
# help(), inspect, doctest.
# --------------------------------------------------------------------------------------

def test_inspect_signature_is_the_prototype() -> None:
    key = define_static_call(add_one)
    assert inspect.signature(key) == inspect.signature(add_one)
    null = define_static_call_null(proto_int)
    assert inspect.signature(null) == inspect.signature(proto_int)
    static_call_update(null, lambda x: x)
    assert inspect.signature(null) == inspect.signature(proto_int)


def test_inspect_signature_without_prototype_accepts_anything() -> None:
    key = define_static_call_null(name="anything")
    sig = inspect.signature(key)
    sig.bind()
    sig.bind(1, 2, a=3)


def test_inspect_friendliness() -> None:
    key = define_static_call(add_one)
    assert callable(key)
    assert inspect.getdoc(key) == "Return x plus one."
    assert inspect.getmodule(key) is sys.modules[__name__]


def unannotated(x, y=1):  # type: ignore[no-untyped-def]
    """Return x plus y."""
    return x + y


def test_help_renders_name_and_doc() -> None:
    key = define_static_call(unannotated, name="helpful")
    text = pydoc.render_doc(key, renderer=pydoc.plaintext)
    assert "helpful" in text
    assert "Return x plus y." in text
    if inspect.isroutine(key):
        # documented as a routine: with the prototype's signature
        assert "helpful(x, y=1)" in text
    else:
        # 3.13's inspect declines to call partial objects routines; pydoc then
        # documents the key as data, by its repr
        assert sys.version_info[:2] == (3, 13)
        assert "helpful = <StaticCall 'helpful' -> <function unannotated" in text


def test_doctest_sees_the_key_sensibly() -> None:
    import keys_module

    finder = doctest.DocTestFinder()
    tests = {t.name: t for t in finder.find(keys_module)}
    if inspect.isroutine(keys_module.rt_doctested):
        assert "keys_module.rt_doctested" in tests
        assert tests["keys_module.rt_doctested"].docstring == keys_module._doubled.__doc__
    else:
        assert sys.version_info[:2] == (3, 13)
    # the key's examples run (under the key's name, the target's, or both) and pass
    assert any(t.docstring == keys_module._doubled.__doc__ for t in tests.values())
    runner = doctest.DocTestRunner(verbose=False)
    for test in tests.values():
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0
    assert results.attempted >= 1


def test_declared_handle_is_not_a_key() -> None:
    handle = declare_static_call("keys_module:rt_declared_key")
    assert not isinstance(handle, StaticCall)
    assert handle.name == "keys_module:rt_declared_key"
