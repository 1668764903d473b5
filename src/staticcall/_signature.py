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
from typing import Any, Callable

_P = inspect.Parameter
_POSITIONAL = (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
_KEYWORDABLE = (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)
_FRESH = "_static_call_unknown_keyword_"
_MAX_SHAPES = 4096


def signature_of(obj: Callable[..., Any] | None) -> inspect.Signature | None:
    """The signature of ``obj`` where ``inspect`` can read it, else ``None``."""
    if obj is None:
        return None
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _call_shapes(proto: inspect.Signature, cand: inspect.Signature):
    """Yield (n_positional, keyword_names) for representative calls ``proto`` accepts."""
    params = list(proto.parameters.values())
    positional = [p for p in params if p.kind in _POSITIONAL]
    has_varargs = any(p.kind is _P.VAR_POSITIONAL for p in params)
    has_varkw = any(p.kind is _P.VAR_KEYWORD for p in params)
    n_required = sum(1 for p in positional if p.default is _P.empty)
    n_cand_pos = sum(1 for p in cand.parameters.values() if p.kind in _POSITIONAL)
    top = max(len(positional), n_cand_pos) + 1 if has_varargs else len(positional)
    extras: list[str] = []
    if has_varkw:
        names = {p.name for p in params}
        extras = [_FRESH] + [p.name for p in cand.parameters.values() if p.name not in names]
    for n_pos in range(n_required, top + 1):
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


@functools.lru_cache(maxsize=1024)
def incompatibility(proto: inspect.Signature, cand: inspect.Signature) -> str | None:
    """Why ``cand`` cannot take every call ``proto`` takes, or ``None`` if it can."""
    for count, (n_pos, names) in enumerate(_call_shapes(proto, cand)):
        if count >= _MAX_SHAPES:
            break
        args = (None,) * n_pos
        kwargs = dict.fromkeys(names)
        try:
            proto.bind(*args, **kwargs)
        except TypeError:
            continue  # not a call the prototype accepts (e.g. duplicate names)
        try:
            cand.bind(*args, **kwargs)
        except TypeError as exc:
            call = ", ".join(["_"] * n_pos + [f"{n}=_" for n in names])
            return f"the prototype {proto} accepts f({call}) but {cand} does not ({exc})"
    return None
