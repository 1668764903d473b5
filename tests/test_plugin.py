"""The pytest plugin's ``static_call_override`` fixture."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from staticcall import (
    StaticCallPermissionError,
    StaticCallSignatureError,
    define_static_call,
    define_static_call_null,
    export_static_call,
    static_call,
    static_call_cond,
    static_call_query,
    static_calls,
)

pytest_plugins = ["pytester"]


def original(x: int) -> str:
    return f"original({x})"


def replacement(x: int) -> str:
    return f"replacement({x})"


def another(x: int) -> str:
    return f"another({x})"


KEY = define_static_call(original, name="plugin_test_key")
NULL_KEY = define_static_call_null(original, name="plugin_test_null_key")


@static_calls
def call_key(x: int) -> str:
    return static_call(KEY)(x)


@static_calls
def call_null_key(x: int) -> str | None:
    return static_call_cond(NULL_KEY)(x)


def test_plugin_is_registered(pytestconfig: pytest.Config) -> None:
    import staticcall.pytest_plugin as plugin

    if pytestconfig.pluginmanager.get_plugin("staticcall") is None:
        # Entry points not loaded (PYTEST_DISABLE_PLUGIN_AUTOLOAD): registered by module name?
        registered = pytestconfig.pluginmanager.is_registered(plugin)
        if not registered:
            pytest.skip("pytest plugin autoloading is disabled")
    else:
        assert pytestconfig.pluginmanager.get_plugin("staticcall") is plugin


# The next two tests run in this order (pytest keeps file order): the first overrides,
# the second sees the originals back.

def test_override_retargets_for_this_test(static_call_override: Any) -> None:
    previous = static_call_override(KEY, replacement)
    assert previous is original
    assert static_call_query(KEY) is replacement
    assert call_key(1) == "replacement(1)"
    assert KEY(2) == "replacement(2)"
    # A second override of the same key stacks; both unwind at teardown.
    assert static_call_override(KEY, another) is replacement
    assert call_key(3) == "another(3)"
    assert static_call_override(NULL_KEY, replacement) is None
    assert call_null_key(4) == "replacement(4)"


def test_override_was_restored_after_previous_test() -> None:
    assert static_call_query(KEY) is original
    assert call_key(1) == "original(1)"
    assert static_call_query(NULL_KEY) is None
    assert call_null_key(2) is None


def test_override_rejects_what_update_rejects(static_call_override: Any) -> None:
    def wrong(x: int, y: int) -> str:
        return "wrong"

    with pytest.raises(StaticCallSignatureError):
        static_call_override(KEY, wrong)
    assert static_call_query(KEY) is original
    with pytest.raises(TypeError):
        static_call_override(KEY, 42)
    with pytest.raises(TypeError, match="int"):
        static_call_override(42, replacement)
    handle = export_static_call(define_static_call(original, name="plugin_tramp_only"),
                                tramp=True)
    with pytest.raises(StaticCallPermissionError):
        static_call_override(handle, replacement)
    assert static_call_query(KEY) is original


def test_override_through_full_handle(static_call_override: Any) -> None:
    key = define_static_call(original, name="plugin_full_handle")
    handle = export_static_call(key)
    assert static_call_override(handle, another) is original
    assert key(5) == "another(5)"


# A failing test in an inner pytest run, sharing the keys through a module that the
# outer process imported first (so both runs see the same module object).

SHARED = """
    from staticcall import define_static_call, define_static_call_ret0, static_call, static_calls

    def original(x):
        return "original"

    def replaced(x):
        return "replaced"

    KEY = define_static_call(original, name="shared_key")
    RET0 = define_static_call_ret0(original, name="shared_ret0")

    @static_calls
    def use(x):
        return static_call(KEY)(x), static_call(RET0)(x)
"""

INNER = """
    import pytest
    import shared_keys_for_plugin as shared

    def test_overrides_then_fails(static_call_override):
        assert static_call_override(shared.KEY, shared.replaced) is shared.original
        static_call_override(shared.RET0, shared.replaced)
        assert shared.use(1) == ("replaced", "replaced")
        assert False, "deliberate failure"

    def test_overrides_then_raises(static_call_override):
        static_call_override(shared.KEY, shared.replaced)
        raise RuntimeError("deliberate error")

    @pytest.fixture
    def broken_teardown(static_call_override):
        static_call_override(shared.KEY, shared.replaced)
        yield
        raise RuntimeError("deliberate teardown error")

    def test_other_fixture_fails_in_teardown(broken_teardown):
        assert shared.use(1) == ("replaced", 0)

    def test_sees_originals_again():
        assert shared.use(1) == ("original", 0)
"""


@pytest.fixture
def shared_module(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Any:
    import importlib
    import sys

    pytester.makepyfile(shared_keys_for_plugin=textwrap.dedent(SHARED))
    pytester.syspathinsert()
    module = importlib.import_module("shared_keys_for_plugin")
    yield module
    sys.modules.pop("shared_keys_for_plugin", None)


def _run_inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
               source: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=textwrap.dedent(source))
    # Load the plugin by module name, independent of entry-point autoloading.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest_inprocess("-p", "staticcall.pytest_plugin", "-p", "no:cacheprovider",
                                        "-p", "no:randomly")


def test_failing_test_restores_its_overrides(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch,
                                             shared_module: Any) -> None:
    result = _run_inner(pytester, monkeypatch, INNER)
    result.assert_outcomes(passed=2, failed=2, errors=1)
    result.stdout.fnmatch_lines(["*deliberate failure*"])
    result.stdout.fnmatch_lines(["*deliberate error*"])
    result.stdout.fnmatch_lines(["*deliberate teardown error*"])
    # Back in the outer process: the same key objects have their original targets.
    assert static_call_query(shared_module.KEY) is shared_module.original
    from staticcall import static_call_return0

    assert static_call_query(shared_module.RET0) is static_call_return0
    assert shared_module.use(1) == ("original", 0)


def test_fixture_is_missing_without_the_plugin(pytester: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Checks the inner runs above get the fixture from the plugin and nothing else.
    pytester.makepyfile(test_inner="def test_x(static_call_override): pass\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'static_call_override' not found*"])
