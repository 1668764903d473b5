"""Keys and the runtime path: everything that works without rewriting bytecode.

A key (``StaticCall``) is a forwarder (``_forward``: the compiled accelerator's type,
else a ``functools.partial`` subclass) whose C-level call goes straight to the key's
*effective* callable: the target, a raiser for NULL, or ``static_call_return0`` for
RET0. That makes calling a key cheaper than any Python ``__call__`` could. No attribute
shows the effective callable; the partial-like fields (``func``, ``args``,
``keywords``) show a forwarder instead, so that nothing that unwraps a key can keep the
target of the moment.

``static_call(key)`` and ``static_call_cond(key)`` hand out a small generated trampoline
per key (a Python function with the prototype's parameters whose target lives in a
closure cell): one C-level lookup (a field of the key, or a dict) and one
Python-to-Python call, which a JIT trace can follow into the target.
"""

from __future__ import annotations

import _thread
import os
import reprlib
import sys
import types
from _weakref import CallableProxyType  # weakref's, without the rest of weakref
from types import EllipsisType

from . import _forward
from ._errors import (
    StaticCallError,
    StaticCallNullError,
    StaticCallSignatureError,
)
from ._naming import defining_module
from ._typing import TYPE_CHECKING, F, overload

if TYPE_CHECKING:
    import inspect
    from typing import Any, Callable, Mapping, ParamSpec, TypeVar

    G = TypeVar("G", bound=Callable[..., Any])
    P = ParamSpec("P")
    R = TypeVar("R")

#: Serialises every update; calls never take it.
UPDATE_LOCK = _thread.RLock()

if hasattr(os, "register_at_fork"):
    # A fork waits for an update in another thread to end: the child gets no half-made
    # update, and no lock held by a thread it does not have (its first update would hang).
    os.register_at_fork(before=UPDATE_LOCK.acquire, after_in_parent=UPDATE_LOCK.release,
                        after_in_child=UPDATE_LOCK.release)


if TYPE_CHECKING:
    from ._types import Return0Type

    #: The RET0 target: accepts anything and returns ``0``; it fits every key.
    static_call_return0: Return0Type
else:
    def static_call_return0(*args: Any, **kwargs: Any) -> int:
        """The RET0 target: accepts anything and returns ``0``; it fits every key."""
        return 0


def _return_none(*args: Any, **kwargs: Any) -> None:
    return None



class _Unset:
    """Marker for "no value"; never a target."""

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()

# --------------------------------------------------------------------------------------
# Trampolines: generated forwarders whose target is a closure cell.
# --------------------------------------------------------------------------------------

_TRAMPOLINE_TEMPLATES: dict[tuple[str, ...] | None, Callable[[Any], Callable[..., Any]]] = {}


def _simple_parameters(sig: inspect.Signature | None) -> tuple[str, ...] | None:
    """Parameter names when every parameter is positional-or-keyword without default."""
    if sig is None:
        return None
    names = []
    for p in sig.parameters.values():
        if p.kind is not p.POSITIONAL_OR_KEYWORD or p.default is not p.empty:
            return None
        names.append(p.name)
    if len(names) > 32:
        return None
    return tuple(names)


def _trampoline_factory(params: tuple[str, ...] | None) -> Callable[[Any], Callable[..., Any]]:
    factory = _TRAMPOLINE_TEMPLATES.get(params)
    if factory is None:
        if params is None:
            head = body = "*args, **kwargs"
        else:
            head = body = ", ".join(params)
        target = "static_call_target"
        while params and target in params:
            target += "_"
        src = (
            f"def factory({target}):\n"
            f"    def trampoline({head}):\n"
            f"        return {target}({body})\n"
            f"    return trampoline\n"
        )
        ns: dict[str, Any] = {}
        exec(compile(src, "<staticcall trampoline>", "exec"), ns)
        factory = _TRAMPOLINE_TEMPLATES[params] = ns["factory"]
    return factory


def _binds_like(params: tuple[str, ...] | None, target: Any, sig: Any = UNSET) -> bool:
    """Whether passing ``params`` by position binds ``target`` exactly as passing them
    as written would: its leading parameters are those names, positional-or-keyword."""
    if params is None or target is None or target is static_call_return0:
        return True
    if sig is UNSET:
        from ._signature import signature_of  # with inspect: loaded at the first key

        sig = signature_of(target)
    if sig is None:
        return False
    leading = list(sig.parameters.values())[:len(params)]
    return len(leading) == len(params) and all(
        p.name == name and p.kind is p.POSITIONAL_OR_KEYWORD for p, name in zip(leading, params))


