"""Subcommands of the ``diffdag`` command line, one module each with ``main(argv) -> int``."""
