"""A renderer-neutral picture of a graph: boxes, arrows, regions and what to write on them.

Every renderer (DOT, Mermaid, matplotlib, HTML) draws the same :class:`Picture`, so they
agree on kinds, labels, the event/global boundary, sample collapsing and gradient marks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from workflow.gradient_flow import (
    GradientFlow,
    StaticFlow,
    differentiable_replacements,
    lint_gradient_flow,
    static_gradient_flow,
)
from workflow.graph import PARAMS, Graph
from workflow.validate import PLACEHOLDER_EVENTS, infer_shapes, sample_of_nodes

ROLES = ("source", "param", "event", "reduce", "global")
GLOBAL_REGION = "global"
PARAMETER_REGION = "parameters"  # global nodes fed by parameters alone, computed before any event


@dataclass
class Port:
    name: str
    type: str
    shape: str = ""


@dataclass
class VizNode:
    """One box: a graph entry, or several per-sample entries merged when samples are collapsed."""

    id: str  # safe identifier for DOT, SVG and Mermaid: n0, n1, ...
    name: str
    role: str  # one of ROLES
    op: str | None = None
    members: tuple[str, ...] = ()  # graph entries drawn by this box
    samples: tuple[str, ...] = ()
    region: str | None = None  # 'sample:NAME', 'samples' (collapsed) or 'global'; None for parameters
    differentiable: bool = True
    trainable: bool | None = None
    objective: bool = False
    blocked: bool = False  # a parameter with no gradient, or a node that blocks one
    replacement: str | None = None  # soft op to use instead of a blocking node
    inputs: list[Port] = field(default_factory=list)
    outputs: list[Port] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    grad_norm: float | None = None  # measured, parameters only
    doc: str = ""

    @property
    def title(self) -> str:
        return self.name if len(self.members) < 2 else f"{self.name} \u00d7{len(self.members)}"

    def summary(self) -> list[str]:
        """Short label lines: name, op and kind, and what matters most at a glance."""
        lines = [self.title]
        if self.role == "source":
            lines += [", ".join(self.samples)] if len(self.members) > 1 else []
            lines += [f"{p.name}: {p.shape}" for p in self.outputs[:4]]
        elif self.role == "param":
            shape = self.outputs[0].shape if self.outputs else ""
            lines.append(f"param {shape}" + ("" if self.trainable else " (fixed)"))
        else:
            lines.append(f"{self.op} ({self.role})")
        if not self.differentiable:
            lines.append("not differentiable" + (f": use {self.replacement}" if self.replacement else ""))
        if self.role == "param" and self.blocked:
            lines.append("gradient blocked")
        if self.grad_norm is not None:
            lines.append(f"|grad| = {self.grad_norm:.3g}")
        if self.objective:
            lines.append("objective")
        return lines


@dataclass
class VizEdge:
    source: str  # VizNode ids
    target: str
    source_port: str
    target_port: str
    type: str = ""
    shape: str = ""
    gradient: bool = False  # carries gradient from a trainable parameter to the objective (declared)
    cotangent: float | None = None  # measured cotangent norm

    @property
    def label(self) -> str:
        text = self.target_port if self.source_port in ("value", self.target_port, "*") else \
            f"{self.source_port}\u2192{self.target_port}"
        return text + (f"\n{self.cotangent:.2g}" if self.cotangent is not None else "")


@dataclass
class Picture:
    name: str
    nodes: list[VizNode]
    edges: list[VizEdge]
    regions: dict[str, str]  # region id -> caption, event regions first
    static: StaticFlow
    measured: GradientFlow | None = None
    notes: list[str] = field(default_factory=list)  # gradient-flow problems and warnings, as text

    def node(self, node_id: str) -> VizNode:
        return next(n for n in self.nodes if n.id == node_id)

    def max_cotangent(self) -> float:
        finite = [e.cotangent for e in self.edges if e.cotangent is not None and math.isfinite(e.cotangent)]
        return max(finite, default=0.0)


def build_picture(graph_or_program, gradients: GradientFlow | None = None,
                  collapse_samples: bool = False) -> Picture:
    """The picture of a Graph or Program, with measured ``gradients`` drawn on it when given."""
    graph: Graph = getattr(graph_or_program, "graph", graph_or_program)
    static = gradients.static if gradients is not None else static_gradient_flow(graph)
    try:
        shapes, _ = infer_shapes(graph)
    except Exception:  # noqa: BLE001  (a graph with problems is still drawn, without shapes)
        shapes = {}
    nodes = _entries(graph, static, shapes, gradients, _parameter_stage(graph_or_program))
    edges = _edges(graph, nodes, static, shapes, gradients)
    picture = Picture(graph.name, list(nodes.values()), edges, {}, static, gradients)
    if collapse_samples and len(graph.sources) > 1:
        picture = _collapse(picture, graph)
    picture.regions = _regions(picture)
    picture.notes = [str(p) for p in lint_gradient_flow(graph)] + (list(gradients.warnings) if gradients else [])
    return picture


def _parameter_stage(graph_or_program) -> set[str]:
    """Nodes of the compile plan's parameter stage (none when the graph cannot be planned)."""
    plan = getattr(graph_or_program, "plan", None)
    if plan is None:
        from workflow.plan import make_plan

        try:
            plan = make_plan(graph_or_program)
        except Exception:  # noqa: BLE001  (an invalid graph is drawn all the same, one global region)
            return set()
    return set(plan.parameter_stage)


