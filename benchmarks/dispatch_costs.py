"""What each instruction a rewritten site adds costs, on this interpreter.

    python benchmarks/dispatch_costs.py [--rounds N]

A loop of ten ``y = target(x)`` statements, then the same loop with each call's
``LOAD_GLOBAL target`` replaced (with the ``bytecode`` package) by what a rewritten site
runs in its place; and a tracepoint's three-probe shapes. Interleaved rounds in one
process; each figure is the minimum per statement (loop included) and its ratio to the
first row of its group. The staticcall README quotes these where a target is missed:

- ``NOP`` and ``JUMP_FORWARD 0`` show what a site's switch costs where it falls through
  (a jump costs more than a NOP on some versions, though both are one dispatch);
- ``LOAD_CONST T; PUSH_NULL`` is the target as a constant, ``LOAD_CONST holder;
  LOAD_ATTR target`` as read from its holder (``_opcodes.TARGET_IN_HOLDER``);
- a RET0 site's no-call path (two jumps around its value) against ``x; y = 0``;
- three probes called by hand, by one generated function reading them as globals (the
  form staticcall generates) and as closure cells.
"""

from __future__ import annotations

import argparse
import builtins
import sys
import time
import types
from typing import Any, Callable

from bytecode import Bytecode, Instr, Label

from staticcall import _opcodes as op
from staticcall._patch import Holder

UNROLL = 10


def target(x: Any) -> Any:
    return x


def probe1(x: Any) -> None:
    pass


def probe2(x: Any) -> None:
    pass


def probe3(x: Any) -> None:
    pass


HOLDER = Holder()
HOLDER.target = target


def loop(statement: str, env: dict[str, Any]) -> Callable[[int], Any]:
    body = "".join(f"        {statement}\n" for _ in range(UNROLL))
    src = f"def run(n):\n    x = 1\n    y = None\n    for _ in range(n):\n{body}    return y\n"
    ns = dict(env)
    exec(compile(src, "<dispatch_costs>", "exec"), ns)
    return ns["run"]  # type: ignore[no-any-return]


def _with_null(load: list[Instr], loc: Any) -> list[Any]:
    null = Instr("PUSH_NULL", location=loc)
    return [null, *load] if op.NULL_BELOW else [*load, null]


def _replacement(kind: str, load_global: Instr) -> list[Any]:
    loc = load_global.location
    const = _with_null([Instr("LOAD_CONST", target, location=loc)], loc)
    holder = ([Instr("LOAD_CONST", HOLDER, location=loc),
               op.load_attr("target", loc, with_null=True)] if not op.NULL_BELOW else [])
    label = Label()
    jump: list[Any] = [Instr("JUMP_FORWARD", label, location=loc), label]
    return {
        "LOAD_GLOBAL (a direct call)": [load_global],
        "NOP; LOAD_GLOBAL": [Instr("NOP", location=loc), load_global],
        "JUMP_FORWARD 0; LOAD_GLOBAL": jump + [load_global],
        "LOAD_CONST T; PUSH_NULL": const,
        "JUMP_FORWARD 0; LOAD_CONST T; PUSH_NULL": jump + const,
        "LOAD_CONST holder; LOAD_ATTR target": holder,
        "JUMP_FORWARD 0; LOAD_CONST holder; LOAD_ATTR": jump + holder if holder else [],
    }[kind]


SITE_KINDS = ("LOAD_GLOBAL (a direct call)", "NOP; LOAD_GLOBAL", "JUMP_FORWARD 0; LOAD_GLOBAL",
              "LOAD_CONST T; PUSH_NULL", "JUMP_FORWARD 0; LOAD_CONST T; PUSH_NULL",
              "LOAD_CONST holder; LOAD_ATTR target",
              "JUMP_FORWARD 0; LOAD_CONST holder; LOAD_ATTR")


def site_variant(kind: str) -> Callable[[int], Any] | None:
    """The direct-call loop with each ``LOAD_GLOBAL target`` replaced; ``None`` where
    the variant does not exist (a method-style LOAD_ATTR pushing a NULL is 3.12+)."""
    func = loop("y = target(x)", {"target": target})
    bc = Bytecode.from_code(func.__code__)
    out: list[Any] = []
    for item in bc:
        g = op.global_load(item)
        if g is not None and g[0] == "target":
            new = _replacement(kind, item)
            if not new:
                return None
            out += new
        else:
            out.append(item)
    bc.clear()
    bc.extend(out)
    return types.FunctionType(bc.to_code(), func.__globals__)


def _value_variant(jumps: int) -> Callable[[int], Any]:
    """``y = 0`` reached as a RET0 site's no-call path: ``jumps`` 2 is the layout
    (``JUMP_FORWARD 0; LOAD_CONST V; JUMP_FORWARD done; <call>; done:``), 1 the best a
    layout could do with the call path paying the second jump instead."""
    func = loop("y = 0", {})
    bc = Bytecode.from_code(func.__code__)
    out: list[Any] = []
    for item in bc:
        if isinstance(item, Instr) and item.name in ("LOAD_CONST", "LOAD_SMALL_INT") \
                and item.arg == 0:
            loc = item.location
            skipped = [Instr("NOP", location=loc)] * 4  # stands for the call not made
            into, done = Label(), Label()
            if jumps == 2:
                out += [Instr("JUMP_FORWARD", into, location=loc), into, item,
                        Instr("JUMP_FORWARD", done, location=loc), *skipped, done]
            else:
                out += [Instr("JUMP_FORWARD", into, location=loc), *skipped, into, item]
        else:
            out.append(item)
    bc.clear()
    bc.extend(out)
    return types.FunctionType(bc.to_code(), func.__globals__)


def value_variants() -> dict[str, Callable[[int], Any]]:
    return {
        "x; y = 0 (the reference)": loop("x; y = 0", {}),
        "y = 0": loop("y = 0", {}),
        "switch, V, jump (the RET0 value layout)": _value_variant(2),
        "one jump, then V": _value_variant(1),
    }


def probe_variants() -> dict[str, Callable[[int], Any]]:
    probes = {"probe1": probe1, "probe2": probe2, "probe3": probe3}
    ns: dict[str, Any] = {}
    exec("def probes(x):\n    probe1(x)\n    probe2(x)\n    probe3(x)\n", ns)
    as_globals = types.FunctionType(ns["probes"].__code__,
                                    {"__builtins__": builtins, **probes})
    exec("def factory(probe1, probe2, probe3):\n"
         "    def probes(x):\n        probe1(x)\n        probe2(x)\n        probe3(x)\n"
         "    return probes\n", ns)
    as_cells = ns["factory"](probe1, probe2, probe3)
    env = {**probes, "as_globals": as_globals, "as_cells": as_cells}
    return {
        "three hand-written probe calls": loop("probe1(x); probe2(x); probe3(x)", env),
        "one generated function, probes as globals": loop("as_globals(x)", env),
        "one generated function, probes as cells": loop("as_cells(x)", env),
    }


def measure(funcs: dict[str, Callable[[int], Any]], rounds: int, n: int) -> dict[str, float]:
    for f in funcs.values():
        f(1000)  # specialise
    names = list(funcs)
    best = {k: float("inf") for k in names}
    for r in range(rounds):
        shift = r % len(names)
        for k in names[shift:] + names[:shift]:
            t0 = time.perf_counter_ns()
            funcs[k](n)
            best[k] = min(best[k], (time.perf_counter_ns() - t0) / n / UNROLL)
    return best


def report(title: str, best: dict[str, float]) -> None:
    first = next(iter(best.values()))
    print(f"\n{title}")
    for k, v in best.items():
        print(f"  {k:48s} {v:7.2f} ns  {v / first:6.3f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--loops", type=int, default=20000)
    args = parser.parse_args(argv)
    jit = getattr(sys, "_jit", None)
    print(f"{sys.version.split()[0]}, JIT {'on' if jit and jit.is_enabled() else 'off'}; "
          f"ns per statement (loop included), minimum over {args.rounds} interleaved rounds")
    sites = {k: f for k in SITE_KINDS if (f := site_variant(k)) is not None}
    report("y = target(x), the callable loaded as:", measure(sites, args.rounds, args.loops))
    report("a RET0 site's value, y = 0:", measure(value_variants(), args.rounds, args.loops))
    report("a tracepoint with three probes:",
           measure(probe_variants(), args.rounds, args.loops // 4))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
