"""Shared helpers for the tests of INLINE-mode rewriting (``@static_calls``).

- :func:`twin` compiles one source twice into two namespaces, so that a test can
  decorate one copy and keep the other as the undecorated reference.
- :func:`loads` lists the global and attribute names a function's code (nested code
  included) still loads, to check that a rewritten site no longer looks its key up.
- :class:`Log` records side effects in order: argument values (``rec``), calls of
  targets, and which frame called a target.
"""

from __future__ import annotations

import contextlib
import dis
import itertools
import linecache
import sys
import types
from typing import Any, Callable, Iterator

import pytest

import staticcall
from staticcall import static_call_sites

_serial = itertools.count()


def register_source(source: str, stem: str = "rw") -> str:
    """A unique pseudo file name whose lines ``linecache`` (and ``inspect``) can read."""
    filename = f"<{stem}-{next(_serial)}>"
    lines = source.splitlines(keepends=True)
    # mtime None: linecache.checkcache() leaves the entry alone.
    linecache.cache[filename] = (len(source), None, lines, filename)
    return filename


def twin(source: str, env: dict[str, Any], *, stem: str = "rw",
         filename: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compile ``source`` twice (same file name) and run each copy in its own namespace
    made from ``env``. Returns ``(plain, other)``; decorate functions of ``other``."""
    if filename is None:
        filename = register_source(source, stem)
    out = []
    for _ in range(2):
        ns = dict(env)
        ns.setdefault("__name__", "rw_twin")
        exec(compile(source, filename, "exec"), ns)
        out.append(ns)
    return out[0], out[1]


def code_objects(obj: Any) -> Iterator[types.CodeType]:
    """``obj``'s code and every code object nested in it."""
    code = obj if isinstance(obj, types.CodeType) else obj.__code__
    stack = [code]
    while stack:
        c = stack.pop()
        yield c
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))


def assert_stack_bound(func: Any) -> None:
    """Every code object of ``func`` declares at least the depth that a stack analysis
    of its code finds with its switches as they are now (the rewriter declares a bound
    instead of running that analysis)."""
    from bytecode import Bytecode, ControlFlowGraph

    for code in code_objects(func):
        cfg = ControlFlowGraph.from_bytecode(
            Bytecode.from_code(code, conserve_exception_block_stackdepth=True))
        assert cfg.compute_stacksize() <= code.co_stacksize, code


def loads(obj: Any) -> tuple[set[str], set[str]]:
    """``(global names, attribute names)`` loaded anywhere in ``obj``'s code."""
    globals_: set[str] = set()
    attrs: set[str] = set()
    for code in code_objects(obj):
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                globals_.add(ins.argval)
            elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                attrs.add(ins.argval)
    return globals_, attrs


def assert_no_lookup(func: Any, *globals_: str, attrs: tuple[str, ...] = ()) -> None:
    """The rewritten ``func`` loads none of ``globals_`` and none of ``attrs``."""
    g, a = loads(func)
    assert not g & set(globals_), f"still loads globals {sorted(g & set(globals_))}"
    assert not a & set(attrs), f"still loads attributes {sorted(a & set(attrs))}"


def sites_of(key: Any, filename: str | None = None) -> list[staticcall.Site]:
    sites = static_call_sites(key)
    if filename is not None:
        sites = [s for s in sites if s.filename == filename]
    return sites


def assert_rewritten(key: Any, filename: str | None = None,
                     count: int | None = None) -> list[staticcall.Site]:
    """Every site of ``key`` (in ``filename``) is rewritten: no reason, a live state."""
    sites = sites_of(key, filename)
    assert sites, "no site recorded"
    if count is not None:
        assert len(sites) == count, sites
    for s in sites:
        assert s.reason is None, s
        assert s.state in ("call", "null", "ret0"), s
    return sites


class Log:
    """Side effects in order."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def clear(self) -> None:
        self.items.clear()

    def rec(self, tag: Any, value: Any) -> Any:
        self.items.append(("rec", tag, freeze(value)))
        return value

    def target(self, name: str, result: Callable[..., Any] | None = None,
               caller: bool = False) -> Callable[..., Any]:
        """A target that records its call (and, with ``caller``, its caller's code name)."""
        log = self.items

        def target(*args: Any, **kwargs: Any) -> Any:
            entry: tuple[Any, ...] = ("call", name, freeze(args), freeze(kwargs))
            if caller:
                entry += (sys._getframe(1).f_code.co_name,)
            log.append(entry)
            if result is not None:
                return result(*args, **kwargs)
            return (name, args, kwargs)

        target.__name__ = target.__qualname__ = f"target_{name}"
        return target


def freeze(v: Any) -> Any:
    """``v`` with its dicts and lists made tuples (dicts sorted), for comparing logs."""
    if isinstance(v, dict):
        return tuple(sorted((k, freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(freeze(x) for x in v)
    return v


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", value)`` or ``("raise", exception)``."""
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001
        return "raise", exc


def drive(obj: Any, before_resume: Callable[[int], None] | None = None) -> Any:
    """Run a generator, coroutine or plain result to completion.

    Generators are exhausted into a list; coroutines are driven with ``send(None)``
    (their awaits only suspend). ``before_resume(n)`` runs before the n-th resumption.
    """
    if isinstance(obj, types.GeneratorType):
        out = []
        n = 0
        while True:
            if n and before_resume is not None:
                before_resume(n)
            try:
                out.append(next(obj))
            except StopIteration as stop:
                out.append(("return", stop.value))
                return out
            n += 1
    if isinstance(obj, types.CoroutineType):
        n = 0
        while True:
            if n and before_resume is not None:
                before_resume(n)
            try:
                obj.send(None)
            except StopIteration as stop:
                return stop.value
            n += 1
    if isinstance(obj, types.AsyncGeneratorType):
        async def collect() -> list[Any]:
            return [x async for x in obj]
        return drive(collect(), before_resume)
    return obj


class Suspend:
    """An awaitable that suspends once, then gives ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Iterator[Any]:
        yield None
        return self.value


class AIter:
    """An async iterator over 1..n that suspends (with :class:`Suspend`) at each step."""

    def __init__(self, n: int) -> None:
        self.i, self.n = 0, n

    def __aiter__(self) -> AIter:
        return self

    async def __anext__(self) -> int:
        if self.i >= self.n:
            raise StopAsyncIteration
        self.i += 1
        return await Suspend(self.i)


@contextlib.contextmanager
def monitoring_tool(callbacks: dict[int, Callable[..., Any]],
                    name: str = "staticcall-tests") -> Iterator[int]:
    """A free ``sys.monitoring`` tool id (3.12+) with ``callbacks`` (event -> callback)
    registered and their events on, for the ``with`` block; ``pytest.skip`` if none is
    free. Everything is undone after."""
    mon = sys.monitoring
    tool = free_monitoring_tool()
    if tool is None:
        pytest.skip("no free sys.monitoring tool id")
    mon.use_tool_id(tool, name)
    try:
        events = 0
        for event, callback in callbacks.items():
            mon.register_callback(tool, event, callback)
            events |= event
        mon.set_events(tool, events)
        try:
            yield tool
        finally:
            mon.set_events(tool, 0)
    finally:
        for event in callbacks:
            mon.register_callback(tool, event, None)
        mon.free_tool_id(tool)


def free_monitoring_tool() -> int | None:
    """A free ``sys.monitoring`` tool id (3.12+), or ``None``."""
    mon = getattr(sys, "monitoring", None)
    if mon is None:
        return None
    for tool in (5, 4, 3, 2, 1, 0):
        if mon.get_tool(tool) is None:
            return tool
    return None
