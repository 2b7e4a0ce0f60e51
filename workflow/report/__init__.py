"""The run report: history files and a self-contained report.html with the run's figures.

    write_report("runs/neos", program, result, eval_data, settings.report)
"""

from __future__ import annotations

import html as _html
import os
from pathlib import Path
from typing import Any

import numpy as np

from workflow.checkpoint import write_json
from workflow.report import html, plots
from workflow.report.content import evaluate, histogram_groups, summary_outputs
from workflow.report.history import write_history


def write_report(out: str | Path, program, result, data: dict[str, Any], report=None, title: str | None = None) -> Path:
    """Write history.json/.csv, summary.json and report.html into ``out``; returns the report's path."""
    from workflow.spec.schema import ReportEntry

    report = report or ReportEntry()
    out = Path(out)
    graph = program.graph
    write_history(out, result.history)
    groups = histogram_groups(graph, report)
    summary = summary_outputs(graph, report)
    hard_outputs = {**summary, **{f"{g.title}/{k}": v for g in groups for k, v in g.outputs.items()}}
    before = evaluate(program, result.initial_params, data, hard_outputs, "hard")  # one jit per mode and
    after = evaluate(program, result.params, data, hard_outputs, "hard")  # set of outputs: evaluate
    soft = evaluate(program, result.params, data, summary, "soft")  # everything at once
    write_json(out / "summary.json", {label: {"initial_hard": _plain(before.get(label)),
                                              "final_hard": _plain(after.get(label)),
                                              "final_soft": _plain(soft.get(label))} for label in summary})
    sections = [("Summary", _summary(summary, before, after, soft))]
    if result.history:
        sections.append(("Objective", html.image(plots.objective_curve(result.history), alt="objective curve")))
        trajectories = plots.parameter_trajectories(result.history)
        if trajectories is not None:
            sections.append(("Parameters", html.image(trajectories, alt="parameter trajectories")))
    for group in groups:
        png = plots.stacked_histograms(group.title, group.edges,
                                       {k: before[f"{group.title}/{k}"] for k in group.outputs},
                                       {k: after[f"{group.title}/{k}"] for k in group.outputs}, group.stack)
        sections.append((f"Histograms: {group.title} (hard mode, before and after)", html.image(png, alt=group.title)))
    picture = _graph_picture(program)
    if picture:
        sections.append(("Graph", picture))
    sections.append(("Final parameters", _parameters(result.params)))
    stopped = f"; stopped early: {result.stopped}" if result.stopped else ""
    meta = f"{result.steps} steps{stopped}"
    text = html.page(title or f"diffdag run: {graph.name}", meta, sections)
    path = out / "report.html"
    tmp = out / f".report.html.{os.getpid()}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _summary(summary: dict[str, str], before: dict, after: dict, soft: dict) -> str:
    rows = [[label, _number(before.get(label)), _number(after.get(label)), _number(soft.get(label))]
            for label in summary]
    return html.table(["quantity", "initial (hard)", "final (hard)", "final (soft)"], rows)


def _plain(value):
    return None if value is None else np.asarray(value, dtype=float).tolist()


def _number(value) -> str:
    array = np.asarray(value, dtype=float)
    return f"{float(array):.6g}" if array.size == 1 else np.array2string(array, precision=4)


def _parameters(params: dict[str, Any]) -> str:
    import jax

    rows = []
    for name, value in params.items():
        leaves = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(value)]
        size = sum(leaf.size for leaf in leaves)
        shown = (np.array2string(leaves[0], precision=5) if size <= 8 and len(leaves) == 1
                 else f"{size} numbers, L2 norm {np.sqrt(sum(float(np.sum(l.astype(float) ** 2)) for l in leaves)):.5g}")
        rows.append([name, shown])
    return html.table(["parameter", "value"], rows)


def _graph_picture(program) -> str | None:
    """The graph drawn by workflow.viz as an inline SVG image, when the visualisation is installed."""
    try:
        from workflow.viz import build_picture, render_image
    except ImportError:
        return None
    try:
        svg = render_image(build_picture(program, collapse_samples=True), "svg")
    except Exception as error:  # noqa: BLE001  (a missing picture must not fail the run)
        return f"<p>graph picture unavailable: {_html.escape(str(error))}</p>"
    return html.image(svg, "image/svg+xml", alt="graph")


__all__ = ["write_history", "write_report"]
