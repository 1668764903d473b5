"""The operations on keys and handles, as source text, so that modules with different
``__license__`` values can each define them in their own globals."""

import sys
import types

OPS_SOURCE = '''
from staticcall import (
    static_call, static_call_cond, static_call_override, static_call_query,
    static_call_update, static_call_update_many,
)


def call(h, *args):
    return h(*args)


def call_static(h, *args):
    return static_call(h)(*args)


def call_cond(h, *args):
    return static_call_cond(h)(*args)


def query(h):
    return static_call_query(h)


def update(h, func):
    return static_call_update(h, func)


def update_many(h, func):
    return static_call_update_many({h: func})


def override(h, func, inside):
    with static_call_override(h, func):
        return inside()
'''

#: The operations that only call or look.
USE_OPS = ("call", "call_static", "call_cond", "query")
#: The operations that change the target.
UPDATE_OPS = ("update", "update_many", "override")


def module_with_license(name, license):
    """A fresh module named ``name`` (registered in sys.modules) with the operations;
    ``license`` None means no ``__license__`` at all."""
    module = types.ModuleType(name)
    if license is not None:
        module.__license__ = license
    sys.modules[name] = module
    exec(compile(OPS_SOURCE, f"<{name}>", "exec"), module.__dict__)
    return module
