"""A module for tests/test_cli.py and tests/test_explain.py: sites of every kind.

Each site's line carries a ``# site: <state> [cond] [tail] [runtime]`` comment; the
tests read the expected table from these comments. Imported by name (``cli_sites_module``), as
the command line imports modules.
"""

from __future__ import annotations

import functools
from typing import Any

import staticcall as sc
from staticcall import static_call, static_call_cond, static_calls


def target(x: int) -> int:
    return x + 1


def hook_prototype(x: int) -> None:
    """A hook that nothing implements yet."""


KEY = sc.define_static_call(target, name="cli_key")
HOOK = sc.define_static_call_null(hook_prototype, name="cli_hook")
ZERO = sc.define_static_call_ret0(target, name="cli_zero")


@static_calls
def uses_sites(x: int) -> int:
    a = static_call(KEY)(x)  # site: call
    static_call_cond(HOOK)(a)  # site: null cond
    b = sc.static_call(KEY)(a)  # site: call
    c = ZERO(b)  # site: ret0
    return KEY(b + c)  # site: call tail


@static_calls(mode="trampoline")
def on_runtime_path(x: int) -> int:
    return static_call(KEY)(x)  # site: trampoline runtime


def undecorated(x: int) -> tuple[int, Any]:
    return static_call(KEY)(x), sc.static_call_cond(HOOK)(x)


def no_sites(x: int) -> int:
    return target(x)


class Thing:
    @staticmethod
    @static_calls
    def smethod(x: int) -> int:
        return KEY(x)  # site: call tail

    @classmethod
    def cmethod(cls, x: int) -> int:
        return static_call(KEY)(x)

    def method(self, x: int) -> int:
        return static_call(KEY)(x)


def _logged(func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)
    return wrapper


@static_calls
@_logged
def wrapped(x: int) -> int:
    return static_call(KEY)(x) * 2  # site: call


NOT_A_FUNCTION = 42
