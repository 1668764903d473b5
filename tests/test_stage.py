"""Staging's own reading of code: where jumps and exception handlers land."""

from __future__ import annotations

import dis
import email.generator
import email.utils
import json.decoder
import types

from staticcall import _stage
from staticcall._stage import jump_targets


def _codes(*modules: types.ModuleType) -> list[types.CodeType]:
    out = []
    for module in modules:
        assert module.__file__ is not None
        with open(module.__file__, encoding="utf-8") as f:
            todo = [compile(f.read(), module.__file__, "exec")]
        for code in todo:  # grows as it goes
            out.append(code)
            todo += [k for k in code.co_consts if isinstance(k, types.CodeType)]
    return out


def test_every_jump_target_is_found_and_each_is_an_instruction() -> None:
    codes = _codes(email.generator, email.utils, json.decoder)
    assert len(codes) > 50
    for code in codes:
        found = jump_targets(code)
        instrs = list(dis.get_instructions(code))
        assert {i.offset for i in instrs if i.is_jump_target} <= found, code
        assert found <= {i.offset for i in instrs}, code


def test_exception_handlers_are_targets() -> None:
    def handled(g: types.FunctionType) -> int:
        try:
            return g()  # type: ignore[no-any-return]
        except ValueError:
            return 1
        finally:
            g()

    handlers = [i.offset for i in dis.get_instructions(handled)
                if i.opname == "PUSH_EXC_INFO"]
    assert len(handlers) >= 2
    assert set(handlers) <= jump_targets(handled.__code__)


def test_the_fast_reading_of_jumps_is_used_and_agrees_with_dis() -> None:
    """Jump targets are read from the opcode bytes at once, not by ``dis``: checked
    against ``dis`` once per interpreter (a mismatch falls back to ``dis``, slowly)."""
    jump_targets(_codes(json.decoder)[0])
    assert _stage._fast is True
    for code in _codes(email.generator, email.utils, json.decoder):
        assert set(dis.findlabels(code.co_code)) <= _stage._fast_labels(code.co_code), code
