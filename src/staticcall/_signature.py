"""The prototype rule: a new target must accept every call that the prototype accepts.

The check is exact rather than structural: it enumerates one representative of every
*shape* of call the prototype accepts (how many positional arguments, which keyword
names) and binds each to the candidate's signature. Shapes are few for real prototypes,
and results are cached by signature pair.
"""

from __future__ import annotations

import functools
import inspect
import itertools

from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Callable, Container, Iterator

_P = inspect.Parameter
_POSITIONAL = (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
_KEYWORDABLE = (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)
_FRESH = "_static_call_unknown_keyword_"
_MAX_SHAPES = 4096


@functools.cache
def any_signature() -> inspect.Signature:
    """``(*args, **kwargs)``: what a key or tracepoint without a prototype shows."""
    return inspect.Signature([_P("args", _P.VAR_POSITIONAL), _P("kwargs", _P.VAR_KEYWORD)])


def signature_of(obj: Callable[..., Any] | None) -> inspect.Signature | None:
    """The signature of ``obj`` where ``inspect`` can read it, else ``None``."""
    if obj is None:
        return None
    try:
        return inspect.signature(obj)
    except Exception:  # TypeError, ValueError; anything an odd object raises (a dead proxy)
        return None


def _call_shapes(proto: inspect.Signature,
                 cand: inspect.Signature) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Yield (n_positional, keyword_names) for representative calls ``proto`` accepts."""
    params = list(proto.parameters.values())
    positional = [p for p in params if p.kind in _POSITIONAL]
    has_varargs = any(p.kind is _P.VAR_POSITIONAL for p in params)
    has_varkw = any(p.kind is _P.VAR_KEYWORD for p in params)
    n_cand_pos = sum(1 for p in cand.parameters.values() if p.kind in _POSITIONAL)
    top = max(len(positional), n_cand_pos) + 1 if has_varargs else len(positional)
    extras: list[str] = []
    if has_varkw:
        names = {p.name for p in params if p.kind in _KEYWORDABLE}
        extras = [_FRESH] + [p.name for p in cand.parameters.values() if p.name not in names]
    for n_pos in range(top + 1):
        bound_by_position = {p.name for p in positional[:n_pos]}
        keywordable = [
            p for p in params
            if p.kind in _KEYWORDABLE and p.name not in bound_by_position
        ]
        required = [p.name for p in keywordable if p.default is _P.empty]
        optional = [p.name for p in keywordable if p.default is not _P.empty] + extras
        for k in range(len(optional) + 1):
            for chosen in itertools.combinations(optional, k):
                yield n_pos, tuple(required) + chosen


def _bind_error(sig: inspect.Signature, n_pos: int, names: tuple[str, ...]) -> str | None:
    """Why a call with ``n_pos`` positional arguments and keyword arguments ``names``
    does not bind to ``sig``, or ``None`` if it does. This is the interpreter's own rule;
    ``Signature.bind`` before 3.14 mishandles positional-only names passed through
    ``**kwargs``."""
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in _POSITIONAL]
    if n_pos > len(positional) and not any(p.kind is _P.VAR_POSITIONAL for p in params):
        return f"takes {len(positional)} positional arguments but {n_pos} were given"
    by_position = {p.name for p in positional[:n_pos]}
    by_keyword = {p.name for p in params if p.kind in _KEYWORDABLE}
    has_varkw = any(p.kind is _P.VAR_KEYWORD for p in params)
    for name in names:
        if name in by_position and name in by_keyword:
            return f"got multiple values for argument {name!r}"
        if name not in by_keyword and not has_varkw:
            return f"got an unexpected keyword argument {name!r}"
    missing = _unpassed(params, by_position, names)
    if missing is not None:
        return f"missing a required argument: {missing.name!r}"
    return None


def _unpassed(params: list[inspect.Parameter], by_position: Container[str],
              names: tuple[str, ...]) -> inspect.Parameter | None:
    """The first of ``params`` that a call must pass and does not, the call binding
    ``by_position`` by position and passing the keyword arguments ``names``."""
    for p in params:
        if (p.default is _P.empty and p.kind not in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)
                and p.name not in by_position
                and not (p.kind in _KEYWORDABLE and p.name in names)):
            return p
    return None


def incompatibility(proto: inspect.Signature, cand: inspect.Signature) -> str | None:
    """Why ``cand`` cannot take every call ``proto`` takes, or ``None`` if it can."""
    try:
        hash((proto, cand))
    except TypeError:  # an unhashable default or annotation: no caching
        return _incompatibility(proto, cand)
    return _cached_incompatibility(proto, cand)


def _first_misfit(proto: inspect.Signature,
                  cand: inspect.Signature) -> tuple[int, tuple[str, ...], str] | None:
    """A call ``(n_pos, names)`` that ``proto`` accepts and ``cand`` does not, and why."""
    for count, (n_pos, names) in enumerate(_call_shapes(proto, cand)):
        if count >= _MAX_SHAPES:
            break
        if _bind_error(proto, n_pos, names) is not None:
            continue  # not a call the prototype accepts (e.g. duplicate names)
        why = _bind_error(cand, n_pos, names)
        if why is not None:
            return n_pos, names, why
    return None


def _call_text(n_pos: int, names: tuple[str, ...]) -> str:
    shown = ["..." if n == _FRESH else n for n in names]
    return "f(" + ", ".join(["_"] * n_pos + [f"{n}=_" for n in shown]) + ")"


def _incompatibility(proto: inspect.Signature, cand: inspect.Signature) -> str | None:
    misfit = _first_misfit(proto, cand)
    if misfit is None:
        return None
    n_pos, names, why = misfit
    return f"the prototype {proto} accepts {_call_text(n_pos, names)} but {cand} does not ({why})"


_NARROWER = ("To accept such targets, declare a narrower prototype: make parameters that "
             "callers pass only by position positional-only (def proto(x, /)), and leave out "
             "what callers never pass; give it as prototype= to define_static_call() (or as "
             "the prototype of define_static_call_null()/define_static_call_ret0()).")


def _culprit(proto: inspect.Signature, cand: inspect.Signature, n_pos: int,
             names: tuple[str, ...]) -> str:
    """Which parameter does not fit, for a call the prototype accepts and ``cand`` not."""
    pparams = list(proto.parameters.values())
    cparams = list(cand.parameters.values())
    ppos = [p for p in pparams if p.kind in _POSITIONAL]
    cpos = [p for p in cparams if p.kind in _POSITIONAL]
    pvarargs = next((p for p in pparams if p.kind is _P.VAR_POSITIONAL), None)
    pvarkw = next((p for p in pparams if p.kind is _P.VAR_KEYWORD), None)
    cvarargs = any(p.kind is _P.VAR_POSITIONAL for p in cparams)
    cvarkw = any(p.kind is _P.VAR_KEYWORD for p in cparams)
    if n_pos > len(cpos) and not cvarargs:
        i = len(cpos)
        if i < len(ppos):
            p = ppos[i]
            return (f"parameter {p.name!r} of the prototype may be passed by position (as "
                    f"argument {i + 1}), but the target takes only {len(cpos)} positional "
                    f"argument(s). If callers never pass {p.name!r}, leave it out of the "
                    f"prototype; if they pass it only by keyword, make it keyword-only "
                    f"(after *).")
        star = pvarargs.name if pvarargs is not None else "args"
        return (f"parameter '*{star}' of the prototype accepts any number of positional "
                f"arguments, but the target takes only {len(cpos)}. List the positional "
                f"parameters callers use instead of *{star}.")
    by_position = {p.name: i for i, p in enumerate(cpos[:n_pos])}
    ckeywordable = {p.name for p in cparams if p.kind in _KEYWORDABLE}
    for name in names:
        pparam = proto.parameters.get(name)
        if pparam is not None and pparam.kind in _KEYWORDABLE:
            what = f"parameter {name!r} of the prototype may be passed by keyword ({name}=...)"
            if pparam.kind is _P.POSITIONAL_OR_KEYWORD:
                advice = (f"If callers pass {name!r} only by position, make it positional-only "
                          f"in the prototype (put / after it).")
            else:
                advice = f"If callers never pass {name!r}, leave it out of the prototype."
        else:
            kw = pvarkw.name if pvarkw is not None else "kwargs"
            shown = "any other keyword" if name == _FRESH else f"{name}=..."
            what = f"parameter '**{kw}' of the prototype accepts {shown}"
            advice = f"List the keywords callers use instead of **{kw} in the prototype."
        if name in by_position and name in ckeywordable:
            return (f"{what}, but the target's {name!r} is its positional parameter "
                    f"{by_position[name] + 1}, already given by position. {advice}")
        if name not in ckeywordable and not cvarkw:
            return f"{what}, but the target does not accept that keyword. {advice}"
    missing = _unpassed(cparams, by_position, names)
    if missing is not None:
        return (f"parameter {missing.name!r} of the target is required, but a call the "
                f"prototype accepts need not pass it. Give {missing.name!r} a default in "
                f"the target, or add it to the prototype.")
    return "the target does not accept every call the prototype accepts."


def misfit_message(proto: inspect.Signature, cand: inspect.Signature) -> str | None:
    """Why ``cand`` does not fit ``proto``, for a person: the call that fails, the
    parameter that does not fit, and how to declare a narrower prototype."""
    misfit = _first_misfit(proto, cand)
    if misfit is None:
        return None
    n_pos, names, why = misfit
    why = why.replace(repr(_FRESH), "(any other keyword)")
    return (f"the prototype {proto} accepts {_call_text(n_pos, names)} but the target "
            f"{cand} does not ({why}): {_culprit(proto, cand, n_pos, names)} {_NARROWER}")


_cached_incompatibility = functools.lru_cache(maxsize=1024)(_incompatibility)
