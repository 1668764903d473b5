"""The version table: every difference between CPython versions that staticcall relies
on, read once at import. Nothing else in the package reads ``sys.version_info``; a new
CPython version's differences go here (see DEVELOPERS.md).

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

#: The versions whose bytecode the rewriter knows.
SUPPORTED = (3, 11) <= PY <= (3, 15)


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
#: CPython's JIT tracer race (gh-157740): under 3.15's JIT, two threads running one loop can
#: crash the interpreter (SIGSEGV in ``_PyJit_translate_single_bytecode_to_trace``), with or
#: without staticcall; the tests then run one thread per loop. No 3.15 release has the fix
#: (python/cpython#157855; 3.15.2 lacks it): once one does, bound ``sys.version_info`` here.
JIT_TRACER_RACE = PY == (3, 15) and JIT

#: Whether the NULL of a call goes below the callable (3.11, 3.12) or above it.
NULL_BELOW = PY < (3, 13)
#: ``CALL_FUNCTION_EX`` always takes a kwargs slot (NULL when there are none); before
#: 3.14 only when its flag says so.
CALL_EX_ALWAYS_HAS_KWARGS = PY >= (3, 14)
#: 3.11's ``LOAD_FAST`` raises if the local is unbound (3.12+ compiles a separate
#: ``LOAD_FAST_CHECK`` where that can happen), and there is no ``LOAD_FAST_AND_CLEAR``.
LOAD_FAST_CHECKS_BINDING = PY == (3, 11)
#: 3.12 reports a second line event when a Python call returns straight into a jump
#: target on the same line: a site's landing label needs a NOP first.
NOP_BEFORE_LANDING = PY == (3, 12)
#: ``MAKE_FUNCTION`` takes its flags as operand (3.13+: ``SET_FUNCTION_ATTRIBUTE``).
MAKE_FUNCTION_TAKES_FLAGS = PY < (3, 13)
#: Functions have ``__type_params__`` (3.12+) and ``__annotate__`` (3.14+).
HAS_TYPE_PARAMS = PY >= (3, 12)
HAS_ANNOTATE = PY >= (3, 14)
#: Assigning ``__code__`` clears a function's version for good (3.13+).
CODE_ASSIGNMENT_CLEARS_VERSION = PY >= (3, 13)
#: A tuple caches its hash in the word before its items (3.14+).
TUPLE_HASH_CACHED = PY >= (3, 14)
#: ``sys.monitoring`` exists (3.12+): whole-package processing catches a function's first
#: call with a ``PY_START`` event (``_trigger``); on 3.11 it stages first-call stubs.
HAS_MONITORING = PY >= (3, 12)
#: ``dis`` reports line numbers and labels the 3.13 way.
DIS_HAS_LABELS = PY >= (3, 13)
#: A relative jump's operand counts from the end of its inline caches (3.12+), not from
#: the instruction after it.
JUMPS_COUNT_CACHES = PY >= (3, 12)
#: Position of the callable among the values a call instruction consumes.
CALLABLE_INDEX = 1 if NULL_BELOW else 0


CALL_NAMES = frozenset({"CALL", "CALL_KW", "CALL_FUNCTION_EX"})
#: The call with keyword names (3.13+; before, ``KW_NAMES`` then ``CALL``).
CALL_KW = "CALL_KW"
#: Instructions of a call group that sit between the last argument and the call.
CALL_PREFIX = frozenset({"KW_NAMES", "PRECALL"})
#: What may sit between a call's arguments and the call itself (3.11).
PRECALL = "PRECALL"

#: Loads that only push a constant or a bound local: arguments made only of these can be
#: skipped by a site that makes no call (3.11's LOAD_FAST checks binding: not one of them).
PURE_LOADS = frozenset({
    "LOAD_CONST", "LOAD_SMALL_INT", "LOAD_FAST_BORROW", "LOAD_FAST_LOAD_FAST",
    "LOAD_FAST_BORROW_LOAD_FAST_BORROW", "NOP",
} | (set() if LOAD_FAST_CHECKS_BINDING else {"LOAD_FAST"}))
#: Instructions that run no Python code and never let another thread in.
ATOMIC_LOADS = frozenset({
    "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_FAST_LOAD_FAST",
    "LOAD_FAST_BORROW_LOAD_FAST_BORROW", "LOAD_CONST", "LOAD_SMALL_INT", "LOAD_DEREF",
    "LOAD_GLOBAL", "PUSH_NULL", "NOP", "BUILD_TUPLE", "KW_NAMES",
})
#: Instructions that bind or unbind a local or cell variable, or hand a cell to nested
#: code that may (a comprehension with ``:=`` is a nested function up to 3.11).
LOCAL_STORES = frozenset({
    "STORE_FAST", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST", "STORE_FAST_MAYBE_NULL",
    "DELETE_FAST", "STORE_DEREF", "DELETE_DEREF", "LOAD_CLOSURE",
})
#: How a drop block takes a local's value off it to park it (3.12+ clears the local).
PARK_LOCAL = "LOAD_FAST" if LOAD_FAST_CHECKS_BINDING else "LOAD_FAST_AND_CLEAR"

#: A branch site's test: what converts a call's result to a bool (3.13+), and each
#: conditional jump with whether it jumps when the value is true (3.11 names the
#: direction; its backward jumps are not listed: a branch site must jump forward).
TO_BOOL = frozenset({"TO_BOOL"})
BRANCH_JUMPS = {"POP_JUMP_IF_FALSE": False, "POP_JUMP_FORWARD_IF_FALSE": False,
                "POP_JUMP_IF_TRUE": True, "POP_JUMP_FORWARD_IF_TRUE": True}
#: What follows a conditional jump for branch monitoring (3.14+).
AFTER_BRANCH = "NOT_TAKEN"
#: Names its loop's END_SEND for sys.monitoring only: never jumps there (3.14+).
JUMP_FOR_MONITORING_ONLY = frozenset({"END_ASYNC_FOR"})


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
        if isinstance(instr.arg, str):  # 3.11: no method-style LOAD_ATTR
            return instr.arg, False
        method, name = instr.arg
        return name, bool(method)
    return None


def load_attr(name: str, location: Any, with_null: bool = False) -> Instr:
    """An attribute load of ``name``; ``with_null``: method-style, which for a plain
    attribute pushes a NULL with it (in the order of ``NULL_BELOW``), 3.12+ only."""
    if LOAD_FAST_CHECKS_BINDING:
        assert not with_null
        return Instr("LOAD_ATTR", name, location=location)
    return Instr("LOAD_ATTR", (with_null, name), location=location)


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
        if CALL_EX_ALWAYS_HAS_KWARGS:
            return 4
        return 4 if arg & 1 else 3
    return None

