"""Keys hold no public reference to their target: whatever unwraps a key (``.func``,
``functools.partial`` in C or in pure Python, ``toolz.curry``, ``inspect.unwrap``) ends
up calling the key's current target, not the target of the moment."""

from __future__ import annotations

import functools
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from staticcall import (
    StaticCallNullError,
    define_static_call,
    define_static_call_null,
    static_call_query,
    static_call_return0,
    static_call_update,
)

SRC = Path(__file__).resolve().parent.parent / "src"


def add(x: int, y: int) -> int:
    return x + y


def mul(x: int, y: int) -> int:
    return x * y


def test_partial_fields_are_a_forwarder_not_the_target() -> None:
    key = define_static_call(add, name="fields")
    assert key.func is not add
    assert key.args == () and key.keywords == {}
    forwarder = key.func
    assert forwarder(2, 3) == 5
    static_call_update(key, mul)
    assert key.func is forwarder  # stable, and it follows updates
    assert forwarder(2, 3) == 6
    assert inspect.signature(forwarder) == inspect.signature(add)
    static_call_update(key, None)
    with pytest.raises(StaticCallNullError):
        forwarder(1, 2)
    static_call_update(key, static_call_return0)
    assert forwarder(1, 2) == 0


def test_nothing_public_on_a_key_is_the_target() -> None:
    key = define_static_call(add, name="no_leak")
    static_call_update(key, mul)
    names = [n for n in dir(key) if not n.startswith("_sc_")]
    for name in names:
        try:
            value = getattr(key, name)
        except AttributeError:
            continue
        assert value is not mul, name
    assert static_call_query(key) is mul


def unwrap_like_toolz(func: Any, *args: Any) -> functools.partial[Any]:
    """What toolz.curry does with a partial-like object: merge and keep ``.func``."""
    if (hasattr(func, "func") and hasattr(func, "args") and hasattr(func, "keywords")
            and isinstance(func.args, tuple)):
        kwargs = dict(func.keywords or {})
        args = func.args + args
        func = func.func
        return functools.partial(func, *args, **kwargs)
    return functools.partial(func, *args)


def test_wrappers_made_before_an_update_follow_it() -> None:
    key = define_static_call(add, name="wrapped")
    made = [functools.partial(key, 10), unwrap_like_toolz(key, 10),
            functools.partial(functools.partial(key), 10)]

    @functools.wraps(key)
    def wrapper(*args: Any) -> Any:
        return key(*args)

    assert inspect.unwrap(wrapper) is key
    assert inspect.unwrap(key) is key
    assert not hasattr(key, "__wrapped__")
    assert [m(2) for m in made] == [12, 12, 12]
    static_call_update(key, mul)
    assert [m(2) for m in made] == [20, 20, 20]
    assert inspect.unwrap(wrapper)(3, 4) == 12


def test_toolz_curry_follows_updates() -> None:
    import toolz

    key = define_static_call(add, name="curried")
    curried = toolz.curry(key)
    plus_ten = curried(10)
    assert plus_ten(1) == 11 and curried(1, 2) == 3
    static_call_update(key, mul)
    assert plus_ten(2) == 20
    assert curried(3)(4) == 12
    assert toolz.curry(key, 5)(5) == 25


PURE_PARTIAL = """
    import sys
    sys.modules["_functools"] = None  # functools falls back to its pure-Python partial
    import functools
    assert "__call__" in vars(functools.partial), "not the pure-Python partial"
    from staticcall import (StaticCallNullError, define_static_call, static_call,
                            static_call_cond, static_call_return0, static_call_update,
                            static_calls)

    def add(x, y):
        return x + y

    def mul(x, y):
        return x * y

    key = define_static_call(add, name="pure")
    bound = functools.partial(key, 10)
    nested = functools.partial(functools.partial(key), 10)
    assert key(1, 2) == 3 and bound(2) == 12 and nested(2) == 12

    @static_calls
    def use(x):
        return key(x, 2), static_call(key)(x, 2)

    assert use(3) == (5, 5)
    static_call_update(key, mul)
    assert key(2, 3) == 6 and bound(2) == 20 and nested(2) == 20, (bound(2), nested(2))
    assert use(3) == (6, 6)
    static_call_update(key, None)
    try:
        bound(1)
    except StaticCallNullError:
        pass
    else:
        raise AssertionError("NULL target called")
    assert static_call_cond(key)(1, 2) is None
    static_call_update(key, static_call_return0)
    assert bound(1) == 0 and key(1, 2) == 0
    print("ok")
"""


def test_pure_python_partial_follows_updates() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(PURE_PARTIAL)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_null_key_forwarder() -> None:
    key = define_static_call_null(add, name="null_fields")
    assert key.func is not None and key.args == ()
    with pytest.raises(StaticCallNullError):
        functools.partial(key, 1)(2)
    static_call_update(key, add)
    assert functools.partial(key, 1)(2) == 3
