"""Build-time validation: every problem of a graph, found before anything runs.

Checks run in layers; a layer runs only when the ones before it found nothing, so that
shape inference never trips over a dangling reference or a cycle.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import jax
import networkx as nx
import numpy as np

from workflow.errors import Problem
from workflow.graph import PARAMS, Const, Ref
from workflow.node import REGISTRY
from workflow.types import Events, Record, accepts, type_of_value

if TYPE_CHECKING:
    from workflow.graph import Graph

PLACEHOLDER_EVENTS = 64  # events per sample when a source does not say how many


def find_problems(graph: "Graph", require_objective: bool = False) -> list[Problem]:
    problems = list(graph._declaration_problems)
    problems += _reference_problems(graph)
    problems += _cycle_problems(graph)
    if problems:
        return problems + _objective_presence(graph, require_objective)
    problems += _type_problems(graph)
    problems += _objective_presence(graph, require_objective)
    if problems:
        return problems
    shapes, shape_problems = infer_shapes(graph)
    problems += shape_problems
    if graph.objective is not None and not shape_problems:
        shape = shapes.get(str(graph.objective))
        if getattr(shape, "shape", None) != ():
            found = "a pytree" if not hasattr(shape, "shape") else f"shape {tuple(shape.shape)}"
            problems.append(Problem(
                f"objective {str(graph.objective)!r} is not a scalar: it has {found}",
                fix="reduce it to one number, e.g. sum the bins or pick one element",
                where=(graph.objective.target,),
            ))
    return problems


def _objective_presence(graph: "Graph", require_objective: bool) -> list[Problem]:
    if graph.objective is None:
        if not require_objective:
            return []
        return [Problem("the graph has no objective",
                        fix="g.compile(objective=handle) or g.set_objective(handle), with a scalar handle")]
    ref = graph.objective
    port_type = graph.port_type(ref)
    if port_type is None:
        return [Problem(f"objective {str(ref)!r} refers to nothing", fix="pass a handle of the graph",
                        where=(ref.target,))]
    if port_type.per_event:
        return [Problem(f"objective {str(ref)!r} is per-event ({port_type})",
                        fix="reduce the events first (histograms.count, histograms.kde) and build a scalar",
                        where=(ref.target,))]
    return []


def _reference_problems(graph: "Graph") -> list[Problem]:
    problems = []
    for name, instance in graph.nodes.items():
        spec = instance.spec
        if spec is None:
            continue
        for port in spec.inputs:
            if port not in instance.inputs and port not in spec.optional:
                problems.append(Problem(
                    f"node {name!r} ({instance.op}): input {port!r} ({spec.inputs[port]}) is not connected",
                    fix=f"pass it: {instance.op}(..., {port}=handle), or in a file inputs: {{{port}: node.port}}",
                    where=(name,),
                ))
        for port, ref in instance.inputs.items():
            if port not in spec.inputs:
                problems.append(Problem(
                    f"node {name!r} ({instance.op}) has no input {port!r}",
                    fix=f"its inputs are {', '.join(spec.inputs)}", where=(name,),
                ))
                continue
            if not isinstance(ref, Ref):
                continue
            kind = graph.entry_kind(ref.target)
            if kind is None:
                if ref.target.startswith(PARAMS + "."):
                    pname = ref.target[len(PARAMS) + 1:]
                    problems.append(Problem(
                        f"node {name!r} input {port!r}: unknown parameter {pname!r}",
                        fix=f"declare it: g.param({pname!r}, init=...)", where=(name, pname),
                    ))
                else:
                    known = list(graph.nodes) + list(graph.sources)
                    close = difflib.get_close_matches(ref.target, known, n=2)
                    problems.append(Problem(
                        f"node {name!r} input {port!r} refers to {str(ref)!r}, but there is no node or sample "
                        f"{ref.target!r}",
                        fix=f"did you mean {' or '.join(map(repr, close))}?" if close else "declare it first",
                        where=(name,),
                    ))
            elif graph.port_type(ref) is None and not (kind == "node" and graph.nodes[ref.target].spec is None):
                problems.append(_unknown_port(graph, name, port, ref))  # (an unknown op is reported already)
    return problems


def _unknown_port(graph: "Graph", name: str, port: str, ref) -> Problem:
    if ref.target in graph.sources:
        fields = graph.sources[ref.target].fields
        return Problem(
            f"node {name!r} input {port!r}: sample {ref.target!r} has no field {ref.port!r}",
            fix=f"its fields are {', '.join(fields)}; declare the field in g.source(..., fields=...)",
            where=(name, ref.target),
        )
    outputs = graph.nodes[ref.target].spec.outputs
    if ref.port == "*":
        return Problem(
            f"node {name!r} input {port!r}: {ref.target!r} has several outputs ({', '.join(outputs)})",
            fix=f"pick one: handle[{next(iter(outputs))!r}] or '{ref.target}.{next(iter(outputs))}'",
            where=(name, ref.target),
        )
    return Problem(
        f"node {name!r} input {port!r}: {ref.target!r} has no output {ref.port!r}",
        fix=f"its outputs are {', '.join(outputs)}", where=(name, ref.target),
    )


def _cycle_problems(graph: "Graph") -> list[Problem]:
    problems = []
    for cycle in list(nx.simple_cycles(nx.DiGraph(graph.to_networkx())))[:5]:
        path = " -> ".join(cycle + [cycle[0]])
        problems.append(Problem(f"cycle: {path}", fix="a graph must be acyclic; break the loop",
                                where=tuple(cycle)))
    return problems


def sample_of_nodes(graph: "Graph") -> dict[str, set[str]]:
    """For each source and node, the samples whose rows flow into its per-event values."""
    samples: dict[str, set[str]] = {s: {s} for s in graph.sources}
    for name in topological_nodes(graph):
        instance = graph.nodes[name]
        found: set[str] = set()
        if instance.spec is not None and instance.spec.kind == "event":
            for ref in instance.inputs.values():
                if isinstance(ref, Ref) and getattr(graph.port_type(ref), "per_event", False):
                    found |= samples.get(ref.target, set())
        elif instance.spec is not None and instance.spec.kind == "reduce":
            for ref in instance.inputs.values():
                if isinstance(ref, Ref):
                    found |= samples.get(ref.target, set())
        samples[name] = found
    return samples


def topological_nodes(graph: "Graph") -> list[str]:
    """Node names (not sources or parameters) in an order where inputs come first."""
    return [n for n in nx.topological_sort(graph.to_networkx()) if n in graph.nodes]


def _type_problems(graph: "Graph") -> list[Problem]:
    problems = []
    samples = sample_of_nodes(graph)
    for name, instance in graph.nodes.items():
        spec = instance.spec
        if spec is None:
            continue
        for port, ref in instance.inputs.items():
            expected = spec.inputs[port]
            found = graph.port_type(ref) if isinstance(ref, Ref) else type_of_value(ref.value)
            source = f"from {str(ref)!r}" if isinstance(ref, Ref) else "a constant"
            if found.per_event and not expected.per_event and spec.kind == "global":
                problems.append(Problem(
                    f"global node {name!r} ({instance.op}) input {port!r} is fed per-event {found} {source}",
                    fix="reduce the events first (e.g. histograms.count or histograms.kde) and feed the result",
                    where=(name, ref.target if isinstance(ref, Ref) else name),
                ))
            elif not accepts(expected, found):
                fix = ("index the record: events['field']" if found is Record
                       else f"feed a {expected}: {expected.doc}")
                problems.append(Problem(
                    f"node {name!r} ({instance.op}) input {port!r} expects {expected}, got {found} {source}",
                    fix=fix, where=(name,),
                ))
        if spec.kind == "event":
            per_event = [(p, r) for p, r in instance.inputs.items()
                         if isinstance(r, Ref) and getattr(graph.port_type(r), "per_event", False)]
            if not per_event:
                problems.append(Problem(
                    f"event node {name!r} ({instance.op}) has no per-event input",
                    fix="connect a sample's field or another event node's output", where=(name,),
                ))
            if len(samples[name]) > 1:
                origin = ", ".join(f"{p} <- {sorted(samples.get(r.target, ()))}" for p, r in per_event)
                problems.append(Problem(
                    f"event node {name!r} ({instance.op}) mixes rows of samples {sorted(samples[name])} ({origin})",
                    fix="an event node works on one sample's rows; reduce each sample first and combine the "
                        "results in a global node",
                    where=(name, *sorted(samples[name])),
                ))
        if spec.hard is not None:
            twin = REGISTRY.get(spec.hard)
            if twin is None:
                problems.append(Problem(f"node {name!r} ({instance.op}) names hard twin {spec.hard!r}, "
                                        f"which is not registered", where=(name,)))
            elif (twin.inputs, twin.outputs) != (spec.inputs, spec.outputs):
                problems.append(Problem(f"hard twin {spec.hard!r} of {instance.op!r} has other ports",
                                        fix="a twin takes and gives the same ports", where=(name,)))
    return problems


def abstract_inputs(graph: "Graph") -> dict[str, object]:
    """Abstract values of every source field and parameter, keyed 'sample.field' / 'params.NAME.value'."""
    values = {}
    for sample, source in graph.sources.items():
        n = source.n_events or PLACEHOLDER_EVENTS
        for field_name, dtype in source.fields.items():
            values[f"{sample}.{field_name}"] = jax.ShapeDtypeStruct((n,), np.dtype(dtype))
    for name, param in graph.params.items():
        values[f"{PARAMS}.{name}.value"] = jax.tree_util.tree_map(
            lambda v: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype), param.init)
    return values


def infer_shapes(graph: "Graph") -> tuple[dict[str, object], list[Problem]]:
    """Shapes of every output by ``jax.eval_shape``, and the places where they disagree."""
    shapes = abstract_inputs(graph)
    problems: list[Problem] = []
    samples = sample_of_nodes(graph)
    with jax.enable_x64(True):
        for name in topological_nodes(graph):
            instance = graph.nodes[name]
            spec = instance.spec
            if instance.config is None:
                return shapes, problems  # a config problem was already reported
            args = {}
            for port, ref in instance.inputs.items():
                if isinstance(ref, Const):
                    args[port] = jax.ShapeDtypeStruct(np.shape(ref.value), np.asarray(ref.value).dtype)
                else:
                    args[port] = shapes.get(str(ref)) if ref.port != "*" else {
                        k[len(ref.target) + 1:]: v for k, v in shapes.items() if k.startswith(ref.target + ".")}
            if any(v is None for v in args.values()):
                continue  # an upstream node failed; its problem is already reported
            try:
                out = jax.eval_shape(lambda a: spec.run(a, instance.config), args)
            except Exception as error:  # any failure of the user's shapes is reported, not raised
                problems.append(Problem(
                    f"node {name!r} ({instance.op}): input shapes do not agree: {_describe(args)}: "
                    f"{_first_line(error)}",
                    fix="check the shapes of the inputs listed", where=(name,),
                ))
                continue
            sample = next(iter(samples.get(name, ())), None)
            for port, value in out.items():
                shapes[f"{name}.{port}"] = value
                problem = _output_shape_problem(graph, name, spec, port, value, sample)
                if problem:
                    problems.append(problem)
    return shapes, problems


def _output_shape_problem(graph, name, spec, port, value, sample) -> Problem | None:
    declared = spec.outputs.get(port)
    shape = getattr(value, "shape", None)
    if declared is None:
        return Problem(f"node {name!r} ({spec.op}) returned undeclared output {port!r}", where=(name,))
    if declared is Events and sample is not None:
        n = graph.sources[sample].n_events or PLACEHOLDER_EVENTS
        if shape is None or len(shape) == 0 or shape[0] != n:
            return Problem(
                f"node {name!r} ({spec.op}) output {port!r} should have {n} rows (one per event of "
                f"{sample!r}), got shape {shape}", fix="keep the event axis first", where=(name,))
    elif declared.rank is not None and (shape is None or len(shape) != declared.rank):
        return Problem(
            f"node {name!r} ({spec.op}) output {port!r} is declared {declared} (rank {declared.rank}), "
            f"got shape {shape}", fix="return the declared shape", where=(name,))
    return None


def _describe(args: dict) -> str:
    def one(value):
        if hasattr(value, "shape"):
            return f"{value.dtype}[{','.join(map(str, value.shape))}]"
        return "pytree"

    return ", ".join(f"{port}: {one(v)}" for port, v in args.items())


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
