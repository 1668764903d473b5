"""What the environment asks of the package, read and checked once at import: a value it
does not know is an error naming the variable, never silently ignored."""

from __future__ import annotations

import os

from ._errors import StaticCallError


def _choice(name: str, allowed: tuple[str, ...], meaning: str) -> str:
    value = os.environ.get(name, "")
    if value not in allowed:
        raise StaticCallError(f"{name}={value!r} is not a choice: {meaning}")
    return value


def mode() -> str:
    """``STATICCALL_MODE``: ``"inline"`` (also when unset) or ``"trampoline"``."""
    value = _choice("STATICCALL_MODE", ("", "inline", "trampoline"),
                    "use 'inline', 'trampoline' or leave it unset")
    return value or "inline"


def accel() -> str:
    """``STATICCALL_ACCEL``: ``"1"`` (require the compiled accelerator), ``"0"`` (pure
    Python) or ``""`` (use it when it is built)."""
    return _choice("STATICCALL_ACCEL", ("", "0", "1"),
                   "use 1 (require the compiled accelerator), 0 (pure Python) or leave it "
                   "unset (use it when built)")


def packages() -> str:
    """``STATICCALL_PACKAGES``: the packages ``staticcall.install`` processes from
    start-up, comma-separated (read by the start-up hook, ``_install``)."""
    return os.environ.get("STATICCALL_PACKAGES", "")
