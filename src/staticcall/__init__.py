"""staticcall: the Linux kernel's static calls for CPython.

A *key* names a replaceable call target. The functions of packages named to
:func:`install` (or decorated with :func:`static_calls`) have their call sites of keys
rewritten to call the current target directly (or not at all, for NULL and RET0
targets); :func:`static_call_update` retargets every site.
"""

from __future__ import annotations

import importlib

from ._aliases import (
    DECLARE_STATIC_CALL,
    DECLARE_TRACE,
    DEFINE_STATIC_CALL,
    DEFINE_STATIC_CALL_NULL,
    DEFINE_STATIC_CALL_RET0,
    DEFINE_STATIC_KEY_DEFERRED_FALSE,
    DEFINE_STATIC_KEY_DEFERRED_TRUE,
    DEFINE_STATIC_KEY_FALSE,
    DEFINE_STATIC_KEY_TRUE,
    DEFINE_TRACE,
    EXPORT_STATIC_CALL,
    EXPORT_STATIC_CALL_GPL,
    EXPORT_STATIC_CALL_TRAMP,
    EXPORT_STATIC_CALL_TRAMP_GPL,
    jump_label_rate_limit,
    static_branch_deferred_inc,
    static_key_disable,
    static_key_enable,
    static_key_slow_dec,
    static_key_slow_dec_deferred,
    static_key_slow_inc,
)
from ._env import mode as _mode
from ._errors import (
    StaticCallError,
    StaticCallNullError,
    StaticCallPermissionError,
    StaticCallSignatureError,
    StaticCallWarning,
)
from ._exports import StaticCallHandle, declare_static_call, export_static_call
from ._keys import (
    StaticCall,
    define_static_call,
    define_static_call_null,
    define_static_call_ret0,
    static_call,
    static_call_cond,
    static_call_query,
    static_call_return0,
)
from ._static_keys import (
    StaticKey,
    define_static_key_deferred_false,
    define_static_key_deferred_true,
    define_static_key_false,
    define_static_key_true,
    static_branch_dec,
    static_branch_disable,
    static_branch_enable,
    static_branch_inc,
    static_branch_likely,
    static_branch_slow_dec_deferred,
    static_branch_unlikely,
    static_key_count,
    static_key_deferred_flush,
    static_key_enabled,
)
from ._tracepoints import (
    Tracepoint,
    define_tracepoint,
    register_probe,
    tracepoint_enabled,
    tracepoint_probes,
    unregister_probe,
)
from ._typing import TYPE_CHECKING
from ._update import static_call_override, static_call_update, static_call_update_many

__version__ = "0.1.0"

_mode()  # an unknown STATICCALL_MODE is an error at import

if TYPE_CHECKING:
    from typing import Any, TextIO

    from ._decorator import static_calls
    from ._install import install, uninstall
    from ._sites import Site, static_call_sites

#: Loaded at first use: the rewriter and the site table (and what they import: the
#: ``bytecode`` library, ``ctypes``, ``dataclasses``) are not needed until something is
#: decorated or the table is read.
_LAZY = {"static_calls": "_decorator", "Site": "_sites", "static_call_sites": "_sites",
         "install": "_install", "uninstall": "_install"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

#: The kernel's name for the RET0 function.
globals()["__static_call_return0"] = static_call_return0

__all__ = [
    "StaticCall",
    "StaticCallError",
    "StaticCallHandle",
    "StaticCallNullError",
    "StaticCallPermissionError",
    "StaticCallSignatureError",
    "StaticCallWarning",
    "Site",
    "declare_static_call",
    "define_static_call",
    "define_static_call_null",
    "define_static_call_ret0",
    "explain",
    "export_static_call",
    "install",
    "static_call",
    "static_call_cond",
    "static_call_override",
    "static_call_query",
    "static_call_return0",
    "static_call_sites",
    "static_call_update",
    "static_call_update_many",
    "static_calls",
    "uninstall",
    "DECLARE_STATIC_CALL",
    "DEFINE_STATIC_CALL",
    "DEFINE_STATIC_CALL_NULL",
    "DEFINE_STATIC_CALL_RET0",
    "EXPORT_STATIC_CALL",
    "EXPORT_STATIC_CALL_GPL",
    "EXPORT_STATIC_CALL_TRAMP",
    "EXPORT_STATIC_CALL_TRAMP_GPL",
    "__static_call_return0",
    "StaticKey",
    "Tracepoint",
    "define_static_key_deferred_false",
    "define_static_key_deferred_true",
    "define_static_key_false",
    "define_static_key_true",
    "define_tracepoint",
    "register_probe",
    "static_branch_dec",
    "static_branch_disable",
    "static_branch_enable",
    "static_branch_inc",
    "static_branch_likely",
    "static_branch_slow_dec_deferred",
    "static_branch_unlikely",
    "static_key_count",
    "static_key_deferred_flush",
    "static_key_enabled",
    "tracepoint_enabled",
    "tracepoint_probes",
    "unregister_probe",
    "DECLARE_TRACE",
    "DEFINE_STATIC_KEY_DEFERRED_FALSE",
    "DEFINE_STATIC_KEY_DEFERRED_TRUE",
    "DEFINE_STATIC_KEY_FALSE",
    "DEFINE_STATIC_KEY_TRUE",
    "DEFINE_TRACE",
    "jump_label_rate_limit",
    "static_branch_deferred_inc",
    "static_key_disable",
    "static_key_enable",
    "static_key_slow_dec",
    "static_key_slow_dec_deferred",
    "static_key_slow_inc",
]


def explain(func: Any, *, file: TextIO | None = None) -> str:
    """Show ``func``'s bytecode before and after ``@static_calls`` rewrites it, with each
    site marked; returns the text (and writes it to ``file`` if given). See
    :func:`staticcall.tools.explain.explain`."""
    from .tools.explain import explain as _explain

    return _explain(func, file=file)
