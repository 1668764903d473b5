"""Static keys (the kernel's jump labels): the runtime side.

A static key is a boolean whose value selects the direction of branches. The kernel
patches each branch in place; here, until the rewriter patches branch *sites*, the
runtime path answers ``static_branch_unlikely(key)`` with one C-level dictionary lookup.

Every change of a key's state goes through :func:`set_state`, under ``UPDATE_LOCK``:
it calls the rewriter's hook (:data:`on_state_change`) first, so that branch sites can
be patched all-or-nothing, and publishes the new state only once the hook returned.

For the rewriter:

- ``key._sk_sites`` is a dict the rewriter may fill with its site records (it is not
  read here);
- ``on_state_change(key, enabled)`` is called under ``UPDATE_LOCK`` with the state the
  key is about to take, only when it differs from the current one. If it raises, it must
  have left every site as it was; the key then keeps its state and count, and the error
  reaches the caller (as ``StaticCallError``). An exception raised from outside the hook
  (a signal handler's ``KeyboardInterrupt``), which may come after every site was
  patched, is followed by ``on_state_change(key, not enabled)`` to put them back.
- a site recorded later must be recorded under ``UPDATE_LOCK`` and laid out for the
  state read then (``static_key_enabled(key)``), so that no change falls in between.
"""

from __future__ import annotations

import _thread
import os

from ._changing import CHANGING, changing_ids, refuse_if_changing
from ._errors import StaticCallError, StaticCallWarning
from ._keys import UPDATE_LOCK
from ._naming import Named, defining_module
from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading
    from typing import Any, Callable

__all__ = [
    "StaticKey",
    "define_static_key_false",
    "define_static_key_true",
    "define_static_key_deferred_false",
    "define_static_key_deferred_true",
    "static_branch_unlikely",
    "static_branch_likely",
    "static_branch_enable",
    "static_branch_disable",
    "static_branch_inc",
    "static_branch_dec",
    "static_branch_slow_dec_deferred",
    "static_key_deferred_flush",
    "static_key_enabled",
    "static_key_count",
]

#: Set by the rewriter: ``hook(key, enabled)``, called under ``UPDATE_LOCK`` before a
#: key's state changes (see the module docstring). ``None``: no branch sites to patch.
on_state_change: Callable[[StaticKey, bool], None] | None = None


class _StateTable(dict):  # type: ignore[type-arg]
    """key -> its state (bool), the runtime path of every branch. Misses reject non-keys."""

    def __missing__(self, obj: Any) -> bool:
        raise TypeError(f"expected a StaticKey, not {type(obj).__name__}")


_STATE = _StateTable()

class StaticKey(Named):
    """A static key: a boolean that selects the direction of branches.

    Create keys with :func:`define_static_key_false`, :func:`define_static_key_true` or
    :func:`define_static_key_deferred_false`; test them with
    :func:`static_branch_unlikely` / :func:`static_branch_likely`.
    """

    _kind = "static key"
    _default_name = "static_key"

    if TYPE_CHECKING:
        _sk_count: int
        _sk_initial: bool
        _sk_timeout: float | None
        _sk_pending: int
        _sk_timer: threading.Timer | None
        _sk_sites: dict[int, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> StaticKey:
        raise TypeError("create static keys with define_static_key_false(), "
                        "define_static_key_true() or define_static_key_deferred_false()")

    @classmethod
    def _create(cls, initial: bool, name: str | None, module: str,
                timeout: float | None = None) -> StaticKey:
        self: StaticKey = object.__new__(cls)
        self._init_name(name, module)
        d = self.__dict__
        d["_sk_count"] = 1 if initial else 0
        d["_sk_initial"] = initial
        d["_sk_timeout"] = timeout
        d["_sk_pending"] = 0       # deferred decrements not applied yet
        d["_sk_timer"] = None
        d["_sk_sites"] = {}        # filled by the rewriter
        _STATE[self] = initial
        return self

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"static key {self.name!r}: change it with "
                             f"static_branch_enable/disable/inc/dec, not by assignment")

    def __repr__(self) -> str:
        state = "enabled" if _STATE[self] else "disabled"
        extra = ""
        if self._sk_timeout is not None:
            extra = f", deferred {self._sk_timeout:g}s"
            if self._sk_pending:
                extra += f", {self._sk_pending} decrement(s) pending"
        return f"<StaticKey {self.name!r} {state}, count {self._sk_count}{extra}>"

    def __bool__(self) -> bool:
        # `if key:` would always be true for an object; make the mistake loud
        raise TypeError(f"static key {self.name!r}: test it with static_branch_unlikely(key) "
                        f"or static_branch_likely(key), not bool(key)")

    @property
    def enabled(self) -> bool:
        """The key's state (as :func:`static_key_enabled` returns it)."""
        return bool(_STATE[self])

    @property
    def initial(self) -> bool:
        """The state the key was defined with (``True`` for a TRUE key)."""
        return self._sk_initial

    @property
    def timeout(self) -> float | None:
        """A deferred key's delay in seconds, ``None`` for other keys."""
        return self._sk_timeout


