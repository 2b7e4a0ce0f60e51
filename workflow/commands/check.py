"""``diffdag check GRAPH.yaml``: validate a graph file without running it.

Checks the schema, the graph (types, references, cycles, shapes), the optimiser settings
and the data files, then runs the gradient-flow lint, whose findings are warnings.
"""

from __future__ import annotations

import argparse

from workflow.errors import DiffdagError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("graph", help="the graph file (.yaml or .json)")


def check(args: argparse.Namespace) -> int:
    from workflow.spec import load_graph

    graph, settings = load_graph(args.graph)
    if graph.objective is None:
        raise DiffdagError(f"{args.graph} (objective): the graph has no objective. "
                           "Fix: add 'objective: node.port' naming a scalar output.")
    _check_sources(graph, settings)
    warnings = _lint(graph)
    for warning in warnings:
        print(f"warning: {warning}")
    print(f"{args.graph}: ok ({len(graph.sources)} samples, {len(graph.params)} parameters, "
          f"{len(graph.nodes)} nodes; objective {graph.objective})")
    return 0


def _check_sources(graph, settings) -> None:
    from workflow.execute.chunks import check_source

    for sample, source in settings.data_sources().items():
        check_source(sample, source, graph.sources[sample].fields)


def _lint(graph) -> list:
    try:
        from workflow.gradient_flow import lint_gradient_flow
    except ImportError:
        return []
    return lint_gradient_flow(graph)


def main(argv: list[str]) -> int:
    """``diffdag check ...`` as a function (the command line adds error reporting)."""
    parser = argparse.ArgumentParser(prog="diffdag check")
    add_arguments(parser)
    return check(parser.parse_args(argv))
