"""``diffdag describe GRAPH.yaml``: samples, parameters, nodes and the event/global split."""

from __future__ import annotations

import argparse

import jax
import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="the graph file (.yaml or .json)")


def describe(args: argparse.Namespace) -> int:
    from workflow.plan import make_plan
    from workflow.spec import load_graph
    from workflow.spec.dump import reference_text

    graph, settings = load_graph(args.graph)
    print(f"graph {graph.name!r} ({args.graph})")
    print(f"\nsamples ({len(graph.sources)}):")
    for sample, source in graph.sources.items():
        spec = settings.sources.get(sample)
        origin = f"{spec.kind} source" if spec is not None else "no source"
        events = f", {spec.count_events()} events" if spec is not None and spec.kind == "gaussian" else ""
        fields = ", ".join(f"{f}: {t}" for f, t in source.fields.items())
        print(f"  {sample}: {fields} ({origin}{events})")
    print(f"\nparameters ({len(graph.params)}):")
    for name, param in graph.params.items():
        leaves = jax.tree_util.tree_leaves(param.init)
        size = sum(np.size(leaf) for leaf in leaves)
        shape = f"shape {np.shape(leaves[0])}" if len(leaves) == 1 else f"pytree of {len(leaves)} arrays"
        bounds = f", bounds {list(param.bounds)}" if param.bounds else ""
        print(f"  {name}: {shape}, {size} numbers{bounds}{'' if param.trainable else ', fixed'}")
    print(f"\nnodes ({len(graph.nodes)}):")
    for name, instance in graph.nodes.items():
        inputs = ", ".join(f"{port}={reference_text(ref) if hasattr(ref, 'target') else _constant(ref.value)}"
                           for port, ref in instance.inputs.items())
        print(f"  {name}: {instance.op} [{instance.spec.kind}] ({inputs})")
    plan = make_plan(graph)
    print("\nevent/global split:")
    if plan.parameter_stage:
        print(f"  parameter stage (once per step): {', '.join(plan.parameter_stage)}")
    for sample, nodes in plan.sample_stage.items():
        cached = set(plan.cached[sample])
        listed = ", ".join(f"{n} (cached)" if n in cached else n for n in nodes) or "-"
        print(f"  event region of {sample}: {listed}")
        print(f"    ends in the sums: {', '.join(plan.reductions[sample]) or '-'}")
    print(f"  global stage (on the summed reductions): {', '.join(plan.global_stage) or '-'}")
    print(f"\nobjective: {graph.objective}")
    run = settings.run
    print(f"optimiser: {settings.optimizer.name}, learning rate {_rate(settings.optimizer)}; "
          f"{run.steps} steps, batch {run.batch_size or 'all events'} per sample, seed {run.seed}")
    return 0


def _constant(value) -> str:
    array = np.asarray(value) if not isinstance(value, (dict, list, tuple)) else None
    if array is not None and array.size <= 4:
        return np.array2string(array, precision=4) if array.ndim else f"{array.item():g}"
    return "constant"


def _rate(optimizer) -> str:
    rate = optimizer.learning_rate
    return f"{rate:g}" if isinstance(rate, float) else f"{rate.schedule}({rate.settings})"


def main(argv: list[str]) -> int:
    """``diffdag describe ...`` as a function (the command line adds error reporting)."""
    parser = argparse.ArgumentParser(prog="diffdag describe")
    add_arguments(parser)
    return describe(parser.parse_args(argv))
