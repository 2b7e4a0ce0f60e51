"""Where the gradient goes: a static lint from the declarations, and a measured flow.

*Static*: from the nodes' ``differentiable`` flags alone, which trainable parameters can
reach the objective through differentiable nodes, which edges carry gradient, and which
non-differentiable node blocks a parameter (with the registered soft node to use instead).
``lint_gradient_flow`` turns the blocked parameters into :class:`~workflow.errors.Problem`
for ``diffdag check``.

*Measured*: ``measure_gradient_flow`` runs one value-and-gradient of the soft objective
with a zero perturbation added to every value a node reads, so the gradient with respect
to each perturbation is the cotangent on that edge. It reports per-parameter gradient
norms, per-edge cotangent norms and warnings (a gradient exactly zero, or not finite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from workflow.errors import DataError, Problem
from workflow.graph import PARAMS, Graph, Ref
from workflow.node import REGISTRY, load_plugins
from workflow.plan import run_nodes
from workflow.validate import topological_nodes

EdgeKey = tuple[str, str, str]  # (source entry, destination node, destination port), as in Graph.to_networkx()


@dataclass(frozen=True)
class StaticFlow:
    """Gradient reachability read from the declarations (soft mode)."""

    objective: str | None
    open_params: tuple[str, ...]  # trainable parameters with a differentiable path to the objective
    blocked: dict[str, tuple[str, ...]]  # parameter -> non-differentiable nodes on all its paths
    unused: tuple[str, ...]  # trainable parameters with no path to the objective at all
    gradient_edges: frozenset[EdgeKey]  # edges that carry gradient from a trainable parameter
    blocking_nodes: frozenset[str]  # non-differentiable nodes between a trainable parameter and the objective


def differentiable_replacements() -> dict[str, str]:
    """Non-differentiable op -> the registered soft op that names it as its hard twin."""
    load_plugins()
    return {spec.hard: op for op, spec in sorted(REGISTRY.items()) if spec.hard is not None}


def _passes_gradient(graph: Graph, name: str, port: str | None = None) -> bool:
    """Whether ``name`` passes a gradient to its input ``port`` (to every input, if None)."""
    instance = graph.nodes.get(name)
    if instance is None or instance.spec is None:
        return True
    return instance.spec.differentiable or (port is not None and port in instance.spec.gradient_ports)


def static_gradient_flow(graph: Graph) -> StaticFlow:
    """Which trainable parameters reach the objective through differentiable nodes only."""
    network = graph.to_networkx()
    trainable = [f"{PARAMS}.{n}" for n, p in graph.params.items() if p.trainable]
    if not nx.is_directed_acyclic_graph(network):  # validation reports the cycle; nothing to say here
        return StaticFlow(None, (), {}, (), frozenset(), frozenset())
    if graph.objective is None or graph.objective.target not in network:
        return StaticFlow(None, (), {}, tuple(p.split(".", 1)[1] for p in trainable), frozenset(), frozenset())
    target = graph.objective.target

    receives = {target}  # entries whose outputs get a cotangent from the objective
    for name in reversed(list(nx.topological_sort(network))):
        if name in receives:
            receives |= {u for u, _, port in network.in_edges(name, keys=True)
                         if _passes_gradient(graph, name, port)}

    open_params, blocked, unused = [], {}, []
    gradient_edges, blocking = set(), set()
    for key in trainable:
        name = key.split(".", 1)[1]
        downstream = nx.descendants(network, key) | {key}
        if target not in downstream:
            unused.append(name)
            continue
        on_paths = {n for n in downstream if n == target or target in nx.descendants(network, n)}
        stoppers = tuple(n for n in topological_nodes(graph) if n in on_paths and any(
            u in on_paths and not _passes_gradient(graph, n, port) for u, _, port in network.in_edges(n, keys=True)))
        blocking |= set(stoppers)
        if key in receives:
            open_params.append(name)
            gradient_edges |= {(u, v, k) for u, v, k in network.out_edges(on_paths, keys=True)
                               if v in on_paths and v in receives and _passes_gradient(graph, v, k)}
        else:
            blocked[name] = stoppers
    return StaticFlow(str(graph.objective), tuple(open_params), blocked, tuple(unused),
                      frozenset(gradient_edges), frozenset(blocking))


def lint_gradient_flow(graph: Graph) -> list[Problem]:
    """An error for every trainable parameter whose gradient is blocked by a non-differentiable node."""
    flow = static_gradient_flow(graph)
    replacements = differentiable_replacements()
    problems = []
    for param, stoppers in flow.blocked.items():
        ops = [graph.nodes[n].op for n in stoppers]
        listed = ", ".join(f"{n!r} ({op})" for n, op in zip(stoppers, ops))
        fixes = []
        for op in dict.fromkeys(ops):
            soft = replacements.get(op)
            if soft:
                fixes.append(f"replace {op} by its differentiable counterpart {soft} (wrong: {op}(...) or "
                             f"'op: {op}'; right: {soft}(...) or 'op: {soft}'); evaluate(mode='hard') still "
                             f"runs {op}")
            else:
                fixes.append(f"{op} has no registered differentiable counterpart: write a soft node "
                             f"declared with hard={op!r}")
        fixes.append(f"or, if {param!r} is not meant to be optimised, make it fixed: "
                     f"g.param({param!r}, ..., trainable=False) or 'trainable: false'")
        problems.append(Problem(
            f"parameter {param!r} gets no gradient: every path to the objective {flow.objective!r} "
            f"crosses a non-differentiable node: {listed}",
            fix="; ".join(fixes),
            where=(param, *stoppers),
        ))
    return problems


@dataclass
class GradientFlow:
    """One measured value-and-gradient: norms per parameter and per edge, and warnings."""

    value: float
    param_norms: dict[str, float]
    edge_norms: dict[EdgeKey, float]  # edges of Graph.to_networkx() (u, v, key); integer-valued edges absent
    static: StaticFlow
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (for run reports)."""
        return {
            "value": self.value,
            "param_norms": dict(self.param_norms),
            "edge_norms": [{"source": u, "destination": v, "port": k, "norm": n}
                           for (u, v, k), n in sorted(self.edge_norms.items())],
            "warnings": list(self.warnings),
        }