#: id(trampoline) -> its key, for following targets (both live as long as the process).
_TRAMPOLINE_KEYS: dict[int, StaticCall[Any]] = {}


def _make_trampoline(key: StaticCall[Any], params: tuple[str, ...] | None, target: Any,
                     kind: str) -> Callable[..., Any]:
    tramp = _trampoline_factory(params)(target)
    tramp.__name__ = key.name
    tramp.__qualname__ = f"{kind}({key.name})"
    tramp.__doc__ = key.__doc__
    _TRAMPOLINE_KEYS[id(tramp)] = key
    return tramp


class Handle:
    """What the runtime path needs of a handle on a key (``StaticCallHandle``, in
    ``_exports``): the key it stands for, checked for ``action`` (``"call"``,
    ``"update"``, ``"query"``) by the module whose globals are ``globals_``."""

    __slots__ = ()

    if TYPE_CHECKING:
        _key: StaticCall[Any] | None  # the key, once resolved

        @property
        def name(self) -> str: ...

    def _resolve_for(self, action: str, globals_: dict[str, Any]) -> StaticCall[Any]:
        raise NotImplementedError

    def _target_key(self) -> StaticCall[Any]:
        """The key, resolved now if need be (no rights checked)."""
        raise NotImplementedError


class _CallTable(dict):  # type: ignore[type-arg]
    """key -> trampoline. Misses resolve handles or reject non-keys."""

    def __init__(self, cond: bool) -> None:
        super().__init__()
        self.cond = cond

    def __missing__(self, obj: Any) -> Callable[..., Any]:
        form = "static_call_cond" if self.cond else "static_call"
        if isinstance(obj, Handle):
            key = obj._resolve_for("call", sys._getframe(1).f_globals)
            trampoline: Callable[..., Any] = self[key]
            return trampoline
        raise TypeError(f"{form}() expects a StaticCall key or handle, not {type(obj).__name__}")


_CALL_TABLE = _CallTable(cond=False)
_COND_TABLE = _CallTable(cond=True)


if TYPE_CHECKING:
    from ._exports import StaticCallHandle
    from ._types import KeyOrHandle

    @overload
    def static_call(key: StaticCall[F]) -> F: ...
    @overload
    def static_call(key: StaticCallHandle[F]) -> F: ...
    def static_call(key: StaticCall[F] | StaticCallHandle[F]) -> F:
        """The key's trampoline: ``static_call(key)(args)`` calls the current target."""

    @overload
    def static_call_cond(key: StaticCall[Callable[P, R]]) -> Callable[P, R | None]: ...
    @overload
    def static_call_cond(key: StaticCallHandle[Callable[P, R]]) -> Callable[P, R | None]: ...
    def static_call_cond(key: Any) -> Any:
        """``static_call_cond(key)(args)``: calls the current target, ``None`` if NULL."""
else:
    static_call, static_call_cond = _forward.lookups(_CALL_TABLE, _COND_TABLE)

# --------------------------------------------------------------------------------------
# The key type.
# --------------------------------------------------------------------------------------

