"""Entry point: ``python examples/export_tramp`` (or ``python -m export_tramp`` from examples/)."""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    # Run as a directory: make the package importable by its name, not as loose modules.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[0] = os.path.dirname(here)

from export_tramp.consumer import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
