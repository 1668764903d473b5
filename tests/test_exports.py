"""EXPORT_STATIC_CALL and friends, and DECLARE_STATIC_CALL: handles, their rights, the
export registry and resolution of declarations."""

from __future__ import annotations

import sys
from typing import Any, Callable

import pytest

import exporting_module
import gpl_user_module
import plain_user_module
from handle_ops import UPDATE_OPS, USE_OPS, module_with_license
from staticcall import (
    DECLARE_STATIC_CALL,
    StaticCall,
    StaticCallError,
    StaticCallHandle,
    StaticCallNullError,
    StaticCallPermissionError,
    declare_static_call,
    define_static_call,
    export_static_call,
    static_call,
    static_call_cond,
    static_call_override,
    static_call_query,
    static_call_return0,
    static_call_update,
    static_call_update_many,
)

GPL_COMPATIBLE = ["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
                  "Dual MIT/GPL", "Dual MPL/GPL"]
NOT_GPL_COMPATIBLE = [None, "MIT", "Proprietary", "GPL v3", "gpl", "GPLv2", "", "Dual BSD/MIT"]


def double(x: int) -> int:
    return 2 * x


def other(x: int) -> int:
    return -x


def run_op(module: Any, op: str, handle: Any, new: Any = other) -> Any:
    """Run operation ``op`` from ``module``'s code, on ``handle``."""
    fn: Callable[..., Any] = getattr(module, op)
    if op in ("call", "call_static", "call_cond"):
        return fn(handle, 1)
    if op == "query":
        return fn(handle)
    if op == "override":
        return fn(handle, new, lambda: "inside")
    return fn(handle, new)


def fresh_key(name: str) -> StaticCall[Any]:
    return define_static_call(double, name=name)


# --------------------------------------------------------------------------------------
# Full exports.
# --------------------------------------------------------------------------------------

def test_full_export_can_call_query_and_update() -> None:
    key = fresh_key("full_export")
    handle = export_static_call(key)
    assert isinstance(handle, StaticCallHandle)
    assert handle(3) == 6
    assert static_call(handle)(3) == 6
    assert static_call_cond(handle)(3) == 6
    assert static_call_query(handle) is double
    assert static_call_update(handle, other) is double
    assert static_call_query(key) is other
    assert key(3) == -3 and handle(3) == -3
    assert static_call_update_many({handle: None}) == {handle: other}
    assert static_call_cond(handle)(1) is None
    with pytest.raises(StaticCallNullError):
        handle(1)
    with static_call_override(handle, static_call_return0):
        assert static_call_query(key) is static_call_return0
        assert handle(5) == 0
    assert static_call_query(key) is None


def test_export_registers_module_colon_name() -> None:
    key = fresh_key("registered_here")
    handle = export_static_call(key)
    spec = f"{__name__}:registered_here"
    assert handle.name == spec
    assert spec in repr(handle)
    declared = declare_static_call(spec)
    assert declared(4) == 8
    static_call_update(declared, other)
    assert static_call_query(key) is other
    assert static_call_query(handle) is other


def test_declaration_resolves_through_the_registry() -> None:
    # the key named "rt_full" lives in the attribute "_full_key": only the export
    # registry knows the name
    assert not hasattr(exporting_module, "rt_full")
    declared = DECLARE_STATIC_CALL("exporting_module:rt_full")
    assert isinstance(declared, StaticCallHandle)
    assert declared(1) == 101
    assert static_call_query(declared) is exporting_module.base
    static_call_update(declared, double)
    try:
        assert static_call_query(exporting_module._full_key) is double
        assert exporting_module.full(5) == 10
    finally:
        static_call_update(exporting_module._full_key, exporting_module.base)


