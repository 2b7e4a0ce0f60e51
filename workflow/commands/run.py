"""``diffdag run GRAPH.yaml``: optimise a graph file and write a run folder with a report.

The run folder holds graph.yaml (the graph as run), checkpoints/, history.json and .csv,
params.npz and .json, and report.html. An existing run folder is never overwritten
without ``--force``; ``--resume DIR`` continues the run in DIR to the same final
parameters an uninterrupted run reaches.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from workflow.errors import DiffdagError

RUN_FILES = ("checkpoints", "history.json", "history.csv", "params.npz", "params.json", "summary.json", "report.html",
             "graph.yaml")


class RunFolderError(DiffdagError):
    """A run folder that would be overwritten, or that cannot be resumed."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="the graph file (.yaml or .json)")
    p.add_argument("--steps", type=int, help="optimisation steps (default: the file's run.steps)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="run on a local Dask cluster of N workers")
    where.add_argument("--scheduler", help="run on an existing Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--out", help="run folder (default: runs/<graph name>)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its newest checkpoint")
    p.add_argument("--force", action="store_true", help="overwrite an existing run folder")
    p.add_argument("--seed", type=int, help="seed of the batches (default: the file's run.seed)")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default: the file's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from workflow.optimize import optimize
    from workflow.report import write_report
    from workflow.spec import dump_graph, load_graph
    from workflow.spec.optimizer import make_optimizer

    graph, settings = load_graph(args.graph)
    if graph.objective is None:
        raise DiffdagError(f"{args.graph}: the graph has no objective, so there is nothing to optimise. "
                           "Fix: add 'objective: node.port' naming a scalar output.")
    out = _run_folder(args, graph)
    run_settings = settings.run
    steps = run_settings.steps if args.steps is None else args.steps
    seed = run_settings.seed if args.seed is None else args.seed
    every = args.checkpoint_every or run_settings.checkpoint_every
    data = settings.load_arrays(graph)
    program = _compile(graph, args)
    out.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        dump_graph(graph, out / "graph.yaml", settings)
    started = time.perf_counter()
    try:
        result = optimize(program, data, steps, make_optimizer(settings.optimizer), seed=seed,
                          batch_size=run_settings.batch_size, checkpoint_every=every, out=out,
                          resume=bool(args.resume), hard_every=run_settings.hard_every,
                          progress=not args.no_progress)
    finally:
        if hasattr(program, "close"):
            program.close()
    seconds = time.perf_counter() - started
    evaluation = _evaluation_data(data, run_settings, seed)
    reporter = graph.compile() if _executor_wanted(args) else program
    report = write_report(out, reporter, result, evaluation, settings.report)
    _print_summary(result, out, report, seconds)
    return 1 if result.stopped else 0


def _cell(value, width: int) -> str:
    return f"{value:>{width}.4g}" if isinstance(value, float) else f"{'-' if value is None else 'array':>{width}}"


def _run_folder(args, graph) -> Path:
    if args.resume:
        out = Path(args.resume)
        if args.out and Path(args.out) != out:
            raise RunFolderError(f"--out {args.out} and --resume {args.resume} name different folders. "
                                 "Fix: give only --resume DIR.")
        if not (out / "checkpoints" / "latest.json").is_file():
            raise RunFolderError(f"{out}: no checkpoint to resume from. Fix: give the folder of an earlier run "
                                 "(it has checkpoints/latest.json), or start a new run without --resume.")
        _check_same_graph(out, graph)
        return out
    out = Path(args.out) if args.out else Path("runs") / graph.name
    if out.exists() and any(out.iterdir()):
        if not args.force:
            raise RunFolderError(f"run folder {out} already exists and is not empty; it is left untouched. "
                                 f"Fix: pass --force to overwrite it, --resume {out} to continue it, "
                                 "or --out DIR for another folder.")
        _clear(out)
    return out


def _clear(out: Path) -> None:
    """Remove what an earlier run wrote (and nothing else) from ``out``."""
    import shutil

    for name in RUN_FILES:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _check_same_graph(out: Path, graph) -> None:
    from workflow.spec import load_graph

    written = out / "graph.yaml"
    if not written.is_file():
        return
    earlier, _ = load_graph(written)
    if earlier != graph:
        raise RunFolderError(f"{out}: the run there optimised another graph ({written} differs from the one "
                             "given). Fix: resume with the same graph file, or start a new run.")


def _compile(graph, args):
    from workflow.program import Program

    graph.validate(require_objective=True)
    return Program(graph, executor=_executor(args)) if _executor_wanted(args) else Program(graph)


def _executor_wanted(args) -> bool:
    return bool(args.workers or args.scheduler)


def _executor(args):
    try:
        from workflow.execute import Dask
    except (ImportError, AttributeError) as error:
        raise DiffdagError(f"--workers/--scheduler need the Dask executor, which is not available ({error}). "
                           "Fix: pip install 'diffdag[dask]'.") from None
    if args.scheduler:
        return Dask(scheduler=args.scheduler)
    return Dask(workers=args.workers)


def _evaluation_data(data, run_settings, seed):
    """The fixed events the report evaluates on: eval_size (or batch_size) per sample."""
    from workflow.optimize import Batches

    size = run_settings.eval_size or run_settings.batch_size
    return Batches(data, size, seed + 1_000_003)(0)


def _print_summary(result, out: Path, report: Path, seconds: float) -> None:
    import json

    if result.stopped:
        print(f"stopped early: {result.stopped}")
    summary = json.loads((out / "summary.json").read_text())
    width = max([len(label) for label in summary] + [8])
    print(f"  {'':{width}}  {'initial (hard)':>14}  {'final (hard)':>12}  {'final (soft)':>12}")
    for label, values in summary.items():
        cells = [_cell(values[k], n) for k, n in (("initial_hard", 14), ("final_hard", 12), ("final_soft", 12))]
        print(f"  {label:{width}}  " + "  ".join(cells))
    small = result.history[-1]["params"] if result.history else {}
    if small:
        print("parameters: " + ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                                         for k, v in small.items()))
    print(f"{result.steps} steps in {seconds:.1f} s; run folder {out}")
    print(f"report: {report}")


def main(argv: list[str]) -> int:
    """``diffdag run ...`` as a function (the command line adds error reporting)."""
    parser = argparse.ArgumentParser(prog="diffdag run")
    add_arguments(parser)
    return run(parser.parse_args(argv))
