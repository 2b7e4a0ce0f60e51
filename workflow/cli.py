"""The ``diffdag`` command line (also ``python -m workflow``).

    diffdag run GRAPH.yaml [--steps N] [--workers N | --scheduler ADDR] [--out DIR] [--resume DIR] [--force]
    diffdag check GRAPH.yaml        validate, no run
    diffdag describe GRAPH.yaml     samples, parameters, nodes, the event/global split
    diffdag schema                  the JSON Schema of graph files
    diffdag cls ...                 expected CLs of a workspace (statistics)
    diffdag viz GRAPH.yaml -o F     draw a graph

Exit codes: 0 success; 1 a run that stopped early (NaN) or an unexpected internal error;
2 bad input (a graph file, data file, run folder or argument), reported as one short
paragraph without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

BAD_INPUT = 2
DELEGATED = {"cls": "workflow.commands.cls", "viz": "workflow.commands.viz"}


def parser() -> argparse.ArgumentParser:
    from workflow import __version__
    from workflow.commands import check, describe, run

    p = argparse.ArgumentParser(prog="diffdag", description="Declarative, differentiable analysis graphs.")
    p.add_argument("--version", action="version", version=f"diffdag {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run.add_arguments(sub.add_parser("run", help="optimise a graph file; writes a run folder with a report"))
    check.add_arguments(sub.add_parser("check", help="validate a graph file (no run)"))
    describe.add_arguments(sub.add_parser("describe", help="samples, parameters, nodes, event/global split"))
    sub.add_parser("schema", help="print the JSON Schema of graph files")
    sub.add_parser("cls", help="expected CLs of a pyhf workspace (diffdag cls --help)", add_help=False)
    sub.add_parser("viz", help="draw a graph: SVG/PNG/DOT/Mermaid/HTML (diffdag viz --help)", add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATED:
        return _delegate(argv[0], argv[1:])
    args = parser().parse_args(argv)
    return _guarded(lambda: _dispatch(args), args.command)


def _dispatch(args) -> int:
    from workflow.commands import check, describe, run

    if args.command == "run":
        return run.run(args)
    if args.command == "check":
        return check.check(args)
    if args.command == "describe":
        return describe.describe(args)
    if args.command == "schema":
        import json

        from workflow.spec import json_schema

        print(json.dumps(json_schema(), indent=2))
        return 0
    raise AssertionError(args.command)


def _delegate(command: str, argv: list[str]) -> int:
    try:
        module = importlib.import_module(DELEGATED[command])
    except ModuleNotFoundError as error:
        if error.name != DELEGATED[command]:
            raise
        print(f"diffdag {command}: this installation has no '{command}' command yet.", file=sys.stderr)
        return BAD_INPUT
    return _guarded(lambda: module.main(argv), command)


def _guarded(action, command: str) -> int:
    """Run a command; user errors become one paragraph on stderr and exit code 2."""
    import pydantic
    import yaml

    from workflow.errors import DiffdagError

    try:
        return int(action() or 0)
    except KeyboardInterrupt:
        print(f"diffdag {command}: interrupted", file=sys.stderr)
        return 130
    except (DiffdagError, pydantic.ValidationError, yaml.YAMLError, OSError) as error:
        if os.environ.get("DIFFDAG_DEBUG"):
            raise
        print(f"diffdag {command}: error: {_paragraph(error)}", file=sys.stderr)
        return BAD_INPUT
    except Exception as error:
        if os.environ.get("DIFFDAG_DEBUG"):
            raise
        print(f"diffdag {command}: internal error: {type(error).__name__}: {error}\n"
              "  (set DIFFDAG_DEBUG=1 for the traceback, and please report it)", file=sys.stderr)
        return 1


def _paragraph(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error).strip()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
