"""Tracepoints: the runtime side. Definition, probes (order, signature rule, duplicates,
exceptions), the generated function for several probes, cycles, the rewriter's hooks,
pickling, the kernel's names and ``staticcall tracepoints``."""

from __future__ import annotations

import gc
import json
import pickle
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

import staticcall
import staticcall._static_keys as sk
import staticcall._tracepoints as tpm
from live_helpers import loop_threads
from staticcall import (
    StaticCallError,
    StaticCallSignatureError,
    Tracepoint,
    define_static_call,
    define_tracepoint,
    register_probe,
    static_branch_unlikely,
    static_call,
    static_call_cond,
    static_call_update,
    tracepoint_enabled,
    tracepoint_probes,
    unregister_probe,
)
from staticcall.__main__ import main

HERE = Path(__file__).resolve().parent


def item(index: int, value: str) -> None:
    """An item was stored."""


@pytest.fixture
def tp_mod(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(HERE))
    import tracepoints_module

    return tracepoints_module


class Recorder:
    """Probes that record what they were called with, in one shared log."""

    def __init__(self) -> None:
        self.log: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def probe(self, tag: str) -> Callable[..., Any]:
        def probe(index: int, value: str) -> str:
            self.log.append((tag, (index, value), {}))
            return "ignored"

        probe.__qualname__ = f"probe_{tag}"
        return probe

    def varargs(self, tag: str) -> Callable[..., Any]:
        def probe(*args: Any, **kwargs: Any) -> None:
            self.log.append((tag, args, kwargs))

        return probe


# --------------------------------------------------------------------------------------
# Defining
# --------------------------------------------------------------------------------------

def test_define_names_and_repr() -> None:
    tp = define_tracepoint(item)
    assert isinstance(tp, Tracepoint)
    assert tp.name == tp.__name__ == "item"
    assert tp.__module__ == __name__
    assert tp.__doc__ == "An item was stored."
    assert str(tp.prototype).replace("'", "") == "(index: int, value: str) -> None"
    assert repr(tp) == "<Tracepoint 'item', 0 probes>"
    named = define_tracepoint(item, name="stored")
    assert named.name == "stored"


def test_lambda_prototype_takes_the_name_its_module_binds(tp_mod: Any) -> None:
    assert tp_mod.Holder.TP.name == "TP"
    assert tp_mod.Holder.TP.__qualname__ == "Holder.TP"
    assert tp_mod.Holder().TP is tp_mod.Holder.TP  # not bound to instances


def test_no_prototype_means_no_check() -> None:
    tp = define_tracepoint(None, name="free")
    assert tp.prototype is None
    rec = Recorder()
    register_probe(tp, rec.varargs("a"))
    tp(1, 2, x=3)
    assert rec.log == [("a", (1, 2), {"x": 3})]


