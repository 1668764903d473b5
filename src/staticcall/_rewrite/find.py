"""Stage 1, find: the instructions that load a site's callable, and branch sites.

A linear scan for a global load followed by attribute loads (``K``, ``mod.K``,
``sc.static_call``) whose value, looked up in the function's globals now, is a key,
handle or tracepoint (``K(args)``), or is ``static_call``/``static_call_cond`` applied at
once to one (``static_call(K)(args)``). A branch site is ``static_branch_unlikely(K)``
(or ``_likely``) called and tested at once by a conditional jump: the whole group, jump
included, is the site.

The resolver says what a value is: ``("key", key)``, ``("handle", handle[, why not])``,
``("tracepoint", key)``, ``("branch",)`` for ``static_branch_likely``/``_unlikely``,
``("static_key", key)``, or ``None``.
"""

from __future__ import annotations

import types
from typing import Any, Callable

from bytecode import Instr

from .. import _opcodes as op
from .._keys import static_call, static_call_cond
from .found import FoundSite, UnboundName

# (kind, key or handle[, why the site cannot bind]) or None
Resolver = Callable[[Any], tuple[Any, ...] | None]

#: what the stack holds after a load that pushes a NULL with its value
_WITH_NULL = ["N", "V"] if op.NULL_BELOW else ["V", "N"]


def _lookup(globals_: dict[str, Any], name: str) -> Any:
    if name in globals_:
        return globals_[name]
    builtins = globals_.get("__builtins__")
    if isinstance(builtins, types.ModuleType):
        builtins = builtins.__dict__
    if isinstance(builtins, dict) and name in builtins:
        return builtins[name]
    raise LookupError(name)


def _chain(items: list[Any], i: int, globals_: dict[str, Any]) -> tuple[int, Any, list[str]] | None:
    """A global load followed by attribute loads: ``(end, value, shape)``.

    ``shape`` is the mini-stack the loads leave: "N" for a NULL, "V" for a value.
    """
    g = op.global_load(items[i])
    if g is None:
        return None
    name, push_null = g
    try:
        value = _lookup(globals_, name)
    except LookupError:
        return None
    shape = list(_WITH_NULL) if push_null else ["V"]
    j = i + 1
    while j < len(items):
        a = op.attr_load(items[j])
        # attribute loads apply to the value on top; after a NULL the chain is over
        if a is None or shape[-1] != "V":
            break
        attr, method = a
        try:
            value = getattr(value, attr)
        except Exception:
            return None
        shape.pop()
        shape.extend(_WITH_NULL if method else ["V"])
        j += 1
        if method:
            break
    # 3.13+ compiles a call of an attribute of a module imported in the same file as a
    # plain attribute load followed by PUSH_NULL (no method-style load).
    if (not op.NULL_BELOW and shape == ["V"] and j < len(items)
            and _is(items[j], "PUSH_NULL")):
        shape.append("N")
        j += 1
    return j, value, shape


def _is(item: Any, name: str) -> bool:
    return isinstance(item, Instr) and item.name == name


def _site(ref: tuple[Any, ...], cond: bool, lineno: int, qualname: str, filename: str,
          start: int, end: int, shape: list[str]) -> FoundSite:
    return FoundSite(ref[1], cond=cond, lineno=lineno, qualname=qualname, filename=filename,
                     reason=ref[2] if len(ref) > 2 else None, start=start, end=end,
                     null_flags=[s == "N" for s in shape])


def _plain_chain(items: list[Any], i: int) -> tuple[int, str] | None:
    """A global load followed by plain attribute loads at ``items[i]`` (``K``,
    ``mod.K``): ``(end, "mod.K")``, whatever the names are bound to."""
    g = op.global_load(items[i]) if i < len(items) else None
    if g is None or g[1]:
        return None
    names = [g[0]]
    j = i + 1
    while j < len(items):
        a = op.attr_load(items[j])
        if a is None or a[1]:
            break
        names.append(a[0])
        j += 1
    return j, ".".join(names)