def measure_gradient_flow(program, params: dict[str, Any] | None, data: dict[str, dict[str, Any]]) -> GradientFlow:
    """Gradient norm of each trainable parameter and cotangent norm on each edge, at ``params``.

    The whole of ``data`` ({sample: {field: array}}) is evaluated in one go, so pass a
    subset of a large dataset. ``params`` defaults to ``program.init_params()``.
    """
    graph: Graph = program.graph
    params = program.init_params() if params is None else params
    inputs = _inputs(graph, program, params, data)
    order = tuple(program.plan.order)
    objective = str(graph.objective)

    def objective_of(trainable, perturbations):
        values = {**inputs, **{f"{PARAMS}.{n}.value": v for n, v in trainable.items()}}
        return _evaluate(graph, order, values, perturbations)[objective]

    with jax.enable_x64(True):
        read = jax.eval_shape(lambda t: _evaluate(graph, order, {**inputs, **_param_values(t)}, None,
                                                  record_reads=True), params)
        zeros = {k: jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), v)
                 for k, v in read.items() if _all_inexact(v)}
        value, (param_grads, cotangents) = jax.jit(jax.value_and_grad(objective_of, argnums=(0, 1)))(
            params, zeros)
    param_norms = {n: _norm(g) for n, g in param_grads.items()}
    edge_norms = _edge_norms(graph, cotangents)
    static = static_gradient_flow(graph)
    return GradientFlow(float(value), param_norms, edge_norms, static, _warnings(graph, param_norms, static))


def _param_values(trainable: dict[str, Any]) -> dict[str, Any]:
    return {f"{PARAMS}.{n}.value": v for n, v in trainable.items()}


