"""Tracepoints (the kernel's include/linux/tracepoint.h): the runtime side.

A tracepoint is a named point in the code where probes are attached at run time. The
kernel builds one from a static key (enabled while any probe is attached) and a static
call (to the one probe, or to an iterator over several); so does this module:

- ``tp._tp_key`` is a :class:`StaticKey`, enabled exactly while a probe is attached;
- ``tp._tp_target`` is the *current callable*: ``None`` with no probe, the probe itself
  with one, a function generated for the probe list (it calls each in order) with
  several. A rewritten site would be ``if static_branch_unlikely(tp._tp_key):
  tp._tp_target(args)``: no argument is evaluated while no probe is attached.

Every change goes through :func:`_set_probes`, under ``UPDATE_LOCK``, which calls the
rewriter's hook ``on_target_change(tp, old, new)`` (with ``old``/``new`` current
callables) and changes the key's state with the static keys' own ``set_state`` (which
calls their hook), in the order that keeps every site correct at every moment:

- first probe attached: retarget (hook), then enable the key;
- last probe detached: disable the key, then retarget (hook);
- any other change: retarget (hook) only.

If a step raises, the steps already taken are undone, nothing changes and the error
reaches the caller. A site is recorded (in ``tp._tp_sites``) under ``UPDATE_LOCK`` and
laid out for ``tp._tp_key``'s state and ``tp._tp_target`` as read then.

The runtime path (calling ``tp(args)`` in code that is not rewritten) needs none of
this: a tracepoint is a forwarder (``_forward``, as keys are) whose effective callable
is a no-op (with the prototype's parameters) with no probe, else a generated function
that calls every probe and returns ``None``.
"""

from __future__ import annotations

import builtins
import types

from . import _forward
from ._changing import CHANGING, changing_ids
from ._errors import StaticCallError, StaticCallSignatureError
from ._keys import UPDATE_LOCK, find_cycle
from ._naming import Named, defining_module
from ._static_keys import StaticKey, set_state
from ._typing import TYPE_CHECKING, F, overload

if TYPE_CHECKING:
    import inspect
    from typing import Any, Callable

if TYPE_CHECKING:
    from ._types import Probe, TracepointOf

__all__ = [
    "Tracepoint",
    "define_tracepoint",
    "register_probe",
    "unregister_probe",
    "tracepoint_enabled",
    "tracepoint_probes",
]


#: Set by the rewriter: ``hook(tp, old_target, new_target)``, called under
#: ``UPDATE_LOCK`` before a tracepoint's current callable changes (see the module
#: docstring). If it raises it must have left every site as it was.
on_target_change: Callable[[Tracepoint[Any], Any, Any], None] | None = None

#: Every tracepoint defined, in definition order (kept alive, as keys are).
_ALL: list[Tracepoint[Any]] = []


def _no_probe(*args: Any, **kwargs: Any) -> None:
    return None


# --------------------------------------------------------------------------------------
# Generated functions: one per probe list, calling each probe in order.
# --------------------------------------------------------------------------------------

#: (parameters, probe count) -> (the function's code, the global names of its probes)
_TEMPLATES: dict[tuple[tuple[str, ...] | None, int], tuple[types.CodeType, tuple[str, ...]]] = {}


def _simple_parameters(sig: inspect.Signature | None) -> tuple[str, ...] | None:
    """Names, when every parameter is positional (or positional-or-keyword) without a
    default, so that arguments can be forwarded by position; else ``None``."""
    if sig is None:
        return None
    names = []
    for p in sig.parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or p.default is not p.empty:
            return None
        names.append(p.name)
    return tuple(names) if len(names) <= 32 else None


def _binds_by_position(params: tuple[str, ...], proto: inspect.Signature,
                       probe: Any) -> bool:
    """Whether passing a call's arguments to ``probe`` by position binds it as the call
    itself would: keyword arguments of the call can only name the prototype's
    positional-or-keyword parameters, so the probe must have those, in that order."""
    from ._signature import signature_of

    keywordable = [p.name for p in proto.parameters.values()
                   if p.kind is p.POSITIONAL_OR_KEYWORD]
    if not keywordable:
        return True
    sig = signature_of(probe)
    if sig is None:
        return False
    leading = list(sig.parameters.values())[:len(params)]
    return len(leading) == len(params) and all(
        p.name == name and p.kind is p.POSITIONAL_OR_KEYWORD
        for p, name in zip(leading, params) if name in keywordable)


