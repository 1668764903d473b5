"""The exception hierarchy, and what the runtime path's errors say."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings
from typing import Any

import pytest

import exporting_module
import plain_user_module
import staticcall
from staticcall import (
    StaticCallError,
    StaticCallNullError,
    StaticCallPermissionError,
    StaticCallSignatureError,
    StaticCallWarning,
    declare_static_call,
    define_static_call,
    define_static_call_null,
    export_static_call,
    static_call,
    static_call_cond,
    static_call_update,
    static_call_update_many,
)


def target(x: int) -> int:
    return x


# --------------------------------------------------------------------------------------
# The hierarchy.
# --------------------------------------------------------------------------------------

def test_hierarchy_is_exactly_the_contract() -> None:
    assert StaticCallError.__bases__ == (Exception,)
    assert StaticCallNullError.__bases__ == (StaticCallError, TypeError)
    assert StaticCallSignatureError.__bases__ == (StaticCallError, TypeError)
    assert StaticCallPermissionError.__bases__ == (StaticCallError, PermissionError)
    assert StaticCallWarning.__bases__ == (UserWarning,)


@pytest.mark.parametrize(("error", "bases", "not_bases"), [
    (StaticCallError, (Exception,), (TypeError, PermissionError, Warning)),
    (StaticCallNullError, (StaticCallError, TypeError, Exception), (PermissionError,)),
    (StaticCallSignatureError, (StaticCallError, TypeError, Exception), (PermissionError,)),
    (StaticCallPermissionError, (StaticCallError, PermissionError, OSError, Exception),
     (TypeError,)),
    (StaticCallWarning, (UserWarning, Warning), (StaticCallError,)),
])
def test_subclass_relations(error: type, bases: tuple[type, ...],
                            not_bases: tuple[type, ...]) -> None:
    for base in bases:
        assert issubclass(error, base)
    for base in not_bases:
        assert not issubclass(error, base)


def test_errors_are_distinct() -> None:
    errors = [StaticCallNullError, StaticCallSignatureError, StaticCallPermissionError]
    for a in errors:
        for b in errors:
            assert issubclass(a, b) == (a is b)


def test_errors_are_public() -> None:
    for name in ("StaticCallError", "StaticCallNullError", "StaticCallSignatureError",
                 "StaticCallPermissionError", "StaticCallWarning"):
        assert name in staticcall.__all__
        assert getattr(staticcall, name).__module__.startswith("staticcall")


@pytest.mark.parametrize("error", [StaticCallError, StaticCallNullError,
                                   StaticCallSignatureError, StaticCallPermissionError])
def test_errors_behave_like_exceptions(error: type[Exception]) -> None:
    exc = error("message about 'k'")
    assert str(exc) == "message about 'k'"
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is error and str(again) == str(exc)
    with pytest.raises(StaticCallError):
        raise exc


def test_warning_is_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("x", StaticCallWarning)
    assert caught and caught[0].category is StaticCallWarning


# --------------------------------------------------------------------------------------
# What the runtime path raises, caught as the built-in errors they extend.
# --------------------------------------------------------------------------------------

def test_null_call_is_a_type_error_naming_the_key() -> None:
    key = define_static_call_null(name="null_named_key")
    for form in (static_call(key), key):
        with pytest.raises(TypeError) as info:
            form(1)
        assert type(info.value) is StaticCallNullError
        assert "null_named_key" in str(info.value)


def test_null_call_through_a_handle_names_the_key() -> None:
    key = define_static_call_null(name="null_exported_key")
    handle = export_static_call(key)
    with pytest.raises(StaticCallNullError, match="null_exported_key"):
        handle(1)
    with pytest.raises(StaticCallNullError, match="null_exported_key"):
        static_call(handle)(1)
    assert static_call_cond(handle)(1) is None


def test_signature_error_is_a_type_error_naming_the_key() -> None:
    key = define_static_call(target, name="sig_named_key")
    with pytest.raises(TypeError) as info:
        static_call_update(key, lambda: 0)
    assert type(info.value) is StaticCallSignatureError
    assert "sig_named_key" in str(info.value)


def test_non_callable_target_error_names_the_key_and_the_type() -> None:
    key = define_static_call(target, name="typed_key")

    class Weird:
        pass

    with pytest.raises(TypeError) as info:
        static_call_update(key, Weird())
    assert type(info.value) is TypeError
    assert "typed_key" in str(info.value) and "Weird" in str(info.value)


def test_update_many_error_names_the_failing_key() -> None:
    good = define_static_call(target, name="good_key")
    bad = define_static_call(target, name="bad_key")
    with pytest.raises(StaticCallSignatureError) as info:
        static_call_update_many({good: lambda x: x, bad: lambda: 0})
    assert "bad_key" in str(info.value)


def test_permission_error_names_the_key() -> None:
    with pytest.raises(PermissionError) as info:
        static_call_update(exporting_module.tramp, target)
    assert type(info.value) is StaticCallPermissionError
    assert "rt_tramp" in str(info.value)
    with pytest.raises(PermissionError) as info:
        plain_user_module.call(exporting_module.gpl, 1)
    assert type(info.value) is StaticCallPermissionError
    assert "rt_gpl" in str(info.value)
    # and says which module was refused
    assert "plain_user_module" in str(info.value)


def test_resolution_error_is_a_static_call_error_naming_the_declaration() -> None:
    declared = declare_static_call("exporting_module:absent_key")
    with pytest.raises(StaticCallError) as info:
        declared(1)
    assert "absent_key" in str(info.value)
    assert "exporting_module" in str(info.value)
    # a failed resolution is not a call error: `except TypeError` does not hide it
    assert not isinstance(info.value, TypeError)


def test_errors_from_targets_are_not_wrapped() -> None:
    def failing(x: int) -> Any:
        raise TypeError("from the target")

    key = define_static_call(failing)
    with pytest.raises(TypeError) as info:
        key(1)
    assert type(info.value) is TypeError
    assert str(info.value) == "from the target"


# --------------------------------------------------------------------------------------
# STATICCALL_MODE.
# --------------------------------------------------------------------------------------

def _import_with_mode(mode: str) -> subprocess.CompletedProcess[str]:
    code = "import staticcall; print('imported')"
    env = {**os.environ, "STATICCALL_MODE": mode}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("mode", ["inline", "trampoline", ""])
def test_known_modes_import(mode: str) -> None:
    result = _import_with_mode(mode)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"


@pytest.mark.parametrize("mode", ["bogus", "Inline", "trampolines", " inline", "0"])
def test_unknown_mode_is_an_error_at_import(mode: str) -> None:
    result = _import_with_mode(mode)
    assert result.returncode != 0
    assert "imported" not in result.stdout
    assert "StaticCallError" in result.stderr
    assert f"STATICCALL_MODE={mode!r}" in result.stderr
