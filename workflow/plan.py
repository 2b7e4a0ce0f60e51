"""The compile plan: which nodes run where, and the pure functions that run them.

A validated graph splits into three stages:

- the *parameter stage*: global nodes fed only by parameters and constants;
- one *sample stage* per sample: its event and reduce nodes, run on that sample's rows
  (the whole sample, or one chunk of it) and ending in partial sums;
- the *global stage*: everything fed by the summed reductions (model, fits, objective).

Sample-stage nodes that depend on neither parameters nor a hard twin are *cached*: they
are computed once per dataset by ``prepare`` and their outputs travel with the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax

from workflow.errors import GraphError, Problem
from workflow.graph import PARAMS, Const, Graph, Ref
from workflow.node import NodeSpec, lookup
from workflow.validate import sample_of_nodes, topological_nodes


@dataclass(frozen=True)
class Plan:
    order: tuple[str, ...]
    parameter_stage: tuple[str, ...]
    sample_stage: dict[str, tuple[str, ...]]
    global_stage: tuple[str, ...]
    cached: dict[str, tuple[str, ...]]
    prepared_keys: dict[str, tuple[str, ...]]  # per sample: what the uncached nodes read from the data
    reductions: dict[str, tuple[str, ...]]  # per sample: outputs the global stage reads
    stage_inputs: tuple[str, ...]  # parameter-stage outputs and parameters the sample stages read


def make_plan(graph: Graph) -> Plan:
    order = tuple(topological_nodes(graph))
    samples_of = sample_of_nodes(graph)
    node_sample = {n: next(iter(samples_of[n])) for n in order
                   if graph.nodes[n].spec.kind in ("event", "reduce")}

    depends_on_events = set()
    for name in order:
        kind = graph.nodes[name].spec.kind
        if kind in ("event", "reduce") or any(r.target in depends_on_events for r in _refs(graph, name)):
            depends_on_events.add(name)
    parameter_stage = tuple(n for n in order if n not in depends_on_events)
    global_stage = tuple(n for n in order if n in depends_on_events and n not in node_sample)

    problems = [
        Problem(f"event node {n!r} reads {str(r)!r}, which depends on a sum over events",
                fix="the event region must not depend on reductions (two-pass graphs are not supported)",
                where=(n, r.target))
        for n in node_sample for r in _refs(graph, n) if r.target in global_stage
    ]
    if problems:
        raise GraphError(graph.name, problems)

    sample_stage = {s: tuple(n for n in order if node_sample.get(n) == s) for s in graph.sources}
    cached = {s: _cacheable(graph, nodes) for s, nodes in sample_stage.items()}
    prepared_keys, reductions, stage_inputs = {}, {}, set()
    for sample, nodes in sample_stage.items():
        uncached = [n for n in nodes if n not in cached[sample]]
        reads = {str(r) for n in uncached for r in _refs(graph, n)}
        prepared_keys[sample] = tuple(sorted(
            k for k in _expand_records(graph, reads)
            if k.split(".", 1)[0] in cached[sample] or k.split(".", 1)[0] == sample))
        stage_inputs |= {k for k in reads if k.split(".", 1)[0] in parameter_stage or k.startswith(PARAMS + ".")}
        outputs = {f"{n}.{p}" for n in nodes if graph.nodes[n].spec.kind == "reduce"
                   for p in graph.nodes[n].spec.outputs}
        read_later = {str(r) for n in global_stage for r in _refs(graph, n)} | {str(graph.objective)}
        reductions[sample] = tuple(sorted(outputs & read_later))
    return Plan(order, parameter_stage, sample_stage, global_stage, cached, prepared_keys,
                reductions, tuple(sorted(stage_inputs)))


def _refs(graph: Graph, name: str) -> list[Ref]:
    return [r for r in graph.nodes[name].inputs.values() if isinstance(r, Ref)]


def _expand_records(graph: Graph, keys: set[str]) -> set[str]:
    """'sample.*' (a whole record) stands for every field of the sample."""
    out = set()
    for key in keys:
        target, port = key.split(".", 1)
        if port == "*" and target in graph.sources:
            out |= {f"{target}.{f}" for f in graph.sources[target].fields}
        else:
            out.add(key)
    return out


def _cacheable(graph: Graph, nodes: tuple[str, ...]) -> tuple[str, ...]:
    """Nodes computed from events and constants alone, with no hard twin on the way."""
    cached: set[str] = set()
    for name in nodes:
        instance = graph.nodes[name]
        if instance.spec.kind != "event" or instance.spec.hard is not None:
            continue
        if all(r.target in graph.sources or r.target in cached for r in _refs(graph, name)):
            cached.add(name)
    return tuple(n for n in nodes if n in cached)


def resolve(graph: Graph, name: str, mode: str) -> tuple[NodeSpec, Any]:
    """The spec and config a node runs with: its hard twin in hard mode, when it has one."""
    instance = graph.nodes[name]
    spec, config = instance.spec, instance.config
    if mode == "hard" and spec.hard is not None:
        twin = lookup(spec.hard)
        return twin, twin.make_config(config.model_dump())
    return spec, config


def run_nodes(graph: Graph, names, values: dict[str, Any], mode: str, mask=None) -> dict[str, Any]:
    """Run ``names`` in order, reading from and writing into ``values`` keyed 'node.port'."""
    for name in names:
        if any(key.startswith(name + ".") for key in values):
            continue  # already computed (a cached output travelling with the data)
        spec, config = resolve(graph, name, mode)
        inputs = {port: _read(graph, values, ref) for port, ref in graph.nodes[name].inputs.items()}
        with jax.named_scope(name):
            outputs = spec.run(inputs, config, mask=mask)
        for port, value in outputs.items():
            values[f"{name}.{port}"] = value
    return values


def _read(graph: Graph, values: dict[str, Any], ref):
    if isinstance(ref, Const):
        return ref.value
    if ref.port == "*":
        fields = graph.sources[ref.target].fields
        return {f: values[f"{ref.target}.{f}"] for f in fields}
    return values[str(ref)]