def _probes_function(params: tuple[str, ...] | None,
                     probes: tuple[Any, ...]) -> Callable[..., None]:
    """A function calling each of ``probes`` in order, with ``params`` (``None``: ``*args,
    **kwargs``). Its probes are globals of its own namespace: a call of one is a
    ``LOAD_GLOBAL`` and a call, exactly what a hand-written call of a global costs (a
    closure cell would add ``COPY_FREE_VARS`` and a ``LOAD_DEREF`` per probe). The code
    is compiled once per (parameters, probe count)."""
    template = _TEMPLATES.get((params, len(probes)))
    if template is None:
        head = "*args, **kwargs" if params is None else ", ".join(params)
        prefix = "probe_"
        while params and any(p.startswith(prefix) for p in params):
            prefix = "_" + prefix
        names = tuple(f"{prefix}{i}" for i in range(len(probes)))
        calls = "".join(f"    {p}({head})\n" for p in names) or "    pass\n"
        ns: dict[str, Any] = {}
        exec(compile(f"def probes({head}):\n{calls}", "<staticcall tracepoint>", "exec"), ns)
        template = _TEMPLATES[(params, len(probes))] = (ns["probes"].__code__, names)
    code, names = template
    namespace: dict[str, Any] = {"__builtins__": builtins, **dict(zip(names, probes))}
    return types.FunctionType(code, namespace)


def _generate(tp: Tracepoint[Any], probes: tuple[Any, ...]) -> Callable[..., None]:
    """A function with the prototype's parameters (when they are simple and every probe
    binds them by position; else ``*args, **kwargs``) that calls each probe in order
    and returns ``None``."""
    params = tp._tp_params
    proto = tp._tp_prototype
    if params is not None and proto is not None and not all(
            _binds_by_position(params, proto, p) for p in probes):
        params = None
    func = _probes_function(params, probes)
    func.__name__ = f"{tp.name}_probes"
    func.__qualname__ = f"tracepoint({tp.name}).probes[{len(probes)}]"
    return func


# --------------------------------------------------------------------------------------
# The tracepoint type.
# --------------------------------------------------------------------------------------

class _TracepointKey(StaticKey):
    """The static key of a tracepoint: named after it."""

    _kind = "static key"

    def _qualname(self) -> str | None:
        owner = self.__dict__["_tp_owner"]
        return f"{owner.__qualname__}.enabled"

    @property
    def name(self) -> str:
        return f"{self.__dict__['_tp_owner'].name}.enabled"


