"""Every difference between CPython versions' bytecode that the rewriter relies on.

Call sites compile to (stack grows to the right; ``c`` is the callable):

    3.11      PUSH_NULL c args.. [KW_NAMES] PRECALL n CALL n
    3.12      PUSH_NULL c args.. [KW_NAMES] CALL n
    3.13+     c PUSH_NULL args.. CALL n   |   c NULL args.. LOAD_CONST names CALL_KW n
    *, **     c/NULL posargs kwargs CALL_FUNCTION_EX (3.14+: kwargs is NULL when absent)

``LOAD_GLOBAL (True, name)`` pushes the value and a NULL (in that version's order);
a method-style attribute load (``LOAD_METHOD`` on 3.11, ``LOAD_ATTR (True, name)``
later) pushes ``NULL, value`` or ``value, NULL`` for a non-method attribute.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from bytecode import Instr

PY = sys.version_info[:2]


def _jit_enabled() -> bool:
    jit = getattr(sys, "_jit", None)
    if jit is not None:
        return bool(jit.is_enabled())
    # 3.13 has no sys._jit; its optimizer runs only when asked for.
    return PY == (3, 13) and bool(os.environ.get("PYTHON_JIT") not in (None, "", "0")
                                  or os.environ.get("PYTHON_UOPS"))


#: Whether an optimizer builds traces that bake constants in (3.13 with its optimizer
#: asked for, 3.14+ with ``PYTHON_JIT=1``).
JIT = hasattr(sys, "_clear_internal_caches") and _jit_enabled()

#: Where a rewritten site reads its target (see ``_patch``). ``LOAD_CONST`` pushes a
#: borrowed reference on 3.15 (an update could free a target a frame still holds) and
#: optimizer traces bake constants in (every update would have to drop them), so there
#: a site reads a slot of its own holder object instead (``LOAD_CONST holder;
#: LOAD_ATTR target``), which pushes a new reference and is read afresh by traces.
TARGET_IN_HOLDER = PY >= (3, 15) or JIT

#: Whether the NULL of a call goes below the callable (3.11, 3.12) or above it.
NULL_BELOW = PY < (3, 13)
#: Position of the callable among the values a call instruction consumes.
CALLABLE_INDEX = 1 if NULL_BELOW else 0


CALL_NAMES = frozenset({"CALL", "CALL_KW", "CALL_FUNCTION_EX"})
#: Instructions of a call group that sit between the last argument and the call.
CALL_PREFIX = frozenset({"KW_NAMES", "PRECALL"})


def global_load(instr: Any) -> tuple[str, bool] | None:
    """``(name, pushes_null)`` for a ``LOAD_GLOBAL``."""
    if isinstance(instr, Instr) and instr.name == "LOAD_GLOBAL":
        push_null, name = instr.arg
        return name, bool(push_null)
    return None


def attr_load(instr: Any) -> tuple[str, bool] | None:
    """``(name, method_style)`` for an attribute load (``LOAD_ATTR``/``LOAD_METHOD``)."""
    if not isinstance(instr, Instr):
        return None
    if instr.name == "LOAD_METHOD":
        return instr.arg, True
    if instr.name == "LOAD_ATTR":
        if PY == (3, 11):
            return instr.arg, False
        method, name = instr.arg
        return name, bool(method)
    return None


def load_attr(name: str, location: Any) -> Instr:
    """A plain (not method-style) attribute load of ``name``."""
    return Instr("LOAD_ATTR", name if PY == (3, 11) else (False, name), location=location)


def call_pops(instr: Any) -> int | None:
    """How many stack values a call instruction consumes (``None``: not a call).

    ``PRECALL`` (3.11) is treated as consuming nothing: its ``CALL`` does.
    """
    if not isinstance(instr, Instr):
        return None
    name = instr.name
    arg: int = instr.arg  # an int for the call instructions below
    if name == "CALL":
        return arg + 2
    if name == "CALL_KW":
        return arg + 3
    if name == "CALL_FUNCTION_EX":
        if PY >= (3, 14):
            return 4
        return 4 if arg & 1 else 3
    return None


def stack_effect(instr: Any, jump: bool) -> tuple[int, int]:
    """``(popped, pushed)`` of an instruction, as counts.

    Exact for calls; for anything else the net effect stands for both (an instruction
    that pops and pushes is seen as touching only the difference). That is enough here:
    compiled code never hands a call's callable to anything but its call.
    """
    pops = call_pops(instr)
    if pops is not None:
        return pops, 1
    if instr.name in CALL_PREFIX:
        return 0, 0
    net = instr.stack_effect(jump=jump)
    return max(0, -net), max(0, net)
