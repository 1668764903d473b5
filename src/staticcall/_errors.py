"""The exception hierarchy of the contract."""

from __future__ import annotations

TYPE_CHECKING = False  # as _typing does, which imports this module

if TYPE_CHECKING:
    from pickle import PicklingError

__all__ = [
    "StaticCallError",
    "StaticCallNullError",
    "StaticCallSignatureError",
    "StaticCallPermissionError",
    "StaticCallWarning",
]


class StaticCallError(Exception):
    """Base class of every error raised by staticcall."""


class StaticCallNullError(StaticCallError, TypeError):
    """A ``static_call`` of a key whose target is NULL."""


class StaticCallSignatureError(StaticCallError, TypeError):
    """A target whose signature cannot accept every call the key's prototype accepts."""


class StaticCallPermissionError(StaticCallError, PermissionError):
    """An operation that an export does not allow (update through a trampoline-only
    handle, or use of a GPL-only export from a module that is not GPL-compatible)."""


class StaticCallWarning(UserWarning):
    """Something works, but not the way it would on a supported interpreter."""


if TYPE_CHECKING:
    class StaticCallPicklingError(StaticCallError, PicklingError):
        """A key that cannot be pickled by reference."""
else:
    def __getattr__(name):
        # made at first use: it must be a pickle.PicklingError, and pickle is not loaded
        # until something pickles
        if name != "StaticCallPicklingError":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from pickle import PicklingError

        class StaticCallPicklingError(StaticCallError, PicklingError):
            """A key that cannot be pickled by reference: it is not reachable by name from
            the module that defined it (internal subclass; ``StaticCallError`` is the
            contract)."""

        StaticCallPicklingError.__module__ = "staticcall"
        globals()[name] = StaticCallPicklingError
        return StaticCallPicklingError


# Tracebacks and reprs name the public classes where users import them from.
for _cls in (StaticCallError, StaticCallNullError, StaticCallSignatureError,
             StaticCallPermissionError, StaticCallWarning):
    _cls.__module__ = "staticcall"
del _cls
