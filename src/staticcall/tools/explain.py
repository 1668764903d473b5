"""``explain(func)``: a function's bytecode before and after rewriting, sites marked.

For an undecorated function the text shows its own bytecode, with the instructions of
each site marked (the loads of the site's callable and the call that consumes it), then
the bytecode that ``@static_calls`` produces for it: a copy of the function is decorated
for the purpose (the function itself is left alone, and the copy's sites leave the table
when the copy is collected). For a decorated function the original bytecode is gone, so
the text shows its current code only.

In rewritten code each site is marked at its target constant ``T``, its shape switch
(the ``JUMP_FORWARD`` whose operand selects "call" or "no call", read live from the
code's instruction array, since ``co_code`` may be a cached copy) and its no-call value
``V``. A static key's branch site has only its switch, marked with the direction it
selects now ("branch: enabled" or "branch: disabled"); a tracepoint's site has its
switch ("tracepoint: probes called" or "tracepoint: skipped, arguments included") and
``T``, what the site calls while a probe is attached.
"""

from __future__ import annotations

import ctypes
import dis
import functools
import linecache
import types
from typing import Any, TextIO

from .. import _opcodes as op
from .._patch import Holder

_MARK = "<--"


def _unwrap(func: Any) -> types.FunctionType:
    """The Python function that holds the code of ``func``."""
    seen: set[int] = set()
    obj = func
    while id(obj) not in seen:
        seen.add(id(obj))
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        elif isinstance(obj, types.MethodType):
            obj = obj.__func__
        elif isinstance(obj, property) and obj.fget is not None:
            obj = obj.fget
        elif getattr(obj, "__wrapped__", None) is not None:
            obj = obj.__wrapped__
        else:
            break
    if not isinstance(obj, types.FunctionType):
        raise TypeError(f"explain() needs a Python function (or a method, staticmethod, "
                        f"classmethod or wrapper of one), not {type(func).__name__}")
    return obj


def _records_of(func: types.FunctionType) -> list[Any]:
    """The site records of ``func``: those owned by the function or by one of its code
    objects (the table keys records by a weak reference to their owner)."""
    from .. import _sites

    codes = {id(c): c for c in _codes(func.__code__)}
    out = []
    for ref, records in list(_sites.BY_FUNCTION.items()):
        owner = ref() if callable(ref) else None
        owned = owner is func or (owner is not None and codes.get(id(owner)) is owner)
        for rec in records:
            code = getattr(rec, "code", None)
            if owned or (code is not None and codes.get(id(code)) is code):
                out.append(rec)
    out.sort(key=lambda r: r.lineno)
    return out


def _is_decorated(func: types.FunctionType) -> bool:
    from .. import _decorator

    try:
        if func in _decorator.REWRITTEN:
            return True
    except TypeError:
        pass
    return bool(_records_of(func))


def _copy(func: types.FunctionType) -> types.FunctionType:
    new = types.FunctionType(func.__code__, func.__globals__, func.__name__,
                             func.__defaults__, func.__closure__)
    new.__kwdefaults__ = func.__kwdefaults__
    new.__qualname__ = func.__qualname__
    new.__module__ = func.__module__
    new.__doc__ = func.__doc__
    return new


def _codes(code: types.CodeType) -> list[types.CodeType]:
    """``code`` and every code object nested in it, depth first."""
    out = [code]
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out += _codes(c)
    return out


def _instructions(code: types.CodeType) -> list[dis.Instruction]:
    return [i for i in dis.get_instructions(code)
            if i.opname not in ("EXTENDED_ARG", "CACHE")]


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _listing(code: types.CodeType, marks: dict[int, list[str]]) -> list[str]:
    """A dis-like listing of ``code`` alone; ``marks`` maps offsets to notes."""
    lines = []
    new_style = op.DIS_HAS_LABELS
    for ins in dis.get_instructions(code):
        if ins.opname == "CACHE":
            continue
        if new_style:
            line = getattr(ins, "line_number", None) if ins.starts_line else None
            label = f"L{getattr(ins, 'label', None)}:" if getattr(ins, "label", None) else ""
        else:
            line = ins.starts_line
            label = ">>" if ins.is_jump_target else ""
        arg = "" if ins.arg is None else str(ins.arg)
        argrepr = _short(ins.argrepr, 44)
        text = (f"{'' if line is None else line:>6} {label:>4} {ins.offset:>5} "
                f"{ins.opname:<26} {arg:>4} {('(' + argrepr + ')') if argrepr else ''}")
        notes = marks.get(ins.offset)
        if notes:
            text = f"{text:<84} {_MARK} " + "; ".join(notes)
        lines.append(text.rstrip())
    return lines


