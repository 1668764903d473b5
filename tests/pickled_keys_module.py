"""Keys for pickling by reference: found by attribute name in this module."""

import functools

from staticcall import define_static_call, define_static_call_null


def on_item(x):
    """The prototype of ``trace``."""


def double(x):
    return 2 * x


# the attribute name differs from the key's name ("on_item") and qualname
trace = define_static_call_null(on_item)
doubler = define_static_call(double, name="doubler")


class Service:
    hook = define_static_call(double, name="service_hook")


holder = {"keys": [trace, doubler, Service.hook], "bound": functools.partial(doubler, 21)}


def make_local_key():
    return define_static_call(double, name="local_key")


def negate(x):
    return -x


def start_up():
    """A worker process's initializer: the targets it sets are that process's own."""
    from staticcall import static_call_update

    static_call_update(doubler, negate)


def call_with(key, x):
    """Run in a worker: ``key`` arrives pickled by reference, as that process's key."""
    return key(x)
