"""Give an existing function new code in place, as cheap to call as a fresh function.

Whole-package processing keeps every function object (a registry, a decorator or a
default argument may hold it), so it assigns ``__code__``. On CPython 3.13+ that clears
the function's version for good and calls to it stop specialising (11-25% slower). A
function made by ``MAKE_FUNCTION`` from the new code gets that code's version; this
module gives the existing function the same version, with ``_PyFunction_SetVersion``
(exported by 3.13+), which is what ``MAKE_FUNCTION`` itself calls. Where the version
field sits in the function object is found, and checked, once, by probing functions
made for the purpose; where that fails, the assignment alone is done (correct, and
``staticcall bench`` shows the cost).
"""

from __future__ import annotations

import ctypes
import types
from typing import Any

from . import _opcodes as op
from ._factory import make_function

_U32 = ctypes.c_uint32
_UNSET: Any = object()
_offset: Any = _UNSET
_set_version: Any = None


def _version(func: Any, offset: int) -> int:
    return int(_U32.from_address(id(func) + offset).value)


def _find_offset() -> int | None:
    """Where a function keeps its version: the one 4-byte field that two functions made
    from one code object share, a function made from another code object has different,
    and ``__code__`` assignment clears (to 0 or 1); ``None`` unless exactly one fits."""
    ns: dict[str, Any] = {}
    exec("def a(x):\n    return x\n\ndef b(y):\n    return y, y\n", ns)
    a, b = ns["a"], ns["b"]
    a1, a2, b1 = make_function(a.__code__, a), make_function(a.__code__, a), \
        make_function(b.__code__, b)
    cleared = make_function(a.__code__, a)
    cleared.__code__ = b.__code__
    size = type(a).__basicsize__
    found = []
    for offset in range(2 * ctypes.sizeof(ctypes.c_void_p), size - 3, 4):
        va, va2, vb, vc = (_version(f, offset) for f in (a1, a2, b1, cleared))
        if va == va2 >= 2 and vb >= 2 and vb != va and vc in (0, 1):
            found.append(offset)
    return found[0] if len(found) == 1 else None


def _layout() -> int | None:
    """The version field's offset where versions need restoring and can be (once)."""
    global _offset, _set_version
    if _offset is _UNSET:
        _offset = None
        setter = getattr(ctypes.pythonapi, "_PyFunction_SetVersion", None)
        if op.CODE_ASSIGNMENT_CLEARS_VERSION and setter is not None:
            setter.argtypes = [ctypes.py_object, ctypes.c_uint32]
            setter.restype = None
            _set_version = setter
            _offset = _find_offset()
            if _offset is not None and not _self_check(_offset):
                _offset = None
    return _offset  # type: ignore[no-any-return]


def _self_check(offset: int) -> bool:
    ns: dict[str, Any] = {}
    exec("def f(x):\n    return x\n\ndef g(x):\n    return -x\n", ns)
    f, g = ns["f"], ns["g"]
    _restore(f, g.__code__, offset)
    fresh = make_function(g.__code__, g)
    return f(3) == -3 and _version(f, offset) == _version(fresh, offset) >= 2


def _restore(func: types.FunctionType, code: types.CodeType, offset: int) -> None:
    func.__code__ = code
    fresh = make_function(code, func)  # MAKE_FUNCTION gives it the code's version
    version = _version(fresh, offset)
    if version >= 2:
        # _PyFunction_SetVersion expects a function that has none (debug builds check)
        _U32.from_address(id(func) + offset).value = 0
        _set_version(func, version)
    del fresh


def set_code(func: types.FunctionType, code: types.CodeType) -> None:
    """``func.__code__ = code``, keeping calls to ``func`` specialisable."""
    offset = _layout()
    if offset is None:
        func.__code__ = code
    else:
        _restore(func, code, offset)


def restores_versions() -> bool:
    """Whether :func:`set_code` restores function versions here (3.13+, layout known);
    on 3.11 and 3.12 the interpreter assigns a new version by itself."""
    return _layout() is not None
