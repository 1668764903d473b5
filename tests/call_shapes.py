"""The call shapes the rewriter must handle, as sources run by test_rewrite_shapes.py.

Every source defines ``f``; ``args`` are its arguments. The environment (class
``Env`` in test_rewrite_shapes.py) holds two keys ``K`` and ``K2``, ``static_call``/``static_call_cond``,
the package as ``sc``, a module ``m`` holding both keys, ``pkg.mod`` (the same
module), an exported handle ``H`` on ``K``, the recorder ``rec(tag, value)``, an
awaitable ``Suspend(value)`` and a recording context manager ``Ctx(tag)``. The module
``m`` is also importable as ``rw_shapes_m`` (the compiler treats attributes of modules
imported in the same file differently).
``sites`` is how many sites each key has (the table must list exactly these).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staticcall._opcodes import PY


@dataclass(frozen=True)
class Shape:
    name: str
    source: str
    args: tuple[Any, ...] = ()
    # sites of K, of K2: a count, or the counts accepted (the compiler duplicates some
    # code, such as finally bodies and loop conditions: each copy is a site)
    sites: tuple[Any, Any] = (1, 0)
    # global and attribute names the rewritten code must no longer load
    gone: tuple[str, ...] = ("K", "K2", "static_call", "static_call_cond")
    gone_attrs: tuple[str, ...] = ()
    # a known limitation: (first version affected, why); the site stays on the runtime
    # path there (still correct, so only the "is rewritten" checks are expected to fail)
    limit: tuple[tuple[int, int], str] | None = None

    def limited(self) -> str | None:
        if self.limit is not None and PY >= self.limit[0]:
            return self.limit[1]
        return None

    def accepts(self, which: int, count: int) -> bool:
        want = self.sites[which]
        return count in (want if isinstance(want, tuple) else (want,))

    def __str__(self) -> str:
        return self.name


S = Shape

# 3.12+ copies the call after a conditional-expression argument into both branches when
# only a small exit block follows ("conditional-expr-tail", "fstring-and-subscript-args"):
# one load, two calls, each with its own shape switch.


SHAPES: list[Shape] = [
    # ----- argument lists -------------------------------------------------------------
    S("no-args", """
def f():
    return static_call(K)()
"""),
    S("positional", """
def f(x):
    return static_call(K)(rec(1, x), rec(2, x + 1))
""", (5,)),
    S("keyword", """
def f(x):
    return static_call(K)(a=rec(1, x), b=rec(2, x * 2))
""", (3,)),
    S("star-args", """
def f(xs):
    return static_call(K)(*xs)
""", ([1, 2, 3],)),
    S("star-generator", """
def f(n):
    return static_call(K)(*(rec(i, i * i) for i in range(n)))
""", (3,)),
    S("star-star-kwargs", """
def f(d):
    return static_call(K)(**d)
""", ({"a": 1, "b": 2},)),
    S("mixed", """
def f(x, xs, d):
    return static_call(K)(rec(1, x), *xs, rec(2, x), k=rec(3, 3), **d)
""", (1, (7, 8), {"z": 9})),
    S("mixed-two-stars", """
def f(xs, ys, d, e):
    return static_call(K)(*xs, rec(1, 0), *ys, a=1, **d, b=rec(2, 2), **e)
""", ((1,), [2, 3], {"c": 4}, {"d": 5})),
    S("many-args", """
def f(x):
    return static_call(K)(x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x,
                          x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x)
""", (1,)),
    S("method-call-args", """
def f(x, s):
    return static_call(K)(s.upper(), x.bit_length(), ",".join([s, s]))
""", (5, "ab")),
    # ----- argument expressions with their own control flow ---------------------------
    S("conditional-expr", """
def f(x, c):
    r = static_call(K)(rec(1, x) if rec(2, c) else rec(3, -x), rec(4, 0) if not c else 1)
    for _ in range(1):
        pass
    return r
""", (4, 0)),
    S("conditional-expr-true", """
