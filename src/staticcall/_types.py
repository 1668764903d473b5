"""The types that type checkers see in the signatures of updates and probes.

- ``KeyOrHandle[F]``: a ``StaticCall[F]`` key or a ``StaticCallHandle[F]``;
- ``Target[F]``: what a key of type ``F`` may be set to: an ``F`` or ``None`` (NULL);
  ``static_call_return0`` (RET0, of type ``Return0Type``) fits every key;
- ``TracepointOf[F]``: a ``Tracepoint[F]``; ``Target[F]`` less ``None`` is a probe.

Each update function has three overloads: (1) the key's own class and a ``Target[F]``,
(2) any key and ``static_call_return0``, (3) ``KeyOrHandle[F]`` and a ``Target[F]``. The
first lets checkers infer a lambda's parameters from the key. ``KeyOrHandle`` is a
protocol contravariant in ``F``, so that in the last one pyright takes ``F`` from the
key alone and reports a target that does not fit as an argument error naming both
types (pyright reports the last overload's errors, mypy the first's); ``Target`` carries
one member no value has (``InferredFromKey``), which makes mypy infer ``F`` from the key
before it looks at the target, and so report the same error instead of a type variable
it cannot infer. Nothing here is used at run time.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Protocol, TypeAlias, TypeVar, Union, final

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
F_contra = TypeVar("F_contra", bound=Callable[..., Any], contravariant=True)


class KeyOrHandle(Protocol[F_contra]):
    """A ``StaticCall[F]`` key or a ``StaticCallHandle[F]``."""

    def _sc_accepts(self, target: F_contra, /) -> None: ...


class TracepointOf(Protocol[F_contra]):
    """A ``Tracepoint[F]``."""

    def _sc_accepts_probe(self, probe: F_contra, /) -> None: ...


@final
class Return0Type:
    """The type of ``static_call_return0`` for type checkers (at run time it is a
    function): it fits every key."""

    __name__: str
    __qualname__: str

    def __call__(self, *args: Any, **kwargs: Any) -> int:
        return 0


@final
class InferredFromKey(Generic[T]):
    """Never instantiated: the member of ``Target[F]`` that makes mypy infer ``F`` from
    the key before it looks at the target (a callable in its argument does that)."""


Target: TypeAlias = Union[F, None, InferredFromKey[Callable[[], F]]]
Probe: TypeAlias = Union[F, InferredFromKey[Callable[[], F]]]
