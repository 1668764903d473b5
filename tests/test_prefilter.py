"""The decorator reads the bytecode only of code objects whose names may lead to a site
(``_rewrite.find.may_hold_sites``), and that check never misses one: every way of naming
a key from a global is still found and rewritten."""

from __future__ import annotations

import types
from typing import Any

import pytest

import rewrite_helpers as rw
import staticcall
import staticcall._rewrite as rewrite_pkg
from staticcall import define_static_call, static_call, static_calls


def target(x: Any) -> Any:
    return ("target", x)


K = define_static_call(target, name="prefilter_k")


class Keys:
    k = K


class Holder:
    def __init__(self) -> None:
        self.k = K

    @property
    def computed(self) -> Any:
        return K


class Lazy:
    def __getattr__(self, name: str) -> Any:
        return K


def helper() -> None: ...


helper.k = K  # type: ignore[attr-defined]

inner_mod = types.ModuleType("prefilter_inner")
inner_mod.k = K  # type: ignore[attr-defined]
outer_mod = types.ModuleType("prefilter_outer")
outer_mod.inner = inner_mod  # type: ignore[attr-defined]
lazy_mod = types.ModuleType("prefilter_lazy")
lazy_mod.__getattr__ = lambda name: K  # type: ignore[attr-defined]

ENV = {"K": K, "Keys": Keys, "holder": Holder(), "lazy": Lazy(), "helper": helper,
       "outer_mod": outer_mod, "lazy_mod": lazy_mod, "static_call": static_call,
       "sc": staticcall}

FORMS = {
    "global": "K(x)",
    "static_call": "static_call(K)(x)",
    "module attribute": "sc.static_call(K)(x)",
    "class attribute": "Keys.k(x)",
    "instance attribute": "holder.k(x)",
    "property": "holder.computed(x)",
    "__getattr__": "lazy.anything(x)",
    "function attribute": "helper.k(x)",
    "module chain": "outer_mod.inner.k(x)",
    "module __getattr__": "static_call(lazy_mod.k)(x)",
}


@pytest.mark.parametrize("form", FORMS)
def test_every_way_to_name_a_key_is_still_found(form: str) -> None:
    source = f"def f(x):\n    return {FORMS[form]}\n"
    filename = rw.register_source(source, "prefilter")
    plain, other = rw.twin(source, ENV, filename=filename)
    g = static_calls(other["f"])
    assert g(1) == plain["f"](1) == ("target", 1)
    rw.assert_rewritten(K, filename, count=1)


def test_code_without_sites_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
def f(x):
    y = len(str(x)) + Keys.__name__.count("K")
    def g(z):
        return holder.k(z)       # the nested function holds a site
    def h(z):
        return [w + y for w in range(z)]
    return g(y), h(2)
"""
    read_codes: list[str] = []
    real_read = rewrite_pkg.read

    def counting_read(code: types.CodeType) -> Any:
        read_codes.append(code.co_name)
        return real_read(code)

    monkeypatch.setattr(rewrite_pkg, "read", counting_read)
    plain, other = rw.twin(source, ENV, stem="prefilter")
    g = static_calls(other["f"])
    assert read_codes == ["g"]  # f and h name nothing that leads to a site
    assert g(3) == plain["f"](3)
    # f's code was still replaced: it makes the rewritten g
    assert g.__code__ is not plain["f"].__code__
