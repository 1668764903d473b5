"""Late binding at run time: a ``static_call(K)`` site whose ``K`` was not a key when its
code was processed binds at its first execution (``_rewrite/late.py`` lays it out).

Until then the site's unbound path calls its :class:`Binder` with the value of ``K``,
at the point where the original code calls ``static_call(K)``, before the arguments.
"""

from __future__ import annotations

import sys
from typing import Any

from ._keys import Handle, StaticCall, static_call, static_call_cond
from ._sites import SiteRecord, bind


class Binder:
    """What a late site calls while unbound: ``static_call(value)`` (or
    ``static_call_cond``), exactly, and when ``value`` is a key (or a handle this module
    may call), the site is bound to it first."""

    __slots__ = ("cond", "record", "failed", "last")

    def __init__(self, cond: bool) -> None:
        self.cond = cond
        self.record: SiteRecord | None = None
        self.failed = False
        self.last: Any = None  # the key the site named at its last unbound execution

    def __repr__(self) -> str:
        rec = self.record
        where = rec.where if rec is not None else "?"
        return f"<staticcall binder of the late site {where}>"

    def __call__(self, value: Any) -> Any:
        form = static_call_cond if self.cond else static_call
        if isinstance(value, StaticCall):
            key = value
        elif isinstance(value, Handle):
            # as the original code's static_call(handle) does, with the site's module
            key = value._resolve_for("call", sys._getframe(1).f_globals)
        else:
            return form(value)  # raises what the original code raises
        self.last = key
        rec = self.record
        if rec is not None and not self.failed:
            try:
                bind(rec, key)
            except Exception as exc:  # never the caller's problem: stay unbound, say why
                self.failed = True
                rec.found.reason = f"could not be bound at its first execution: {exc}"
        return form(key)

    def unbound_call(self, *args: Any, **kwargs: Any) -> Any:
        """A late site's target until it is bound: what the original code calls, for
        a layout that loads its target again after the arguments (they may change
        it), when this execution could not bind (in the middle of the key's update, or
        a failed binding)."""
        form = static_call_cond if self.cond else static_call
        return form(self.last)(*args, **kwargs)
