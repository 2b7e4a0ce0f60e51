"""Loading a graph file into the Graph the Python DSL builds, plus its run settings.

Loading checks the schema (pydantic), decodes values, expands ``for_each`` fan-outs, adds
every node through ``Graph.add_node`` (so names, checks and errors are the DSL's) and
validates the graph. Every error names the file, the line and the JSON path. Ops are
looked up in the node registry only: a file never imports or runs code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydantic

import workflow.arithmetic  # noqa: F401  (registers the arith.* nodes files may name)
from workflow.errors import GraphError, Problem
from workflow.graph import PARAMS, Const, Graph, Ref
from workflow.node import suggest
from workflow.spec.document import Document, SpecError, json_path, read_document
from workflow.spec.optimizer import make_optimizer
from workflow.spec.schema import VERSION, GraphFile, OptimizerEntry, ReportEntry, RunEntry
from workflow.spec.values import ValueFormatError, decode_init, decode_value

SAMPLE = "{sample}"


@dataclass
class RunSettings:
    """What a graph file says beyond the graph: data sources, optimiser, run and report settings."""

    file: Path | None = None
    sources: dict[str, Any] = field(default_factory=dict)
    optimizer: OptimizerEntry = field(default_factory=OptimizerEntry)
    run: RunEntry = field(default_factory=RunEntry)
    report: ReportEntry = field(default_factory=ReportEntry)
    inits: dict[str, Any] = field(default_factory=dict)  # parameter inits as written (initialisers kept)
    places: dict[str, tuple] = field(default_factory=dict)  # graph entry -> JSON path in the file

    @property
    def base(self) -> Path:
        return Path(".") if self.file is None else self.file.parent

    def data_sources(self) -> dict[str, Any]:
        """The samples' sources with file paths resolved from the graph file's folder."""
        missing = [s for s, source in self.sources.items() if source is None]
        if missing:
            raise SpecError(f"{self.file}: samples {missing} have no source, so there is no data to run on. "
                            "Fix: give each sample a source (kind: gaussian, npz, parquet or root).")
        return {sample: resolve_paths(source, self.base) for sample, source in self.sources.items()}

    def load_arrays(self, graph: Graph, limit: int | None = None) -> dict[str, dict[str, Any]]:
        """Every sample's events in memory (the first ``limit`` when given), ``{sample: {field: array}}``."""
        from workflow.execute.chunks import read_fields

        data = {}
        for sample, source in self.data_sources().items():
            fields = graph.sources[sample].fields
            pieces = source.pieces(1 << 62) if limit is None else source.pieces(max(limit, 1))[:1]
            parts = [read_fields(sample, source, piece, fields) for piece in pieces]
            data[sample] = {f: np.concatenate([p[f] for p in parts]) if len(parts) != 1 else parts[0][f]
                            for f in fields}
        return data


def resolve_paths(source, base: Path):
    """A copy of ``source`` whose relative file paths start at ``base``."""
    def resolve(path: str) -> str:
        return path if Path(path).is_absolute() else str(base / path)

    if hasattr(source, "path"):
        return source.model_copy(update={"path": resolve(source.path)})
    if hasattr(source, "paths"):
        return source.model_copy(update={"paths": [resolve(p) for p in source.paths]})
    return source


def load_graph(path: str | Path) -> tuple[Graph, RunSettings]:
    """The Graph a file declares, validated, and its run settings; raises SpecError."""
    document = read_document(path)
    spec = parse(document)
    return build(spec, document)


def parse(document: Document) -> GraphFile:
    """Check a document against the schema, version first."""
    data = document.data
    if not isinstance(data, dict):
        raise document.error((), f"expected a mapping with version, samples, params, nodes and objective; "
                                 f"found {type(data).__name__}", "start the file with 'version: 1'")
    if "version" not in data:
        raise document.error((), "missing 'version'", f"add 'version: {VERSION}' at the top")
    if data["version"] != VERSION:
        raise document.error(("version",), f"unknown version {data['version']!r}; this diffdag reads version "
                                           f"{VERSION}", f"write 'version: {VERSION}' and the version-1 layout "
                                                         "(`diffdag schema` prints it)")
    try:
        return GraphFile.model_validate(data)
    except pydantic.ValidationError as error:
        raise _schema_error(document, error) from None