# --------------------------------------------------------------------------------------
# The one function that changes a key's state.
# --------------------------------------------------------------------------------------

def set_state(key: StaticKey, enabled: bool, count: int | None = None,
              drop_pending: bool = False) -> None:
    """Give ``key`` the state ``enabled`` (and the reference count ``count``, if given;
    with ``drop_pending``, no pending deferred decrement): patch its branch sites (the
    hook), then publish the state to the runtime path. The sites are left alone when the
    state is already that. On failure nothing changes and ``StaticCallError`` is
    raised."""
    with UPDATE_LOCK:
        refuse_if_changing(key)  # before its state is read: the change under way decides
        enabled = bool(enabled)
        if _STATE[key] is enabled:
            _publish(key, enabled, count, drop_pending)
            return
        hook = on_state_change
        ids = changing_ids([key])
        try:
            CHANGING.update(ids)
            if hook is not None:
                try:
                    hook(key, enabled)
                except StaticCallError:
                    raise
                except Exception as exc:
                    raise StaticCallError(f"static key {key.name!r}: its branch sites could "
                                          f"not be {'enabled' if enabled else 'disabled'}: "
                                          f"{exc}") from exc
                except BaseException:
                    # raised from outside the hook (a signal handler's KeyboardInterrupt),
                    # before or after it patched every site: put them all back
                    hook(key, not enabled)
                    raise
            _publish(key, enabled, count, drop_pending)
        finally:
            CHANGING.difference_update(ids)


def _publish(key: StaticKey, enabled: bool, count: int | None, drop_pending: bool) -> None:
    """Store the state and what goes with it: stores only, with no point between them
    where a signal handler runs (a timer no longer named is harmless: see
    ``_deferred_expired``; it is cancelled after)."""
    d = key.__dict__
    timer = d["_sk_timer"] if drop_pending else None
    if drop_pending:
        d["_sk_timer"] = None
        d["_sk_pending"] = 0
    if count is not None:
        d["_sk_count"] = count
    _STATE[key] = enabled
    if timer is not None:
        timer.cancel()


def _set_count(key: StaticKey, count: int, drop_pending: bool = False) -> None:
    """Set the reference count and the state it implies, all or nothing (under the lock)."""
    set_state(key, count > 0, count, drop_pending)


def _as_static_key(obj: Any, action: str) -> StaticKey:
    if isinstance(obj, StaticKey):
        return obj
    raise TypeError(f"{action}() expects a StaticKey, not {type(obj).__name__}")


# --------------------------------------------------------------------------------------
# Defining keys.
# --------------------------------------------------------------------------------------

def define_static_key_false(*, name: str | None = None) -> StaticKey:
    """A static key, initially disabled (count 0): the kernel's ``DEFINE_STATIC_KEY_FALSE``."""
    return StaticKey._create(False, name, defining_module())


def define_static_key_true(*, name: str | None = None) -> StaticKey:
    """A static key, initially enabled (count 1): the kernel's ``DEFINE_STATIC_KEY_TRUE``."""
    return StaticKey._create(True, name, defining_module())