def _key_call(items: list[Any], i: int, end: int, shape: list[str], cond: bool,
              globals_: dict[str, Any], resolve: Resolver, lineno: int, qualname: str,
              filename: str) -> FoundSite | None:
    """``static_call(K)`` whose ``static_call`` load is ``items[i:end]``. A ``K`` that is
    not a key (or handle) yet, a global name or a plain attribute chain, makes a late
    site: it binds at its first execution."""
    if shape.count("V") != 1:
        return None
    k = _chain(items, end, globals_)
    ref = resolve(k[1]) if k is not None and k[2] == ["V"] else None
    late = None
    if ref is None:
        late = _plain_chain(items, end)
        if late is None:
            return None
        j = late[0]
    else:
        assert k is not None
        j = k[0]
    while j < len(items) and _is(items[j], op.PRECALL):
        j += 1
    if j >= len(items) or not _is(items[j], "CALL") or items[j].arg != 1:
        return None
    # the inner call consumes static_call (+ its NULL) and K, leaving a value
    if len(shape) + 1 < 3:
        return None
    rest = shape[:-2] + ["V"]
    if late is not None:
        ref = ("late", UnboundName(late[1]))
    assert ref is not None
    site = _site(ref, cond, lineno, qualname, filename, i, j + 1, rest)
    if late is not None:
        # the original's static_call load, then K's load and the call up to CALL 1
        site.late = True
        site.late_load = [items[i]] + items[end:j + 1]
    # The outer call's own PUSH_NULL sits right before (3.11, 3.12) or right after
    # (3.13+) ``static_call(K)``: the site takes it in, so that its load pushes
    # everything the call consumes below its arguments.
    if site.null_flags == [False]:
        if op.NULL_BELOW and i and _is(items[i - 1], "PUSH_NULL"):
            site.start, site.null_flags = i - 1, [True, False]
        elif not op.NULL_BELOW and j + 1 < len(items) and _is(items[j + 1], "PUSH_NULL"):
            site.end, site.null_flags = j + 2, [False, True]
    return site


def _branch(items: list[Any], i: int, end: int, shape: list[str], globals_: dict[str, Any],
            resolve: Resolver, lineno: int, qualname: str,
            filename: str) -> FoundSite | None:
    """``static_branch_unlikely(K)`` whose function load is ``items[i:end]``, tested at
    once: ``[PRECALL] CALL 1 [TO_BOOL] [UNARY_NOT] POPop.BRANCH_JUMPS_x L [NOT_TAKEN]``."""
    if shape.count("V") != 1 or "N" not in shape:
        return None
    k = _chain(items, end, globals_)
    if k is None or k[2] != ["V"]:
        return None
    ref = resolve(k[1])
    if ref is None or ref[0] != "static_key":
        return None
    j = k[0]
    while j < len(items) and _is(items[j], op.PRECALL):
        j += 1
    if j >= len(items) or not _is(items[j], "CALL") or items[j].arg != 1:
        return None
    j += 1
    while j < len(items) and isinstance(items[j], Instr) and items[j].name in op.TO_BOOL:
        j += 1
    negated = j < len(items) and _is(items[j], "UNARY_NOT")
    j += negated
    jump = items[j] if j < len(items) else None
    if not isinstance(jump, Instr) or not jump.name.startswith("POP_JUMP_"):
        return None
    end = j + 1
    if end < len(items) and _is(items[end], op.AFTER_BRANCH):
        end += 1
    site = FoundSite(ref[1], cond=False, kind="branch", lineno=lineno, qualname=qualname,
                     filename=filename, start=i, end=end, jump_to=jump.arg)
    if jump.name not in op.BRANCH_JUMPS:
        site.reason = f"its test jumps with {jump.name}"  # 3.11's backward loop tests
    else:
        site.jumps_when_enabled = op.BRANCH_JUMPS[jump.name] != negated
    return site


#: Values whose attributes never lead to a site: skipped by ``may_hold_sites``.
_LEAVES = (int, float, complex, str, bytes, bool, type(None), tuple, list, dict, set,
           frozenset, types.BuiltinFunctionType, types.MethodType)
#: How deep ``may_hold_sites`` follows attributes (``pkg.mod.sub.K``).
_DEPTH = 4


