"""Imported only when a declaration of one of its keys is first used."""

from staticcall import define_static_call

IMPORTS = []
IMPORTS.append(1)


def lazy_target(x):
    return ("lazy", x)


lazy_key = define_static_call(lazy_target, name="lazy_key")