def _inputs(graph: Graph, program, params, data) -> dict[str, Any]:
    """Fixed parameters at their initial values, and every declared field of every sample."""
    unknown = set(params) - set(program.trainable)
    missing = set(program.trainable) - set(params)
    if unknown or missing:
        raise KeyError(f"parameters do not match the graph: missing {sorted(missing)}, unknown {sorted(unknown)}; "
                       f"start from program.init_params()")
    values = {f"{PARAMS}.{n}.value": p.init for n, p in graph.params.items() if not p.trainable}
    for sample, source in graph.sources.items():
        for name in source.fields:
            try:
                values[f"{sample}.{name}"] = jnp.asarray(data[sample][name])
            except (KeyError, TypeError):
                raise DataError(f"data has no field {name!r} of sample {sample!r}; give "
                                f"{{{sample!r}: {{{name!r}: array, ...}}, ...}} for samples "
                                f"{list(graph.sources)}") from None
    return values


def _evaluate(graph: Graph, order, values: dict[str, Any], perturbations: dict | None,
              record_reads: bool = False) -> dict[str, Any]:
    """Run the soft graph node by node, adding ``perturbations[(node, key)]`` to each value it reads.

    With ``record_reads`` it returns the values read instead, keyed (node, key), so that
    zero perturbations of the right shapes can be made.
    """
    values, reads = dict(values), {}
    for name in order:
        local = {}
        for ref in graph.nodes[name].inputs.values():
            for key in _keys_read(graph, ref):
                if key in local:
                    continue  # two ports reading one value share its perturbation
                local[key] = values[key]
                reads[(name, key)] = values[key]
                if perturbations is not None and (name, key) in perturbations:
                    local[key] = jax.tree_util.tree_map(jnp.add, values[key], perturbations[(name, key)])
        run_nodes(graph, [name], local, "soft")
        values.update({k: v for k, v in local.items() if k.startswith(name + ".")})
    return reads if record_reads else values


def _keys_read(graph: Graph, ref) -> list[str]:
    if not isinstance(ref, Ref):
        return []
    if ref.port == "*":
        return [f"{ref.target}.{f}" for f in graph.sources[ref.target].fields]
    return [str(ref)]


def _all_inexact(tree) -> bool:
    leaves = jax.tree_util.tree_leaves(tree)
    return bool(leaves) and all(jnp.issubdtype(leaf.dtype, jnp.inexact) for leaf in leaves)


def _norm(tree) -> float:
    return math.sqrt(sum(float(np.sum(np.square(np.abs(np.asarray(leaf, np.float64)))))
                         for leaf in jax.tree_util.tree_leaves(tree)))


def _edge_norms(graph: Graph, cotangents: dict) -> dict[EdgeKey, float]:
    norms = {}
    for name, instance in graph.nodes.items():
        for port, ref in instance.inputs.items():
            keys = [(name, k) for k in _keys_read(graph, ref) if (name, k) in cotangents]
            if keys:
                norms[(ref.target, name, port)] = math.sqrt(sum(_norm(cotangents[k]) ** 2 for k in keys))
    return norms


def _warnings(graph: Graph, norms: dict[str, float], static: StaticFlow) -> list[str]:
    replacements = differentiable_replacements()
    warnings = []
    for param, norm in norms.items():
        if not math.isfinite(norm):
            warnings.append(f"parameter {param!r}: measured gradient is not finite ({norm}); look for a "
                            f"division by zero or a square root at zero on its path")
        elif norm == 0.0:
            if param in static.blocked:
                nodes = static.blocked[param]
                swaps = ", ".join(f"{n!r} ({graph.nodes[n].op} -> {replacements.get(graph.nodes[n].op, '?')})"
                                  for n in nodes)
                why = f"blocked by non-differentiable node(s) {swaps}"
            elif param in static.unused:
                why = "it does not reach the objective"
            else:
                why = ("the soft nodes on its path are flat at these values (a cut far from every event, "
                       "or a slope or bandwidth too small for the data's spread)")
            warnings.append(f"parameter {param!r}: measured gradient is exactly zero: {why}")
        elif param in static.blocked:
            nodes = ", ".join(repr(n) for n in static.blocked[param])
            warnings.append(f"parameter {param!r}: declared blocked by {nodes}, yet a gradient was measured; "
                            f"the `differentiable` declaration of those nodes is wrong")
    return warnings
