"""static_call_update() and friends: retarget a key's runtime path and every site."""

from __future__ import annotations

import sys
from _collections_abc import Mapping as _Mapping  # collections.abc's, already loaded
from types import SimpleNamespace

from . import _static_keys, _tracepoints
from ._changing import CHANGING, changing_ids, refuse_if_changing
from ._errors import StaticCallError, StaticCallSignatureError
from ._keys import (
    UNSET,
    UPDATE_LOCK,
    StaticCall,
    as_key,
    find_cycle,
    static_call_return0,
    target_repr,
)
from ._static_keys import StaticKey
from ._tracepoints import Tracepoint
from ._typing import TYPE_CHECKING, F, overload

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Any, Callable, Mapping

    from ._exports import StaticCallHandle
    from ._sites import Patcher
    from ._types import KeyOrHandle, Return0Type, Target


#: Test hook: called with each site record before it is patched (failure injection).
_before_site_patch: Callable[[Any], None] | None = None


def _check_target(key: StaticCall[Any], func: Any,
                  pending: Mapping[StaticCall[Any], Any] | None = None) -> Any:
    """Refuse a target that does not fit ``key``; return its signature when it was read
    (``UNSET`` otherwise), so that the update need not read it again. ``pending`` holds
    the other targets of the same update (for the cycle check)."""
    if func is None or func is static_call_return0:
        return UNSET
    if not callable(func):
        raise TypeError(f"static call {key.name!r}: target must be callable, None (NULL) or "
                        f"static_call_return0 (RET0), not {type(func).__name__}")
    cycle = find_cycle(key, func, pending if pending is not None else {key: func})
    if cycle is not None:
        raise StaticCallError(f"static call {key.name!r}: target {target_repr(func)} would "
                              f"form a cycle: {cycle} (a key may not reach itself through "
                              f"its targets)")
    proto = key._sc_prototype
    if proto is None:
        return UNSET
    from ._signature import incompatibility, misfit_message, signature_of

    sig = signature_of(func)
    if sig is None:
        return None
    if incompatibility(proto, sig) is not None:
        raise StaticCallSignatureError(f"static call {key.name!r}: {target_repr(func)} does not "
                                       f"fit: {misfit_message(proto, sig)}")
    return sig


def _patch_all(records: list[Any], step: Callable[[Patcher, Any], None],
               then: Callable[[Patcher], None] | None = None,
               undo: Callable[[], None] | None = None) -> None:
    """Apply ``step`` to every record, then ``then``, all or nothing: if either raises
    (``then`` only for an exception raised from outside it, such as a
    ``KeyboardInterrupt`` from a signal handler), ``undo`` restores what ``then`` changes
    and the writes are rolled back. Stale traces are dropped either way. What the writes
    replaced is released when this returns (the patcher keeps it until then): a frame
    still using a replaced target holds its own reference."""
    if not records:  # nothing to patch: the rewriter's modules need not be loaded
        if then is not None:
            try:
                then(SimpleNamespace(keep=[]))  # type: ignore[arg-type]
            except BaseException:
                if undo is not None:
                    undo()
                raise
        return
    from . import _patch
    from ._sites import Patcher

    patcher = Patcher()
    try:
        for rec in records:
            step(patcher, rec)
        if then is not None:
            then(patcher)
    except BaseException:
        try:
            if then is not None and undo is not None:
                undo()
        finally:
            patcher.rollback()
        raise
    finally:
        _patch.invalidate_traces(patcher.stale)


