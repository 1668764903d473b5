"""What the package needs of ``typing`` at run time, without importing ``typing``.

``typing`` (with ``re``, ``enum`` and ``contextlib``, which it imports) would be about
half the time ``import staticcall`` takes. Type checkers read the ``TYPE_CHECKING``
branch, which is ``typing`` itself. At run time ``overload`` returns its function,
``Generic[...]`` (and so ``StaticCall[Callable[[int], int]]``) is a
``types.GenericAlias``, and ``F`` is a named placeholder.
"""

from __future__ import annotations

import types

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any, Callable, Generic as Generic, TypeVar, overload as overload

    #: a callable type: a key's target's, a tracepoint's prototype's
    F = TypeVar("F", bound=Callable[..., Any])
else:
    def overload(func):
        return func

    class Generic:
        """Subscripting a subclass gives a ``types.GenericAlias`` of it."""

        __slots__ = ()

        def __class_getitem__(cls, params):
            return types.GenericAlias(cls, params)

    class _TypeParameter:
        __slots__ = ("__name__",)

        def __init__(self, name):
            self.__name__ = name

        def __repr__(self):
            return f"~{self.__name__}"

    F = _TypeParameter("F")