def f(x, c):
    r = static_call(K)(rec(1, x) if rec(2, c) else rec(3, -x), rec(4, 0) if not c else 1)
    while c:
        c = rec(5, c - 1)
    return r
""", (4, 1)),
    S("conditional-expr-then-return", """
def f(x, c):
    r = static_call(K)(x if c else 0)
    return r
""", (4, 1)),
    S("conditional-expr-tail", """
def f(x, c):
    return static_call_cond(K)(rec(1, x), k=rec(2, x) if c else 0)
""", (4, 0)),
    S("dup-call-kw", """
def f(x, c):
    return static_call(K)(x, k=rec(1, x) if c else 0)
""", (4, 0)),
    S("dup-call-kw-true", """
def f(x, c):
    return static_call(K)(x, k=rec(1, x) if c else 0)
""", (4, 1)),
    S("dup-call-star", """
def f(x, c):
    return static_call_cond(K)(*[x], rec(1, 0) if c else 2, **{"z": x})
""", (4, 1)),
    S("dup-call-nested", """
def f(x, c):
    return static_call(K)(static_call_cond(K2)(x if c else 0) if rec(1, c) else K2(x))
""", (4, 0), (1, 2)),
    S("dup-call-nested-true", """
def f(x, c):
    return static_call(K)(static_call_cond(K2)(x if c else 0) if rec(1, c) else K2(x))
""", (4, 1), (1, 2)),
    S("dup-call-assign-return", """
def f(x, c):
    r = static_call_cond(K)(x, x if c else -x)
    return r
""", (4, 0)),
    S("and-or", """
def f(a, b):
    return static_call(K)(rec(1, a) and rec(2, b), rec(3, a) or rec(4, b), not rec(5, b))
""", (0, 7)),
    S("chained-compare", """
def f(a, b):
    return static_call(K)(rec(1, a) < rec(2, b) < rec(3, 10), x=a == b)
""", (1, 2)),
    S("list-comprehension-arg", """
def f(n):
    return static_call(K)([rec(i, i + 1) for i in range(n) if i % 2 == 0], n)
""", (5,)),
    S("dict-set-comprehension-arg", """
def f(n):
    return static_call(K)({i: rec(i, i) for i in range(n)}, k={rec(9, i % 2) for i in range(n)})
""", (3,)),
    S("generator-arg", """
def f(n):
    return static_call(K)(list(rec(i, i) for i in range(n)), sum(i for i in range(n)))
""", (4,)),
    S("lambda-arg", """
def f(x):
    return static_call(K)((lambda y: rec(1, y + 1))(x), (lambda: 0)())[0]
""", (2,)),
    S("walrus", """
def f(x):
    return static_call(K)((y := rec(1, x + 1)), y, z=(w := y * 2)), w
""", (3,)),
    S("await-arg", """
async def f(x):
    return static_call(K)(await Suspend(rec(1, x)), rec(2, x), k=await Suspend(3))
""", (2,)),
    S("await-in-cond-arg", """
async def f(x):
    return static_call_cond(K)(rec(1, x) if x else await Suspend(0), await Suspend(x) or 5)
""", (0,)),
    S("yield-arg", """
def f(x):
    r = static_call(K)((yield rec(1, x)), rec(2, x), k=(yield 2))
    return r
""", (6,)),
    S("yield-from-arg", """
def f(x):
    return static_call(K)((yield from [rec(1, x), rec(2, x)]), x)
""", (1,)),
    S("comprehension-args", """
def f(x):
    return static_call(K)([v for v in (x, x + 1) if v], *[w for w in range(x)])
""", (2,)),
    S("fstring-and-subscript-args", """
def f(x, d):
    return static_call(K)(f"{x}-{rec(1, x)!r}", d["a"], d.get("b", 0), x[0] if isinstance(x, list) else x)
""", (2, {"a": 1})),
    # ----- nested sites -------------------------------------------------------------
    S("nested-sites", """
