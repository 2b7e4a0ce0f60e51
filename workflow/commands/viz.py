"""``diffdag viz GRAPH.yaml -o out.{svg,png,pdf,dot,mmd,html} [--gradients]``: draw a graph file.

The picture shows node kinds, port types and shapes, parameters, the event/global split
and which edges carry gradient; ``--gradients`` measures one value-and-gradient on the
first ``--events`` events of each sample and draws the cotangent norms.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from workflow.errors import DiffdagError
from workflow.gradient_flow import GradientFlow, lint_gradient_flow, measure_gradient_flow
from workflow.graph import Graph
from workflow.viz.render import ENGINES, FORMATS, render


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="diffdag viz", description="Draw a graph file: " + ", ".join(FORMATS))
    p.add_argument("graph", help="the graph file, e.g. graphs/cut_optimisation.yaml")
    p.add_argument("-o", "--output", required=True, help="picture to write; the suffix picks the format")
    p.add_argument("--gradients", action="store_true",
                   help="measure one value_and_grad on the samples' data and draw cotangent norms on the edges")
    p.add_argument("--events", type=int, default=10_000, help="events per sample read for --gradients")
    p.add_argument("--collapse-samples", action="store_true", help="draw per-sample copies of a branch once")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="who draws SVG/PNG: Graphviz's dot, matplotlib, or dot when installed (auto)")
    return p


def draw(graph: Graph, output: str | Path, data: dict[str, dict[str, Any]] | None = None,
         collapse_samples: bool = False, engine: str = "auto") -> tuple[Path, GradientFlow | None]:
    """Write the picture of ``graph``; with ``data``, measure and draw the gradient flow first."""
    flow = None
    if data is not None:
        program = graph.compile()
        flow = measure_gradient_flow(program, program.init_params(), data)
    return render(graph, output, gradients=flow, collapse_samples=collapse_samples, engine=engine), flow


def first_events(graph: Graph, settings, events: int) -> dict[str, dict[str, np.ndarray]]:
    """The first ``events`` events of every sample, read from the sources the graph file names."""
    from workflow.execute.chunks import read_fields

    data = {}
    for sample, source in settings.data_sources().items():
        piece = source.pieces(max(1, events))[0]
        data[sample] = read_fields(sample, source, piece, graph.sources[sample].fields)
    return data


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if Path(args.output).suffix.lower() not in FORMATS:
        print(f"error: cannot draw to {args.output!r}: use one of {', '.join(FORMATS)}\n"
              f"  wrong: diffdag viz {args.graph} -o graph\n  right: diffdag viz {args.graph} -o graph.svg",
              file=sys.stderr)
        return 2
    try:
        from workflow.spec import load_graph

        graph, settings = load_graph(args.graph)
        data = first_events(graph, settings, args.events) if args.gradients else None
        path, flow = draw(graph, args.output, data, args.collapse_samples, args.engine)
    except DiffdagError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for problem in lint_gradient_flow(graph):
        print(f"warning: {problem}", file=sys.stderr)
    for warning in flow.warnings if flow else []:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {path}")
    return 0