def build(spec: GraphFile, document: Document | None = None) -> tuple[Graph, RunSettings]:
    """The Graph of a checked file and its settings."""
    document = document or Document(Path("<graph>"), None)
    settings = RunSettings(file=document.path, optimizer=spec.optimizer, run=spec.run, report=spec.report)
    graph = Graph(spec.name)
    for sample, entry in spec.samples.items():
        place = ("samples", sample)
        fields = _sample_fields(entry, document, place)
        if entry.source is not None:
            _check_files(entry.source, settings.base, document, place + ("source",))
        graph.source(sample, fields, entry.n_events)
        settings.sources[sample] = entry.source
        settings.places[sample] = place
    for name, entry in spec.params.items():
        place = ("params", name)
        try:
            init = decode_init(entry.init)
        except ValueFormatError as error:
            raise document.error(place + ("init",) + error.path, str(error)) from None
        graph.param(name, init=init, bounds=entry.bounds, trainable=entry.trainable, doc=entry.doc)
        settings.inits[name] = entry.init
        settings.places[f"{PARAMS}.{name}"] = place
    for i, entry in enumerate(spec.nodes):
        _add_entry(graph, entry, ("nodes", i), list(spec.samples), document, settings.places)
    if spec.objective is not None:
        graph.set_objective(spec.objective.strip())
    _complete_references(graph)
    try:
        make_optimizer(spec.optimizer)
    except ValueError as error:
        raise document.error(("optimizer",), str(error), "see the optax documentation of that function") from None
    _validate(graph, document, settings.places)
    _check_report(graph, spec, document)
    return graph, settings


def _check_report(graph: Graph, spec: GraphFile, document: Document) -> None:
    """Outputs the report names must exist (checked after the graph, whose names they use)."""
    for key in ("histograms", "summary"):
        for label, text in (getattr(spec.report, key) or {}).items():
            ref = _complete(graph, _reference(text)) if "." not in text else _reference(text)
            if graph.port_type(ref) is None:
                raise document.error(("report", key, label), f"{text!r} is not an output of the graph",
                                     "name an output as 'node.port' (or 'node' when it has one output)")


def _check_files(source, base: Path, document: Document, place: tuple) -> None:
    files = [("path",)] if hasattr(source, "path") else [("paths", i) for i in range(len(getattr(source, "paths", [])))]
    for key in files:
        written = getattr(source, key[0]) if len(key) == 1 else source.paths[key[1]]
        path = Path(written) if Path(written).is_absolute() else base / written
        if not path.is_file():
            raise document.error(place + key, f"data file {str(path)!r} does not exist",
                                 "give the path of an existing file; relative paths start at the graph "
                                 "file's folder")


def source_fields(source) -> dict[str, str] | None:
    """Field dtypes a source names without opening files (toy generators), else None."""
    names, dtype = getattr(source, "fields", None), getattr(source, "dtype", None)
    if isinstance(names, list) and dtype is not None:
        return {f: str(dtype) for f in names}
    return None


def _sample_fields(entry, document, place) -> dict[str, str]:
    from_source = source_fields(entry.source) if entry.source is not None else None
    if entry.fields is None and from_source is None:
        raise document.error(place, f"the {entry.source.kind} source does not say its fields' dtypes",
                             "add fields: {name: float32, ...} to the sample")
    if entry.fields is not None and from_source is not None and set(entry.fields) != set(from_source):
        raise document.error(place + ("fields",), f"fields {sorted(entry.fields)} differ from the source's "
                                                  f"{sorted(from_source)}", "omit fields; the source names them")
    return dict(entry.fields if entry.fields is not None else from_source)


def _add_entry(graph: Graph, entry, place: tuple, samples: list[str], document, places) -> None:
    fan_out = samples if entry.for_each == "samples" else entry.for_each
    if fan_out is None:
        if _mentions_sample(entry):
            raise document.error(place, f"uses {SAMPLE!r} but has no for_each",
                                 "add 'for_each: samples' (or a list of samples), or write the sample name")
        fan_out = [None]
    unknown = [s for s in fan_out if s is not None and s not in samples]
    if unknown:
        raise document.error(place + ("for_each",), f"unknown samples {unknown}; the samples are {samples}")
    for sample in fan_out:
        inputs = {}
        for port, value in entry.inputs.items():
            value = _substitute(value, sample)
            if isinstance(value, str):
                inputs[port] = _reference(value)
            else:
                try:
                    inputs[port] = Const(decode_value(value, numbers_as_float=False))
                except ValueFormatError as error:
                    raise document.error(place + ("inputs", port) + error.path, str(error)) from None
        name = _substitute(entry.name, sample)
        handle = graph.add_node(entry.op, inputs, config=_substitute(entry.config, sample), name=name)
        places.setdefault(handle.target, place)


def _mentions_sample(entry) -> bool:
    return SAMPLE in repr((entry.name, entry.inputs, entry.config))


def _substitute(value, sample):
    if sample is None:
        return value
    if isinstance(value, str):
        return value.replace(SAMPLE, sample)
    if isinstance(value, dict):
        return {k: _substitute(v, sample) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, sample) for v in value]
    return value


