"""One change at a time per key, static key or tracepoint, also within one thread.

Every change runs under ``UPDATE_LOCK``, a re-entrant lock: code that runs in the middle
of a change *in the same thread* -- a signal handler, or a destructor or callback run by
the garbage collector, all of which can run between any two bytecodes -- could start a
second change of the same object, which the rest of the first would then partly
overwrite (sites left calling what their key no longer has, an increment lost). Such a
second change is refused instead, naming the object, and changes nothing.
"""

from __future__ import annotations

from ._errors import StaticCallError
from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Iterable

#: ids of the objects being changed now; only the thread holding UPDATE_LOCK touches it
CHANGING: set[int] = set()


def changing(obj: Any = None) -> bool:
    """Whether ``obj`` (``None``: any object) is in the middle of a change; true only in
    the thread holding ``UPDATE_LOCK``."""
    return bool(CHANGING) if obj is None else id(obj) in CHANGING


def refuse_if_changing(obj: Any) -> None:
    """Raise ``StaticCallError`` if ``obj`` is in the middle of a change."""
    if id(obj) in CHANGING:
        what = f"{getattr(type(obj), '_kind', 'static call')} {obj.name!r}"
        raise StaticCallError(
            f"{what}: changed again while its previous change was still being made (by "
            f"code that ran in the middle of that change in the same thread: a signal "
            f"handler, or a destructor or callback run by the garbage collector); nothing "
            f"changed: make the second change once the first has returned")


def changing_ids(objs: Iterable[Any]) -> set[int]:
    """The ids to mark ``objs`` as being changed with, after refusing any that already
    is. The caller marks and unmarks them itself, in one ``try``/``finally``::

        ids = changing_ids(objs)
        try:
            CHANGING.update(ids)
            ...
        finally:
            CHANGING.difference_update(ids)

    (not a context manager: a pending signal handler runs as a Python ``__exit__``
    starts, and one raising ``KeyboardInterrupt`` there would leave the objects marked
    for good; a call of a set's method from ``finally`` cannot be interrupted before it
    is done)."""
    objs = list(objs)
    for obj in objs:
        refuse_if_changing(obj)
    return {id(obj) for obj in objs}
