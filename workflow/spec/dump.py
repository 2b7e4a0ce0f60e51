"""Writing a Graph (and optionally its run settings) as a graph file that loads back equal.

Nodes are written expanded, one entry per node with its name, so ``load(dump(g)) == g``
for graphs built in Python as well as for graphs loaded from files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import yaml

from workflow.graph import PARAMS, Const, Graph, Ref
from workflow.spec.load import source_fields
from workflow.spec.schema import VERSION, OptimizerEntry, ReportEntry, RunEntry
from workflow.spec.values import decode_init, encode_value


def graph_document(graph: Graph, settings=None) -> dict[str, Any]:
    """The plain-data form of a graph file for ``graph`` (and ``settings``, a RunSettings)."""
    sources = getattr(settings, "sources", {}) or {}
    doc: dict[str, Any] = {"version": VERSION, "name": graph.name, "samples": {}}
    for sample, source in graph.sources.items():
        entry: dict[str, Any] = {}
        spec = sources.get(sample)
        if spec is None or source_fields(spec) != source.fields:
            entry["fields"] = dict(source.fields)
        if source.n_events is not None:
            entry["n_events"] = int(source.n_events)
        if spec is not None:
            entry["source"] = {"kind": spec.kind, **spec.model_dump(mode="json", exclude_defaults=True)}
        doc["samples"][sample] = entry
    doc["params"] = {name: _param_entry(graph, name, settings) for name in graph.params}
    doc["nodes"] = [_node_entry(instance) for instance in graph.nodes.values()]
    if graph.objective is not None:
        doc["objective"] = reference_text(graph.objective)
    if settings is not None:
        for key, default in (("optimizer", OptimizerEntry()), ("run", RunEntry()), ("report", ReportEntry())):
            value = getattr(settings, key)
            if value != default:
                doc[key] = value.model_dump(mode="json", exclude_defaults=True)
    return doc


def dump_graph(graph: Graph, path: str | Path, settings=None) -> Path:
    """Write ``graph`` to ``path`` (.yaml/.yml, or .json); returns the path."""
    path = Path(path)
    doc = graph_document(graph, settings)
    if path.suffix.lower() == ".json":
        text = json.dumps(doc, indent=2) + "\n"
    else:
        text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=110)
    path.write_text(text, encoding="utf-8")
    return path


def reference_text(ref: Ref) -> str:
    """'node.port', 'sample.field', 'sample' for a whole record, 'params.NAME' for a parameter."""
    if ref.target.startswith(PARAMS + "."):
        return ref.target
    if ref.port == "*":
        return ref.target
    return f"{ref.target}.{ref.port}"


def _param_entry(graph: Graph, name: str, settings) -> dict[str, Any]:
    param = graph.params[name]
    written = (getattr(settings, "inits", {}) or {}).get(name)
    entry: dict[str, Any] = {"init": written if _regenerates(written, param.init) else encode_value(param.init)}
    if param.bounds is not None:
        entry["bounds"] = [float(b) for b in param.bounds]
    if not param.trainable:
        entry["trainable"] = False
    if param.doc:
        entry["doc"] = param.doc
    return entry


def _regenerates(written, init) -> bool:
    """Whether an init as written in a file still gives the graph's value."""
    if written is None:
        return False
    try:
        value = jax.tree_util.tree_map(np.asarray, decode_init(written))
    except ValueError:
        return False
    a, ta = jax.tree_util.tree_flatten(value)
    b, tb = jax.tree_util.tree_flatten(init)
    return ta == tb and all(np.shape(x) == np.shape(y) and np.array_equal(x, y) for x, y in zip(a, b))


def _node_entry(instance) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": instance.name, "op": instance.op}
    inputs = {}
    for port, value in instance.inputs.items():
        inputs[port] = reference_text(value) if isinstance(value, Ref) else _const(value)
    if inputs:
        entry["inputs"] = inputs
    config = _config(instance)
    if config:
        entry["config"] = config
    return entry


def _const(value: Const):
    encoded = encode_value(value.value)
    array = np.asarray(value.value) if not isinstance(value.value, (dict, list, tuple)) else None
    if array is not None and array.ndim == 0 and array.dtype.kind == "i":
        return int(array)  # ints load back as ints in node inputs
    return encoded


def _config(instance) -> dict[str, Any]:
    if instance.config is not None:
        return instance.config.model_dump(mode="json", exclude_defaults=True)
    return json.loads(json.dumps(instance.settings, default=_plain))


def _plain(value):
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} in a graph file")
