"""The exception hierarchy of the contract."""

from __future__ import annotations

try:  # the class pickle.PicklingError is, without importing all of pickle
    from _pickle import PicklingError
except ImportError:
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


class StaticCallPicklingError(StaticCallError, PicklingError):
    """A key that cannot be pickled by reference: it is not reachable by name from the
    module that defined it (internal subclass; ``StaticCallError`` is the contract)."""


# Tracebacks and reprs name the public classes where users import them from.
for _cls in (StaticCallError, StaticCallNullError, StaticCallSignatureError,
             StaticCallPermissionError, StaticCallWarning):
    _cls.__module__ = "staticcall"
del _cls
