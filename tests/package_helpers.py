"""A throwaway package on disk for the whole-package tests (tests/test_packages.py).

:func:`make_package` writes ``<name>/__init__.py``, ``<name>/keys.py`` and
``<name>/app.py`` (below) under a folder; ``app`` has one function for each way a
module holds a function: plain, registered by a decorator, only in a dispatch table, a
default argument, class members of every kind, a lambda, a comprehension, a generator, a
coroutine, ``lru_cache``, ``functools.wraps``, a closure made at import, and sites of
every kind (call, cond, bare key, tracepoint, branch, late, through a module attribute).
"""

from __future__ import annotations

import sys
from pathlib import Path

KEYS = '''
from staticcall import (define_static_call, define_static_call_null, define_static_key_false,
                        define_tracepoint)

def _double(x):
    return 2 * x

def probe_proto(text):
    pass

DOUBLE = define_static_call(_double, name="double")
TRACE = define_static_call_null(_double, name="trace")
TP = define_tracepoint(probe_proto, name="tp")
SK = define_static_key_false(name="sk")
'''

APP = '''
import functools

from staticcall import static_branch_unlikely, static_call, static_call_cond

from . import keys
from .keys import DOUBLE, SK, TP, TRACE

ROUTES = {}
BUILT = []


def route(name):
    def deco(f):
        ROUTES[name] = f
        return f
    return deco


def plain(x):
    return x + 1


def names_a_key():
    return DOUBLE


@route("a")
def handler(x):
    static_call_cond(TRACE)(x)
    return DOUBLE(x)


def _hidden(x):
    return DOUBLE(x) + 1


DISPATCH = {"hidden": _hidden}
del _hidden


def with_default(x, helper=handler):
    return helper(x)


class Service:
    def method(self, x):
        return static_call(DOUBLE)(x)

    @staticmethod
    def smethod(x):
        return DOUBLE(x)

    @classmethod
    def cmethod(cls, x):
        return DOUBLE(x)

    @property
    def prop(self):
        return DOUBLE(21)


lam = lambda x: DOUBLE(x)  # noqa: E731


def comp(xs):
    return [DOUBLE(x) for x in xs]


def gen(xs):
    for x in xs:
        yield DOUBLE(x)


async def coro(x):
    return DOUBLE(x)


@functools.lru_cache(maxsize=None)
def cached(x):
    return DOUBLE(x)


def wraps_it(f):
    @functools.wraps(f)
    def wrapper(*args):
        return f(*args)
    return wrapper


@wraps_it
def wrapped(x):
    return DOUBLE(x)


def make_closure(k):
    def inner(x):
        return DOUBLE(x) + k
    return inner


CLOSURE = make_closure(5)


def built(x):
    BUILT.append(x)
    return x


def traced(x):
    TP(f"item {built(x)}")
    if static_branch_unlikely(SK):
        return "on"
    return "off"


def uses_later(x):
    return static_call(LATER)(x)


def startup(x):
    return static_call(CONFIGURED)(x)


CONFIGURED = None


def configure(key):
    global CONFIGURED
    CONFIGURED = key


def through_module(x):
    return keys.DOUBLE(x)


LATER = DOUBLE
'''

#: the functions of ``app`` whose calls of DOUBLE return ``2 * x`` (+ what they add):
#: name -> (how to call it, the result for x = 3 with DOUBLE's default target)
CALLS = {
    "handler": ("app.handler(3)", 6),
    "registered": ("app.ROUTES['a'](3)", 6),
    "dispatch": ("app.DISPATCH['hidden'](3)", 7),
    "default": ("app.with_default(3)", 6),
    "method": ("app.Service().method(3)", 6),
    "smethod": ("app.Service.smethod(3)", 6),
    "cmethod": ("app.Service.cmethod(3)", 6),
    "property": ("app.Service().prop - 39", 3),
    "lambda": ("app.lam(3)", 6),
    "comprehension": ("app.comp([3])[0]", 6),
    "generator": ("next(app.gen([3]))", 6),
    "coroutine": ("run_coro(app.coro(3))", 6),
    "wrapped": ("app.wrapped(3)", 6),
    "closure": ("app.CLOSURE(3) - 5", 6),
    "late": ("app.uses_later(3)", 6),
    "module attribute": ("app.through_module(3)", 6),
}


def run_coro(coro: object) -> object:
    try:
        coro.send(None)  # type: ignore[attr-defined]
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the coroutine did not finish")


#: a module that calls one of app's functions as it imports
CALLER = """
from .app import handler

AT_IMPORT = handler(2)
"""


def make_package(folder: Path, name: str) -> Path:
    pkg = folder / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "keys.py").write_text(KEYS, encoding="utf-8")
    (pkg / "app.py").write_text(APP, encoding="utf-8")
    (pkg / "caller.py").write_text(CALLER, encoding="utf-8")
    return pkg


def forget(name: str) -> None:
    """Remove a package and its submodules from ``sys.modules``."""
    for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[mod]