def _entries(graph: Graph, static: StaticFlow, shapes, gradients, parameter_stage: set[str]) -> dict[str, VizNode]:
    replacements = differentiable_replacements()
    try:
        samples = sample_of_nodes(graph)
    except Exception:  # noqa: BLE001  (a cycle: drawn without samples)
        samples = {}
    objective = graph.objective.target if graph.objective else None
    entries: dict[str, VizNode] = {}
    for sample, source in graph.sources.items():
        entries[sample] = VizNode(
            "", sample, "source", members=(sample,), samples=(sample,), region=f"sample:{sample}",
            outputs=[Port(f, "Events", _shape(shapes.get(f"{sample}.{f}"), source.n_events)) for f in source.fields])
    for name, param in graph.params.items():
        key = f"{PARAMS}.{name}"
        value = shapes.get(f"{key}.value")
        entries[key] = VizNode(
            "", name, "param", members=(key,), trainable=param.trainable, objective=key == objective,
            blocked=name in static.blocked, outputs=[Port("value", param.type.name, _shape(value, None))],
            config={"init": _brief(param.init), "bounds": param.bounds}, doc=param.doc,
            grad_norm=gradients.param_norms.get(name) if gradients else None)
    for name, instance in graph.nodes.items():
        spec = instance.spec
        kind = spec.kind if spec else "global"
        sample = next(iter(samples.get(name, ())), None) if kind in ("event", "reduce") else None
        n_events = graph.sources[sample].n_events if sample in graph.sources else None
        inputs = [Port(p, t.name, "") for p, t in (spec.inputs.items() if spec else [])]
        outputs = [Port(p, t.name, _shape(shapes.get(f"{name}.{p}"), n_events))
                   for p, t in (spec.outputs.items() if spec else [])]
        entries[name] = VizNode(
            "", name, kind, op=instance.op, members=(name,), samples=(sample,) if sample else (),
            region=f"sample:{sample}" if sample else PARAMETER_REGION if name in parameter_stage else GLOBAL_REGION,
            differentiable=spec.differentiable if spec else True, objective=name == objective,
            blocked=name in static.blocking_nodes, replacement=replacements.get(instance.op),
            inputs=inputs, outputs=outputs,
            config=instance.config.model_dump() if instance.config is not None else dict(instance.settings),
            doc=(spec.doc.splitlines() or [""])[0] if spec else "")
    for i, entry in enumerate(entries.values()):
        entry.id = f"n{i}"
    for name, instance in graph.nodes.items():  # shapes of inputs, from what feeds them
        feeds = {p: r for p, r in instance.inputs.items()}
        for port in entries[name].inputs:
            ref = feeds.get(port.name)
            if ref is not None and hasattr(ref, "target"):
                n_events = graph.sources[ref.target].n_events if ref.target in graph.sources else None
                port.shape = _shape(shapes.get(str(ref)), n_events) if ref.port != "*" else "record"
            elif ref is not None:
                port.shape = f"constant {_brief(ref.value)}"
    return entries


def _edges(graph: Graph, entries: dict[str, VizNode], static: StaticFlow, shapes, gradients) -> list[VizEdge]:
    network = graph.to_networkx()
    ids = {name: entry.id for name, entry in entries.items()}
    edges = []
    for u, v, key, data in network.edges(keys=True, data=True):
        port_type = graph.port_type(_ref(u, data["src_port"]))
        n_events = graph.sources[u].n_events if u in graph.sources else None
        edges.append(VizEdge(
            ids[u], ids[v], data["src_port"], data["dst_port"], port_type.name if port_type else "",
            _shape(shapes.get(f"{u}.{data['src_port']}"), n_events), (u, v, key) in static.gradient_edges,
            gradients.edge_norms.get((u, v, key)) if gradients else None))
    return edges


def _ref(target: str, port: str):
    from workflow.graph import Ref

    return Ref(target, port)


