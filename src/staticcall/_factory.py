"""Make a function object the way ``def`` does: with the MAKE_FUNCTION opcode.

On CPython 3.13+ a function whose ``__code__`` (or defaults) was assigned never gets
a function version again, so calls *to* it stop specialising. A function made by
MAKE_FUNCTION gets a fresh version, so the decorator builds the rewritten function by
running a tiny factory code object -- built once per flag combination, then only its
constants are swapped -- with the original's globals.
"""

from __future__ import annotations

import functools
import types
from typing import Any

from bytecode import Bytecode, Instr

from . import _opcodes as op

_DEFAULTS, _KWDEFAULTS, _CLOSURE = 0x01, 0x02, 0x08


class _Const:
    """Unique placeholder so that each operand gets its own constant slot."""


@functools.lru_cache(maxsize=None)
def _template(flags: int) -> tuple[types.CodeType, dict[str, int]]:
    slots = {name: _Const() for name in ("code", "defaults", "kwdefaults", "closure")}
    operands = [("defaults", _DEFAULTS), ("kwdefaults", _KWDEFAULTS), ("closure", _CLOSURE)]
    ins: list[Any] = [Instr("RESUME", 0)]
    if not op.MAKE_FUNCTION_TAKES_FLAGS:
        ins.append(Instr("LOAD_CONST", slots["code"]))
        ins.append(Instr("MAKE_FUNCTION"))
        for name, flag in reversed(operands):
            if flags & flag:
                ins += [Instr("LOAD_CONST", slots[name]), Instr("SWAP", 2),
                        Instr("SET_FUNCTION_ATTRIBUTE", flag)]
    else:
        for name, flag in operands:
            if flags & flag:
                ins.append(Instr("LOAD_CONST", slots[name]))
        ins.append(Instr("LOAD_CONST", slots["code"]))
        ins.append(Instr("MAKE_FUNCTION", flags))
    ins.append(Instr("RETURN_VALUE"))
    bc = Bytecode(ins)
    bc.name = "<staticcall factory>"
    code = bc.to_code()
    index = {name: next(i for i, c in enumerate(code.co_consts) if c is slot)
             for name, slot in slots.items() if any(c is slot for c in code.co_consts)}
    return code, index


def make_function(code: types.CodeType, like: types.FunctionType) -> types.FunctionType:
    """A new function running ``code`` with ``like``'s globals, defaults and closure."""
    flags = ((_DEFAULTS if like.__defaults__ is not None else 0)
             | (_KWDEFAULTS if like.__kwdefaults__ is not None else 0)
             | (_CLOSURE if like.__closure__ is not None else 0))
    template, index = _template(flags)
    consts = list(template.co_consts)
    values = {"code": code, "defaults": like.__defaults__, "kwdefaults": like.__kwdefaults__,
              "closure": like.__closure__}
    for name, i in index.items():
        consts[i] = values[name]
    factory = template.replace(co_consts=tuple(consts))
    func: types.FunctionType = eval(factory, like.__globals__)
    # Attributes that do not affect the function's version.
    func.__qualname__ = like.__qualname__
    func.__name__ = like.__name__
    func.__module__ = like.__module__
    func.__doc__ = like.__doc__
    func.__dict__ = like.__dict__
    if op.HAS_ANNOTATE:
        annotate = getattr(like, "__annotate__", None)
        if annotate is not None:
            func.__annotate__ = annotate  # type: ignore[attr-defined, unused-ignore]
        elif like.__dict__.get("__annotations__") is not None or _has_plain_annotations(like):
            func.__annotations__ = like.__annotations__
    else:
        func.__annotations__ = like.__annotations__
    if op.HAS_TYPE_PARAMS:
        func.__type_params__ = like.__type_params__  # type: ignore[attr-defined, unused-ignore]
    return func


def _has_plain_annotations(func: types.FunctionType) -> bool:
    try:
        return bool(func.__annotations__)
    except Exception:
        return False