def f(x):
    return static_call(K)(static_call(K2)(rec(1, x)))
""", (1,), (1, 1)),
    S("nested-same-key", """
def f(x):
    return static_call(K)(static_call(K)(x), static_call_cond(K)(x + 1))
""", (1,), (3, 0)),
    S("nested-mixed-forms", """
def f(x):
    return K(a=static_call_cond(K2)(x), b=K2(x), c=sc.static_call(K)(m.K2(x)))
""", (1,), (2, 3), ("K", "K2", "static_call", "static_call_cond", "m", "sc"),
      ("K", "K2", "static_call")),
    S("nested-in-star", """
def f(x):
    return static_call(K)(*static_call_cond(K2)(x), **{"k": static_call(K2)(x)})
""", (1,), (1, 2)),
    S("sites-in-sequence", """
def f(x):
    a = static_call(K)(x)
    b = static_call_cond(K2)(x, a)
    static_call(K)(b)
    return a, b, static_call(K2)(rec(1, x), a, b)
""", (2,), (2, 2)),
    # ----- statements around sites --------------------------------------------------
    S("try-except-finally", """
def f(x):
    out = []
    try:
        out.append(static_call(K)(rec(1, x)))
        raise ValueError(x)
    except ValueError:
        out.append(static_call_cond(K)(rec(2, x)))
    finally:
        out.append(static_call_cond(K2)(rec(3, x)))
    return out
""", (1,), (2, (1, 2))),
    S("try-catches-site-error", """
def f(x):
    try:
        return static_call(K)(x)
    except TypeError as e:
        return type(e).__name__, static_call_cond(K2)(x)
    else:
        return 1
""", (1,), (1, 1)),
    S("try-finally-return", """
def f(x):
    try:
        return static_call(K)(x)
    finally:
        rec(1, static_call_cond(K2)(x))
""", (1,), (1, (1, 2))),
    S("except-star", """
def f(x):
    try:
        static_call(K)(x)
        raise ExceptionGroup("g", [ValueError(1)])
    except* ValueError:
        rec(1, static_call_cond(K)(x))
    return x
""", (1,), (2, 0)),
    S("with", """
def f(x):
    with Ctx(1):
        r = static_call(K)(x)
        with Ctx(2) as c:
            r2 = static_call_cond(K)(c, r)
    return r, r2
""", (1,), (2, 0)),
    S("with-site-in-header", """
def f(x):
    with Ctx(static_call_cond(K)(x)):
        return static_call(K2)(x)
""", (1,), (1, 1)),
    S("for-loop", """
def f(n):
    out = []
    for i in range(n):
        out.append(static_call(K)(i))
        if i == 1:
            continue
        out.append(static_call_cond(K)(rec(i, i)))
    else:
        out.append(static_call_cond(K2)(n))
    return out
""", (3,), (2, 1)),
    S("for-over-site", """
def f(n):
    out = []
    for i in static_call_cond(K)(n) or ():
        out.append(i)
    return out
""", (2,)),
    S("while-loop", """
def f(n):
    i = 0
    out = []
    while static_call_cond(K2)(i) is not None and i < n:
        i += 1
        out.append(static_call(K)(i))
        if i > 10:
            break
    return out, i
""", (3,), (1, (1, 2))),
    S("if-elif-else", """
def f(x):
    if rec(1, x) == 1:
        return static_call(K)(x)
    elif static_call_cond(K2)(x):
        return static_call(K2)(x, 1)
    else:
        return static_call_cond(K)(x, 2)
""", (2,), (2, 2)),
    S("match", """
def f(x):
    match x:
        case [a, b]:
            return static_call(K)(a, b)
        case {"k": v}:
            return static_call(K)(v)
        case _:
            return static_call_cond(K)(x)
""", ([1, 2],), (3, 0)),
    S("nested-function", """
def f(x):
    def inner(y):
        return static_call(K)(y, rec(1, y))
    return inner(x), inner(x + 1)
