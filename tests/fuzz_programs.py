"""Random functions with static call sites, for the differential fuzzer.

:func:`programs` is a hypothesis strategy for :class:`Program`: the source of one
function ``f(x, y)`` (plain, generator or coroutine) with one to four sites of one to
three keys ``K0``..``K2`` in random syntactic contexts, and up to four branch sites of
static keys ``S0``/``S1`` (``if``/``elif``/``while`` tests and conditional expressions,
``likely``/``unlikely``, under ``not`` or not) and tracepoint statements ``T0(...)``/
``T1(...)``. Every argument is a call of ``rec(tag, value)``, which logs ``(tag, value)``
and returns the value, so that the order and number of argument evaluations show in the
log.

``Program.reference`` is the undecorated reference, spelled out by hand where the
rewritten code's meaning differs from Python's own: a tracepoint statement ``T0(args)``
(marked ``# tp`` in ``source``) is ``if tracepoint_enabled(T0): T0(args)`` there, on
the same line (its arguments are evaluated only while a probe is attached). Branch
sites need no rewording: the reference takes the runtime path, which returns the key's
state.

The state of the world is one entry per *slot*: the keys ``K<i>``, then the static keys
``S<i>`` (``on``/``off``), then the tracepoints ``T<i>`` (a probe set, see ``PROBES``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import strategies as st

KINDS = ("def", "gen", "async")
# what a key can be set to: recording targets, a raising one, NULL, RET0, and
# "u<i>:<state>", a target that sets key i to <state> when called (then returns 1)
STATES = ("t0", "t1", "raise", "null", "ret0")


# a static key's states, and a tracepoint's probe sets: none, one recording probe
# (p0 or p1), both in either order, a raising probe after a recording one, and a probe
# that flips static key 0 (or, with no static key, records) when called
SK_STATES = ("on", "off")
PROBES = ("none", "p0", "p1", "p0p1", "p1p0", "p0raise", "flip")


def state_names(nkeys: int, nskeys: int = 0, ntps: int = 0) -> list[str]:
    """What a key can be set to: ``u<i>:<state>`` updates key i, ``s<i>:<on|off>`` sets
    static key i, ``t<i>:<probes>`` gives tracepoint i that probe set, when called."""
    return (list(STATES) + [f"u{i}:{s}" for i in range(nkeys) for s in STATES]
            + [f"s{i}:{s}" for i in range(nskeys) for s in SK_STATES]
            + [f"t{i}:{p}" for i in range(ntps) for p in ("none", "p0", "p0p1")])


def slot_states(nkeys: int, nskeys: int, ntps: int) -> list[list[str]]:
    """Per slot (keys, static keys, tracepoints), the states it can take."""
    keys = state_names(nkeys, nskeys, ntps)
    return [keys] * nkeys + [list(SK_STATES)] * nskeys + [list(PROBES)] * ntps


def reference_source(source: str, runtime_lines: frozenset[int] = frozenset()) -> str:
    """``source`` with each tracepoint statement (a line ending in ``  # tp``) spelled
    out as the undecorated reference: ``if tracepoint_enabled(T): T(args)``, except on
    ``runtime_lines`` (1-based), whose tracepoint site stays on the runtime path (a
    statement too long to skip), which evaluates its arguments as Python does."""
    out = []
    for n, line in enumerate(source.splitlines(), 1):
        if line.endswith("  # tp") and n not in runtime_lines:
            stmt = line[:-len("  # tp")]
            body = stmt.lstrip()
            indent = stmt[:len(stmt) - len(body)]
            name = body[:body.index("(")]
            line = f"{indent}if tracepoint_enabled({name}): {body}"
        out.append(line)
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Ctx:
    can_yield: bool = True
    can_await: bool = False
    in_args: bool = False  # inside a site's arguments (informational)
    in_genexp: bool = False
    can_return: bool = True
    in_loop: bool = False  # directly in a loop body (break/continue allowed)
    in_fstring: bool = False  # (no nested f-strings before 3.12)
    ints: tuple[str, ...] = ("x", "y")


@dataclass
class Program:
    source: str
    kind: str
    nkeys: int
    args: tuple[int, int]
    # slot states per step, and (for generators and coroutines) updates between
    # resumptions: (slot index, state)
    steps: list[tuple[str, ...]] = field(default_factory=list)
    resume_updates: dict[int, tuple[int, str]] = field(default_factory=dict)
    nskeys: int = 0
    ntps: int = 0

    @property
    def reference(self) -> str:
        return reference_source(self.source)

    def reference_for(self, runtime_lines: frozenset[int]) -> str:
        return reference_source(self.source, runtime_lines)

    def __repr__(self) -> str:
        return (f"Program(kind={self.kind!r}, nkeys={self.nkeys}, nskeys={self.nskeys}, "
                f"ntps={self.ntps}, args={self.args}, steps={self.steps}, "
                f"resume_updates={self.resume_updates})\n{self.source}")


class _Gen:
    def __init__(self, draw: Any, nkeys: int, max_sites: int, kind: str,
                 nskeys: int = 0, ntps: int = 0, max_extra: int = 0) -> None:
        self.draw = draw
        self.nkeys = nkeys
        self.nskeys = nskeys
        self.ntps = ntps
        self.extra_left = max_extra  # branch and tracepoint sites
        self.sites_left = max_sites
        self.kind = kind
        self.tags = itertools.count(1)
        self.names = itertools.count()

    def choice(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def chance(self, p: float) -> bool:
        return bool(self.draw(st.integers(0, 99)) < p * 100)

    def small(self, lo: int = 0, hi: int = 3) -> int:
        return int(self.draw(st.integers(lo, hi)))

    def name(self, stem: str) -> str:
        return f"_{stem}{next(self.names)}"

    # ----- expressions ----------------------------------------------------------------

    def leaf(self, ctx: Ctx) -> str:
        value = self.choice(list(ctx.ints) + ["0", "1", "2", "7"])
        if ctx.in_args and self.chance(0.3):
            return value  # a bare local or constant: an argument with no side effect
        if self.chance(0.05):
            # raises ValueError when the value is odd: unwinding with a site half built
            return f"boom({next(self.tags)}, {value})"
        return f"rec({next(self.tags)}, {value})"

    def site(self, d: int, ctx: Ctx, first: str | None = None, plain: bool = False) -> str:
        """A site; ``plain``: its only argument is ``first``."""
        self.sites_left -= 1
        k = f"K{self.small(0, self.nkeys - 1)}"
        callee = self.choice([
            f"static_call({k})", f"static_call_cond({k})", k, f"sc.static_call({k})",
            f"sc.static_call_cond({k})", f"m.{k}", f"static_call(m.{k})",
            f"static_call_cond(m.{k})",
        ])
        if plain and first is not None:
            return f"{callee}({first})"
        sub = replace(ctx, in_args=True)
        parts = [self.expr(d - 1, sub) for _ in range(self.small(0, 2))]
        if first is not None:
            parts.insert(0, first)
        if self.chance(0.25):
            parts.append("*[" + ", ".join(self.expr(d - 1, sub)
                                         for _ in range(self.small(0, 2))) + "]")
        for kw in ("a", "b"):
            if self.chance(0.25):
                parts.append(f"{kw}={self.expr(d - 1, sub)}")
        if self.chance(0.2):
            parts.append("**{'k': " + self.expr(d - 1, sub) + "}")
        return f"{callee}({', '.join(parts)})"

    def branch_test(self) -> str:
        """A branch site's whole test: ``[not ]static_branch_(un)likely(S<i>)``."""
        self.extra_left -= 1
        k = f"S{self.small(0, self.nskeys - 1)}"
        fn = self.choice(["static_branch_unlikely", "static_branch_likely",
                          "sc.static_branch_unlikely"])
        return f"{'not ' if self.chance(0.3) else ''}{fn}({k})"

    def tracepoint(self, d: int, ctx: Ctx, indent: str) -> str:
        """A tracepoint statement, marked for :func:`reference_source`."""
        self.extra_left -= 1
        t = f"T{self.small(0, self.ntps - 1)}"
        if self.chance(0.15):
            t = f"m.{t}"
        sub = replace(ctx, in_args=True)
        d = min(d, 1)  # short statements: each is skipped with one jump
        parts = [self.expr(d, sub) for _ in range(self.small(0, 2))]
        if self.chance(0.15):
            parts.append("*[" + self.expr(0, sub) + "]")
        if self.chance(0.2):
            parts.append(f"a={self.expr(d, sub)}")
        return f"{indent}{t}({', '.join(parts)})  # tp"

    def expr(self, d: int, ctx: Ctx) -> str:
        options = ["leaf"]
        if self.extra_left > 0 and self.nskeys and d > 0:
            options.append("branch_cond")
        if self.sites_left > 0:
            options += ["site"] * 3
        if d > 0:
            options += ["cond", "and", "or", "not", "listcomp", "genexp", "lambda", "walrus",
                        "num", "compare", "subscript", "display"]
            if not ctx.in_fstring:
                options.append("fstring")
            if ctx.can_await and not ctx.in_genexp:
                options.append("await")
            if ctx.can_yield:
                options += ["yield", "yield_from"]
        what = self.choice(options)
        if what == "leaf":
            return self.leaf(ctx)
        if what == "site":
            return self.site(d, ctx)
        if what == "branch_cond":
            test = self.branch_test()
            return f"({self.expr(d - 1, ctx)} if {test} else {self.expr(d - 1, ctx)})"
        if what == "cond":
            a, b, c = (self.expr(d - 1, ctx) for _ in range(3))
            return f"({a} if {b} else {c})"
        if what in ("and", "or"):
            return f"({self.expr(d - 1, ctx)} {what} {self.expr(d - 1, ctx)})"
        if what == "not":
            return f"(not {self.expr(d - 1, ctx)})"
        if what == "num":
            return f"(num({self.expr(d - 1, ctx)}) + {self.small()})"
        if what in ("listcomp", "genexp"):
            var = self.name("i")
            inner = replace(ctx, can_yield=False, can_await=ctx.can_await and what == "listcomp",
                            in_genexp=ctx.in_genexp or what == "genexp", ints=ctx.ints + (var,))
            body = f"{self.expr(d - 1, inner)} for {var} in range({self.small(0, 3)})"
            if self.chance(0.3):
                body += f" if {self.expr(d - 1, inner)}"
            return f"[{body}]" if what == "listcomp" else f"list({body})"
        if what == "lambda":
            inner = replace(ctx, can_yield=False, can_await=False)
            return f"(lambda: {self.expr(d - 1, inner)})()"
        if what == "walrus":
            if ctx.in_genexp or any(v.startswith("_i") for v in ctx.ints):
                return self.leaf(ctx)  # no walrus inside comprehensions (iteration vars)
            return f"({self.name('w')} := {self.expr(d - 1, ctx)})"
        if what == "await":
            return f"(await Suspend({self.expr(d - 1, ctx)}))"
        if what == "yield_from":
            return f"(yield from [{self.expr(d - 1, ctx)}, {self.expr(d - 1, ctx)}])"
        if what == "compare":
            return (f"(num({self.expr(d - 1, ctx)}) < num({self.expr(d - 1, ctx)})"
                    f" <= num({self.expr(d - 1, ctx)}))")
        if what == "fstring":
            inner = replace(ctx, in_fstring=True)
            a, b = self.expr(d - 1, inner), self.expr(d - 1, inner)
            return 'f"""{' + a + '!r}-{num(' + b + '):03d}"""'
        if what == "subscript":
            return f"[{self.expr(d - 1, ctx)}, {self.expr(d - 1, ctx)}][num({self.leaf(ctx)}) % 2]"
        if what == "display":
            kind = self.choice(["tuple", "dict", "set"])
            a, b = self.expr(d - 1, ctx), self.expr(d - 1, ctx)
            if kind == "tuple":
                return f"({a}, {b})"
            if kind == "dict":
                return f"len({{'p': {a}, 'q': {b}}})"
            return f"len({{num({a}), num({b})}})"
        if what == "yield":
            return f"(yield {self.expr(d - 1, ctx)})"
        raise AssertionError(what)

    # ----- statements -----------------------------------------------------------------

    def block(self, d: int, ctx: Ctx, indent: str) -> list[str]:
        out: list[str] = []
        for _ in range(self.small(1, 2)):
            out += self.stmt(d, ctx, indent)
        return out

    def stmt(self, d: int, ctx: Ctx, indent: str) -> list[str]:
        options = ["expr", "append", "assign", "augassign", "unpack", "assert"]
        if d > 0:
            options += ["if", "for", "while", "try", "with", "nested"]
            if ctx.can_return:
                options.append("return")
            if self.kind == "async" and ctx.can_await:
                options += ["async_for", "async_with"]
        if ctx.in_loop:
            options += ["break", "continue"]
        if self.sites_left > 0:
            options += ["maybe_unbound", "maybe_assigned"]
        if ctx.can_yield:
            options.append("yield")
        if self.extra_left > 0:
            if self.ntps:
                options += ["tracepoint"] * 2
            if self.nskeys and d > 0:
                options += ["branch_if", "branch_elif", "branch_while"]
        what = self.choice(options)
        i2 = indent + "    "
        e = lambda: self.expr(min(d, 2), ctx)  # noqa: E731
        if what == "expr":
            return [f"{indent}{e()}"]
        if what == "tracepoint":
            return [self.tracepoint(d, ctx, indent)]
        if what == "branch_if":
            lines = [f"{indent}if {self.branch_test()}:"] + self.block(d - 1, ctx, i2)
            if self.chance(0.5):
                lines += [f"{indent}else:"] + self.block(d - 1, ctx, i2)
            return lines
        if what == "branch_elif":
            lines = ([f"{indent}if {e()}:"] + self.block(d - 1, ctx, i2)
                     + [f"{indent}elif {self.branch_test()}:"] + self.block(d - 1, ctx, i2))
            if self.chance(0.3):
                lines += [f"{indent}else:"] + self.block(d - 1, ctx, i2)
            return lines
        if what == "branch_while":
            var = self.name("c")
            return ([f"{indent}{var} = 0", f"{indent}while {self.branch_test()}:",
                     f"{i2}{var} += 1", f"{i2}if {var} > 2:", f"{i2}    break"]
                     + self.block(d - 1, replace(ctx, in_loop=True), i2))
        if what == "append":
            return [f"{indent}_out.append({e()})"]
        if what == "assign":
            return [f"{indent}_r = {e()}"]
        if what == "augassign":
            return [f"{indent}_r = num(_r)", f"{indent}_r += num({e()})"]
        if what == "unpack":
            a, b = self.name("u"), self.name("u")
            return [f"{indent}{a}, {b} = {e()}, {e()}", f"{indent}_out.append(({a}, {b}))"]
        if what == "assert":
            return [f"{indent}assert num({e()}) < 100, 'assert'"]
        if what == "maybe_unbound":
            # a site whose argument is a local that may have been deleted
            var = self.name("d")
            return [f"{indent}{var} = {self.leaf(ctx)}",
                    f"{indent}if num({self.leaf(ctx)}) > 1:", f"{indent}    del {var}",
                    f"{indent}_out.append({self.site(min(d, 1), ctx, first=var)})"]
        if what == "maybe_assigned":
            # a site whose argument is a local bound on some paths only (3.11 skips a
            # local's load only where every path binds it)
            var = self.name("m")
            site = self.site(min(d, 1), ctx, first=var, plain=self.chance(0.7))
            use = site if self.chance(0.5) else f"_out.append({site})"
            if self.chance(0.5):
                return [f"{indent}if num({self.leaf(ctx)}) > 1:",
                        f"{i2}{var} = {self.leaf(ctx)}", f"{indent}{use}"]
            return [f"{indent}for {self.name('j')} in range(2):", f"{i2}{use}",
                    f"{i2}{var} = {self.leaf(ctx)}"]
        if what in ("break", "continue"):
            return [f"{indent}if num({self.leaf(ctx)}) > 1:", f"{indent}    {what}"]
        if what == "yield":
            return [f"{indent}_out.append((yield {e()}))"]
        if what == "return":
            # conditional, so that the compiler keeps the code after it
            return [f"{indent}if num({self.leaf(ctx)}) > 1:", f"{i2}return _out, {e()}"]
        if what == "if":
            lines = [f"{indent}if {e()}:"] + self.block(d - 1, ctx, i2)
            if self.chance(0.5):
                lines += [f"{indent}else:"] + self.block(d - 1, ctx, i2)
            return lines
        if what == "for":
            var = self.name("j")
            inner = replace(ctx, ints=ctx.ints + (var,), in_loop=True)
            lines = [f"{indent}for {var} in range(num({e()}) % 3):"] + self.block(d - 1, inner, i2)
            if self.chance(0.2):
                lines += [f"{indent}else:"] + self.block(d - 1, ctx, i2)
            return lines
        if what == "async_for":
            var = self.name("v")
            inner = replace(ctx, ints=ctx.ints + (var,), in_loop=True)
            return ([f"{indent}async for {var} in AIter(num({e()}) % 3):"]
                    + self.block(d - 1, inner, i2))
        if what == "async_with":
            return [f"{indent}async with ACtx({next(self.tags)}):"] + self.block(d - 1, ctx, i2)
        if what == "while":
            var = self.name("c")
            return ([f"{indent}{var} = 0", f"{indent}while {var} < 2 and {e()}:",
                     f"{i2}{var} += 1"] + self.block(d - 1, replace(ctx, in_loop=True), i2))
        if what == "try":
            exc = self.choice(["ValueError", "TypeError", "Exception"])
            var = self.name("e")
            lines = ([f"{indent}try:"] + self.block(d - 1, ctx, i2)
                     + [f"{indent}except {exc} as {var}:",
                        f"{i2}_out.append(type({var}).__name__)"])
            if self.chance(0.5):
                lines += self.block(d - 1, ctx, i2)
            if self.chance(0.5):
                # no return in finally (a SyntaxWarning on 3.14)
                fin = replace(ctx, can_return=False, in_loop=False)
                lines += [f"{indent}finally:"] + self.block(d - 1, fin, i2)
            return lines
        if what == "with":
            return [f"{indent}with Ctx({next(self.tags)}):"] + self.block(d - 1, ctx, i2)
        if what == "nested":
            fn = self.name("f")
            inner = replace(ctx, can_yield=False, can_await=False, can_return=True,
                            in_loop=False)
            return ([f"{indent}def {fn}():", f"{i2}_out = []"] + self.block(d - 1, inner, i2)
                    + [f"{i2}return _out", f"{indent}_out.append({fn}())"])
        raise AssertionError(what)


@st.composite
def programs(draw: Any) -> Program:
    kind = draw(st.sampled_from(KINDS))
    nkeys = draw(st.integers(1, 3))
    max_sites = draw(st.integers(1, 4))
    nskeys = draw(st.integers(0, 2))
    ntps = draw(st.integers(0, 2))
    max_extra = draw(st.integers(1, 4)) if nskeys or ntps else 0
    gen = _Gen(draw, nkeys, max_sites, kind, nskeys, ntps, max_extra)
    ctx = Ctx(can_yield=kind == "gen", can_await=kind == "async")
    body = gen.block(3, ctx, "    ")
    while gen.sites_left == max_sites:  # at least one site
        body.append(f"    _out.append({gen.site(1, ctx)})")
    if ntps and gen.extra_left == max_extra:  # and a tracepoint, when there are some
        body.append(gen.tracepoint(1, ctx, "    "))
    head = "async def" if kind == "async" else "def"
    lines = [f"{head} f(x, y):", "    _out = []", "    _r = None", *body]
    if kind == "gen":
        lines.append("    yield _r")
    last = draw(st.sampled_from(["out", "expr", "plain"]))
    if last == "out":
        lines.append("    return _out, _r")
    else:
        # a call in the last statement: the compiler may copy such small exit blocks
        e = gen.expr(2, ctx)
        lines.append(f"    return _out, {e}" if last == "expr" else f"    return {e}")
    slots = slot_states(nkeys, nskeys, ntps)
    steps = draw(st.lists(st.tuples(*[st.sampled_from(names) for names in slots]),
                          min_size=1, max_size=4))
    updates: dict[int, tuple[int, str]] = {}
    if kind != "def":
        slot = st.integers(0, len(slots) - 1)
        updates = draw(st.dictionaries(
            st.integers(1, 6),
            slot.flatmap(lambda i: st.tuples(st.just(i), st.sampled_from(slots[i]))),
            max_size=3))
    args = (draw(st.integers(-2, 3)), draw(st.integers(0, 3)))
    return Program("\n".join(lines) + "\n", kind, nkeys, args, steps, updates, nskeys, ntps)