class Tracepoint(_forward.ForwarderOf[F], Named):
    """A tracepoint: ``tp(args)`` calls every attached probe, in registration order.

    Create one with :func:`define_tracepoint`; attach probes with
    :func:`register_probe`. Generic in the prototype's type, so that type checkers check
    probes and calls against it.
    """

    _kind = "tracepoint"
    _default_name = "tracepoint"

    if TYPE_CHECKING:
        _tp_prototype: inspect.Signature | None
        _tp_params: tuple[str, ...] | None
        _tp_probes: tuple[Any, ...]
        _tp_target: Any
        _tp_key: StaticKey
        _tp_sites: dict[int, Any]
        _tp_idle: Callable[..., None]

        def _sc_accepts_probe(self, probe: F, /) -> None:
            """Makes a tracepoint a ``TracepointOf[F]`` (see ``_types``)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Tracepoint[F]:
        raise TypeError("create tracepoints with define_tracepoint()")

    @classmethod
    def _create(cls, prototype: Any, name: str | None, module: str) -> Tracepoint[Any]:
        if prototype is not None and not callable(prototype):
            raise TypeError(f"define_tracepoint() needs a callable prototype (or None), "
                            f"not {type(prototype).__name__}")
        if name is None and prototype is not None:
            found = getattr(prototype, "__name__", None)
            name = found if isinstance(found, str) and found != "<lambda>" else None
        from ._signature import any_signature, signature_of  # inspect: at the first one

        self: Tracepoint[Any] = _forward.new(cls, _no_probe)
        self._init_name(name, module)
        d = self.__dict__
        sig = signature_of(prototype)
        d["_tp_prototype"] = sig
        d["__signature__"] = sig or any_signature()
        d["__doc__"] = getattr(prototype, "__doc__", None) if prototype is not None else None
        d["_tp_params"] = _simple_parameters(sig)
        # with no probe, calls still bind to the prototype's parameters (when simple)
        d["_tp_idle"] = idle = _probes_function(d["_tp_params"], ())
        idle.__qualname__ = f"tracepoint({name or 'anonymous'}).no_probe"
        _forward.set_target(self, idle)
        d["_tp_probes"] = ()
        d["_tp_target"] = None
        d["_tp_sites"] = {}  # filled by the rewriter
        key = _TracepointKey._create(False, None, module)
        key.__dict__["_tp_owner"] = self
        d["_tp_key"] = key
        _ALL.append(self)
        return self

    # A tracepoint stored on a class is reached unchanged through instances
    # (ForwarderOf's __get__).

    def __repr__(self) -> str:
        n = len(self._tp_probes)
        return f"<Tracepoint {self.name!r}, {n} probe{'s' if n != 1 else ''}>"

    # What partial exposes would be the probe list of the moment: whoever unwraps a
    # tracepoint (``.func``, ``.args``, ``.keywords``) gets the tracepoint itself, which
    # always calls the current probes.
    @property
    def func(self) -> Tracepoint[F]:
        return self

    @property
    def args(self) -> tuple[()]:
        return ()

    @property
    def keywords(self) -> dict[str, Any]:
        return {}

    __reduce__ = Named.__reduce__
    __copy__ = Named.__copy__
    __deepcopy__ = Named.__deepcopy__

    def _sc_forwards_to(self) -> tuple[Any, ...]:
        """What calling the tracepoint calls: its probes (for the keys' cycle check)."""
        return self._tp_probes

    @property
    def prototype(self) -> inspect.Signature | None:
        """The prototype's signature, or ``None`` (no check)."""
        return self._tp_prototype

    @property
    def probes(self) -> tuple[Any, ...]:
        """The attached probes, in the order they run."""
        return self._tp_probes


# --------------------------------------------------------------------------------------
# Defining tracepoints and attaching probes.
# --------------------------------------------------------------------------------------

@overload
def define_tracepoint(prototype: F, *, name: str | None = None) -> Tracepoint[F]: ...
@overload
def define_tracepoint(prototype: None, *,
                      name: str | None = None) -> Tracepoint[Callable[..., Any]]: ...


def define_tracepoint(prototype: Any, *, name: str | None = None) -> Tracepoint[Any]:
    """A tracepoint whose probes must accept every call ``prototype`` accepts (a
    callable whose signature is the prototype; ``None``: no check). Its name is
    ``name``, else the prototype's ``__name__``, else the name its module gives it."""
    return Tracepoint._create(prototype, name, defining_module())


def _as_tracepoint(obj: Any, action: str) -> Tracepoint[Any]:
    if isinstance(obj, Tracepoint):
        return obj
    raise TypeError(f"{action}() expects a Tracepoint, not {type(obj).__name__}")


_METHOD_TYPES = (types.MethodType, types.BuiltinMethodType, types.MethodWrapperType)


def _same_probe(a: Any, b: Any) -> bool:
    """The kernel matches probes by function and data: here, identity, or equal bound
    methods (the same function of the same object, fetched twice)."""
    # by type(), not isinstance(): that asks a weakref.proxy's referent, which may be gone
    return a is b or (type(a) is type(b) and issubclass(type(a), _METHOD_TYPES)
                      and bool(a == b))


def _check_probe(tp: Tracepoint[Any], probe: Any) -> None:
    if not callable(probe):
        raise TypeError(f"tracepoint {tp.name!r}: a probe must be callable, "
                        f"not {type(probe).__name__}")
    # what a key's update follows, with the tracepoint as the goal; a declared handle
    # not resolved yet stays lazy
    cycle = find_cycle(tp, probe, resolve=False)
    if cycle is not None:
        raise StaticCallError(f"tracepoint {tp.name!r}: probe {probe!r} would call the "
                              f"tracepoint itself (a cycle: {cycle})")
    proto = tp._tp_prototype
    if proto is None:
        return
    from ._signature import incompatibility, signature_of

    sig = signature_of(probe)
    if sig is None:
        return  # unreadable (some builtins): accepted, as static_call_update does
    why = incompatibility(proto, sig)
    if why is not None:
        raise StaticCallSignatureError(f"tracepoint {tp.name!r}: probe {probe!r} does not "
                                       f"fit: {why}")


def _set_probes(tp: Tracepoint[Any], probes: tuple[Any, ...]) -> None:
    """Give ``tp`` the probe list ``probes``: patch its sites (hooks), then publish the
    list and the runtime path. All or nothing; call it with ``UPDATE_LOCK`` held."""
    ids = changing_ids([tp])
    try:
        CHANGING.update(ids)
        _change_probes(tp, probes)
    finally:
        CHANGING.difference_update(ids)


def _change_probes(tp: Tracepoint[Any], probes: tuple[Any, ...]) -> None:
    before = tp._tp_probes, tp._tp_target
    try:
        _change_probes_in_order(tp, probes)
    except Exception:
        raise  # each step undid its own part
    except BaseException:
        # raised from outside (a signal handler's KeyboardInterrupt) at any point of the
        # steps: set everything as it was (each step sets a state, none toggles one)
        _put_back(tp, *before)
        raise


def _put_back(tp: Tracepoint[Any], probes: tuple[Any, ...], target: Any) -> None:
    if on_target_change is not None:
        on_target_change(tp, None, target)
    set_state(tp._tp_key, target is not None)
    d = tp.__dict__
    d["_tp_probes"] = probes
    d["_tp_target"] = target
    _forward.set_target(tp, _generate(tp, probes) if probes else tp._tp_idle)


def _change_probes_in_order(tp: Tracepoint[Any], probes: tuple[Any, ...]) -> None:
    old = tp._tp_target
    if not probes:
        new: Any = None
        runtime: Callable[..., Any] = tp._tp_idle
    else:
        runtime = _generate(tp, probes)
        new = probes[0] if len(probes) == 1 else runtime
    hook = on_target_change
    key = tp._tp_key

    def retarget(before: Any, after: Any) -> None:
        if hook is None or before is after:
            return
        try:
            hook(tp, before, after)
        except StaticCallError:
            raise
        except Exception as exc:
            raise StaticCallError(f"tracepoint {tp.name!r}: its sites could not be "
                                  f"retargeted: {exc}") from exc

    def in_order(first: Callable[[], None], then: Callable[[], None],
                 undo_first: Callable[[], None]) -> None:
        """``first()``, then ``then()``; if that fails, ``undo_first()``."""
        first()
        try:
            then()
        except BaseException as exc:
            try:
                undo_first()
            except Exception as failed:  # keep the first error; say the undo failed too
                exc.add_note(f"undoing the first step failed too: {failed!r}")
            raise

    if old is None and new is not None:
        in_order(lambda: retarget(None, new), lambda: set_state(key, True),
                 lambda: retarget(new, None))
    elif new is None and old is not None:
        in_order(lambda: set_state(key, False), lambda: retarget(old, None),
                 lambda: set_state(key, True))
    else:
        retarget(old, new)
    d = tp.__dict__
    d["_tp_probes"] = probes
    d["_tp_target"] = new
    _forward.set_target(tp, runtime)


@overload
def register_probe(tp: Tracepoint[F], probe: Probe[F]) -> None: ...
@overload
def register_probe(tp: TracepointOf[F], probe: Probe[F]) -> None: ...


def register_probe(tp: TracepointOf[F], probe: Probe[F]) -> None:
    """Attach ``probe`` to ``tp``; it runs after the probes attached before it. It must
    accept every call the prototype accepts (``StaticCallSignatureError``); attaching a
    probe that is already attached raises ``StaticCallError`` (the kernel's -EEXIST)."""
    t = _as_tracepoint(tp, "register_probe")
    with UPDATE_LOCK:
        _check_probe(t, probe)
        if any(_same_probe(p, probe) for p in t._tp_probes):
            raise StaticCallError(f"tracepoint {t.name!r}: probe {probe!r} is already "
                                  f"registered")
        _set_probes(t, t._tp_probes + (probe,))


@overload
def unregister_probe(tp: Tracepoint[F], probe: Probe[F]) -> None: ...
@overload
def unregister_probe(tp: TracepointOf[F], probe: Probe[F]) -> None: ...


def unregister_probe(tp: TracepointOf[F], probe: Probe[F]) -> None:
    """Detach ``probe`` from ``tp``; ``StaticCallError`` if it is not attached. A call
    already running on another thread may still call it once."""
    t = _as_tracepoint(tp, "unregister_probe")
    with UPDATE_LOCK:
        probes = t._tp_probes
        for i, p in enumerate(probes):
            if _same_probe(p, probe):
                _set_probes(t, probes[:i] + probes[i + 1:])
                return
        raise StaticCallError(f"tracepoint {t.name!r}: probe {probe!r} is not registered")


def tracepoint_enabled(tp: Tracepoint[Any]) -> bool:
    """Whether any probe is attached (the kernel's ``trace_<name>_enabled()``)."""
    return _as_tracepoint(tp, "tracepoint_enabled")._tp_key.enabled


def tracepoint_probes(tp: Tracepoint[F]) -> tuple[F, ...]:
    """The attached probes, in the order they run."""
    return _as_tracepoint(tp, "tracepoint_probes")._tp_probes


def all_tracepoints() -> list[Tracepoint[Any]]:
    """Every tracepoint defined so far, in definition order."""
    return list(_ALL)

