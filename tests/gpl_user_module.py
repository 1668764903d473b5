"""A GPL-compatible module that uses exported static calls."""

from handle_ops import OPS_SOURCE

__license__ = "GPL"

exec(compile(OPS_SOURCE, f"<{__name__} operations>", "exec"))