def define_static_key_deferred_false(timeout: float, *, name: str | None = None) -> StaticKey:
    """A disabled static key whose deferred decrements to zero
    (:func:`static_branch_slow_dec_deferred`) take effect ``timeout`` seconds later,
    unless the key is incremented again meanwhile: the kernel's
    ``DEFINE_STATIC_KEY_DEFERRED_FALSE`` (a rate limit on disabling)."""
    return StaticKey._create(False, name, defining_module(),
                             _checked_timeout(timeout, "define_static_key_deferred_false()"))


def define_static_key_deferred_true(timeout: float, *, name: str | None = None) -> StaticKey:
    """The same, initially enabled (count 1): ``DEFINE_STATIC_KEY_DEFERRED_TRUE``."""
    return StaticKey._create(True, name, defining_module(),
                             _checked_timeout(timeout, "define_static_key_deferred_true()"))


# --------------------------------------------------------------------------------------
# Branches: the runtime path is one C-level lookup.
# --------------------------------------------------------------------------------------

if TYPE_CHECKING:
    def static_branch_unlikely(key: StaticKey) -> bool:
        """The key's state; the branch it guards is laid out out of line."""

    def static_branch_likely(key: StaticKey) -> bool:
        """The key's state; the branch it guards is laid out as the fall-through."""

    def static_key_enabled(key: StaticKey) -> bool:
        """Whether the key is enabled."""
else:
    static_branch_unlikely = _STATE.__getitem__
    static_branch_likely = _STATE.__getitem__
    static_key_enabled = _STATE.__getitem__


def static_key_count(key: StaticKey) -> int:
    """The key's reference count (enabled while above zero); a decrement that is
    deferred and still pending is still counted."""
    return _as_static_key(key, "static_key_count")._sk_count


# --------------------------------------------------------------------------------------
# Changing the state.
# --------------------------------------------------------------------------------------

def _cancel_pending(key: StaticKey) -> None:
    timer = key._sk_timer
    if timer is not None:
        timer.cancel()
    key.__dict__["_sk_timer"] = None
    key.__dict__["_sk_pending"] = 0


def static_branch_enable(key: StaticKey) -> None:
    """Enable the key (count 1 if it was 0). A pending deferred decrement is dropped."""
    k = _as_static_key(key, "static_branch_enable")
    with UPDATE_LOCK:
        count = k._sk_count - k._sk_pending
        _set_count(k, max(count, 1), drop_pending=True)


def static_branch_disable(key: StaticKey) -> None:
    """Disable the key (count 0). A pending deferred decrement is dropped."""
    k = _as_static_key(key, "static_branch_disable")
    with UPDATE_LOCK:
        _set_count(k, 0, drop_pending=True)


def static_branch_inc(key: StaticKey) -> None:
    """Take a reference: the key is enabled while its count is above zero. An increment
    while a deferred decrement is pending cancels that decrement instead."""
    k = _as_static_key(key, "static_branch_inc")
    with UPDATE_LOCK:
        refuse_if_changing(k)
        if k._sk_pending:
            k.__dict__["_sk_pending"] -= 1
            if not k._sk_pending and k._sk_timer is not None:
                k._sk_timer.cancel()
                k.__dict__["_sk_timer"] = None
            return
        _set_count(k, k._sk_count + 1)


def static_branch_dec(key: StaticKey) -> None:
    """Drop a reference; the key is disabled when the count reaches zero. Dropping more
    references than were taken raises ``StaticCallError`` (the kernel WARNs)."""
    k = _as_static_key(key, "static_branch_dec")
    with UPDATE_LOCK:
        if k._sk_count - k._sk_pending <= 0:
            raise StaticCallError(_underflow(k, "static_branch_dec"))
        _set_count(k, k._sk_count - 1)


def _underflow(key: StaticKey, action: str) -> str:
    return (f"static key {key.name!r}: {action}() below zero (count "
            f"{key._sk_count - key._sk_pending}): more decrements than increments")


