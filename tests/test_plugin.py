"""The pytest plugin: the ``staticcall`` fixture, and the deprecated ``static_call_override``."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from staticcall import (
    StaticCallError,
    StaticCallPermissionError,
    StaticCallSignatureError,
    define_static_call,
    define_static_call_null,
    export_static_call,
    static_call,
    static_call_cond,
    static_call_override,
    static_call_query,
    static_calls,
)


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


# The next two tests run in this order (pytest keeps file order): the first retargets,
# the second sees the originals back.

def test_fixture_retargets_for_this_test(staticcall: Any) -> None:
    previous = staticcall.update(KEY, replacement)
    assert previous is original
    assert static_call_query(KEY) is replacement
    assert call_key(1) == "replacement(1)"
    assert KEY(2) == "replacement(2)"
    # A second update of the same key: the test's end restores the original, not this.
    assert staticcall.update(KEY, another) is replacement
    assert call_key(3) == "another(3)"
    assert staticcall.update(NULL_KEY, replacement) is None
    assert call_null_key(4) == "replacement(4)"
    with staticcall.override(KEY, replacement) as before:
        assert before is another and call_key(5) == "replacement(5)"
    assert call_key(6) == "another(6)"
    # an override the test leaves in effect is ended at teardown too
    staticcall.override(NULL_KEY, another).__enter__()
    assert call_null_key(7) == "another(7)"


def test_fixture_update_inside_a_plain_override(staticcall: Any) -> None:
    with static_call_override(KEY, replacement):
        assert staticcall.update(KEY, another) is replacement
        assert call_key(1) == "another(1)"
    # the block's end does not undo the fixture's update, which lasts for the test...
    assert call_key(2) == "another(2)"
    with static_call_override(NULL_KEY, replacement):
        staticcall.update(NULL_KEY, another)
    # ...and the test's end restores what the keys had before it (checked next)


def test_fixture_restored_after_previous_tests() -> None:
    assert static_call_query(KEY) is original
    assert call_key(1) == "original(1)"
    assert static_call_query(NULL_KEY) is None
    assert call_null_key(2) is None


def test_fixture_accepts_key_handle_and_module_name(staticcall: Any) -> None:
    key = define_static_call(original, name="plugin_by_name")
    globals()["BY_NAME"] = key
    try:
        assert staticcall.update(f"{__name__}:BY_NAME", replacement) is original
        assert key(1) == "replacement(1)"
        with staticcall.override(export_static_call(key), another):
            assert key(2) == "another(2)"
        with staticcall.override(f"{__name__}:BY_NAME", original):
            assert key(3) == "original(3)"
        assert key(4) == "replacement(4)"
        staticcall.undo()
        assert static_call_query(key) is original
    finally:
        del globals()["BY_NAME"]


def test_fixture_rejects_what_update_rejects(staticcall: Any) -> None:
    def wrong(x: int, y: int) -> str:
        return "wrong"

    with pytest.raises(StaticCallSignatureError):
        staticcall.update(KEY, wrong)
    with pytest.raises(StaticCallSignatureError):
        with staticcall.override(KEY, wrong):
            pass
    assert static_call_query(KEY) is original
    with pytest.raises(TypeError):
        staticcall.update(KEY, 42)
    with pytest.raises(TypeError, match="int"):
        staticcall.update(42, replacement)
    with pytest.raises(StaticCallError, match="plugin_no_such_module"):
        staticcall.update("plugin_no_such_module:KEY", replacement)
    handle = export_static_call(define_static_call(original, name="plugin_tramp_only"),
                                tramp=True)
    with pytest.raises(StaticCallPermissionError):
        staticcall.update(handle, replacement)
    with pytest.raises(StaticCallPermissionError):
        staticcall.override(handle, replacement)
    assert static_call_query(KEY) is original


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

    def test_updates_then_fails(staticcall):
        assert staticcall.update(shared.KEY, shared.replaced) is shared.original
        staticcall.update("shared_keys_for_plugin:RET0", shared.replaced)
        assert shared.use(1) == ("replaced", "replaced")
        assert False, "deliberate failure"

    def test_overrides_then_raises(staticcall):
        with staticcall.override(shared.KEY, shared.replaced):
            raise RuntimeError("deliberate error")

    def test_override_left_in_effect(staticcall):
        staticcall.override("shared_keys_for_plugin:KEY", shared.replaced).__enter__()
        assert False, "deliberate failure with an override in effect"

    @pytest.fixture
    def broken_teardown(staticcall):
        staticcall.update(shared.KEY, shared.replaced)
        yield
        raise RuntimeError("deliberate teardown error")

    def test_other_fixture_fails_in_teardown(broken_teardown):
        assert shared.use(1) == ("replaced", 0)

    def test_sees_originals_again():
        assert shared.use(1) == ("original", 0)
"""