def _describe(value: Any) -> str:
    from .._keys import static_call_return0

    if value is static_call_return0:
        return "static_call_return0"
    return _short(repr(value), 48)


# --------------------------------------------------------------------------------------
# The sites of original code, as the rewriter finds them.
# --------------------------------------------------------------------------------------

def _before_marks(code: types.CodeType, globals_: dict[str, Any],
                  numbers: dict[tuple[str, int, int], int]) -> dict[int, list[str]]:
    """Offsets of the instructions of each site of ``code`` (its own, not nested)."""
    from bytecode import Instr

    from .._decorator import resolver
    from .._rewrite import find_sites, read

    items = list(read(code))
    qualname = getattr(code, "co_qualname", code.co_name)
    sites = find_sites(items, code, globals_, resolver(globals_))
    if not sites:
        return {}
    ordinal: dict[int, int] = {}
    n = 0
    for k, item in enumerate(items):
        if isinstance(item, Instr):
            ordinal[k] = n
            n += 1
    instrs = _instructions(code)
    abstract = [item for item in items if isinstance(item, Instr)]
    if len(instrs) != len(abstract) or any(
            a.name != b.opname for a, b in zip(abstract, instrs)):
        return {}
    marks: dict[int, list[str]] = {}
    seen: dict[int, int] = {}
    for s in sites:
        nth = seen[s.lineno] = seen.get(s.lineno, 0) + 1
        number = numbers.get((qualname, s.lineno, nth))
        tag = f"[{number}]" if number is not None else "[site]"
        name = getattr(s.ref, "name", None) or getattr(s.ref, "__name__", "?")
        kind = getattr(s, "kind", "call")
        first = True
        for k in range(s.start, s.end):
            if k in ordinal:
                if kind == "branch":
                    what = f"the test: branch on static key {name!r}"
                elif kind == "tracepoint":
                    what = f"the callable: tracepoint {name!r}"
                else:
                    form = "static_call_cond" if s.cond else "static_call"
                    what = f"the callable: {form} of key {name!r}"
                marks.setdefault(instrs[ordinal[k]].offset, []).append(
                    f"{tag} {what}" if first else f"{tag} ...")
                first = False
        call_index = s.call_indices[0] if s.call_indices else -1
        if call_index in ordinal:
            marks.setdefault(instrs[ordinal[call_index]].offset, []).append(
                f"{tag} the call")
    return marks


# --------------------------------------------------------------------------------------
# Rewritten code, as the site table records it.
# --------------------------------------------------------------------------------------

def _switch_states(rec: Any, code: types.CodeType) -> list[tuple[int, str]]:
    """``(offset, description)`` of each of the site's shape switches in ``code``."""
    from .. import _patch

    kind = getattr(rec, "kind", "call")
    names = {"branch": ("branch", "enabled", "disabled"),
             "tracepoint": ("tracepoint", "probes called", "skipped, arguments included")}
    label, when_on, when_off = names.get(kind, ("switch", "call", "no call"))
    out = []
    for address, on, off in getattr(rec, "switches", None) or ():
        offset = address - _patch.operand_address(code, 0)
        live = _patch.read_operand(address)
        if live == on:
            shape = when_on
        elif live == off:
            shape = when_off
        else:
            shape = f"operand {live}"
        out.append((offset, f"{label}: {shape} (live operand {live})"))
    plt = getattr(rec, "plt", None)  # a late site's PLT switch (see _rewrite/late.py)
    if plt is not None:
        cell, bound = plt
        live = cell.value
        offset = ctypes.addressof(cell) - _patch.operand_address(code, 0)
        shape = "bound" if live == bound else "unbound: calls the binder"
        out.append((offset, f"binding: {shape} (live operand {live})"))
    return out


