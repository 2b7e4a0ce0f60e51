"""The ``diffdag`` command line."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from workflow import __version__

    argv = sys.argv[1:] if argv is None else argv
    print(f"diffdag {__version__}")
    return 0
