"""A module that defines and exports keys (EXPORT_STATIC_CALL and friends).

Attribute names differ from key names, so a declaration of ``"exporting_module:<key name>"``
can only be resolved through the export registry.
"""

from staticcall import (
    EXPORT_STATIC_CALL,
    EXPORT_STATIC_CALL_GPL,
    EXPORT_STATIC_CALL_TRAMP,
    EXPORT_STATIC_CALL_TRAMP_GPL,
    define_static_call,
    export_static_call,
)


def base(x):
    return x + 100


_full_key = define_static_call(base, name="rt_full")
full = export_static_call(_full_key)

_tramp_key = define_static_call(base, name="rt_tramp")
tramp = export_static_call(_tramp_key, tramp=True)

_gpl_key = define_static_call(base, name="rt_gpl")
gpl = export_static_call(_gpl_key, gpl=True)

_tramp_gpl_key = define_static_call(base, name="rt_tramp_gpl")
tramp_gpl = export_static_call(_tramp_gpl_key, tramp=True, gpl=True)

# the kernel spellings
_k_full = define_static_call(base, name="rt_k_full")
k_full = EXPORT_STATIC_CALL(_k_full)
_k_tramp = define_static_call(base, name="rt_k_tramp")
k_tramp = EXPORT_STATIC_CALL_TRAMP(_k_tramp)
_k_gpl = define_static_call(base, name="rt_k_gpl")
k_gpl = EXPORT_STATIC_CALL_GPL(_k_gpl)
_k_tramp_gpl = define_static_call(base, name="rt_k_tramp_gpl")
k_tramp_gpl = EXPORT_STATIC_CALL_TRAMP_GPL(_k_tramp_gpl)

# not exported: reachable by attribute
plain_key = define_static_call(base, name="plain_key")


class Namespace:
    nested_key = define_static_call(base, name="nested_key")


not_a_key = 42