class StaticCall(_forward.ForwarderOf[F]):
    """A static call key: a named, replaceable call target.

    Create keys with :func:`define_static_call`, :func:`define_static_call_null` or
    :func:`define_static_call_ret0`; call them through ``static_call(key)(...)``,
    ``static_call_cond(key)(...)`` or ``key(...)``.
    """

    # Instance state lives in the forwarder's __dict__ (keys need a dict anyway for
    # __name__, __doc__, ...). Attribute names start with "_sc_" to stay out of the way.
    if TYPE_CHECKING:
        name: str
        __name__: str
        __qualname__: str
        __module__: str
        _sc_target: Any
        _sc_prototype: inspect.Signature | None
        _sc_params: tuple[str, ...] | None
        _sc_call_tramp: Callable[..., Any]
        _sc_cond_tramp: Callable[..., Any]
        _sc_call_any: Callable[..., Any]
        _sc_cond_any: Callable[..., Any]
        _sc_null: Callable[..., Any]
        _sc_sites: dict[int, Any]

        def _sc_accepts(self, target: F, /) -> None:
            """Makes a key a ``KeyOrHandle[F]`` (see ``_types``)."""

    if not TYPE_CHECKING:
        # Code that unwraps partials (functools.partial in pure Python, toolz.curry,
        # inspect) sees a forwarder that follows updates, never the target of the moment.
        func = _forward.hidden_field("func", lambda self: self._sc_call_any)
        args = _forward.hidden_field("args", lambda self: ())
        keywords = _forward.hidden_field("keywords", lambda self: {})

    def __new__(cls, *args: Any, **kwargs: Any) -> StaticCall[F]:
        raise TypeError("create keys with define_static_call(), define_static_call_null() "
                        "or define_static_call_ret0()")

    @classmethod
    def _create(cls, target: Any, prototype: Callable[..., Any] | None, name: str | None,
                module: str) -> StaticCall[Any]:
        from ._signature import any_signature, signature_of

        source = target if callable(target) and target is not static_call_return0 else prototype
        explicit = name
        if name is None:
            name = getattr(source, "__name__", None)
            if not isinstance(name, str):
                raise TypeError("a key needs a name: pass name=... (the prototype has no __name__)")
        if not isinstance(name, str):
            raise TypeError(f"a key's name must be a str, not {type(name).__name__}")
        null = make_null_raiser(name)
        self: StaticCall[Any] = _forward.new(cls, null)
        d = self.__dict__
        d["name"] = name
        d["__name__"] = name
        # an explicit name names the key everywhere; otherwise it is the source's
        d["__qualname__"] = (getattr(source, "__qualname__", name)
                             if source is not None and explicit is None else name)
        d["__doc__"] = getattr(source, "__doc__", None) if source is not None else None
        d["__module__"] = module
        if prototype is not None and not callable(prototype):
            raise TypeError(f"static call {name!r}: prototype must be callable or None, "
                            f"not {type(prototype).__name__}")
        d["_sc_prototype"] = signature_of(prototype)
        if (prototype is not None and prototype is not target and callable(target)
                and target is not static_call_return0 and d["_sc_prototype"] is not None):
            _check_default_target(name, target, d["_sc_prototype"])
        # what inspect.signature(), help() and documentation tools show for the key
        d["__signature__"] = d["_sc_prototype"] or any_signature()
        d["_sc_params"] = _simple_parameters(d["_sc_prototype"])
        d["_sc_null"] = null
        d["_sc_target"] = None
        d["_sc_sites"] = {}
        # Two pairs of trampolines: with the prototype's own parameters (fast, passes
        # arguments by position) and with *args, **kwargs (passes them as written).
        # Both always follow the target; the tables hand out the exact pair only while
        # the target binds positions and names the way the prototype does.
        d["_sc_call_tramp"] = _make_trampoline(self, d["_sc_params"], null, "static_call")
        d["_sc_cond_tramp"] = _make_trampoline(self, d["_sc_params"], _return_none,
                                               "static_call_cond")
        if d["_sc_params"] is None:
            d["_sc_call_any"], d["_sc_cond_any"] = d["_sc_call_tramp"], d["_sc_cond_tramp"]
        else:
            d["_sc_call_any"] = _make_trampoline(self, None, null, "static_call")
            d["_sc_cond_any"] = _make_trampoline(self, None, _return_none, "static_call_cond")
        # key.func (the forwarder unwrapping code sees) shows the key's signature
        d["_sc_call_any"].__signature__ = d["__signature__"]
        if target is not None:
            # a new key is in no cycle, but a chain may be too long; a declaration stays lazy
            find_cycle(self, target, resolve=False)
        _CALL_TABLE[self] = d["_sc_call_tramp"]
        _COND_TABLE[self] = d["_sc_cond_tramp"]
        _forward.set_entries(self, d["_sc_call_tramp"], d["_sc_cond_tramp"])
        if target is not None:
            self._sc_set_runtime(target)
        return self

    # Keys are descriptors that bind to nothing (ForwarderOf's __get__), so a key
    # stored on a class is reached unchanged through instances.

    @reprlib.recursive_repr("<StaticCall ...>")
    def __repr__(self) -> str:
        return f"<StaticCall {self.name!r} -> {target_repr(self._sc_target)}>"

    def __reduce__(self) -> str:
        # By reference, as functions are: pickle stores the key's module and this name,
        # and loading looks the name up again (in the receiving process, its own key).
        return _reference_name(self)

    def __copy__(self) -> StaticCall[F]:
        return self

    def __deepcopy__(self, memo: Any) -> StaticCall[F]:
        return self

    @property
    def prototype(self) -> inspect.Signature | None:
        """The key's prototype signature, or ``None``."""
        return self._sc_prototype

    def _sc_effective(self, cond: bool) -> Any:
        target = self._sc_target
        if target is None:
            return _return_none if cond else self._sc_null
        if _c_path_to_a_key(target):
            # A key calling a key without a Python frame between them is a C-level call
            # per link; a Python frame per link lets the recursion limit, not the C
            # stack, bound a long chain of keys.
            if issubclass(type(target), StaticCall):
                return target._sc_call_any
            return _python_hop(target)
        return target

    def _sc_set_runtime(self, target: Any, sig: Any = UNSET) -> Any:
        """Point the runtime path (key call, trampolines) at ``target``; return the
        previous target, for the caller to release once its update is complete."""
        old = self._sc_target
        self.__dict__["_sc_target"] = target
        call = self._sc_effective(False)
        cond = self._sc_effective(True)
        for tramp, value in ((self._sc_call_tramp, call), (self._sc_cond_tramp, cond),
                             (self._sc_call_any, call), (self._sc_cond_any, cond)):
            assert tramp.__closure__ is not None
            tramp.__closure__[0].cell_contents = value
        exact = _binds_like(self._sc_params, target, sig)
        _CALL_TABLE[self] = self._sc_call_tramp if exact else self._sc_call_any
        _COND_TABLE[self] = self._sc_cond_tramp if exact else self._sc_cond_any
        _forward.set_entries(self, _CALL_TABLE[self], _COND_TABLE[self])
        _forward.set_target(self, call)
        return old