def _shape(value, n_events: int | None) -> str:
    """'f32[n]', 'f64[10]', 'f64[]' ('n' for an event axis of unknown length)."""
    if value is None:
        return ""
    if not hasattr(value, "shape"):
        leaves = jax.tree_util.tree_leaves(value)
        return f"pytree({len(leaves)} arrays, {sum(int(np.prod(leaf.shape)) for leaf in leaves)} values)"
    dims = [str(d) for d in value.shape]
    if dims and n_events is None and value.shape[0] == PLACEHOLDER_EVENTS:
        dims[0] = "n"
    dtype = np.dtype(value.dtype)
    short = {"f": "f", "i": "i", "u": "u", "b": "bool", "c": "c"}.get(dtype.kind, dtype.name)
    name = short if short == "bool" else f"{short}{dtype.itemsize * 8}"
    return f"{name}[{','.join(dims)}]"


def _brief(value) -> str:
    array = np.asarray(value) if not isinstance(value, dict) else None
    if array is None or array.dtype == object:
        return "pytree"
    if array.size <= 4:
        return np.array2string(array, precision=4, separator=", ")
    return f"array{list(array.shape)}"


def _collapse(picture: Picture, graph: Graph) -> Picture:
    """Merge the per-sample copies of a branch ('sigmoid[signal]', 'sigmoid[background]') into one box."""
    groups: dict[tuple, list[VizNode]] = {}
    for node in picture.nodes:
        if node.region and node.region.startswith("sample:"):
            sample = node.samples[0]
            key = ("sample", _template(node.name, sample), node.op, node.role)
        else:
            key = ("single", node.id)
        groups.setdefault(key, []).append(node)
    merged_id, nodes = {}, []
    for key, members in groups.items():
        first = members[0]
        if key[0] == "sample":
            first.name = "samples" if first.role == "source" else key[1]
            first.members = tuple(m for n in members for m in n.members)
            first.samples = tuple(s for n in members for s in n.samples)
            first.region = "samples" if len(members) > 1 else first.region
            first.blocked = any(n.blocked for n in members)
            first.outputs = list({p.name: p for n in members for p in n.outputs}.values())
            if any(n.config != first.config for n in members):
                first.config = {n.samples[0]: n.config for n in members}
        nodes.append(first)
        merged_id.update({n.id: first.id for n in members})
    edges: dict[tuple, VizEdge] = {}
    for edge in picture.edges:
        key = (merged_id[edge.source], merged_id[edge.target], edge.source_port, edge.target_port)
        if key not in edges:
            edges[key] = VizEdge(*key, edge.type, edge.shape, edge.gradient, edge.cotangent)
        else:
            known = edges[key]
            known.gradient |= edge.gradient
            if edge.cotangent is not None:
                known.cotangent = math.hypot(known.cotangent or 0.0, edge.cotangent)
    return Picture(picture.name, nodes, list(edges.values()), {}, picture.static, picture.measured, picture.notes)


def _template(name: str, sample: str) -> str:
    """The name with its sample replaced by '*': 'count[signal]' -> 'count[*]'."""
    if f"[{sample}]" in name:
        return name.replace(f"[{sample}]", "[*]")
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(sample)}(?![A-Za-z0-9])", "*", name)


def _regions(picture: Picture) -> dict[str, str]:
    regions = {}
    for node in picture.nodes:
        if node.region and node.region.startswith("sample:"):
            regions.setdefault(node.region, f"event region: sample {node.region.split(':', 1)[1]}")
        elif node.region == "samples":
            samples = sorted({s for n in picture.nodes if n.region == "samples" for s in n.samples})
            regions.setdefault("samples", f"event region: {len(samples)} samples ({', '.join(samples)})")
    if any(n.region == PARAMETER_REGION for n in picture.nodes):
        regions[PARAMETER_REGION] = "parameter stage (before the events)"
    if any(n.region == GLOBAL_REGION for n in picture.nodes):
        regions[GLOBAL_REGION] = "global region (after the sums over events)"
    return regions


def as_picture(obj, gradients: GradientFlow | None = None, collapse_samples: bool = False) -> Picture:
    """A Picture as it is, or the picture of a Graph or Program."""
    return obj if isinstance(obj, Picture) else build_picture(obj, gradients, collapse_samples)


def details(node: VizNode) -> dict[str, Any]:
    """Everything known about a box, JSON-ready: for tooltips, the HTML panel and reports."""
    return {
        "name": node.name, "kind": node.role, "op": node.op, "members": list(node.members),
        "samples": list(node.samples), "differentiable": node.differentiable,
        "replacement": node.replacement, "trainable": node.trainable, "objective": node.objective,
        "blocked": node.blocked, "grad_norm": node.grad_norm, "doc": node.doc,
        "inputs": [vars(p) for p in node.inputs], "outputs": [vars(p) for p in node.outputs],
        "config": {k: _jsonable(v) for k, v in node.config.items()},
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