def _apply(changes: list[tuple[StaticCall[Any], Any]], sigs: dict[int, Any] | None = None) -> None:
    """Retarget every site of every key, then the keys; all or nothing."""
    targets = {id(key): target for key, target in changes}
    previous = [(key, key._sc_target) for key, _ in changes]

    def retarget(patcher: Patcher, rec: Any) -> None:
        try:
            if _before_site_patch is not None:
                _before_site_patch(rec)
            patcher.retarget(rec, targets[id(rec.key)])
        except StaticCallError:
            raise
        except Exception as exc:
            raise StaticCallError(f"static call {rec.key.name!r}: site {rec.where} in "
                                  f"{rec.function} could not be retargeted: {exc}") from exc

    def set_runtime(patcher: Patcher) -> None:
        for key, target in changes:
            patcher.keep.append(key._sc_set_runtime(target, (sigs or {}).get(id(key), UNSET)))

    def unset_runtime() -> None:  # the runtime path as it was, whatever set_runtime did
        for key, target in previous:
            key._sc_set_runtime(target)

    ids = changing_ids(key for key, _ in changes)
    try:
        CHANGING.update(ids)
        _patch_all([rec for key, _ in changes for rec in list(key._sc_sites.values())],
                   retarget, set_runtime, unset_runtime)
    finally:
        CHANGING.difference_update(ids)


def _state_changed(key: StaticKey, enabled: bool) -> None:
    """The static keys' hook: make every branch site of ``key`` (or, for a tracepoint's
    key, every site of the tracepoint) take the direction ``enabled`` selects."""
    table = _site_table()
    if table is None:
        return
    owner = key.__dict__.get("_tp_owner")
    records = table.sites_of(owner if owner is not None else key) or {}
    _patch_all(list(records.values()), lambda p, rec: p.set_branch(rec, enabled))


def _site_table() -> Any:
    """The site table's module, or ``None`` while it is not loaded: then nothing has been
    rewritten, no site exists anywhere and there is nothing to patch."""
    return sys.modules.get(f"{__package__}._sites")


def _target_changed(tp: Tracepoint[Any], old: Any, new: Any) -> None:
    """The tracepoints' hook: make every site of ``tp`` call ``new`` when enabled."""
    target = new if new is not None else tp
    _patch_all(list(tp._tp_sites.values()), lambda p, rec: p.set_probe_target(rec, target))


_static_keys.on_state_change = _state_changed
_tracepoints.on_target_change = _target_changed


@overload
def static_call_update(key: StaticCall[F] | StaticCallHandle[F], func: Target[F]) -> F | None: ...
@overload
def static_call_update(key: KeyOrHandle[F], func: Return0Type) -> F | None: ...
@overload
def static_call_update(key: KeyOrHandle[F], func: Target[F]) -> F | None: ...


# (mypy cannot match the overloads' F to the implementation's; these annotations are
# what help() shows)
def static_call_update(  # type: ignore[misc]
        key: KeyOrHandle[F], func: Target[F] | Return0Type) -> F | None:
    """Set the key's target (a callable, ``None`` for NULL or ``static_call_return0``
    for RET0) and return the previous one. Every site, running frames included, calls
    the new target once this returns.

    ``key`` is a ``StaticCall[F]`` or a ``StaticCallHandle[F]``; type checkers check
    ``func`` against ``F``. A ``func`` that does not fit the key's prototype raises
    ``StaticCallSignatureError`` (naming the parameter) and changes nothing."""
    k = as_key(key, "update")
    with UPDATE_LOCK:
        refuse_if_changing(k)  # even to its current target: the change under way decides
        sig = _check_target(k, func)
        previous: F | None = k._sc_target
        if func is previous:
            return previous
        _apply([(k, func)], {id(k): sig})
        return previous


def static_call_update_many(updates: Mapping[Any, Any]) -> dict[Any, Any]:
    """Update several keys at once, all or nothing; returns ``{key: previous}``."""
    if not isinstance(updates, _Mapping):
        raise TypeError(f"static_call_update_many() expects a mapping, "
                        f"not {type(updates).__name__}")
    resolved: dict[StaticCall[Any], Any] = {}
    originals: dict[StaticCall[Any], Any] = {}
    given: list[tuple[Any, StaticCall[Any]]] = []  # (what the caller named, its key)
    for key, func in updates.items():
        k = as_key(key, "update")
        given.append((key, k))
        if k in resolved and resolved[k] is not func:
            # a key and a handle on it, given two targets: neither may silently win
            raise StaticCallError(f"static call {k.name!r}: static_call_update_many() names "
                                  f"this key twice ({originals[k]!r} and {key!r}) with two "
                                  f"different targets")
        resolved[k] = func
        originals[k] = key
    with UPDATE_LOCK:
        for k in resolved:
            refuse_if_changing(k)
        sigs = {id(k): _check_target(k, func, resolved) for k, func in resolved.items()}
        previous = {key: k._sc_target for key, k in given}  # each name the caller used
        changes = [(k, f) for k, f in resolved.items() if f is not k._sc_target]
        if changes:
            _apply(changes, sigs)
        return previous