def _reference_name(key: StaticCall[Any]) -> str:
    """The name under which ``key`` is found in its defining module (``"attr"`` or
    ``"Class.attr"``), for pickling by reference."""
    module_name = key.__module__
    module = sys.modules.get(module_name)
    if module is not None:
        for candidate in (key.__qualname__, key.name):
            value: Any = module
            for part in candidate.split("."):
                value = getattr(value, part, None)
            if value is key:
                return candidate
        namespace = dict(vars(module))
        for attr, value in namespace.items():
            if value is key:
                return str(attr)
        for attr, value in namespace.items():  # keys stored as class attributes
            if isinstance(value, type) and value.__module__ == module_name:
                for sub, member in list(vars(value).items()):
                    if member is key:
                        return f"{attr}.{sub}"
    from ._errors import StaticCallPicklingError

    raise StaticCallPicklingError(
        f"static call {key.name!r}: cannot pickle the key by reference: module "
        f"{module_name!r} has no global (or class attribute) that is this key; keys pickle "
        f"by name, like functions, so define them at module level")


def _check_default_target(name: str, target: Any, proto: inspect.Signature) -> None:
    from ._signature import incompatibility, misfit_message, signature_of

    sig = signature_of(target)
    if sig is not None and incompatibility(proto, sig) is not None:
        raise StaticCallSignatureError(f"static call {name!r}: the default target "
                                       f"{target_repr(target)} does not fit: "
                                       f"{misfit_message(proto, sig)}")


def make_null_raiser(name: str, where: str | None = None) -> Callable[..., Any]:
    message = f"static call {name!r} has no target (NULL)"
    if where:
        message += f" at {where}"

    def null_target(*args: Any, **kwargs: Any) -> Any:
        raise StaticCallNullError(message)

    null_target.__qualname__ = f"null_target({name})"
    return null_target


def target_repr(target: Any) -> str:
    if target is None:
        return "NULL"
    if target is static_call_return0:
        return "RET0"
    if issubclass(type(target), StaticCall):
        return f"<StaticCall {target.name!r}>"  # one level: a chain of keys stays short
    try:
        return repr(target)
    except Exception as exc:  # a broken __repr__ must not break the key's
        return f"<{type(target).__qualname__} object (repr failed: {type(exc).__name__})>"


# --------------------------------------------------------------------------------------
# Following targets: no key may reach itself.
# --------------------------------------------------------------------------------------

#: The C lru_cache wrapper (a call through it is a C-level call); without _functools,
#: lru_cache makes Python functions, whose frames the recursion limit guards.
try:
    from _functools import (  # type: ignore[import-not-found, unused-ignore]
        _lru_cache_wrapper as _LRU_WRAPPER,
    )
except ImportError:
    _LRU_WRAPPER = None

#: The longest chain of keys a target may lead through. Each link is one C-level call
#: when a key is called, so an unbounded chain could exhaust the C stack.
MAX_CHAIN = 200