def _after_marks(code: types.CodeType, records: list[Any],
                 numbers: dict[int, int]) -> dict[int, list[str]]:
    marks: dict[int, list[str]] = {}
    mine = [r for r in records
            if getattr(r, "code", None) is code
            or (getattr(r, "consts", None) is not None and r.consts is code.co_consts)]
    if not mine:
        return marks
    instrs = _instructions(code)
    for rec in mine:
        tag = f"[{numbers[id(rec)]}]"
        indices = getattr(rec, "indices", None) or ()
        tracepoint = getattr(rec, "kind", "call") == "tracepoint"
        roles = (["T: called while a probe is attached"] if tracepoint
                 else ["T: target", "V: value when no call"])
        for role, index in zip(roles, indices):
            for ins in instrs:
                if ins.opname == "LOAD_CONST" and ins.arg == index:
                    value = rec.consts[index] if rec.consts is not None else None
                    if isinstance(value, Holder):
                        value = value.target  # T read from the site's holder
                    shown = _describe(value)
                    if tracepoint and value is rec.key:
                        shown += " (no probe attached)"
                    marks.setdefault(ins.offset, []).append(f"{tag} {role} = {shown}")
        for offset, text in _switch_states(rec, code):
            marks.setdefault(offset, []).append(f"{tag} {text}")
    return marks


def _site_lines(records: list[Any], numbers: dict[int, int]) -> list[str]:
    out = []
    for rec in records:
        site = rec.snapshot()
        key = getattr(site.key, "name", None) or repr(site.key)
        if site.kind == "branch":
            what = f"branch on static key {key!r}"
        elif site.kind == "tracepoint":
            what = f"tracepoint {key!r}"
        else:
            what = f"{'static_call_cond' if site.cond else 'static_call'} of key {key!r}"
        bits = [f"[{numbers[id(rec)]}] line {site.lineno} in {site.function}: {what}",
                f"state {site.state}"]
        if site.tail:
            bits.append("tail")
        bound = getattr(site, "bound_at", "processing")
        if bound != "processing":
            bits.append(f"bound at its {bound}" if bound else "not bound yet (binds at its "
                        "first execution)")
        if site.reason:
            bits.append(f"runtime path: {site.reason}")
        out.append("  " + ", ".join(bits))
    return out


def _section(title: str, func_code: types.CodeType, mark: Any) -> list[str]:
    out = [title]
    for code in _codes(func_code):
        qualname = getattr(code, "co_qualname", code.co_name)
        out.append("")
        out.append(f"  code {qualname} ({code.co_filename}:{code.co_firstlineno})")
        out += ["  " + line for line in _listing(code, mark(code))]
    return out


