"""What the rewriter knows of one site while it works on a code object."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._patch import Holder

if TYPE_CHECKING:
    from .emit import Layout


class Slot:
    """A placeholder constant, unique by identity, replaced once the code exists."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<slot {self.name}>"


class UnboundName:
    """What a ``static_call(K)`` site names when ``K`` is not a key yet as its code is
    processed (defined further down, imported later, assigned at start-up): the site
    binds at its first execution (see ``late``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<unbound global {self.name!r}>"

    @property
    def reason(self) -> str:
        """Why such a site stays on the runtime path where it cannot bind late."""
        return f"{self.name!r} was not a key when the function was processed"


@dataclass(frozen=True)
class Switch:
    """A site's shape switch in assembled code: the ``JUMP_FORWARD`` at byte ``offset``,
    whose operand is ``on`` to make the call and ``off`` to make none."""

    offset: int
    on: int
    off: int


@dataclass
class FoundSite:
    """A site as found in one code object, filled in stage by stage: found (``find``),
    matched to its call (``match``), emitted (``layouts``), located (``locate``)."""

    ref: Any                 # the key, handle, tracepoint or static key the site names
    cond: bool               # static_call_cond(K)(...), or a tracepoint
    kind: str = "call"       # "call", "tracepoint" (no call skips its arguments too),
                             # or "branch" (if static_branch_unlikely(K): ...)
    lineno: int = 0
    qualname: str = ""
    filename: str = ""
    # a branch site: the label its test jumps to, and whether it jumps when the key is
    # enabled (``if not static_branch_likely(K)``) rather than disabled
    jump_to: Any = None
    jumps_when_enabled: bool = False
    # find: items[start:end] load the callable; per value they leave, whether a NULL
    start: int = 0
    end: int = 0
    null_flags: list[bool] = field(default_factory=list)
    # match: the calls that consume the load (the compiler may copy a call into
    # several branches); not_site when the load is not called at once
    call_indices: list[int] = field(default_factory=list)
    not_site: bool = False
    tail: bool = False
    reason: str | None = None  # why it stays on the runtime path
    # emit: how it is laid out, and the constants it owns (T: the target or its holder;
    # V: the value when no call is made, absent where the value is never used)
    layout: Layout | None = None
    target: Slot | Holder | None = None
    value: Slot | None = None
    # emit: instructions whose offsets locate looks up (a branch site's switch)
    marks: list[Any] = field(default_factory=list)
    # locate: the final code, the indices of T and V in its co_consts, the switches
    code: types.CodeType | None = None
    indices: tuple[int, int | None] | None = None
    switches: list[Switch] = field(default_factory=list)
    # a late site (``static_call(K)`` whose K is not a key when processed, see ``late``):
    # the instructions that load K, the binder constant its unbound path calls (and its
    # index in co_consts), the jumps emitted for its PLT switch, and that switch located
    # (``on``: bound, ``off``: unbound)
    late: bool = False
    late_load: list[Any] = field(default_factory=list)
    binder: Slot | None = None
    binder_index: int | None = None
    plt_marks: list[Any] = field(default_factory=list)
    plt: Switch | None = None

    @property
    def rewritten(self) -> bool:
        return self.target is not None or bool(self.marks)

    def give_up(self, reason: str) -> None:
        """Leave this site on the runtime path."""
        self.reason = reason
        self.target = self.value = None
        self.switches = []
        self.marks = []
        self.code = self.indices = None
        self.binder = self.binder_index = self.plt = None
        self.plt_marks = []