def may_hold_sites(code: types.CodeType, globals_: dict[str, Any], resolve: Resolver) -> bool:
    """Whether ``code``'s own instructions may load a site's callable, from its names
    alone (no bytecode is read): some global it names is, or holds through attributes it
    also names, ``static_call``/``static_call_cond`` or something ``resolve`` knows.
    ``False`` proves it has no site. Attributes are looked up in ``__dict__``s only (no
    property or ``__getattr__`` runs); where one may compute a value, the answer is
    ``True`` and the bytecode is read."""
    names = code.co_names
    attrs = frozenset(names)
    seen: set[int] = set()
    for name in names:
        try:
            value = _lookup(globals_, name)
        except LookupError:
            continue
        if _leads_to_site(value, attrs, resolve, _DEPTH, seen):
            return True
    return False


_MISSING = object()
_HEAPTYPE = 1 << 9


def _heap(cls: type) -> bool:
    """Whether ``cls`` was made by a class statement (not built in)."""
    return bool(type.__dict__["__flags__"].__get__(cls) & _HEAPTYPE)


def _is_candidate(value: Any, resolve: Resolver) -> bool:
    return value is static_call or value is static_call_cond or resolve(value) is not None


def _namespaces(value: Any) -> tuple[list[Any], bool] | None:
    """The dicts an attribute of ``value`` is found in, in lookup order, and whether a
    hook (``__getattr__``, ``__getattribute__``) may compute attributes; ``None``: not
    known statically."""
    if isinstance(value, types.ModuleType):
        d = vars(value)
        return [d], "__getattr__" in d
    try:
        mro = type.__dict__["__mro__"].__get__(type(value))
        if isinstance(value, type):
            own = list(type.__dict__["__mro__"].__get__(value))
        else:
            inst = getattr(value, "__dict__", None)
            own = [inst] if isinstance(inst, dict) else []
        # a built-in class's attributes are its own descriptors, never a key
        spaces = [c if isinstance(c, dict) else vars(c) for c in own + list(mro)
                  if isinstance(c, dict) or _heap(c)]
    except Exception:
        return None
    # __getattr__ anywhere, or a __getattribute__ of a class written in Python (every
    # built-in class lists its generic one)
    hooks = any("__getattr__" in vars(c) or "__getattribute__" in vars(c) and _heap(c)
                for c in mro)
    return [d for d in spaces if isinstance(d, (dict, types.MappingProxyType))], hooks


def _leads_to_site(value: Any, attrs: frozenset[str], resolve: Resolver, depth: int,
                   seen: set[int]) -> bool:
    if _is_candidate(value, resolve):
        return True
    if depth == 0 or isinstance(value, _LEAVES) or id(value) in seen:
        return False
    seen.add(id(value))
    found = _namespaces(value)
    if found is None:
        return True
    spaces, hooks = found
    for attr in attrs:
        inner = next((d[attr] for d in spaces if attr in d), _MISSING)
        if inner is _MISSING:
            if hooks:
                return True  # a __getattr__ may make it
            continue
        if _is_candidate(inner, resolve):
            return True
        if isinstance(inner, types.FunctionType) or isinstance(inner, type):
            pass  # a function or class: followed below, bound or not
        elif hasattr(type(inner), "__get__") and not isinstance(value, types.ModuleType):
            return True  # a descriptor (a property...) computes the attribute
        if _leads_to_site(inner, attrs, resolve, depth - 1, seen):
            return True
    return False


def find_loads(items: list[Any], globals_: dict[str, Any], resolve: Resolver,
               qualname: str, filename: str) -> list[FoundSite]:
    """Every load of a site's callable in ``items``, in order."""
    found: list[FoundSite] = []
    i = 0
    lineno = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, Instr) and item.lineno:
            lineno = item.lineno
        c = _chain(items, i, globals_)
        site = None
        if c is not None:
            end, value, shape = c
            if value == static_call or value == static_call_cond:
                site = _key_call(items, i, end, shape, value == static_call_cond, globals_,
                                 resolve, lineno, qualname, filename)
            elif shape.count("V") == 1 and "N" in shape:
                ref = resolve(value)
                if ref is None or ref[0] == "static_key":
                    pass
                elif ref[0] == "branch":
                    site = _branch(items, i, end, shape, globals_, resolve, lineno, qualname,
                                   filename)
                else:
                    site = _site(ref, ref[0] == "tracepoint", lineno, qualname, filename, i,
                                 end, shape)
                    site.kind = "tracepoint" if ref[0] == "tracepoint" else "call"
        if site is not None:
            found.append(site)
            i = site.end
        else:
            i += 1
    return found