def test_tracepoints_are_created_only_by_define() -> None:
    with pytest.raises(TypeError, match="define_tracepoint"):
        Tracepoint()
    with pytest.raises(TypeError, match="callable prototype"):
        define_tracepoint(42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="name must be a str"):
        define_tracepoint(item, name=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("func", [tracepoint_enabled, tracepoint_probes])
def test_queries_refuse_non_tracepoints(func: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError, match="Tracepoint, not int"):
        func(1)


def test_register_refuses_non_tracepoints_and_non_callables() -> None:
    with pytest.raises(TypeError, match="register_probe.*Tracepoint, not str"):
        register_probe("tp", print)  # type: ignore[call-overload, arg-type, unused-ignore]
    with pytest.raises(TypeError, match="unregister_probe.*Tracepoint, not str"):
        unregister_probe("tp", print)  # type: ignore[call-overload, arg-type, unused-ignore]
    tp = define_tracepoint(item)
    with pytest.raises(TypeError, match="'item'.*callable, not int"):
        register_probe(tp, 3)  # type: ignore[arg-type]


def test_kernel_aliases() -> None:
    for alias in (staticcall.DEFINE_TRACE, staticcall.DECLARE_TRACE):
        tp = alias("sched_switch", item)
        assert isinstance(tp, Tracepoint) and tp.name == "sched_switch"
        assert tp.__module__ == __name__
        assert str(tp.prototype).replace("'", "") == "(index: int, value: str) -> None"


# --------------------------------------------------------------------------------------
# Calling on the runtime path
# --------------------------------------------------------------------------------------

def test_no_probe_evaluates_arguments_and_returns_none() -> None:
    tp = define_tracepoint(item)
    evaluated = []
    assert tp(evaluated.append(1) or 1, "x") is None
    assert evaluated == [1]
    assert not tracepoint_enabled(tp) and tracepoint_probes(tp) == ()
    assert tp._tp_target is None
    assert not static_branch_unlikely(tp._tp_key)


def test_one_probe_is_called_and_the_value_is_none() -> None:
    tp = define_tracepoint(item)
    rec = Recorder()
    probe = rec.probe("a")
    register_probe(tp, probe)
    assert tp(1, "one") is None
    assert tp(index=2, value="two") is None
    assert rec.log == [("a", (1, "one"), {}), ("a", (2, "two"), {})]
    assert tracepoint_enabled(tp) and static_branch_unlikely(tp._tp_key)
    assert tracepoint_probes(tp) == (probe,) == tp.probes
    assert tp._tp_target is probe  # the rewriter calls the one probe directly


def test_probes_run_in_registration_order_with_the_same_arguments() -> None:
    tp = define_tracepoint(item)
    rec = Recorder()
    probes = [rec.probe(t) for t in "abc"]
    for p in probes:
        register_probe(tp, p)
    tp(1, "x")
    tp(2, value="y")
    tp(value="z", index=3)
    assert rec.log == [(t, args, {}) for args in [(1, "x"), (2, "y"), (3, "z")] for t in "abc"]
    assert tracepoint_probes(tp) == tuple(probes)
    assert "3 probes" in repr(tp)


def test_generated_function_calls_each_probe_in_order() -> None:
    tp = define_tracepoint(item)
    rec = Recorder()
    register_probe(tp, rec.probe("a"))
    register_probe(tp, rec.probe("b"))
    target = tp._tp_target
    assert callable(target) and target not in tracepoint_probes(tp)
    # the prototype's own parameters: arguments are forwarded by position
    assert target.__code__.co_varnames[:2] == ("index", "value")
    assert target.__code__.co_argcount == 2
    # each probe is a global of the function's own namespace (one LOAD_GLOBAL a call,
    # as a hand-written call costs), not a closure cell
    assert target.__code__.co_freevars == ()
    assert set(tracepoint_probes(tp)) <= set(target.__globals__.values())
    assert target(5, "p") is None
    assert target(index=6, value="k") is None
    assert rec.log == [("a", (5, "p"), {}), ("b", (5, "p"), {}),
                       ("a", (6, "k"), {}), ("b", (6, "k"), {})]
    # made once per probe list
    assert tp._tp_target is target
    register_probe(tp, rec.probe("c"))
    assert tp._tp_target is not target
    rec.log.clear()
    tp._tp_target(7, "q")
    assert [t for t, _, _ in rec.log] == ["a", "b", "c"]


def test_generated_function_forwards_keywords_as_written_when_needed() -> None:
    tp = define_tracepoint(item)
    rec = Recorder()
    register_probe(tp, rec.probe("a"))
    register_probe(tp, rec.varargs("v"))  # binds keywords differently from positions
    target = tp._tp_target
    assert target.__code__.co_flags & 0x0C == 0x0C  # *args, **kwargs
    tp(1, value="x")
    assert rec.log == [("a", (1, "x"), {}), ("v", (1,), {"value": "x"})]


def test_a_prototype_with_defaults_gets_a_generic_forwarder() -> None:
    def proto(a: int, b: int = 0, *, c: int = 1) -> None: ...

    tp = define_tracepoint(proto)
    rec = Recorder()
    register_probe(tp, rec.varargs("x"))
    register_probe(tp, rec.varargs("y"))
    tp(1, c=5)
    assert rec.log == [("x", (1,), {"c": 5}), ("y", (1,), {"c": 5})]


def test_parameter_names_that_clash_with_the_generated_names() -> None:
    def proto(probe_0: int, _probe_0: int) -> None: ...

    tp = define_tracepoint(proto)
    got: list[Any] = []
    register_probe(tp, lambda probe_0, _probe_0: got.append(("a", probe_0, _probe_0)))
    register_probe(tp, lambda probe_0, _probe_0: got.append(("b", probe_0, _probe_0)))
    tp(1, 2)
    assert got == [("a", 1, 2), ("b", 1, 2)]


def test_a_probe_exception_propagates_and_later_probes_do_not_run() -> None:
    tp = define_tracepoint(item)
    rec = Recorder()

    def failing(index: int, value: str) -> None:
        raise KeyError(value)

    register_probe(tp, rec.probe("a"))
    register_probe(tp, failing)
    register_probe(tp, rec.probe("c"))
    with pytest.raises(KeyError, match="boom"):
        tp(1, "boom")
    assert [t for t, _, _ in rec.log] == ["a"]
    only = define_tracepoint(item)
    register_probe(only, failing)
    with pytest.raises(KeyError):
        only(1, "alone")


# --------------------------------------------------------------------------------------
# Registering and unregistering
# --------------------------------------------------------------------------------------

def test_a_probe_that_does_not_fit_is_refused_with_a_clear_message() -> None:
    tp = define_tracepoint(item)

    def narrow(index: int) -> None: ...

    with pytest.raises(StaticCallSignatureError) as info:
        register_probe(tp, narrow)  # type: ignore[arg-type]
    message = str(info.value)
    assert "tracepoint 'item'" in message and "narrow" in message
    assert "'value'" in message
    assert tracepoint_probes(tp) == () and not tracepoint_enabled(tp)
    assert isinstance(info.value, TypeError)


def test_a_probe_with_extra_optional_parameters_fits() -> None:
    tp = define_tracepoint(item)
    got = []

    def wide(index: int, value: str, extra: int = 0, **more: Any) -> None:
        got.append((index, value, extra))

    register_probe(tp, wide)
    tp(1, "a")
    assert got == [(1, "a", 0)]


def test_a_probe_whose_signature_cannot_be_read_is_accepted() -> None:
    tp = define_tracepoint(None, name="builtin_probe")
    register_probe(tp, print)
    assert tracepoint_probes(tp) == (print,)


def test_registering_twice_is_an_error() -> None:
    tp = define_tracepoint(item)
    rec = Recorder()
    probe = rec.probe("a")
    register_probe(tp, probe)
    with pytest.raises(StaticCallError, match="'item'.*already registered"):
        register_probe(tp, probe)
    assert tracepoint_probes(tp) == (probe,)


def test_bound_methods_fetched_twice_are_the_same_probe() -> None:
    class Sink:
        def __init__(self) -> None:
            self.seen: list[int] = []

        def log(self, index: int, value: str) -> None:
            self.seen.append(index)

    sink, other = Sink(), Sink()
    tp = define_tracepoint(item)
    register_probe(tp, sink.log)
    with pytest.raises(StaticCallError, match="already registered"):
        register_probe(tp, sink.log)
    register_probe(tp, other.log)  # another object: another probe
    tp(1, "a")
    assert sink.seen == [1] and other.seen == [1]
    unregister_probe(tp, sink.log)  # a fresh bound method finds the registered one
    tp(2, "b")
    assert sink.seen == [1] and other.seen == [1, 2]


def test_unregister_keeps_the_order_of_the_others() -> None:
    tp = define_tracepoint(item)
    rec = Recorder()
    a, b, c = (rec.probe(t) for t in "abc")
    for p in (a, b, c):
        register_probe(tp, p)
    unregister_probe(tp, b)
    assert tracepoint_probes(tp) == (a, c)
    tp(1, "x")
    assert [t for t, _, _ in rec.log] == ["a", "c"]
    unregister_probe(tp, a)
    assert tp._tp_target is c and tracepoint_enabled(tp)
    unregister_probe(tp, c)
    assert tp._tp_target is None and not tracepoint_enabled(tp)
    rec.log.clear()
    tp(1, "x")
    assert rec.log == []


def test_unregistering_a_probe_not_registered_raises() -> None:
    tp = define_tracepoint(item)
    with pytest.raises(StaticCallError, match="'item'.*not registered"):
        unregister_probe(tp, Recorder().probe("a"))


# --------------------------------------------------------------------------------------
# Cycles
# --------------------------------------------------------------------------------------

def test_a_tracepoint_cannot_be_its_own_probe() -> None:
    tp = define_tracepoint(item, name="selfish")
    with pytest.raises(StaticCallError, match="'selfish'.*cycle"):
        register_probe(tp, tp)
    assert tracepoint_probes(tp) == ()


def test_a_cycle_through_another_tracepoint_is_refused() -> None:
    a = define_tracepoint(item, name="tp_a")
    b = define_tracepoint(item, name="tp_b")
    register_probe(a, b)
    with pytest.raises(StaticCallError,
                       match="tp_b -> tracepoint 'tp_a' -> tp_b"):
        register_probe(b, a)
    assert tracepoint_probes(b) == ()
    rec = Recorder()
    register_probe(b, rec.probe("leaf"))
    a(1, "through")  # a tracepoint as a probe of another works
    assert rec.log == [("leaf", (1, "through"), {})]


@pytest.mark.parametrize("via", ["key", "static_call", "static_call_cond", "partial"])
def test_a_cycle_through_a_static_call_is_refused(via: str) -> None:
    import functools

    tp = define_tracepoint(item, name="looped")
    key = define_static_call(item, name="loop_key")
    static_call_update(key, tp)
    probe: Any = {"key": key, "static_call": static_call(key),
                  "static_call_cond": static_call_cond(key),
                  "partial": functools.partial(key)}[via]
    with pytest.raises(StaticCallError, match="'looped'.*cycle: looped -> .*loop_key -> looped"):
        register_probe(tp, probe)
    assert tracepoint_probes(tp) == ()


class _CallsThrough:
    """Instances call what the class's ``__call__`` (a key or tracepoint) calls."""


@pytest.mark.parametrize("via", ["lru_cache", "bound_method", "instance", "proxy",
                                 "method_wrapper", "partial_of_lru_cache"])
def test_every_way_a_key_follows_is_followed_from_a_probe(via: str) -> None:
    """A probe is checked as a key's target is: through the C-level wrappers that call
    what they wrap (each would otherwise recurse until the recursion limit)."""
    import functools
    import types
    import weakref

    # no prototype: a bound method or an instance's __call__ shifts the arguments
    tp = define_tracepoint(None, name="wrapped_loop")
    key = staticcall.define_static_call_null(name="wrapped_key")
    static_call_update(key, tp)
    kept: list[Any] = []

    def wrap(obj: Any) -> Any:
        if via == "lru_cache":
            return functools.lru_cache(obj)
        if via == "bound_method":
            return types.MethodType(obj, object())
        if via == "instance":
            return type("Through", (_CallsThrough,), {"__call__": obj})()
        if via == "proxy":
            kept.append(obj)
            return weakref.proxy(obj)
        if via == "method_wrapper":
            return obj.__call__
        return functools.partial(functools.lru_cache(obj))

    for probe, chain in ((wrap(key), " -> wrapped_key"), (wrap(tp), "")):
        with pytest.raises(StaticCallError, match=f"'wrapped_loop'.*cycle: wrapped_loop -> "
                                                  f".+{chain} -> wrapped_loop\\)"):
            register_probe(tp, probe)
        assert tracepoint_probes(tp) == ()
    # the same wrappers around something that does not lead back are fine
    other = define_tracepoint(None, name="elsewhere")
    register_probe(tp, wrap(other))
    tp(1, "x")
    assert len(tracepoint_probes(tp)) == 1


@pytest.mark.parametrize("via", ["key", "static_call", "static_call_cond", "partial",
                                 "tracepoint"])
def test_a_tracepoint_as_a_target_leading_back_to_the_key_is_refused(via: str) -> None:
    import functools

    tp = define_tracepoint(item, name="back")
    key = define_static_call(item, name="back_key")
    inner = define_tracepoint(item, name="inner")
    register_probe(inner, key)
    probe: Any = {"key": key, "static_call": static_call(key),
                  "static_call_cond": static_call_cond(key),
                  "partial": functools.partial(key), "tracepoint": inner}[via]
    register_probe(tp, probe)
    with pytest.raises(StaticCallError, match=r"'back_key'.*cycle: back_key -> "
                                              r"tracepoint 'back' -> .*back_key"):
        static_call_update(key, tp)
    assert staticcall.static_call_query(key) is item
    with pytest.raises(StaticCallError, match="cycle"):
        staticcall.static_call_update_many({key: tp})
    assert staticcall.static_call_query(key) is item


def test_a_tracepoint_target_without_a_way_back_is_accepted() -> None:
    tp = define_tracepoint(item, name="fine")
    key = define_static_call(item, name="fine_key")
    other = define_static_call(item, name="other_key")
    register_probe(tp, other)
    assert static_call_update(key, tp) is item
    # and the other way round, once the key leads to the tracepoint: probe refused
    with pytest.raises(StaticCallError, match="cycle"):
        register_probe(tp, key)
    # nor may a key the tracepoint calls come to lead back to the tracepoint
    with pytest.raises(StaticCallError, match="cycle: other_key -> fine_key -> "
                                              "tracepoint 'fine' -> other_key"):
        static_call_update(other, key)
    assert tracepoint_probes(tp) == (other,)


def test_a_pending_target_in_an_update_of_several_keys_is_seen() -> None:
    tp = define_tracepoint(item, name="pending_tp")
    a = define_static_call(item, name="pending_a")
    b = define_static_call(item, name="pending_b")
    register_probe(tp, b)
    # a -> tp -> b, and b -> a in the same update: a cycle
    with pytest.raises(StaticCallError, match="cycle"):
        staticcall.static_call_update_many({a: tp, b: a})
    assert staticcall.static_call_query(a) is item
    assert staticcall.static_call_query(b) is item


# --------------------------------------------------------------------------------------
# The hooks the rewriter sets
# --------------------------------------------------------------------------------------

@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    log: list[tuple[Any, ...]] = []

    def on_target(tp: Any, old: Any, new: Any) -> None:
        log.append(("target", old, new, tracepoint_enabled(tp),
                    staticcall._keys.UPDATE_LOCK._is_owned()))  # type: ignore[attr-defined]

    def on_state(key: Any, enabled: bool) -> None:
        log.append(("key", enabled, staticcall._keys.UPDATE_LOCK._is_owned()))  # type: ignore[attr-defined]

    monkeypatch.setattr(tpm, "on_target_change", on_target)
    monkeypatch.setattr(sk, "on_state_change", on_state)
    return log


def test_hooks_run_in_the_order_that_keeps_sites_correct(events: list[Any]) -> None:
    tp = define_tracepoint(item)
    rec = Recorder()
    a, b = rec.probe("a"), rec.probe("b")
    register_probe(tp, a)
    # first probe: the sites get their target while the branch is still off, then it is on
    assert events == [("target", None, a, False, True), ("key", True, True)]
    events.clear()
    register_probe(tp, b)
    gen = tp._tp_target
    assert events == [("target", a, gen, True, True)]
    events.clear()
    unregister_probe(tp, a)
    assert events == [("target", gen, b, True, True)]
    events.clear()
    unregister_probe(tp, b)
    # last probe: the branch goes off first, then the target goes
    assert events == [("key", False, True), ("target", b, None, False, True)]


def test_a_failing_target_hook_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    tp = define_tracepoint(item)
    rec = Recorder()
    a, b = rec.probe("a"), rec.probe("b")
    register_probe(tp, a)

    def refuse(tp: Any, old: Any, new: Any) -> None:
        raise RuntimeError("site cannot be patched")

    monkeypatch.setattr(tpm, "on_target_change", refuse)
    for action, probe in ((register_probe, b), (unregister_probe, a)):
        with pytest.raises(StaticCallError, match="'item'.*site cannot be patched"):
            action(tp, probe)
        assert tracepoint_probes(tp) == (a,) and tp._tp_target is a
        assert tracepoint_enabled(tp)
    tp(1, "x")
    assert rec.log == [("a", (1, "x"), {})]


def test_a_failing_key_hook_undoes_the_retarget(monkeypatch: pytest.MonkeyPatch) -> None:
    tp = define_tracepoint(item)
    targets: list[tuple[Any, Any]] = []
    monkeypatch.setattr(tpm, "on_target_change",
                        lambda tp, old, new: targets.append((old, new)))

    def refuse(key: Any, enabled: bool) -> None:
        raise RuntimeError("branch cannot be patched")

    monkeypatch.setattr(sk, "on_state_change", refuse)
    probe = Recorder().probe("a")
    with pytest.raises(StaticCallError, match="branch cannot be patched"):
        register_probe(tp, probe)
    assert targets == [(None, probe), (probe, None)]
    assert tracepoint_probes(tp) == () and not tracepoint_enabled(tp)
    assert tp._tp_target is None


def test_a_failing_retarget_on_the_last_detach_re_enables_the_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tp = define_tracepoint(item)
    probe = Recorder().probe("a")
    register_probe(tp, probe)
    states: list[bool] = []
    monkeypatch.setattr(sk, "on_state_change", lambda key, enabled: states.append(enabled))

    def refuse(tp: Any, old: Any, new: Any) -> None:
        raise StaticCallError("site t.py:1 cannot be patched")

    monkeypatch.setattr(tpm, "on_target_change", refuse)
    with pytest.raises(StaticCallError, match="t.py:1"):
        unregister_probe(tp, probe)
    assert states == [False, True]
    assert tracepoint_probes(tp) == (probe,) and tracepoint_enabled(tp)
    assert tp._tp_target is probe


def test_tracepoints_have_a_site_table_for_the_rewriter() -> None:
    tp = define_tracepoint(item)
    assert tp._tp_sites == {}
    assert tp in tpm.all_tracepoints()
    assert tp._tp_key.name == "item.enabled"


# --------------------------------------------------------------------------------------
# Threads, pickling
# --------------------------------------------------------------------------------------

def test_calls_while_probes_come_and_go() -> None:
    tp = define_tracepoint(item)
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = [0]

    def count(index: int, value: str) -> None:
        counts[0] += 1

    def caller() -> None:
        try:
            while not stop.is_set():
                assert tp(1, "x") is None
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # one thread under 3.15's JIT tracer race (gh-157740)
    threads = [threading.Thread(target=caller) for _ in range(loop_threads(2))]
    for t in threads:
        t.start()
    try:
        for _ in range(300):
            register_probe(tp, count)
            unregister_probe(tp, count)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert tracepoint_probes(tp) == ()


def test_tracepoints_pickle_by_reference(tp_mod: Any) -> None:
    for tp in (tp_mod.ITEM_ADDED, tp_mod.ITEM_REMOVED, tp_mod.KERNEL_TRACE, tp_mod.Holder.TP):
        assert pickle.loads(pickle.dumps(tp)) is tp
    local = define_tracepoint(item, name="local_tp")
    with pytest.raises(pickle.PicklingError, match="'local_tp'"):
        pickle.dumps(local)


# --------------------------------------------------------------------------------------
# staticcall tracepoints
# --------------------------------------------------------------------------------------

def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_lists_a_modules_tracepoints_and_probes(
        tp_mod: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "tracepoints", "tracepoints_module")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(
        "item_added  tracepoints_module.ITEM_ADDED  (index: int, value: str)")
    assert "item_removed  tracepoints_module.ITEM_REMOVED" in out
    assert "  probe 1: tracepoints_module.log_probe" in lines
    assert "kernel_trace  tracepoints_module.KERNEL_TRACE" in out
    assert "TP  tracepoints_module.Holder.TP  (n)" in out
    assert lines[-1] == "4 tracepoints in tracepoints_module; 1 enabled"
    assert "no sites recorded" in out


def test_cli_json(tp_mod: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "tracepoints", "--json", "tracepoints_module")
    assert code == 0, err
    data = json.loads(out)
    assert data["modules"] == ["tracepoints_module"]
    by_name = {d["name"]: d for d in data["tracepoints"]}
    assert set(by_name) == {"item_added", "item_removed", "kernel_trace", "TP"}
    removed = by_name["item_removed"]
    assert removed == {"name": "item_removed", "module": "tracepoints_module",
                       "qualname": "ITEM_REMOVED",
                       "prototype": "(index: int, value: str) -> None", "enabled": True,
                       "probes": ["tracepoints_module.log_probe"], "sites": []}
    assert by_name["item_added"]["enabled"] is False


def test_cli_without_modules_lists_every_tracepoint(
        tp_mod: Any, capsys: pytest.CaptureFixture[str]) -> None:
    here = define_tracepoint(item, name="listed_here")
    code, out, err = run_main(capsys, "tracepoints", "--json")
    assert code == 0, err
    names = [(d["module"], d["name"]) for d in json.loads(out)["tracepoints"]]
    assert ("tracepoints_module", "item_added") in names and (__name__, here.name) in names


def test_probes_that_are_dead_proxies(tp_mod: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A weakref.proxy probe whose referent is gone raises ReferenceError when called,
    as any call of it would; registering others, unregistering it and listing it work."""
    import weakref

    tp = define_tracepoint(None, name="proxied")
    live_probe = Recorder().probe("live")
    dead_proxy, live_proxy = weakref.proxy(Recorder().probe("dead")), weakref.proxy(live_probe)
    gc.collect()
    register_probe(tp, dead_proxy)
    register_probe(tp, live_proxy)
    code, out, err = run_main(capsys, "tracepoints", "--json")
    assert code == 0, err
    (entry,) = [d for d in json.loads(out)["tracepoints"] if d["name"] == "proxied"]
    assert len(entry["probes"]) == 2 and "weakproxy" in entry["probes"][0]
    with pytest.raises(ReferenceError):
        tp(1)
    unregister_probe(tp, dead_proxy)
    unregister_probe(tp, live_proxy)
    assert tracepoint_probes(tp) == ()


def test_cli_shows_recorded_sites(tp_mod: Any, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    class Rec:
        where = "app.py:12"
        function = "app.handle"

    monkeypatch.setitem(tp_mod.ITEM_ADDED._tp_sites, 1, Rec())
    code, out, err = run_main(capsys, "tracepoints", "tracepoints_module")
    assert code == 0, err
    assert "  site: app.py:12 in app.handle (skipped whole, arguments included)" \
        in out.splitlines()


def test_cli_lists_the_sites_recorded_by_the_rewriter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "_tp_cli_sites.py").write_text(
        "import staticcall as sc\n"
        "def seen(n: int) -> None: ...\n"
        "SEEN = sc.define_tracepoint(seen)\n"
        "@sc.static_calls\n"
        "def handle(n):\n"
        "    SEEN(n)\n"
        "    SEEN(n + 1)\n"
        "    return n\n"
        "def probe(n: int) -> None: ...\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(capsys, "tracepoints", "_tp_cli_sites")
    assert code == 0, err
    lines = out.splitlines()
    assert "placeholder" not in out and "no sites recorded" not in out
    rewritten = staticcall._decorator.UNSUPPORTED is None
    if rewritten:
        assert "  site: _tp_cli_sites.py:6 in handle (skipped whole, arguments included)" \
            in lines
        assert "  site: _tp_cli_sites.py:7 in handle (skipped whole, arguments included)" \
            in lines
    else:
        assert any(ln.startswith("  site: _tp_cli_sites.py:6 in handle [runtime path")
                   for ln in lines), out
    import _tp_cli_sites as mod

    register_probe(mod.SEEN, mod.probe)
    try:
        code, out, err = run_main(capsys, "tracepoints", "--json", "_tp_cli_sites")
        data = json.loads(out)["tracepoints"]
        assert [d["name"] for d in data] == ["seen"]
        assert data[0]["enabled"] is True
        assert [s.split(" [")[0] for s in data[0]["sites"]] == [
            "_tp_cli_sites.py:6 in handle", "_tp_cli_sites.py:7 in handle"]
        code, out, err = run_main(capsys, "tracepoints", "_tp_cli_sites")
        if rewritten:
            assert "  site: _tp_cli_sites.py:6 in handle (calls its probes)" in out
    finally:
        unregister_probe(mod.SEEN, mod.probe)


def test_cli_module_without_tracepoints_and_missing_module(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "tracepoints", "json")
    assert code == 0, err
    assert out == "no tracepoints defined in json\n"
    code, out, err = run_main(capsys, "tracepoints", "no_such_module_xyz")
    assert code == 1
    assert "staticcall tracepoints: error: cannot import 'no_such_module_xyz'" in err


@pytest.fixture(autouse=True)
def _no_leftover_hooks() -> Any:
    installed = tpm.on_target_change, sk.on_state_change  # the rewriter's
    yield
    assert (tpm.on_target_change, sk.on_state_change) == installed


def test_unwrapping_a_tracepoint_gives_nothing_that_goes_stale() -> None:
    import functools

    tp = define_tracepoint(item)
    rec = Recorder()
    register_probe(tp, rec.probe("a"))
    assert tp.func is tp and tp.args == () and tp.keywords == {}
    held = functools.partial(tp, 1)
    register_probe(tp, rec.probe("b"))
    tp.func(1, "x")
    held("y")
    assert rec.log == [("a", (1, "x"), {}), ("b", (1, "x"), {}),
                       ("a", (1, "y"), {}), ("b", (1, "y"), {})]


def test_the_type_is_generic_at_run_time() -> None:
    alias = Tracepoint[Callable[[int, str], None]]
    assert alias.__origin__ is Tracepoint  # type: ignore[attr-defined]


def test_calls_bind_to_the_prototype_even_with_no_probe() -> None:
    tp = define_tracepoint(item)
    with pytest.raises(TypeError):
        tp(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        tp(1, "x", 3)  # type: ignore[call-arg]
    assert tp(index=1, value="x") is None
    free = define_tracepoint(None, name="free")
    assert free(1, 2, 3, x=4) is None


def test_a_failing_undo_keeps_the_first_error_and_notes_the_second(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tp = define_tracepoint(item)
    calls: list[Any] = []

    def on_target(tp: Any, old: Any, new: Any) -> None:
        calls.append((old, new))
        if new is None:
            raise RuntimeError("undo refused")

    def refuse(key: Any, enabled: bool) -> None:
        raise RuntimeError("branch refused")

    monkeypatch.setattr(tpm, "on_target_change", on_target)
    monkeypatch.setattr(sk, "on_state_change", refuse)
    probe = Recorder().probe("a")
    with pytest.raises(StaticCallError, match="branch refused") as info:
        register_probe(tp, probe)
    assert any("undo refused" in note for note in getattr(info.value, "__notes__", []))
    assert tracepoint_probes(tp) == () and not tracepoint_enabled(tp)


# --------------------------------------------------------------------------------------
# Sites given up after layout (a jump too long for one operand byte) keep the runtime path
# --------------------------------------------------------------------------------------

def _long_body(n: int, indent: str) -> str:
    return "".join(f"{indent}out.append(rec({i}))\n" for i in range(n))


@pytest.mark.parametrize("n", [3, 120])
def test_a_branch_site_too_long_to_patch_takes_the_runtime_path(n: int) -> None:
    key = staticcall.define_static_key_false(name="long_branch")
    src = ("def f():\n    out = []\n"
           "    if static_branch_unlikely(KEY):\n" + _long_body(n, "        ")
           + "    else:\n        out.append('off')\n"
           "    if static_branch_likely(KEY):\n        out.append('likely')\n"
           "    return out\n")
    env = {"KEY": key, "static_branch_unlikely": static_branch_unlikely,
           "static_branch_likely": staticcall.static_branch_likely, "rec": lambda i: i}
    plain, deco = dict(env), dict(env)
    exec(compile(src, "<long branch>", "exec"), plain)
    exec(compile(src, "<long branch>", "exec"), deco)
    f = staticcall.static_calls(deco["f"])
    sites = staticcall.static_call_sites(key)
    if n > 100 and staticcall._decorator.UNSUPPORTED is None:
        assert [s.reason for s in sites][0] == "its branch is too long to patch"
        assert sites[1].reason is None  # the other site is still rewritten
    for state in (True, False, True):
        (staticcall.static_branch_enable if state else staticcall.static_branch_disable)(key)
        assert f() == plain["f"](), state


@pytest.mark.parametrize("n", [2, 150])
def test_a_tracepoint_statement_too_long_to_skip_takes_the_runtime_path(n: int) -> None:
    tp = define_tracepoint(None, name="long_tp")
    args = ", ".join(f"rec({i})" for i in range(n))
    src = (f"def f():\n    out = []\n    TP({args})\n    TP(rec(-1))\n    return out\n")
    seen: list[Any] = []
    env = {"TP": tp, "rec": lambda i: seen.append(i) or i}
    deco: dict[str, Any] = dict(env)
    exec(compile(src, "<long tp>", "exec"), deco)
    f = staticcall.static_calls(deco["f"])
    sites = staticcall.static_call_sites(tp)
    if n > 100 and staticcall._decorator.UNSUPPORTED is None:
        assert sites[0].reason == "its statement is too long to skip"
        assert sites[1].reason is None
    calls: list[Any] = []

    def probe(*args: Any) -> None:
        calls.append(len(args))

    f()
    assert calls == []
    assert seen == (list(range(n)) if sites[0].reason is not None else [])
    seen.clear()
    register_probe(tp, probe)
    try:
        f()
        assert calls == [n, 1]
        assert seen == [*range(n), -1]
    finally:
        unregister_probe(tp, probe)


def test_a_probe_change_made_by_the_arguments_is_seen_by_the_site() -> None:
    tp = define_tracepoint(None, name="changed_in_args")
    log: list[Any] = []

    def first(v: Any) -> None:
        log.append(("first", v))

    def second(v: Any) -> None:
        log.append(("second", v))

    def change(v: Any) -> Any:
        unregister_probe(tp, first)
        register_probe(tp, second)
        return v

    def resume(v: Any) -> Any:
        return v

    src = ("def f(v):\n    TP(change(v))\n"
           "def g(v):\n    TP((yield v))\n")
    deco: dict[str, Any] = {"TP": tp, "change": change}
    exec(compile(src, "<changed in args>", "exec"), deco)
    f = staticcall.static_calls(deco["f"])
    g = staticcall.static_calls(deco["g"])
    register_probe(tp, first)
    f(1)
    assert log == [("second", 1)]
    log.clear()
    unregister_probe(tp, second)
    register_probe(tp, first)
    it = g(2)
    assert next(it) == 2
    unregister_probe(tp, first)
    register_probe(tp, second)
    with pytest.raises(StopIteration):
        it.send(3)
    assert log == [("second", 3)]
    log.clear()
    it = g(4)
    next(it)
    unregister_probe(tp, second)  # no probe left: the call still runs, and calls nothing
    with pytest.raises(StopIteration):
        it.send(5)
    assert log == []