def _next_hops(obj: Any, resolve: bool = True) -> tuple[str, list[Any]]:
    """How ``obj`` is shown in a cycle, and what calling it calls, as far as can be told
    without calling it (keys are not handled here). ``resolve``: resolve declared handles
    (else one not resolved yet leads nowhere)."""
    kind = type(obj)
    if kind is types.BuiltinFunctionType:
        return "", []
    if kind is CallableProxyType:
        # what the referent's __call__ is (a bound method, a method-wrapper, or a key,
        # staticmethod or function set as a class attribute): the rules below follow it
        try:
            return "weakref.proxy", [obj.__call__]
        except (ReferenceError, AttributeError):
            return "", []
    key = _TRAMPOLINE_KEYS.get(id(obj))
    if key is not None and obj in (key._sc_call_tramp, key._sc_cond_tramp,
                                   key._sc_call_any, key._sc_cond_any):
        return str(obj.__qualname__), [key]
    if kind is types.FunctionType:
        return "", []
    if kind is types.MethodWrapperType and obj.__name__ == "__call__":
        return "__call__", [obj.__self__]  # k.__call__ calls k
    if issubclass(kind, Handle):
        if not resolve and obj._key is None:
            return "", []
        try:
            resolved = obj._target_key()
        except StaticCallError as exc:
            raise StaticCallError(f"{exc} (the handle is a target, and must resolve to "
                                  f"be checked for cycles)") from None
        return f"handle {obj.name!r}", [resolved]
    # forwarders that say what they call (tracepoints: their probes; a tracepoint is a
    # partial whose ``func`` is itself, so this comes first)
    follow = getattr(kind, "_sc_forwards_to", None)
    if follow is not None:
        return f"{getattr(kind, '_kind', kind.__name__)} {obj.name!r}", list(follow(obj))
    if issubclass(kind, _forward.partial):
        return "partial", [obj.func]
    if issubclass(kind, (types.MethodType, staticmethod, classmethod)):
        return str(kind.__name__), [obj.__func__]
    if kind is _LRU_WRAPPER:
        return "lru_cache", [obj.__wrapped__]
    # an instance whose class's __call__ is itself a forwarder (a key or tracepoint:
    # neither binds)
    call = next((vars(c)["__call__"] for c in kind.__mro__ if "__call__" in vars(c)), None)
    if issubclass(type(call), (_forward.ForwarderOf, Handle, _forward.partial)):
        return f"{kind.__name__}()", [call]
    return "", []


def _c_path_to_a_key(target: Any) -> bool:
    """Whether calling ``target`` may reach a key through C-level calls only (no Python
    frame on the way: a function, a trampoline or a handle's ``__call__`` is one)."""
    if type(target) in (types.FunctionType, types.BuiltinFunctionType):
        return False
    stack, seen = [target], set()
    while stack:
        obj = stack.pop()
        kind = type(obj)
        if (obj is None or kind in (types.FunctionType, types.BuiltinFunctionType)
                or issubclass(kind, Handle) or id(obj) in seen):
            continue
        seen.add(id(obj))
        if issubclass(kind, StaticCall):
            return True
        stack.extend(_next_hops(obj, resolve=False)[1])
    return False


def _python_hop(target: Any) -> Callable[..., Any]:
    def static_call_hop(*args: Any, **kwargs: Any) -> Any:
        return target(*args, **kwargs)
    return static_call_hop


def _leads_nowhere(obj: Any) -> bool:
    """Whether ``obj`` is a plain function or builtin (most targets): it calls no key
    that the cycle check could see."""
    kind = type(obj)
    return (kind is types.FunctionType and id(obj) not in _TRAMPOLINE_KEYS
            or kind is types.BuiltinFunctionType or obj is None)


