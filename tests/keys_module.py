"""Keys defined in a module of their own (for __module__, declarations and doctest)."""

from staticcall import define_static_call


def triple(x):
    return 3 * x


rt_declared_key = define_static_call(triple, name="rt_declared_key")


def make_key():
    """A key defined by a function of this module, called from elsewhere."""
    return define_static_call(triple, name="made_here")


def _doubled(x):
    """Double ``x``.

    >>> rt_doctested(21)
    42
    """
    return 2 * x


rt_doctested = define_static_call(_doubled, name="rt_doctested")
