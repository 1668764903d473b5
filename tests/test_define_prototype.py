"""define_static_call(func, *, name=None, prototype=None): a prototype narrower than the
default target, and signature errors that say which parameter does not fit."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest

from staticcall import (
    DEFINE_STATIC_CALL,
    StaticCallSignatureError,
    define_static_call,
    define_static_call_null,
    static_call,
    static_call_cond,
    static_call_query,
    static_call_update,
    static_calls,
)


def encode(obj: object) -> str:
    """The prototype of an encoder."""
    raise AssertionError("a prototype is never called")


def short(obj: object) -> str:
    return f"<{obj}>"


def test_prototype_narrower_than_the_default_target() -> None:
    key = define_static_call(json.dumps, prototype=lambda obj: ...)
    assert key.name == "dumps" and key.__doc__ == json.dumps.__doc__
    assert key([1]) == "[1]" and static_call(key)(obj=[2]) == "[2]"
    assert str(inspect.signature(key)) == "(obj)"
    static_call_update(key, short)  # no keyword-only extras needed
    assert key(1) == "<1>" and static_call_cond(key)(obj=2) == "<2>"
    static_call_update(key, json.dumps)
    assert key({"a": 1}) == '{"a": 1}'
    with pytest.raises(StaticCallSignatureError, match="'obj'"):
        static_call_update(key, lambda value: "")


def test_prototype_given_as_a_function_and_a_kernel_alias() -> None:
    key = define_static_call(json.dumps, name="encoder", prototype=encode)
    assert inspect.signature(key) == inspect.signature(encode)
    assert key.name == "encoder"
    static_call_update(key, short)
    alias = DEFINE_STATIC_CALL("encoder2", json.dumps, prototype=encode)
    static_call_update(alias, short)
    assert alias(3) == "<3>"


narrow_encoder = define_static_call(json.dumps, prototype=encode)


@static_calls
def encode_all(items: list[Any]) -> list[str]:
    return [narrow_encoder(item) for item in items]


def test_sites_of_a_key_with_a_narrow_prototype() -> None:
    assert encode_all([1, "a"]) == ["1", '"a"']
    static_call_update(narrow_encoder, short)
    try:
        assert encode_all([1]) == ["<1>"]
    finally:
        static_call_update(narrow_encoder, json.dumps)
    assert encode_all([2]) == ["2"]


@pytest.mark.parametrize("no_check", [..., None])
def test_no_prototype(no_check: Any) -> None:
    key = define_static_call(json.dumps, prototype=no_check)
    assert key.prototype is None
    static_call_update(key, lambda: "anything goes")
    assert key() == "anything goes"
    assert static_call_query(key) is not json.dumps


def test_default_target_must_fit_the_prototype() -> None:
    def needs_two(obj: object, b: object) -> str:
        return ""

    with pytest.raises(StaticCallSignatureError, match=r"'fussy'.*default target.*'b'"):
        define_static_call(needs_two, name="fussy", prototype=encode)
    with pytest.raises(TypeError, match="prototype must be a callable"):
        define_static_call(json.dumps, prototype=42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="callable target"):
        define_static_call(42, prototype=encode)  # type: ignore[call-overload]


def test_signature_error_names_the_parameter_and_the_remedy() -> None:
    key = define_static_call(json.dumps, name="strict_encoder")
    with pytest.raises(StaticCallSignatureError) as info:
        static_call_update(key, short)
    text = str(info.value)
    assert "'strict_encoder'" in text
    assert "parameter 'skipkeys' of the prototype" in text
    assert "prototype=" in text and "positional-only" in text


@pytest.mark.parametrize(("proto", "cand", "parameter", "remedy"), [
    ("x", "y", "parameter 'x' of the prototype", "make it positional-only"),
    ("x, y=0", "x", "parameter 'y' of the prototype", "positional-only"),
    ("*, flag=False", "", "parameter 'flag' of the prototype", "leave it out of the prototype"),
    ("x", "x, y", "parameter 'y' of the target is required", "Give 'y' a default"),
    ("**kw", "x=0", "parameter '**kw' of the prototype", "instead of **kw"),
    ("*args", "", "parameter '*args' of the prototype", "instead of *args"),
    ("x, y, /", "x, /", "parameter 'y' of the prototype may be passed by position", "leave it out"),
])
def test_signature_error_details(proto: str, cand: str, parameter: str, remedy: str) -> None:
    ns: dict[str, Any] = {}
    exec(f"def proto({proto}): pass\ndef cand({cand}): pass", ns)
    key = define_static_call_null(ns["proto"], name="detailed")
    with pytest.raises(StaticCallSignatureError) as info:
        static_call_update(key, ns["cand"])
    text = str(info.value)
    assert parameter in text and remedy in text
    assert "prototype=" in text
    assert static_call_query(key) is None
