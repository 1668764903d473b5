"""Naming shared by static call keys, static keys and tracepoints: the module that
defines one, and the name that module binds it to (found when first needed, also how
static keys and tracepoints pickle: by reference)."""

from __future__ import annotations

import sys
import types

from ._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

#: The package's modules whose frames stand between a definition and its caller.
OWN_MODULES = frozenset({"staticcall._keys", "staticcall._aliases",
                         "staticcall._static_keys", "staticcall._tracepoints"})


def defining_module() -> str:
    """The module of the first frame outside this package's own modules."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name not in OWN_MODULES:
            return str(name) or "__main__"
        frame = frame.f_back
    return "__main__"


def find_name(obj: object, module: str) -> str | None:
    """The qualified name under which ``module`` holds ``obj`` (a global, or an
    attribute of a class defined there), or ``None``."""
    mod = sys.modules.get(module)
    namespace = getattr(mod, "__dict__", None)
    if not isinstance(namespace, dict):
        return None
    for name, value in list(namespace.items()):
        if value is obj:
            return str(name)
    for name, value in list(namespace.items()):
        if isinstance(value, type) and getattr(value, "__module__", None) == module:
            for attr, member in list(vars(value).items()):
                if member is obj:
                    return f"{name}.{attr}"
    return None


class Named:
    """Naming shared by static keys and tracepoints: an explicit name, or the name the
    defining module binds the object to (found when first needed)."""

    _kind = "object"
    _default_name = "anonymous"
    __dict__: dict[str, Any]

    def _init_name(self, name: str | None, module: str) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"a {self._kind}'s name must be a str, not {type(name).__name__}")
        self.__dict__["__module__"] = module
        self.__dict__["_explicit_name"] = name
        self.__dict__["_found_qualname"] = None

    def _qualname(self) -> str | None:
        if self._explicit_name is not None:
            return str(self._explicit_name)
        found = self.__dict__["_found_qualname"]
        if found is None:
            found = find_name(self, self.__dict__["__module__"])
            if found is not None:
                self.__dict__["_found_qualname"] = found
        return found  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        """The name given at definition, else the name its module binds it to."""
        qualname = self._qualname()
        return qualname.rpartition(".")[2] if qualname else self._default_name

    def __getattr__(self, attr: str) -> Any:
        # __name__ and __qualname__ follow the name, like a function's
        if attr == "__name__":
            return self.name
        if attr == "__qualname__":
            return self._qualname() or self._default_name
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        # by reference, as functions pickle: module and qualified name, resolved at load
        module = self.__dict__["__module__"]
        qualname = self._qualname()
        if qualname is None or lookup(module, qualname) is not self:
            qualname = self.__dict__["_found_qualname"] or find_name(self, module)
            self.__dict__["_found_qualname"] = qualname
        if qualname is None or lookup(module, qualname) is not self:
            import pickle

            raise pickle.PicklingError(
                f"{self._kind} {self.name!r} cannot be pickled: it is not reachable as "
                f"{module}.{qualname or '<name>'} (pickling is by reference)")
        return (by_reference, (module, qualname))

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


def lookup(module: str, qualname: str) -> Any:
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def by_reference(module: str, qualname: str) -> Any:
    """Unpickle a static key or tracepoint: import ``module``, follow ``qualname``."""
    import importlib

    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj
