"""``python -m staticcall``: the command line (see ``staticcall --help``)."""

from __future__ import annotations

import sys
from typing import Sequence

from .tools.cli import main as _main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``staticcall`` command with ``argv`` (default: ``sys.argv[1:]``)."""
    return _main(argv)


if __name__ == "__main__":
    sys.exit(main())
