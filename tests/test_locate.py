"""Locating a site's constants and switches reads the assembled code with its own small
decoder (``_rewrite.locate.instructions``): it must see what ``dis`` sees."""

from __future__ import annotations

import dis
import pathlib
import types
from typing import Iterator

import rewrite_helpers as rw
import staticcall
from staticcall import define_static_call_null, static_call, static_call_cond, static_calls
from staticcall._rewrite.locate import instructions


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes(c)


def _same_as_dis(code: types.CodeType) -> None:
    mine = instructions(code)
    ref = list(dis.get_instructions(code))
    assert [(i.offset, i.opname, i.arg) for i in mine] == \
        [(i.offset, i.opname, i.arg or 0) for i in ref], code
    for a, b in zip(mine, ref):
        if b.opname == "JUMP_FORWARD":
            assert a.argval == b.argval, (code, b)


def test_decoder_matches_dis_on_the_package_sources() -> None:
    root = pathlib.Path(staticcall.__file__).parent
    for path in sorted(root.rglob("*.py")):
        for code in _codes(compile(path.read_text(encoding="utf-8"), str(path), "exec")):
            _same_as_dis(code)


def test_decoder_matches_dis_on_rewritten_code_with_extended_args() -> None:
    key = define_static_call_null(name="locate_k")
    args = ", ".join(f"a{i}" for i in range(120))
    # 300 constants first: the sites' constants are loaded with an EXTENDED_ARG
    consts = "".join(f"    c = {1000 + i}\n" for i in range(300))
    source = (f"def f(x, {args}):\n{consts}"
              f"    static_call_cond(K)(x, {args})\n"
              f"    y = static_call(K)(str(x), {args})\n"
              f"    return [static_call_cond(K)(v) for v in range(x)], y\n")
    _, other = rw.twin(source, {"K": key, "static_call": static_call,
                               "static_call_cond": static_call_cond}, stem="locate")
    for code in rw.code_objects(static_calls(other["f"])):
        assert any(i.opname == "EXTENDED_ARG" for i in instructions(code)) or code.co_name != "f"
        _same_as_dis(code)