@overload
def static_call_override(key: StaticCall[F] | StaticCallHandle[F],
                         func: Target[F]) -> AbstractContextManager[F | None]: ...
@overload
def static_call_override(key: KeyOrHandle[F],
                         func: Return0Type) -> AbstractContextManager[F | None]: ...
@overload
def static_call_override(key: KeyOrHandle[F],
                         func: Target[F]) -> AbstractContextManager[F | None]: ...


def static_call_override(  # type: ignore[misc]  # as for static_call_update
        key: KeyOrHandle[F], func: Target[F] | Return0Type) -> AbstractContextManager[F | None]:
    """Set ``key``'s target for the ``with`` block; restore the previous one on exit.

    Overrides of one key that are active at once form a stack. The innermost one ending
    restores the target the key had before it; one ending while an override entered
    after it is still active (two tasks or threads ending theirs out of order) leaves the
    target alone and hands what it would have restored to the next one up, so that the
    last one to end restores the target the key had before all of them."""
    # resolved here, so that a handle's rights are checked against the caller's module
    return _override(as_key(key, "update"), func)


class _Active:
    """One override in effect: its target and what its end restores."""

    __slots__ = ("func", "restore")

    def __init__(self, func: Any, restore: Any) -> None:
        self.func = func
        self.restore = restore


# The overrides in effect, per key, the most recent last: id(key) -> (key, overrides).
_ACTIVE: dict[int, tuple[StaticCall[Any], list[_Active]]] = {}


class _override:  # noqa: N801 - used as contextlib.contextmanager functions are
    """The context manager of one override: the update happens on entry."""

    __slots__ = ("key", "func", "entry", "ended")

    def __init__(self, k: StaticCall[Any], func: Any) -> None:
        self.key, self.func = k, func
        self.entry: _Active | None = None
        self.ended = False

    def __enter__(self) -> Any:
        if self.entry is not None:
            raise RuntimeError(f"static_call_override({self.key.name!r}): this override was "
                               f"entered already (make a new one)")
        with UPDATE_LOCK:
            previous = static_call_update(self.key, self.func)
            self.entry = _Active(self.func, previous)
            _ACTIVE.setdefault(id(self.key), (self.key, []))[1].append(self.entry)
        return previous

    def __exit__(self, *exc_info: object) -> None:
        with UPDATE_LOCK:
            if self.entry is None or self.ended:
                state = "ended already" if self.ended else "not entered"
                raise RuntimeError(f"static_call_override({self.key.name!r}): exited, but it "
                                   f"was {state}; nothing changed")
            _end_override(self.key, self.entry)
            self.ended = True


def _end_override(k: StaticCall[Any], entry: _Active) -> None:
    """Restore what ``entry`` found, or hand it to a later override still holding the
    key; a restore that is refused raises and leaves the override in place (its exit can
    be retried)."""
    with UPDATE_LOCK:
        stack = _ACTIVE[id(k)][1]
        i = next(n for n, e in enumerate(stack) if e is entry)
        if i + 1 < len(stack):
            # a later override still holds the key: it restores what this one found
            stack[i + 1].restore = entry.restore
        else:
            try:
                static_call_update(k, entry.restore)
            except StaticCallError:
                raise
            except Exception as exc:
                raise StaticCallError(f"static call {k.name!r}: the override to "
                                      f"{entry.func!r} ended, but {entry.restore!r} could "
                                      f"not be restored: {exc}; the override is still in "
                                      f"effect") from exc
        del stack[i]
        if not stack:
            del _ACTIVE[id(k)]