def find_cycle(key: Any, target: Any,
               pending: Mapping[StaticCall[Any], Any] | None = None,
               resolve: bool = True) -> str | None:
    """The chain ``"a -> b -> a"`` by which ``target`` would lead back to ``key`` (a key,
    or a tracepoint: ``target`` is then a probe), or ``None``. ``pending`` holds
    targets about to be set (an update of several keys); ``resolve=False`` leaves
    declared handles that are not resolved yet alone."""
    if _leads_nowhere(target):
        return None
    what = f"{getattr(type(key), '_kind', 'static call')} {key.name!r}"
    new_targets: dict[int, Any] | None = None
    # depth-first over what each object calls; a path is the labels walked so far
    stack: list[tuple[Any, tuple[str, ...], int]] = [(target, (key.name,), 0)]
    seen: set[int] = set()
    while stack:
        obj, path, keys_passed = stack.pop()
        if _leads_nowhere(obj) or obj is static_call_return0 or id(obj) in seen:
            continue
        seen.add(id(obj))
        if obj is key:
            return " -> ".join(path + (key.name,))
        if issubclass(type(obj), StaticCall):  # not isinstance: a proxy claims the class
            if keys_passed >= MAX_CHAIN:
                raise StaticCallError(
                    f"{what}: what it calls leads through more than "
                    f"{MAX_CHAIN} keys ({' -> '.join(path[:3])} -> ...)")
            if new_targets is None:  # by identity: targets need not be hashable
                new_targets = {id(k): t for k, t in (pending or {}).items()}
            nxt = new_targets[id(obj)] if id(obj) in new_targets else obj._sc_target
            stack.append((nxt, path + (obj.name,), keys_passed + 1))
            continue
        label, hops = _next_hops(obj, resolve)
        for hop in hops:
            stack.append((hop, path + (label,), keys_passed))
    return None


# --------------------------------------------------------------------------------------
# Defining keys.
# --------------------------------------------------------------------------------------

def prototype_for(func: Any, prototype: Any, what: str) -> Callable[..., Any] | None:
    """The prototype callable of a key defined with target ``func`` (``None``: no check):
    ``prototype`` itself, ``func`` when it is ``UNSET``, none for ``...`` or ``None``."""
    if not callable(func):
        raise TypeError(f"{what} needs a callable target, not {type(func).__name__}")
    if prototype is UNSET:
        return None if func is static_call_return0 else func
    if prototype is ... or prototype is None:
        return None
    if not callable(prototype):
        raise TypeError(f"{what}: prototype must be a callable (whose signature is the "
                        f"prototype) or ... (no check), not {type(prototype).__name__}")
    return prototype  # type: ignore[no-any-return]


@overload
def define_static_call(func: F, *, name: str | None = None) -> StaticCall[F]: ...
@overload
def define_static_call(func: Callable[..., Any], *, name: str | None = None,
                       prototype: G) -> StaticCall[G]: ...
@overload
def define_static_call(func: Callable[..., Any], *, name: str | None = None,
                       prototype: EllipsisType | None) -> StaticCall[Callable[..., Any]]: ...


def define_static_call(func: Callable[..., Any], *, name: str | None = None,
                       prototype: Any = UNSET) -> StaticCall[Any]:
    """A key whose target is ``func``. The prototype is ``func``'s signature, or that of
    ``prototype`` (which ``func`` must fit), or none with ``prototype=...``."""
    proto = prototype_for(func, prototype, "define_static_call()")
    return StaticCall._create(func, proto, name, defining_module())


@overload
def define_static_call_null(prototype: F, *, name: str | None = None) -> StaticCall[F]: ...
@overload
def define_static_call_null(prototype: None = None, *,
                            name: str | None = None) -> StaticCall[Callable[..., Any]]: ...


def define_static_call_null(prototype: Callable[..., Any] | None = None, *,
                            name: str | None = None) -> StaticCall[Any]:
    """A key with no target (NULL)."""
    if prototype is None and name is None:
        name = "null"
    return StaticCall._create(None, prototype, name, defining_module())


@overload
def define_static_call_ret0(prototype: F, *, name: str | None = None) -> StaticCall[F]: ...
@overload
def define_static_call_ret0(prototype: None = None, *,
                            name: str | None = None) -> StaticCall[Callable[..., Any]]: ...


def define_static_call_ret0(prototype: Callable[..., Any] | None = None, *,
                            name: str | None = None) -> StaticCall[Any]:
    """A key whose target is :func:`static_call_return0`."""
    if prototype is None and name is None:
        name = "ret0"
    return StaticCall._create(static_call_return0, prototype, name, defining_module())


def as_key(obj: Any, action: str) -> StaticCall[Any]:
    """The key behind ``obj`` (a key or a handle), checked for ``action``."""
    if isinstance(obj, StaticCall):
        return obj
    if isinstance(obj, Handle):
        return obj._resolve_for(action, sys._getframe(2).f_globals)
    raise TypeError(f"expected a StaticCall key or handle, not {type(obj).__name__}")


def static_call_query(key: KeyOrHandle[F]) -> F | None:
    """The current target: the function, ``None`` for NULL, ``static_call_return0`` for RET0."""
    target: F | None = as_key(key, "query")._sc_target
    return target