""", (1,)),
    S("closure", """
def f(x):
    z = rec(1, x * 10)
    def inner():
        nonlocal z
        z += 1
        return static_call(K)(x, z)
    return inner(), inner()
""", (1,)),
    S("nested-two-levels", """
def f(x):
    def a():
        def b():
            return static_call(K)(x)
        return b(), static_call_cond(K2)(x)
    return a()
""", (1,), (1, 1)),
    S("lambda", """
def f(x):
    g = lambda y, k=2: static_call(K)(y, k=k)
    return g(x), (lambda: static_call_cond(K2)(x))()
""", (1,), (1, 1)),
    S("list-comprehension", """
def f(n):
    return [static_call(K)(i) for i in range(n) if static_call_cond(K2)(i) is not False]
""", (3,), (1, 1)),
    S("nested-comprehension", """
def f(n):
    return [[static_call(K)(i, j) for j in range(i)] for i in range(n)]
""", (3,)),
    S("set-dict-comprehension", """
def f(n):
    return {static_call(K2)(i) is None for i in range(n)}, {i: static_call(K)(i) for i in range(n)}
""", (3,), (1, 1)),
    S("generator-expression", """
def f(n):
    g = (static_call(K)(i) for i in range(n))
    return list(g), sum(1 for i in range(n) if static_call_cond(K2)(i) is None)
""", (3,), (1, 1)),
    S("generator-function", """
def f(n):
    for i in range(n):
        yield static_call(K)(i)
    x = yield static_call_cond(K2)(n)
    return static_call(K)(x)
""", (2,), (2, 1)),
    S("coroutine", """
async def f(n):
    r = []
    for i in range(n):
        r.append(static_call(K)(await Suspend(i)))
    return r, static_call_cond(K2)(n)
""", (2,), (1, 1)),
    S("async-generator", """
async def f(n):
    for i in range(n):
        yield static_call(K)(await Suspend(i))
    yield static_call_cond(K)(n)
""", (2,), (2, 0)),
    S("async-with-for", """
async def f(n):
    out = []
    async for v in AIter(n):
        out.append(static_call(K)(v))
    async with ACtx(1):
        out.append(static_call_cond(K2)(n))
    return out
""", (2,), (1, 1)),
    # ----- attribute forms ----------------------------------------------------------
    S("sc-static-call", """
def f(x):
    return sc.static_call(K)(x), sc.static_call_cond(K)(x)
""", (1,), (2, 0), ("K", "sc"), ("static_call", "static_call_cond")),
    S("module-attribute-key", """
def f(x):
    return m.K(x), static_call(m.K)(x), static_call_cond(m.K2)(x)
""", (1,), (2, 1), ("m", "static_call", "static_call_cond"), ("K", "K2")),
    S("package-attribute-key", """
def f(x):
    return pkg.mod.K(x), sc.static_call_cond(pkg.mod.K2)(rec(1, x))
""", (1,), (1, 1), ("pkg", "sc"), ("mod", "K", "K2", "static_call_cond")),
    S("imported-modules", """
import staticcall as scm
import rw_shapes_m as mm
from rw_shapes_m import K as KK
def f(x):
    return scm.static_call(K)(x), scm.static_call_cond(mm.K2)(rec(1, x)), mm.K(x), KK(x)
""", (1,), (3, 1), ("K", "KK", "scm", "mm"), ("static_call", "static_call_cond", "K", "K2")),
    S("key-call", """
def f(x):
    return K(x), K(rec(1, x), k=2), K(*[x], **{"z": x})
""", (1,), (3, 0)),
    S("key-call-tail", """
def f(x):
    return K2(x)
""", (1,), (0, 1)),
    S("exported-handle", """
def f(x):
    return static_call(H)(x), H(x), static_call_cond(H)(x)
""", (1,), (3, 0), ("H", "static_call", "static_call_cond")),
]

if PY < (3, 11):  # pragma: no cover - kept for symmetry with the supported range
    SHAPES = []