def test_export_rejects_non_keys() -> None:
    class Thing:
        pass

    for bad in (Thing(), double, None):
        with pytest.raises(TypeError, match=type(bad).__name__):
            export_static_call(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Trampoline-only exports.
# --------------------------------------------------------------------------------------

TRAMP_HANDLES = {"tramp": "rt_tramp", "k_tramp": "rt_k_tramp"}


@pytest.mark.parametrize("attr", list(TRAMP_HANDLES))
def test_tramp_export_can_call_and_query(attr: str) -> None:
    handle = getattr(exporting_module, attr)
    assert handle(1) == 101
    assert static_call(handle)(1) == 101
    assert static_call_cond(handle)(1) == 101
    assert static_call_query(handle) is exporting_module.base


@pytest.mark.parametrize("declared", [False, True], ids=["export", "declaration"])
@pytest.mark.parametrize("attr", list(TRAMP_HANDLES))
def test_tramp_export_cannot_update(attr: str, declared: bool) -> None:
    handle = getattr(exporting_module, attr)
    key = getattr(exporting_module, "_" + attr + "_key" if attr == "tramp" else "_" + attr)
    if declared:  # a declaration of the export has the export's rights
        handle = declare_static_call(f"exporting_module:{TRAMP_HANDLES[attr]}")
    attempts: list[Callable[[], Any]] = [
        lambda: static_call_update(handle, other),
        lambda: static_call_update(handle, None),
        lambda: static_call_update(handle, static_call_return0),
        lambda: static_call_update_many({handle: other}),
        lambda: static_call_update_many({define_static_call(double, name="bystander"): other,
                                         handle: other}),
    ]
    for attempt in attempts:
        with pytest.raises(StaticCallPermissionError, match=TRAMP_HANDLES[attr]) as info:
            attempt()
        assert isinstance(info.value, PermissionError)
        assert static_call_query(key) is exporting_module.base
    with pytest.raises(StaticCallPermissionError):
        with static_call_override(handle, other):
            pytest.fail("the block must not run")
    assert static_call_query(key) is exporting_module.base
    assert handle(1) == 101


def test_update_many_with_a_tramp_handle_changes_nothing() -> None:
    bystander = fresh_key("bystander")
    with pytest.raises(StaticCallPermissionError):
        static_call_update_many({bystander: other, exporting_module.tramp: other})
    assert static_call_query(bystander) is double
    assert static_call_query(exporting_module._tramp_key) is exporting_module.base


def test_update_many_naming_one_key_twice_with_two_targets_is_refused() -> None:
    key = fresh_key("twice")
    handle = export_static_call(key)
    with pytest.raises(StaticCallError, match="'twice'.*twice"):
        static_call_update_many({key: other, handle: abs})
    assert static_call_query(key) is double
    # the same target twice is no conflict, and each name given has its previous target
    previous = static_call_update_many({key: other, handle: other})
    assert static_call_query(key) is other
    assert list(previous) == [key, handle] and previous[key] is previous[handle] is double


def test_tramp_export_does_not_restrict_the_key_itself() -> None:
    key = fresh_key("owner_keeps_rights")
    handle = export_static_call(key, tramp=True)
    with pytest.raises(StaticCallPermissionError):
        static_call_update(handle, other)
    static_call_update(key, other)
    assert handle(2) == -2


# --------------------------------------------------------------------------------------
# GPL-only exports.
# --------------------------------------------------------------------------------------

GPL_HANDLES = ["gpl", "k_gpl"]
TRAMP_GPL_HANDLES = ["tramp_gpl", "k_tramp_gpl"]


def _key_of(attr: str) -> StaticCall[Any]:
    return {
        "gpl": exporting_module._gpl_key, "k_gpl": exporting_module._k_gpl,
        "tramp_gpl": exporting_module._tramp_gpl_key, "k_tramp_gpl": exporting_module._k_tramp_gpl,
    }[attr]


@pytest.fixture
def restore_exporter_keys() -> Any:
    keys = [exporting_module._gpl_key, exporting_module._k_gpl, exporting_module._tramp_gpl_key,
            exporting_module._k_tramp_gpl, exporting_module._tramp_key, exporting_module._k_tramp,
            exporting_module._full_key]
    yield
    for key in keys:
        static_call_update(key, exporting_module.base)


@pytest.mark.parametrize("op", USE_OPS + UPDATE_OPS)
@pytest.mark.parametrize("attr", GPL_HANDLES)
def test_gpl_export_from_gpl_module(attr: str, op: str, restore_exporter_keys: Any) -> None:
    handle = getattr(exporting_module, attr)
    result = run_op(gpl_user_module, op, handle)
    if op in USE_OPS:
        assert result == (exporting_module.base if op == "query" else 101)
    elif op == "override":
        assert result == "inside"
        assert static_call_query(_key_of(attr)) is exporting_module.base
    else:
        assert static_call_query(_key_of(attr)) is other


@pytest.mark.parametrize("op", USE_OPS + UPDATE_OPS)
@pytest.mark.parametrize("attr", GPL_HANDLES + TRAMP_GPL_HANDLES)
def test_gpl_export_from_module_without_license(attr: str, op: str,
                                                restore_exporter_keys: Any) -> None:
    handle = getattr(exporting_module, attr)
    with pytest.raises(StaticCallPermissionError) as info:
        run_op(plain_user_module, op, handle)
    assert isinstance(info.value, PermissionError)
    assert _key_of(attr).name in str(info.value)
    assert static_call_query(_key_of(attr)) is exporting_module.base


@pytest.mark.parametrize("op", USE_OPS + UPDATE_OPS)
@pytest.mark.parametrize("attr", TRAMP_GPL_HANDLES)
def test_tramp_gpl_export_from_gpl_module(attr: str, op: str,
                                          restore_exporter_keys: Any) -> None:
    handle = getattr(exporting_module, attr)
    if op in USE_OPS:
        assert run_op(gpl_user_module, op, handle) == (
            exporting_module.base if op == "query" else 101)
    else:
        with pytest.raises(StaticCallPermissionError):
            run_op(gpl_user_module, op, handle)
    assert static_call_query(_key_of(attr)) is exporting_module.base


@pytest.mark.parametrize("license", GPL_COMPATIBLE + NOT_GPL_COMPATIBLE)
def test_gpl_licence_list(license: str | None, restore_exporter_keys: Any) -> None:
    module = module_with_license(f"_rt_dyn_{abs(hash(license))}", license)
    try:
        allowed = license in GPL_COMPATIBLE
        for op in USE_OPS + UPDATE_OPS:
            if allowed:
                run_op(module, op, exporting_module.gpl)
            else:
                with pytest.raises(StaticCallPermissionError):
                    run_op(module, op, exporting_module.gpl)
        assert static_call_query(exporting_module._gpl_key) is (other if allowed
                                                             else exporting_module.base)
    finally:
        sys.modules.pop(module.__name__, None)


def test_gpl_export_from_this_module_is_refused() -> None:
    # this test module has no __license__
    assert "__license__" not in globals()
    with pytest.raises(StaticCallPermissionError):
        exporting_module.gpl(1)
    with pytest.raises(StaticCallPermissionError):
        static_call(exporting_module.gpl)
    with pytest.raises(StaticCallPermissionError):
        static_call_query(exporting_module.gpl)


def test_gpl_check_is_per_caller_not_per_handle() -> None:
    # a handle used successfully by a GPL module is not thereby opened to others
    handle = exporting_module.gpl
    assert gpl_user_module.call(handle, 1) == 101
    assert gpl_user_module.call_static(handle, 1) == 101
    with pytest.raises(StaticCallPermissionError):
        plain_user_module.call(handle, 1)
    with pytest.raises(StaticCallPermissionError):
        plain_user_module.call_static(handle, 1)
    assert gpl_user_module.call_cond(handle, 1) == 101


def test_declaration_of_gpl_export_keeps_the_gpl_rule() -> None:
    declared = declare_static_call("exporting_module:rt_gpl")
    assert gpl_user_module.call(declared, 2) == 102
    with pytest.raises(StaticCallPermissionError):
        plain_user_module.call(declared, 2)


# --------------------------------------------------------------------------------------
# Declarations.
# --------------------------------------------------------------------------------------

def test_declaration_of_a_plain_attribute_has_full_rights() -> None:
    declared = declare_static_call("exporting_module:plain_key")
    assert declared(1) == 101
    try:
        assert static_call_update(declared, double) is exporting_module.base
        assert exporting_module.plain_key(4) == 8
    finally:
        static_call_update(exporting_module.plain_key, exporting_module.base)


def test_declaration_of_a_nested_attribute() -> None:
    declared = declare_static_call("exporting_module:Namespace.nested_key")
    assert static_call(declared)(1) == 101


def test_declaration_resolves_at_first_use() -> None:
    sys.modules.pop("lazy_keys_module", None)
    declared = declare_static_call("lazy_keys_module:lazy_key")
    assert "lazy_keys_module" not in sys.modules
    assert "unresolved" in repr(declared) or "lazy_keys_module:lazy_key" in repr(declared)
    assert declared(1) == ("lazy", 1)
    module = sys.modules["lazy_keys_module"]
    assert module.IMPORTS == [1]
    assert static_call_cond(declared)(2) == ("lazy", 2)
    assert module.IMPORTS == [1]
    assert static_call_query(declared) is module.lazy_target


@pytest.mark.parametrize("first_use", ["call", "static_call", "static_call_cond", "query",
                                       "update"])
def test_declaration_resolves_on_any_first_use(first_use: str) -> None:
    sys.modules.pop("lazy_keys_module", None)
    declared = declare_static_call("lazy_keys_module:lazy_key")
    assert "lazy_keys_module" not in sys.modules
    if first_use == "call":
        assert declared(1) == ("lazy", 1)
    elif first_use == "static_call":
        assert static_call(declared)(1) == ("lazy", 1)
    elif first_use == "static_call_cond":
        assert static_call_cond(declared)(1) == ("lazy", 1)
    elif first_use == "query":
        assert static_call_query(declared) is sys.modules["lazy_keys_module"].lazy_target
    else:
        assert static_call_update(declared, None) is sys.modules["lazy_keys_module"].lazy_target
        assert static_call_query(sys.modules["lazy_keys_module"].lazy_key) is None
    assert "lazy_keys_module" in sys.modules


FAILING_DECLARATIONS = {
    "missing module": ("_rt_no_such_module_xyz:key", "_rt_no_such_module_xyz"),
    "missing attribute": ("exporting_module:no_such_key", "no_such_key"),
    "not a key": ("exporting_module:not_a_key", "int"),
    "missing nested attribute": ("exporting_module:Namespace.missing", "Namespace.missing"),
    "function, not a key": ("exporting_module:base", "function"),
}

USES: dict[str, Callable[[Any], Any]] = {
    "call": lambda h: h(1),
    "static_call": lambda h: static_call(h)(1),
    "static_call_cond": lambda h: static_call_cond(h)(1),
    "query": lambda h: static_call_query(h),
    "update": lambda h: static_call_update(h, double),
    "update_many": lambda h: static_call_update_many({h: double}),
}


@pytest.mark.parametrize("use", list(USES))
@pytest.mark.parametrize("case", list(FAILING_DECLARATIONS))
def test_failing_declaration_names_what_is_missing(case: str, use: str) -> None:
    spec, missing = FAILING_DECLARATIONS[case]
    declared = declare_static_call(spec)  # declaring never fails for a well-formed spec
    with pytest.raises(StaticCallError) as info:
        USES[use](declared)
    assert missing in str(info.value)
    # still failing on the next use: nothing half-resolved
    with pytest.raises(StaticCallError):
        USES[use](declared)


def test_failing_declaration_with_override() -> None:
    declared = declare_static_call("exporting_module:no_such_key")
    with pytest.raises(StaticCallError, match="no_such_key"):
        with static_call_override(declared, double):
            pytest.fail("the block must not run")


@pytest.mark.parametrize("spec", ["no_colon", ":name", "module:", ""])
def test_malformed_declaration(spec: str) -> None:
    with pytest.raises(StaticCallError):
        declared = declare_static_call(spec)
        declared(1)


def test_declaration_needs_a_string() -> None:
    with pytest.raises(TypeError, match="int"):
        declare_static_call(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DECLARE_STATIC_CALL(None)  # type: ignore[arg-type]


def test_declaration_of_a_key_defined_here() -> None:
    # keys defined in this module are found by attribute without any export
    declared = declare_static_call(f"{__name__}:LOCAL_KEY")
    assert declared(21) == 42
    assert static_call_query(declared) is double


LOCAL_KEY = define_static_call(double, name="local_key_attr")


# --------------------------------------------------------------------------------------
# One key per exported name.
# --------------------------------------------------------------------------------------

def test_two_keys_exported_under_one_name_are_refused() -> None:
    first = fresh_key("exported_twice")
    second = fresh_key("exported_twice")
    handle = export_static_call(first)
    with pytest.raises(StaticCallError, match="exported_twice") as info:
        export_static_call(second, tramp=True)
    assert f"{__name__}:exported_twice" in str(info.value)
    assert "name=" in str(info.value)
    # nothing changed: the name still resolves to the first key
    declared = declare_static_call(f"{__name__}:exported_twice")
    static_call_update(declared, other)
    assert static_call_query(first) is other
    assert static_call_query(second) is double
    assert handle(2) == -2


def test_re_exporting_the_same_key_is_fine() -> None:
    key = fresh_key("exported_again")
    export_static_call(key)
    again = export_static_call(key, tramp=True)
    assert again(3) == 6
    assert static_call_query(declare_static_call(f"{__name__}:exported_again")) is double


def test_nameless_null_keys_cannot_share_an_export() -> None:
    from staticcall import define_static_call_null

    a = define_static_call_null()
    b = define_static_call_null()
    assert a.name == b.name == "null"
    export_static_call(a)
    with pytest.raises(StaticCallError, match=f"{__name__}:null"):
        export_static_call(b)
    assert static_call_query(declare_static_call(f"{__name__}:null")) is None
    static_call_update(declare_static_call(f"{__name__}:null"), double)
    assert static_call_query(a) is double and static_call_query(b) is None
