"""Shared helpers for the live-update, stress, rollback and refcount tests.

- :data:`TARGETS`: one target of each kind of callable (function, lambda, bound method,
  class, ``functools.partial``, callable object, builtin), each returning a result that
  :func:`kind` tells apart from every other target's, and from NULL (``None`` or
  :data:`NULLERR`) and RET0 (``0``).
- :func:`build`: compile a source into a fresh namespace that already holds the
  ``staticcall`` names and the keys passed in, so each test gets its own keys and sites.
- :class:`Worker`: a daemon thread whose exception (if any) is re-raised on a bounded
  join, so that no test can hang or lose a failure in another thread.
- :func:`loop_threads`: how many threads a test may run over one hot loop.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import os
import sys
import threading
from typing import Any, Callable

import staticcall
from staticcall import (
    StaticCallNullError,
    _opcodes,
    _patch,
    static_call,
    static_call_cond,
    static_call_return0,
    static_calls,
)

#: Sites are rewritten on this interpreter (not trampoline mode).
LIVE = _patch.unsupported_reason() is None
#: The tier-2 optimizer / JIT is on: loops must be hot before an update for a trace to exist.
JIT = bool(getattr(_patch, "JIT_ACTIVE", False))
#: Iterations that make a loop hot enough to be traced (the JIT's backedge threshold is
#: in the low thousands on 3.13-3.15).
HOT = 5000
#: Upper bound for every wait on another thread (seconds). Generous: CI machines are slow,
#: and debug builds are several times slower still.
TIMEOUT = 30.0 if hasattr(sys, "gettotalrefcount") else 15.0

NULLERR = "<StaticCallNullError>"


# --------------------------------------------------------------------------------------
# Targets with distinct markers.
# --------------------------------------------------------------------------------------

def t_func(x: Any) -> Any:
    return ("func", x)


def t_func2(x: Any) -> Any:
    return ("func2", x)


t_lambda = lambda x: ("lambda", x)  # noqa: E731


class _Holder:
    def meth(self, x: Any) -> Any:
        return ("method", x)


t_method = _Holder().meth


class TClass:
    """A class target: calling it makes an instance."""

    def __init__(self, x: Any) -> None:
        self.x = x


def _tagged(tag: str, x: Any) -> Any:
    return (tag, x)


t_partial = functools.partial(_tagged, "partial")


class _CallableObject:
    def __call__(self, x: Any) -> Any:
        return ("object", x)


t_object = _CallableObject()
t_builtin = hex  # hex(x) is a str starting with "0x"

#: name -> target, for every kind of callable target.
TARGETS: dict[str, Any] = {
    "func": t_func,
    "func2": t_func2,
    "lambda": t_lambda,
    "method": t_method,
    "class": TClass,
    "partial": t_partial,
    "object": t_object,
    "builtin": t_builtin,
}
#: every target an update may set, by the name kind() gives its results
ALL: dict[str, Any] = {**TARGETS, "null": None, "ret0": static_call_return0}


def name_of(target: Any) -> str:
    for name, t in ALL.items():
        if t is target:
            return name
    raise KeyError(target)


def kind(result: Any) -> str:
    """The name (in :data:`ALL`) of the target that produced ``result``."""
    if result is None or result == NULLERR:
        return "null"
    if type(result) is int and result == 0:
        return "ret0"
    if isinstance(result, TClass):
        return "class"
    if isinstance(result, str) and result.startswith("0x"):
        return "builtin"
    if isinstance(result, tuple) and len(result) == 2 and result[0] in TARGETS:
        return str(result[0])
    return f"<unknown result {result!r}>"


# --------------------------------------------------------------------------------------
# Site forms.
# --------------------------------------------------------------------------------------

#: expression templates of a site (``{K}`` is the key's global name, ``{x}`` the argument)
FORMS: dict[str, str] = {
    "static_call": "static_call({K})({x})",
    "static_call_cond": "static_call_cond({K})({x})",
    "key_call": "{K}({x})",
}


def site(form: str, key: str = "K", x: str = "x") -> str:
    return FORMS[form].format(K=key, x=x)


def guarded(form: str, key: str = "K", x: str = "x", indent: int = 8) -> str:
    """Statements that set ``r`` to the site's value, or to NULLERR when it raises
    StaticCallNullError (a NULL ``static_call`` or key call)."""
    pad = " " * indent
    return (f"{pad}try:\n"
            f"{pad}    r = {site(form, key, x)}\n"
            f"{pad}except StaticCallNullError:\n"
            f"{pad}    r = NULLERR\n")


_serial = itertools.count()


def build(source: str, **names: Any) -> dict[str, Any]:
    """Run ``source`` in a fresh namespace holding the staticcall API and ``names``.

    The pseudo file name is registered with ``linecache`` so tracebacks show the lines.
    """
    filename = f"<lu-{next(_serial)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns: dict[str, Any] = {
        "__name__": f"lu_{filename[4:-1]}",
        "staticcall": staticcall,
        "static_call": static_call,
        "static_call_cond": static_call_cond,
        "static_calls": static_calls,
        "StaticCallNullError": StaticCallNullError,
        "NULLERR": NULLERR,
    }
    ns.update(names)
    exec(compile(source, filename, "exec"), ns)
    return ns


def assert_live(key: Any, count: int | None = None) -> None:
    """The key's sites are rewritten (so the test exercises patching, not the runtime
    path); on an interpreter without rewriting this only checks the count."""
    sites = staticcall.static_call_sites(key)
    if count is not None:
        assert len(sites) == count, sites
    if LIVE:
        bad = [s for s in sites if s.state == "trampoline"]
        assert not bad, f"sites left on the runtime path: {bad}"


# --------------------------------------------------------------------------------------
# Threads.
# --------------------------------------------------------------------------------------

class Worker(threading.Thread):
    """A daemon thread that keeps its target's result or exception for :meth:`result`."""

    def __init__(self, target: Callable[..., Any], *args: Any, name: str | None = None) -> None:
        super().__init__(daemon=True, name=name)
        self._fn = target
        self._args = args
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self._fn(*self._args)
        except BaseException as exc:  # re-raised in the main thread
            self.error = exc

    def result(self, timeout: float = TIMEOUT) -> Any:
        self.join(timeout)
        if self.is_alive():
            raise AssertionError(f"thread {self.name} did not finish within {timeout}s")
        if self.error is not None:
            raise self.error
        return self.value


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT,
               what: str = "condition") -> None:
    """Poll ``predicate`` (sleeping briefly so other threads run) until it holds."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.0005)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def loop_threads(default: int) -> int:
    """How many threads a test runs over one loop at once: ``default``, but one on an
    interpreter with CPython's JIT tracer race (``_opcodes.JIT_TRACER_RACE``, gh-157740),
    which crashes there with or without staticcall; one thread cannot race. The environment
    variable ``STATICCALL_STRESS_THREADS`` overrides both (``scripts/soak`` sets it)."""
    forced = os.environ.get("STATICCALL_STRESS_THREADS", "")
    if forced:
        return max(1, int(forced))
    return 1 if _opcodes.JIT_TRACER_RACE else default


def callers(func: Callable[[], Any], target: Any) -> list[str]:
    """The names of the Python frames that called the Python function ``target`` while
    ``func()`` ran (a rewritten site calls its target from the function itself; the
    runtime path calls it from a trampoline)."""
    seen: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is target.__code__:
            seen.append(frame.f_back.f_code.co_name)

    sys.setprofile(profile)
    try:
        func()
    finally:
        sys.setprofile(None)
    return seen