def _reference(text: str) -> Ref:
    """'node.port', 'sample.field', 'params.NAME'; a bare 'node' or 'sample' is completed later."""
    return Ref.parse(text.strip())


def _complete_references(graph: Graph) -> None:
    """A bare sample name means its whole record; a bare node name its only output."""
    for instance in graph.nodes.values():
        for port, ref in list(instance.inputs.items()):
            if isinstance(ref, Ref) and ref.port == "":
                instance.inputs[port] = _complete(graph, ref)
    if graph.objective is not None and graph.objective.port == "":
        graph.objective = _complete(graph, graph.objective)


def _complete(graph: Graph, ref: Ref) -> Ref:
    if ref.target in graph.sources:
        return Ref(ref.target, "*")
    spec = graph.nodes[ref.target].spec if ref.target in graph.nodes else None
    if spec is not None and len(spec.outputs) == 1:
        return Ref(ref.target, next(iter(spec.outputs)))
    return Ref(ref.target, "*")


def _validate(graph: Graph, document: Document, places: dict[str, tuple]) -> None:
    first = {}
    for instance in graph.nodes.values():  # one report per file entry, not per fanned-out copy
        if instance.spec is None:
            first.setdefault(places.get(instance.name), instance)
    unknown = [_unknown_op(instance) for instance in first.values()]
    if unknown:  # the other checks need every node's ports, so report these alone
        raise SpecError(_graph_error_text(GraphError(graph.name, unknown), document, places, ("op",)))
    try:
        graph.validate(require_objective=False)
    except GraphError as error:
        raise SpecError(_graph_error_text(error, document, places)) from None


def _unknown_op(instance) -> Problem:
    close = suggest(instance.op)
    hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    return Problem(f"node {instance.name!r}: unknown op {instance.op!r}; a file can name registered nodes only.",
                   fix=f"{hint}Third-party nodes register through the 'diffdag.nodes' entry point of an "
                       "installed package.", where=(instance.name,))


def _graph_error_text(error: GraphError, document: Document, places: dict[str, tuple], key: tuple = ()) -> str:
    count = len(error.problems)
    lines = [f"{document.path}: graph {error.graph_name!r} has {count} problem{'s' if count != 1 else ''}:"]
    for problem in error.problems:
        lines.append(f"  {document.where(_place_of(problem, places) + key)}: {_sentence(problem.message)}"
                     + (f" Fix: {problem.fix}" if problem.fix else ""))
    return "\n".join(lines)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!", ":")) else text + "."


def _place_of(problem: Problem, places: dict[str, tuple]) -> tuple:
    if problem.message.startswith(("objective", "the graph has no objective")):
        return ("objective",)
    for name in problem.where:
        for key in (name, f"{PARAMS}.{name}"):
            if key in places:
                return places[key]
    return ()


def _schema_error(document: Document, error: pydantic.ValidationError) -> SpecError:
    """The schema errors, with union tags dropped from their paths, as one paragraph."""
    seen, parts = set(), []
    for item in error.errors():
        place = _data_path(document.data, item["loc"])
        if place in seen:
            continue
        seen.add(place)
        parts.append(f"{document.where(place)}: {_message(item, place)}")
    if len(parts) == 1:
        return SpecError(parts[0] + " (`diffdag schema` prints the file format.)")
    head = f"{document.path}: {len(parts)} problems with the file format (`diffdag schema` prints it):"
    return SpecError("\n".join([head] + [f"  {p}" for p in parts[:8]]))


def _message(item: dict, place: tuple) -> str:
    kind, msg = item["type"], item["msg"]
    if kind == "missing":
        return f"{place[-1]!r} is required but missing"
    if kind == "extra_forbidden":
        return f"unknown key {place[-1]!r}"
    if kind.startswith("literal") or kind == "union_tag_invalid":
        found = item.get("input")
        return f"{msg}; found {found!r}"
    found = item.get("input")
    text = repr(found)
    return f"{msg}; found {text if len(text) < 60 else text[:57] + '...'}"


def _data_path(data, loc: tuple) -> tuple:
    """The part of a pydantic location that exists in the data, plus a final missing key."""
    place, current = [], data
    for i, part in enumerate(loc):
        if isinstance(current, dict) and part in current or isinstance(current, list) and isinstance(part, int) and part < len(current):
            place.append(part)
            current = current[part]
        elif i == len(loc) - 1 and isinstance(current, dict) and isinstance(part, str) and "[" not in part:
            place.append(part)
    return tuple(place)


__all__ = ["RunSettings", "SpecError", "build", "json_path", "load_graph", "parse"]
