"""A module without ``__license__`` that uses exported static calls."""

from handle_ops import OPS_SOURCE

exec(compile(OPS_SOURCE, f"<{__name__} operations>", "exec"))