def _compiled_again(func: types.FunctionType) -> tuple[types.CodeType | None, str]:
    """The code object the compiler makes for ``func`` from its module's source now,
    and where that came from, or ``None`` and why not: a decorated function's own
    original bytecode is gone. The whole file is compiled, so that closures, methods
    and ``super()`` compile as they did; the function is found by qualified name and
    first line."""
    code = func.__code__
    filename = code.co_filename
    lines = linecache.getlines(filename, func.__globals__)
    if not lines:
        return None, f"no source for {filename}"
    try:
        module_code = compile("".join(lines), filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return None, f"{filename} does not compile now ({exc})"
    qualname = getattr(code, "co_qualname", code.co_name)
    for c in _codes(module_code):
        if (getattr(c, "co_qualname", c.co_name) == qualname
                and c.co_firstlineno == code.co_firstlineno
                and c.co_argcount == code.co_argcount and c.co_freevars == code.co_freevars):
            return c, f"compiled again from {filename}"
    return None, f"{filename} has no {qualname} at line {code.co_firstlineno} now"


def _place_numbers(records: list[Any], numbers: dict[int, int]) -> dict[tuple[str, int, int], int]:
    """Site numbers by (function, line, n-th site on that line): how the original
    bytecode's sites are matched to the table's."""
    by_place: dict[tuple[str, int, int], int] = {}
    count: dict[tuple[str, int], int] = {}
    for rec in records:
        k = (rec.function, rec.lineno)
        count[k] = count.get(k, 0) + 1
        by_place[(rec.function, rec.lineno, count[k])] = numbers[id(rec)]
    return by_place


def _rewritten(target: types.FunctionType) -> tuple[types.FunctionType, bool]:
    """The rewritten function for ``target`` (itself if decorated, else a decorated
    copy) and whether ``target`` was decorated."""
    if _is_decorated(target):
        return target, True
    import warnings

    from .._decorator import static_calls

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _unwrap(static_calls(_copy(target))), False


def _explain_function(func: Any) -> list[str]:
    from .._decorator import UNSUPPORTED

    target = _unwrap(func)
    code = target.__code__
    out = [f"explain {target.__module__}.{target.__qualname__} "
           f"({code.co_filename}:{code.co_firstlineno})"]
    after_func, decorated = _rewritten(target)
    records = _records_of(after_func)
    numbers = {id(r): n for n, r in enumerate(records, 1)}
    live = sum(1 for r in records if getattr(r, "code", None) is not None
               or getattr(r, "consts", None) is not None)
    out.append(f"{len(records)} site{'s' if len(records) != 1 else ''}: {live} rewritten, "
               f"{len(records) - live} on the runtime path"
               + ("" if UNSUPPORTED is None else f" (rewriting is off: {UNSUPPORTED})"))
    out += _site_lines(records, numbers)
    out.append("")
    by_place = _place_numbers(records, numbers)
    before: types.CodeType | None = code
    title = "--- before: the original bytecode ---"
    if decorated:
        before, source = _compiled_again(target)
        if before is None:
            out += [f"This function is decorated and its original bytecode is not kept; "
                    f"it cannot be compiled again: {source}.", ""]
        else:
            title = f"--- before: the original bytecode ({source}) ---"
    if before is not None:
        out += _section(title, before, functools.partial(
            _before_marks, globals_=target.__globals__, numbers=by_place))
        out.append("")
    title = "--- now: the decorated function's bytecode ---" if decorated else (
        "--- after @static_calls ---" + (" (unchanged)" if after_func.__code__ is code else ""))

    def after_marks(c: types.CodeType) -> dict[int, list[str]]:
        marks = _after_marks(c, records, numbers)
        # sites left on the runtime path still have their original instructions
        for offset, notes in _before_marks(c, after_func.__globals__, by_place).items():
            marks.setdefault(offset, []).extend(n + " (runtime path)" for n in notes)
        return marks

    return out + _section(title, after_func.__code__, after_marks)


def _class_members(cls: type) -> list[tuple[str, Any]]:
    """The members of ``cls`` that hold Python code, found as ``inspect.getattr_static``
    would (no descriptor runs), nested classes' included, in definition order."""
    out: list[tuple[str, Any]] = []
    for name, value in vars(cls).items():
        if isinstance(value, type) and value.__qualname__.startswith(cls.__qualname__ + "."):
            out += [(f"{name}.{n}", v) for n, v in _class_members(value)]
            continue
        if isinstance(value, property):
            parts = [(f"{name} (getter)", value.fget), (f"{name} (setter)", value.fset),
                     (f"{name} (deleter)", value.fdel)]
        elif isinstance(value, functools.cached_property):
            parts = [(name, value.func)]
        else:
            parts = [(name, value)]
        for label, member in parts:
            try:
                _unwrap(member)
            except TypeError:
                continue
            out.append((label, member))
    return out


def explain(func: Any, *, file: TextIO | None = None) -> str:
    """Show ``func``'s bytecode before and after ``@static_calls`` rewrites it, with each
    static call site marked; returns the text (and writes it to ``file`` if given).

    ``func`` may be undecorated (the rewrite is shown on a decorated copy; ``func`` is
    left alone) or decorated (its current code, and its original bytecode compiled
    again from its source file). Methods, ``staticmethod``/``classmethod`` objects,
    properties and ``functools.wraps`` wrappers are followed to the function that holds
    the code. A class shows every function of its body, nested classes' included.
    """
    if isinstance(func, type):
        members = _class_members(func)
        out = [f"explain class {func.__module__}.{func.__qualname__}: "
               f"{len(members)} function{'s' if len(members) != 1 else ''}"]
        for label, member in members:
            out += ["", f"=== {func.__qualname__}.{label} ===", *_explain_function(member)]
    else:
        out = _explain_function(func)
    text = "\n".join(out) + "\n"
    if file is not None:
        file.write(text)
    return text
