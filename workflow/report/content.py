"""What a report shows, read off the graph: histograms per sample and summary numbers.

Histograms: the report settings' ``histograms`` (label -> output), else every ``reduce``
node with a Histogram output, grouped by name across samples (``kde[signal]``,
``kde[background]`` -> one figure "kde"). Summary: the settings' ``summary`` (label ->
scalar output), else the scalar outputs of ``stats.*`` nodes, plus the objective.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workflow.graph import Ref
from workflow.types import Histogram

_SAMPLE = re.compile(r"^(.*)\[([^\]]+)\]$")


@dataclass
class HistogramGroup:
    title: str
    outputs: dict[str, str]  # label -> 'node.port'
    edges: np.ndarray | None
    stack: list[str] = field(default_factory=list)


def histogram_groups(graph, report) -> list[HistogramGroup]:
    """The histogram figures of the report, each with its outputs per label."""
    if report.histograms:
        outputs = {label: str(_ref(graph, text)) for label, text in report.histograms.items()}
        stack = report.stack if report.stack is not None else list(outputs)
        first = _ref(graph, next(iter(report.histograms.values()))).target
        match = _SAMPLE.match(first)
        return [HistogramGroup(match.group(1) if match else "histograms", outputs, _edges(graph, first), stack)]
    groups: dict[str, HistogramGroup] = {}
    for name, instance in graph.nodes.items():
        spec = instance.spec
        if spec is None or spec.kind != "reduce":
            continue
        for port, port_type in spec.outputs.items():
            if port_type is not Histogram:
                continue
            match = _SAMPLE.match(name)
            title, label = (match.group(1), match.group(2)) if match else (name, name)
            group = groups.setdefault(title, HistogramGroup(title, {}, _edges(graph, name)))
            group.outputs[label] = f"{name}.{port}"
    for group in groups.values():
        group.stack = [k for k in (report.stack or group.outputs) if k in group.outputs]
    return list(groups.values())


def summary_outputs(graph, report) -> dict[str, str]:
    """Label -> scalar output: the objective, and the settings' summary or the stats nodes' outputs."""
    outputs = {"objective": str(graph.objective)} if graph.objective is not None else {}
    if report.summary:
        chosen = {label: str(_ref(graph, text)) for label, text in report.summary.items()}
        if outputs and outputs["objective"] in chosen.values():
            outputs = {}  # the objective is listed under its own name
        outputs.update(chosen)
        return outputs
    for name, instance in graph.nodes.items():
        spec = instance.spec
        if spec is None or not instance.op.startswith("stats.") or spec.kind != "global":
            continue
        for port, port_type in spec.outputs.items():
            if port_type.rank == 0:
                outputs[f"{name}.{port}"] = f"{name}.{port}"
    return outputs


def evaluate(program, params, data, outputs: dict[str, str], mode: str) -> dict[str, Any]:
    """Label -> value of the outputs in ``mode``; a failing evaluation gives NaN, not an error."""
    if not outputs:
        return {}
    keys = sorted(set(outputs.values()))
    try:
        values = program.evaluate(params, data, mode=mode, outputs=keys)
    except Exception:  # noqa: BLE001  (a report never fails the run)
        return {label: float("nan") for label in outputs}
    return {label: np.asarray(values[key]) for label, key in outputs.items()}


def _ref(graph, text: str) -> Ref:
    ref = Ref.parse(text)
    if ref.port == "" and ref.target in graph.nodes and len(graph.nodes[ref.target].spec.outputs) == 1:
        return Ref(ref.target, next(iter(graph.nodes[ref.target].spec.outputs)))
    return ref


def _edges(graph, name: str) -> np.ndarray | None:
    """Static bin edges of the histogram ``name`` is, or is computed from (searching upstream)."""
    queue, seen = [name], set()
    while queue:
        current = queue.pop(0)
        instance = graph.nodes.get(current)
        if instance is None or current in seen:
            continue
        seen.add(current)
        edges = getattr(instance.config, "edges", None)
        if edges is not None:
            return np.asarray(edges, float)
        queue += [ref.target for ref in instance.inputs.values() if isinstance(ref, Ref)]
    return None
