"""``diffdag cls WORKSPACE.json``: observed and expected CLs, a drop-in for ``pyhf cls``.

Prints the same JSON as pyhf (``CLs_exp``, ``CLs_obs``, sorted keys, indent 4) using the
same model settings (normsys code4, histosys code4p). A workspace that cannot be read or
is invalid exits 2 with one paragraph naming the file and JSON path, no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

BAD_INPUT = 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="diffdag cls", description="Observed and expected CLs of a pyhf JSON workspace (asymptotics).")
    p.add_argument("workspace", help="pyhf JSON workspace file ('-' reads standard input)")
    p.add_argument("--test-poi", type=float, default=1.0, help="POI value tested (default 1.0)")
    p.add_argument("--test-stat", choices=("qtilde", "q"), default="qtilde", help="test statistic (default qtilde)")
    p.add_argument("--measurement", default=None, help="measurement name (default: the first)")
    p.add_argument("--output-file", default=None, help="write the JSON here instead of printing it")
    return p


def _load(path: str):
    from nodes.stats.workspace import WorkspaceError, load_workspace, parse_workspace

    if path != "-":
        return load_workspace(path)
    try:
        obj = json.load(sys.stdin)
    except json.JSONDecodeError as error:
        raise WorkspaceError(f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}", "$", "<stdin>") from None
    return parse_workspace(obj, "<stdin>")


def compute_cls(ws, test_poi: float = 1.0, test_stat: str = "qtilde", measurement: str | None = None) -> dict:
    """pyhf's ``cls`` result for a validated workspace: {"CLs_exp": [5 floats], "CLs_obs": float}."""
    import jax

    from nodes.stats.bound import model_from_workspace
    from nodes.stats.inference import hypotest
    from nodes.stats.workspace import WorkspaceError

    with jax.enable_x64(True):
        model, data = model_from_workspace(ws, measurement)
        if data is None:
            raise WorkspaceError("expected observations to test against, found none", "$.observations")
        spec = model.spec
        result = jax.jit(lambda d, y: hypotest(spec, test_poi, d, y, test_stat))(data, model.yields)
        return {"CLs_exp": [float(v) for v in result["CLs_exp"]], "CLs_obs": float(result["CLs_obs"])}


def main(argv: list[str]) -> int:
    from nodes.stats.workspace import WorkspaceError

    args = parser().parse_args(argv)
    try:
        ws = _load(args.workspace)
        result = compute_cls(ws, args.test_poi, args.test_stat, args.measurement)
    except WorkspaceError as error:
        print(f"diffdag cls: invalid workspace: {error}", file=sys.stderr)
        return BAD_INPUT
    text = json.dumps(result, indent=4, sort_keys=True)
    if args.output_file is None:
        print(text)
    else:
        with open(args.output_file, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