def static_branch_slow_dec_deferred(key: StaticKey) -> None:
    """Drop a reference of a deferred key. A decrement that leaves the count above zero
    takes effect now; one that would bring it to zero takes effect ``timeout`` seconds
    later, unless the key is incremented again meanwhile. On a key defined without a
    timeout it is :func:`static_branch_dec`."""
    k = _as_static_key(key, "static_branch_slow_dec_deferred")
    with UPDATE_LOCK:
        refuse_if_changing(k)
        live = k._sk_count - k._sk_pending
        if live <= 0:
            raise StaticCallError(_underflow(k, "static_branch_slow_dec_deferred"))
        if live > 1 or k._sk_timeout is None:
            _set_count(k, k._sk_count - 1)
            return
        k.__dict__["_sk_pending"] += 1
        if k._sk_timer is None:
            _start_timer(k, k._sk_timeout)


def _apply_pending(key: StaticKey) -> None:
    """Apply the pending deferred decrements now (under the lock)."""
    pending = key._sk_pending
    if pending:
        _set_count(key, key._sk_count - pending)
    _cancel_pending(key)


def _deferred_expired(key: StaticKey) -> None:
    import threading  # loaded already: this runs in the timer's thread

    with UPDATE_LOCK:
        if key._sk_timer is not threading.current_thread():
            return  # flushed, cancelled or replaced meanwhile
        key.__dict__["_sk_timer"] = None
        try:
            _apply_pending(key)
        except Exception as exc:
            # Leave it pending: static_key_deferred_flush() applies it (and raises).
            import warnings

            warnings.warn(StaticCallWarning(
                f"static key {key.name!r}: deferred decrement failed, still pending: {exc}"),
                stacklevel=1)


def _start_timer(key: StaticKey, timeout: float) -> None:
    import threading  # deferred keys only

    global _fork_hook
    if not _fork_hook and hasattr(os, "register_at_fork"):
        # registered after threading's own (it was imported by now): at-fork hooks run
        # in that order, and a thread started before threading's hook has run would be
        # taken for one inherited from the parent (the timer would never fire)
        os.register_at_fork(after_in_child=_restart_timers_after_fork)
        _fork_hook = True
    timer = threading.Timer(timeout, _deferred_expired, (key,))
    timer.daemon = True
    timer.name = f"staticcall deferred {key.name}"
    key.__dict__["_sk_timer"] = timer
    timer.start()


def _restart_timers_after_fork() -> None:
    # A forked child has none of the parent's threads: pending deferred decrements get
    # a timer of their own (the whole delay again).
    for key in all_static_keys():
        if key._sk_timer is not None:
            _start_timer(key, key._sk_timeout or 0.0)


#: whether _restart_timers_after_fork is registered (with the first timer)
_fork_hook = False


def static_key_deferred_flush(key: StaticKey) -> None:
    """Apply a pending deferred decrement now (the kernel flushes the delayed work)."""
    k = _as_static_key(key, "static_key_deferred_flush")
    with UPDATE_LOCK:
        _apply_pending(k)


def static_key_set_timeout(key: StaticKey, timeout: float) -> None:
    """Change a deferred key's delay (the kernel's ``jump_label_rate_limit``); applies
    to deferred decrements made from now on."""
    k = _as_static_key(key, "jump_label_rate_limit")
    seconds = _checked_timeout(timeout, f"static key {k.name!r}")
    with UPDATE_LOCK:
        if k._sk_timeout is None:  # (it would quietly make the key a deferred one)
            raise TypeError(f"static key {k.name!r}: jump_label_rate_limit() changes the "
                            f"delay of a deferred key, and this key was defined without "
                            f"one (define_static_key_deferred_false/_true make one)")
        k.__dict__["_sk_timeout"] = seconds


def _checked_timeout(timeout: Any, what: str) -> float:
    """``timeout`` as seconds a timer can wait (``threading.Timer`` fails in its own
    thread on a longer one, leaving the decrement pending), else the error."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what}: the timeout must be a number of seconds, "
                        f"not {type(timeout).__name__}")
    if not 0 <= timeout <= _thread.TIMEOUT_MAX:
        raise ValueError(f"{what}: the timeout must be between 0 and "
                         f"{_thread.TIMEOUT_MAX:.0f} seconds, not {timeout!r}")
    return float(timeout)


def all_static_keys() -> list[StaticKey]:
    """Every static key defined so far, in definition order."""
    return [k for k in list(_STATE) if isinstance(k, StaticKey)]
