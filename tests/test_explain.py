"""staticcall.explain(): bytecode before and after rewriting, each site marked."""

from __future__ import annotations

import functools
import gc
import io
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, strategies as st

import staticcall
from staticcall import (
    _decorator,
    define_static_call,
    define_static_call_null,
    define_static_call_ret0,
    explain,
    static_call,
    static_call_cond,
    static_call_override,
    static_call_return0,
    static_call_sites,
    static_calls,
)

HERE = Path(__file__).resolve().parent
rewriting = pytest.mark.skipif(_decorator.UNSUPPORTED is not None,
                               reason=f"sites are not rewritten here: {_decorator.UNSUPPORTED}")


def target(x: Any) -> Any:
    return x


def other_target(x: Any) -> Any:
    return -x


K = define_static_call(target, name="explain_key")
N = define_static_call_null(target, name="explain_null")
Z = define_static_call_ret0(target, name="explain_zero")


def section(text: str, title: str) -> str:
    """The part of ``text`` from the line starting with ``title`` to the next section."""
    start = text.index(title)
    end = text.find("\n--- ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def numbers(text: str, what: str) -> set[int]:
    return {int(n) for n in re.findall(r"<-- .*?\[(\d+)\] " + re.escape(what), text)}


def sites_of(qualname: str) -> list[Any]:
    return [s for s in static_call_sites() if s.function == qualname
            and s.filename == __file__]


def plain(x: Any) -> Any:
    a = static_call(K)(x)
    static_call_cond(N)(a)
    return Z(a)


@static_calls
def decorated(x: Any) -> Any:
    a = static_call(K)(x)
    static_call_cond(N)(a)
    return Z(a)


def test_returns_text_and_writes_it_to_file() -> None:
    buf = io.StringIO()
    text = explain(plain, file=buf)
    assert isinstance(text, str)
    assert buf.getvalue() == text
    assert text.startswith(f"explain {__name__}.plain (")


def test_undecorated_shows_before_and_after() -> None:
    text = explain(plain)
    assert "3 sites: " in text
    before = section(text, "--- before")
    after = section(text, "--- after @static_calls ---")
    # each site: the loads of its callable, and its call, in the original code
    assert numbers(before, "the callable") == {1, 2, 3}
    assert numbers(before, "the call") == {1, 2, 3}
    assert "static_call_cond of key 'explain_null'" in before
    if _decorator.UNSUPPORTED is None:
        assert numbers(after, "T: target") == {1, 2, 3}
        # a site used as a statement, with plain arguments, has no V: with no call
        # its switch skips the whole statement
        assert numbers(after, "V: value when no call") <= {1, 2, 3}
        assert numbers(after, "switch:") == {1, 2, 3}
        assert "LOAD_GLOBAL" in before and "explain_key" in text


def test_undecorated_function_is_left_alone() -> None:
    code = plain.__code__
    explain(plain)
    gc.collect()
    assert plain.__code__ is code
    assert plain not in _decorator.REWRITTEN
    # the decorated copy's sites left the table with the copy
    assert sites_of("plain") == []
    assert plain(1) == 0


@rewriting
def test_decorated_function_marks_its_rewritten_sites() -> None:
    text = explain(decorated)
    before = section(text, "--- before: the original bytecode (compiled again from")
    assert __file__ in before.splitlines()[0]
    assert numbers(before, "the callable") == {1, 2, 3} == numbers(before, "the call")
    now = section(text, "--- now")
    assert numbers(now, "T: target") == {1, 2, 3}
    assert numbers(now, "switch:") == {1, 2, 3}
    assert re.search(r"\[1\] switch: call \(live operand \d+\)", now)
    assert re.search(r"\[2\] switch: no call \(live operand \d+\)", now)   # NULL cond
    assert re.search(r"\[3\] switch: no call \(live operand \d+\)", now)   # RET0
    assert "[3] V: value when no call = 0" in now
    assert "line" in text and "state ret0" in text and "state null" in text


@rewriting
def test_switch_and_constants_are_read_live() -> None:
    with static_call_override(K, static_call_return0):
        text = explain(decorated)
        assert re.search(r"\[1\] switch: no call \(live operand \d+\)", text)
        assert "[1] V: value when no call = 0" in text
        assert "state ret0" in text
    with static_call_override(K, other_target):
        text = explain(decorated)
        assert re.search(r"\[1\] switch: call", text)
        assert "[1] T: target = <function other_target at" in text


def test_sites_on_the_runtime_path_are_marked_in_the_current_code() -> None:
    @static_calls(mode="trampoline")
    def runtime(x: Any) -> Any:
        return static_call(K)(x)

    text = explain(runtime)
    assert "0 rewritten, 1 on the runtime path" in text
    assert "state trampoline" in text
    assert "[1] the callable: static_call of key 'explain_key' (runtime path)" in text
    assert "[1] the call (runtime path)" in text


def test_function_without_sites() -> None:
    def nothing(x: Any) -> Any:
        return target(x)

    text = explain(nothing)
    assert "0 sites: 0 rewritten, 0 on the runtime path" in text
    assert "--- after @static_calls --- (unchanged)" in text
    assert "<--" not in text


def test_nested_code_is_shown_and_marked() -> None:
    def outer(xs: Any) -> Any:
        def inner(y: Any) -> Any:
            return static_call(K)(y)
        return [K(v) for v in xs], inner

    text = explain(outer)
    before = section(text, "--- before")
    assert "outer.<locals>.inner (" in before
    assert numbers(before, "the callable") == {1, 2}
    if _decorator.UNSUPPORTED is None:
        assert numbers(section(text, "--- after"), "T: target") == {1, 2}


def test_wrappers_and_methods_are_followed() -> None:
    def logged(func: Any) -> Any:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            return func(*a, **kw)
        return wrapper

    @logged
    def wrapped(x: Any) -> Any:
        return static_call(K)(x)

    class C:
        def method(self, x: Any) -> Any:
            return static_call(K)(x)

        @staticmethod
        def smethod(x: Any) -> Any:
            return K(x)

        @classmethod
        def cmethod(cls, x: Any) -> Any:
            return K(x)

    for obj, name in [(wrapped, "wrapped"), (C().method, "C.method"),
                      (C.__dict__["smethod"], "C.smethod"), (C.cmethod, "C.cmethod"),
                      (C.__dict__["cmethod"], "C.cmethod")]:
        text = explain(obj)
        assert name in text.splitlines()[0]
        assert "1 site: " in text
        assert "[1] the callable" in text


@rewriting
def test_decorated_wrapper_shows_the_rewritten_inner_function() -> None:
    def logged(func: Any) -> Any:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            return func(*a, **kw)
        return wrapper

    @static_calls
    @logged
    def wrapped(x: Any) -> Any:
        return static_call(K)(x)

    text = explain(wrapped)
    assert "[1] the callable" in section(text, "--- before")
    assert "[1] T: target" in section(text, "--- now")


def test_decorated_function_without_source() -> None:
    ns: dict[str, Any] = {"static_call": static_call, "K": K, "static_calls": static_calls}
    exec(compile("@static_calls\ndef from_a_string(x):\n    return static_call(K)(x)\n",
                 "<no file>", "exec"), ns)
    text = explain(ns["from_a_string"])
    assert "--- before" not in text
    assert "cannot be compiled again: no source for <no file>" in text
    assert "[1] T: target" in section(text, "--- now")


def test_decorated_function_whose_source_changed(tmp_path: Path) -> None:
    path = tmp_path / "changing_module.py"
    path.write_text("from staticcall import static_call, static_calls\n"
                    "import test_explain\n\n"
                    "@static_calls\ndef f(x):\n    return static_call(test_explain.K)(x)\n")
    ns: dict[str, Any] = {"__name__": "changing_module"}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    path.write_text("def g():\n    pass\n")
    import linecache
    linecache.checkcache(str(path))
    text = explain(ns["f"])
    assert f"cannot be compiled again: {path} has no f at line 4 now" in text


def members_class(decorate: bool) -> Any:
    class Members:
        """A class with sites in members of every kind."""

        def method(self, x: Any) -> Any:
            return static_call(K)(x)

        @staticmethod
        def smethod(x: Any) -> Any:
            return K(x)

        @classmethod
        def cmethod(cls, x: Any) -> Any:
            return static_call_cond(N)(x)

        @property
        def prop(self) -> Any:
            return Z(1)

        @functools.cached_property
        def cached(self) -> Any:
            return K(2)

        class Inner:
            def deep(self, x: Any) -> Any:
                return K(x)

        not_code = 42
        builtin = len

    return static_calls(Members) if decorate else Members


@pytest.mark.parametrize("decorate", [False, True])
def test_a_class_shows_every_function_of_its_body(decorate: bool) -> None:
    cls = members_class(decorate)
    text = explain(cls)
    assert text.startswith(f"explain class test_explain.{cls.__qualname__}: 6 functions\n")
    heads = re.findall(r"^=== .*\.Members\.(.*) ===$", text, re.M)
    assert heads == ["method", "smethod", "cmethod", "prop (getter)", "cached", "Inner.deep"]
    for part in text.split("\n=== ")[1:]:
        assert "1 site: " in part, part[:300]
        assert "[1] the callable" in section(part, "--- before: the original bytecode")
        assert ("--- now" in part) == decorate and ("--- after" in part) != decorate
    if decorate:
        assert "[1] T: target" in text


@pytest.mark.parametrize("obj", [42, len, K, "f", types.SimpleNamespace()])
def test_not_a_function(obj: Any) -> None:
    with pytest.raises(TypeError, match="needs a Python function"):
        explain(obj)


def test_a_failure_reading_the_sites_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """explain() reads each code object's sites with the rewriter's own finder; if that
    fails, it says so rather than print a listing with no site marked."""
    import staticcall._rewrite as rewrite_pkg

    def broken(*args: Any) -> Any:
        raise RuntimeError("the finder failed")

    monkeypatch.setattr(rewrite_pkg, "find_sites", broken)
    with pytest.raises(RuntimeError, match="the finder failed"):
        explain(decorated)


def test_exported_from_the_package() -> None:
    assert staticcall.explain is explain
    assert "explain" in staticcall.__all__


# --------------------------------------------------------------------------------------
# Any mix of site forms: every site is numbered and marked, before and after.
# --------------------------------------------------------------------------------------

FORMS = [
    "static_call(K)(x)",
    "static_call_cond(N)(x)",
    "K(x)",
    "Z(x, k=1)",
    "static_call(K)(*[x])",
    "sc.static_call(K)(x)",
    "sc.static_call_cond(N)(x)",
]


@given(st.lists(st.sampled_from(FORMS), min_size=1, max_size=6))
def test_every_site_is_marked(forms: list[str]) -> None:
    body = "".join(f"    out.append({f})\n" for f in forms)
    src = f"def generated(x):\n    out = []\n{body}    return out\n"
    ns: dict[str, Any] = {"static_call": static_call, "static_call_cond": static_call_cond,
                          "K": K, "N": N, "Z": Z, "sc": staticcall, "__name__": "gen"}
    exec(compile(src, "<explain generated>", "exec"), ns)
    text = explain(ns["generated"])
    want = set(range(1, len(forms) + 1))
    assert f"{len(forms)} site{'s' if len(forms) != 1 else ''}: " in text
    assert numbers(section(text, "--- before"), "the callable") == want
    assert numbers(section(text, "--- before"), "the call") == want
    if _decorator.UNSUPPORTED is None:
        after = section(text, "--- after")
        assert numbers(after, "T: target") == want
        assert numbers(after, "switch:") == want


def test_listing_has_line_numbers() -> None:
    text = explain(plain)
    first = plain.__code__.co_firstlineno
    lines = [ln for ln in section(text, "--- before").splitlines()
             if re.match(r"\s+\d+\s", ln)]
    assert any(ln.split()[0] == str(first + 1) for ln in lines)
    assert sys.version_info < (3, 13) or "L1:" in text or "JUMP" not in text


# --------------------------------------------------------------------------------------
# Branch sites of static keys and tracepoint sites.
# --------------------------------------------------------------------------------------

def _tp_proto(x: Any) -> None:
    """A tracepoint's prototype."""


BRANCH_KEY = staticcall.define_static_key_false(name="explain_branch")
TP = staticcall.define_tracepoint(_tp_proto, name="explain_tp")


def branchy(x: Any) -> Any:
    TP(f"{x}")
    if staticcall.static_branch_unlikely(BRANCH_KEY):
        return 1
    return 0


def test_branch_and_tracepoint_sites_are_named() -> None:
    text = explain(branchy)
    assert "[1] line" in text and "tracepoint 'explain_tp', state disabled" in text
    assert "branch on static key 'explain_branch', state disabled" in text
    before = section(text, "--- before")
    assert numbers(before, "the callable: tracepoint 'explain_tp'") == {1}
    assert numbers(before, "the test: branch on static key 'explain_branch'") == {2}
    if _decorator.UNSUPPORTED is not None:
        return
    after = section(text, "--- after")
    assert "switch:" not in after
    assert re.search(r"\[1\] tracepoint: skipped, arguments included \(live operand \d+\)",
                     after)
    assert re.search(r"\[2\] branch: disabled \(live operand \d+\)", after)
    assert numbers(after, "T: called while a probe is attached") == {1}
    assert "(no probe attached)" in after


@rewriting
def test_branch_and_tracepoint_switches_are_read_live() -> None:
    f = static_calls(_decorator_copy(branchy))
    probe = lambda x: None  # noqa: E731
    try:
        staticcall.static_branch_enable(BRANCH_KEY)
        staticcall.register_probe(TP, probe)
        text = explain(f)
        assert re.search(r"\[1\] tracepoint: probes called \(live operand \d+\)", text)
        assert re.search(r"\[2\] branch: enabled \(live operand \d+\)", text)
        assert "(no probe attached)" not in text
        assert f(3) == 1
    finally:
        staticcall.static_branch_disable(BRANCH_KEY)
        staticcall.unregister_probe(TP, probe)
    text = explain(f)
    assert re.search(r"\[1\] tracepoint: skipped, arguments included", text)
    assert re.search(r"\[2\] branch: disabled", text)


def _decorator_copy(func: Any) -> Any:
    return types.FunctionType(func.__code__, func.__globals__, func.__name__,
                              func.__defaults__, func.__closure__)