OLD_NAME = """
    import shared_keys_for_plugin as shared

    def test_old_fixture(static_call_override):
        assert static_call_override(shared.KEY, shared.replaced) is shared.original
        assert shared.use(1) == ("replaced", 0)

    def test_sees_originals_again():
        assert shared.use(1) == ("original", 0)
"""

REBIND = """
    from unittest import mock

    import shared_keys_for_plugin as shared

    def test_monkeypatched_global(staticcall, monkeypatch):
        monkeypatch.setattr(shared, "KEY", shared.replaced)

    def test_mock_patch_seen_at_update(staticcall):
        with mock.patch("shared_keys_for_plugin.KEY", shared.replaced):
            staticcall.update(shared.RET0, shared.replaced)

    def test_no_rebinding(staticcall, monkeypatch):
        staticcall.update(shared.KEY, shared.replaced)
        monkeypatch.setattr(shared, "original", shared.replaced)  # not a key: no warning
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
    result.assert_outcomes(passed=2, failed=3, errors=1)
    result.stdout.fnmatch_lines(["*deliberate failure*"])
    result.stdout.fnmatch_lines(["*deliberate error*"])
    result.stdout.fnmatch_lines(["*deliberate failure with an override in effect*"])
    result.stdout.fnmatch_lines(["*deliberate teardown error*"])
    # Back in the outer process: the same key objects have their original targets.
    assert static_call_query(shared_module.KEY) is shared_module.original
    from staticcall import static_call_return0

    assert static_call_query(shared_module.RET0) is static_call_return0
    assert shared_module.use(1) == ("original", 0)
    # no override of the inner runs is left in effect: a new one ends as the only one
    from staticcall import static_call_override

    with static_call_override(shared_module.KEY, shared_module.replaced):
        assert shared_module.use(1) == ("replaced", 0)
    assert shared_module.use(1) == ("original", 0)


def test_old_fixture_name_works_and_is_deprecated(pytester: pytest.Pytester,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  shared_module: Any) -> None:
    result = _run_inner(pytester, monkeypatch, OLD_NAME)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*DeprecationWarning: the static_call_override fixture is "
                                 "deprecated: use the staticcall fixture*"])
    assert shared_module.use(1) == ("original", 0)


def test_rebinding_a_key_global_warns(pytester: pytest.Pytester,
                                      monkeypatch: pytest.MonkeyPatch,
                                      shared_module: Any) -> None:
    result = _run_inner(pytester, monkeypatch, REBIND)
    result.assert_outcomes(passed=3)
    out = result.stdout.str()
    message = ("StaticCallWarning: shared_keys_for_plugin.KEY held static call 'shared_key' "
               "and now holds <function replaced")
    assert out.count(message) == 2, out
    assert "staticcall.override(shared_keys_for_plugin.KEY, fake)" in out
    result.stdout.fnmatch_lines(["*test_monkeypatched_global*", "*" + message + "*",
                                 "*test_mock_patch_seen_at_update*", "*" + message + "*"])
    assert "test_no_rebinding" not in out.split("warnings summary")[-1]
    assert shared_module.use(1) == ("original", 0)


def test_fixture_is_missing_without_the_plugin(pytester: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Checks the inner runs above get the fixture from the plugin and nothing else.
    pytester.makepyfile(test_inner="def test_x(staticcall): pass\n"
                                   "def test_y(static_call_override): pass\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*fixture 'staticcall' not found*"])
    result.stdout.fnmatch_lines(["*fixture 'static_call_override' not found*"])
