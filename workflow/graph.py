"""The graph DSL: sources, parameters and nodes, held in networkx, validated when built.

    with Graph("cut_and_count") as g:
        threshold = g.param("cut_x", init=0.0)
        for sample in ("signal", "background"):
            events = g.source(sample, fields={"x": "float32"})
            weight = cuts.sigmoid(events["x"], threshold, slope=0.1)
            ...
    program = g.compile(objective=-significance)

Calling a node inside the ``with`` block returns a :class:`Handle`; nothing runs until
the compiled program is called. Leaving the block validates the graph and reports every
problem found, together.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pydantic

from workflow.errors import GraphError, Problem
from workflow.node import NodeSpec, lookup, suggest
from workflow.params import Param, as_numpy_tree
from workflow.types import Events, PortType, Record

PARAMS = "params"  # references to parameters read "params.NAME"
_context = threading.local()


@dataclass(frozen=True)
class Ref:
    """Where an input comes from: an output ``port`` of the entry ``target``."""

    target: str
    port: str

    def __str__(self) -> str:
        return f"{self.target}.{self.port}"

    @classmethod
    def parse(cls, text: str) -> "Ref":
        """'node.port', 'sample.field', 'params.NAME', or 'node' for a node's only output."""
        target, _, port = text.partition(".")
        if target == PARAMS:
            return cls(f"{PARAMS}.{port}", "value")
        return cls(target, port)


@dataclass(frozen=True, eq=False)
class Const:
    """A literal input value (a number or array) written straight into a node's input."""

    value: Any

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Const) and np.array_equal(self.value, other.value)

    __hash__ = None


@dataclass
class Source:
    """A sample's events: the fields a chunk carries and their dtypes."""

    sample: str
    fields: dict[str, str]
    n_events: int | None = None


@dataclass
class NodeInstance:
    """One use of a registered node: its op, where each input comes from, and its settings."""

    name: str
    op: str
    inputs: dict[str, Ref | Const]
    settings: dict[str, Any] = field(default_factory=dict)
    spec: NodeSpec | None = None
    config: pydantic.BaseModel | None = None


class Handle:
    """A symbolic value in a graph: an output port, a sample's record, or a node's outputs."""

    def __init__(self, graph: "Graph", target: str, port: str | None):
        self.graph, self.target, self.port = graph, target, port

    @property
    def ref(self) -> Ref:
        if self.port is None:
            raise TypeError(f"{self.target!r} has several outputs; pick one: handle['port_name']")
        return Ref(self.target, self.port)

    def __getitem__(self, key: str) -> "Handle":
        if self.port is not None:
            raise TypeError(f"{self} is a single value and cannot be indexed by {key!r}")
        return Handle(self.graph, self.target, key)

    def __repr__(self) -> str:
        return f"<Handle {self.target}{'' if self.port is None else '.' + self.port}>"

    # Arithmetic reads like analysis code and builds `arith.*` nodes.
    def __neg__(self):
        return self.graph.arithmetic("neg", self)

    def __add__(self, other):
        return self.graph.arithmetic("add", self, other)

    def __radd__(self, other):
        return self.graph.arithmetic("add", other, self)

    def __sub__(self, other):
        return self.graph.arithmetic("sub", self, other)

    def __rsub__(self, other):
        return self.graph.arithmetic("sub", other, self)

    def __mul__(self, other):
        return self.graph.arithmetic("mul", self, other)

    def __rmul__(self, other):
        return self.graph.arithmetic("mul", other, self)

    def __truediv__(self, other):
        return self.graph.arithmetic("div", self, other)

    def __rtruediv__(self, other):
        return self.graph.arithmetic("div", other, self)


class Graph:
    """A directed graph of sources, parameters and nodes, with an objective to minimise."""

    def __init__(self, name: str = "graph"):
        self.name = name
        self.sources: dict[str, Source] = {}
        self.params: dict[str, Param] = {}
        self.nodes: dict[str, NodeInstance] = {}
        self.objective: Ref | None = None
        self._declaration_problems: list[Problem] = []
        self._sample_of: dict[str, str | None] = {}  # for readable automatic node names

    # -- context -----------------------------------------------------------------
    @staticmethod
    def current() -> "Graph | None":
        stack = getattr(_context, "stack", [])
        return stack[-1] if stack else None

    def __enter__(self) -> "Graph":
        _context.__dict__.setdefault("stack", []).append(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        _context.stack.pop()
        if exc_type is None:
            self.validate()

    # -- declarations ------------------------------------------------------------
    def source(self, sample: str, fields: dict[str, str], n_events: int | None = None) -> Handle:
        """Declare a sample's events with their fields and dtypes; index the result by field."""
        if self._claim_name(sample, "sample"):
            self.sources[sample] = Source(sample, {k: str(np.dtype(v)) for k, v in fields.items()}, n_events)
            self._sample_of[sample] = sample
        return Handle(self, sample, None)

    def param(
        self,
        name: str,
        init: Any,
        bounds: tuple[float, float] | None = None,
        trainable: bool = True,
        doc: str = "",
    ) -> Handle:
        """Declare a parameter; its value is ``params[name]`` when the program is called."""
        key = f"{PARAMS}.{name}"
        if name in self.params:
            self._declaration_problems.append(
                Problem(
                    f"parameter {name!r} is declared twice",
                    fix="declare it once and reuse the handle g.param(...) returned",
                    where=(name,),
                )
            )
        else:
            if bounds is not None and not bounds[0] < bounds[1]:
                self._declaration_problems.append(
                    Problem(f"parameter {name!r}: bounds {bounds} are not (low, high) with low < high",
                            fix="give bounds=(low, high)", where=(name,))
                )
            self.params[name] = Param(name, as_numpy_tree(init), bounds and tuple(bounds), trainable, doc)
        return Handle(self, key, "value")

    def add_node(
        self,
        op: str,
        inputs: dict[str, Any],
        config: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> Handle:
        """Add a use of the registered node ``op``. Inputs are handles, 'node.port' strings or constants."""
        refs = {port: self._as_input(value) for port, value in inputs.items() if value is not None}
        sample = self._sample_for(refs)
        name = name or self._auto_name(op, sample)
        self._sample_of.setdefault(name, sample)
        instance = NodeInstance(name, op, refs, dict(config or {}))
        if not self._claim_name(name, "node"):
            return Handle(self, name, None)
        try:
            instance.spec = lookup(op)
        except KeyError:
            close = suggest(op)
            self._declaration_problems.append(
                Problem(
                    f"node {name!r}: unknown op {op!r}",
                    fix=f"use a registered node{': ' + ', '.join(close) if close else ''}",
                    where=(name,),
                )
            )
        else:
            self._configure(instance)
        self.nodes[name] = instance
        spec = instance.spec
        if spec is not None and len(spec.outputs) == 1:
            return Handle(self, name, next(iter(spec.outputs)))
        return Handle(self, name, None)

    def set_objective(self, objective: Handle | str) -> None:
        """Name the scalar the program minimises (negate a figure of merit to maximise it)."""
        self.objective = objective.ref if isinstance(objective, Handle) else Ref.parse(objective)

    def arithmetic(self, operation: str, *operands) -> Handle:
        """Add an ``arith`` node for -a, a + b, a * b, ...; per-event when an operand is."""
        per_event = [isinstance(o, Handle) and o.port is not None and
                     getattr(self.port_type(o.ref), "per_event", False) for o in operands]
        if operation == "neg":
            return self.add_node("arith.neg_events" if per_event[0] else "arith.neg", {"x": operands[0]})
        if all(per_event):
            return self.add_node(f"arith.{operation}_events", dict(zip("ab", operands)))
        if any(per_event):
            events, other = operands if per_event[0] else operands[::-1]
            return self.add_node(f"arith.{operation}_events_by", {"events": events, "other": other},
                                 config={"reversed": not per_event[0]})
        return self.add_node(f"arith.{operation}", dict(zip("ab", operands)))

    # -- queries -----------------------------------------------------------------
    def entry_kind(self, target: str) -> str | None:
        if target.startswith(PARAMS + "."):
            return "param" if target[len(PARAMS) + 1:] in self.params else None
        if target in self.sources:
            return "source"
        if target in self.nodes:
            return "node"
        return None

    def port_type(self, ref: Ref) -> PortType | None:
        """The type of the value a reference points at, or None when it points at nothing."""
        kind = self.entry_kind(ref.target)
        if kind == "param":
            return self.params[ref.target[len(PARAMS) + 1:]].type
        if kind == "source":
            if ref.port == "*":
                return Record
            return Events if ref.port in self.sources[ref.target].fields else None
        if kind == "node":
            spec = self.nodes[ref.target].spec
            return spec.outputs.get(ref.port) if spec else None
        return None

    def to_networkx(self) -> nx.MultiDiGraph:
        """Sources, parameters and nodes as a networkx multigraph; edges carry the port names."""
        graph = nx.MultiDiGraph(name=self.name)
        for sample, source in self.sources.items():
            graph.add_node(sample, role="source", fields=dict(source.fields))
        for name, param in self.params.items():
            graph.add_node(f"{PARAMS}.{name}", role="param", trainable=param.trainable)
        for name, instance in self.nodes.items():
            spec = instance.spec
            graph.add_node(name, role="node", op=instance.op, kind=spec.kind if spec else None)
        for name, instance in self.nodes.items():
            for port, ref in instance.inputs.items():
                if isinstance(ref, Ref) and ref.target in graph:
                    graph.add_edge(ref.target, name, key=port, src_port=ref.port, dst_port=port)
        return graph

    # -- validation and compilation -------------------------------------------------
    def problems(self, require_objective: bool = False) -> list[Problem]:
        from workflow.validate import find_problems

        return find_problems(self, require_objective=require_objective)

    def validate(self, require_objective: bool = False) -> None:
        """Raise a :class:`GraphError` listing every problem, or return quietly."""
        found = self.problems(require_objective)
        if found:
            raise GraphError(self.name, found)

    def compile(self, objective: Handle | str | None = None, executor=None):
        """Validate and compile into a :class:`~workflow.program.Program` minimising ``objective``.

        ``executor`` runs the event region in chunks: ``workflow.execute.InProcess(...)`` or
        ``workflow.execute.Dask(workers=2 | scheduler="tcp://..." | client=...)``.
        """
        from workflow.program import Program

        if objective is not None:
            self.set_objective(objective)
        self.validate(require_objective=True)
        return Program(self, executor=executor)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        same_params = self.params.keys() == other.params.keys() and all(
            p.same_as(other.params[n]) for n, p in self.params.items()
        )
        return (
            self.sources == other.sources
            and same_params
            and {n: (i.op, i.inputs, i.config) for n, i in self.nodes.items()}
            == {n: (i.op, i.inputs, i.config) for n, i in other.nodes.items()}
            and self.objective == other.objective
        )

    __hash__ = None  # mutable

    # -- internals ---------------------------------------------------------------
    def _claim_name(self, name: str, what: str) -> bool:
        taken = name in self.sources or name in self.nodes
        if taken or "." in name or name == PARAMS:
            problem = (
                f"{what} name {name!r} is already used" if taken
                else f"{what} name {name!r} may not contain '.' or be {PARAMS!r}"
            )
            self._declaration_problems.append(Problem(problem, fix="give it another name", where=(name,)))
            return False
        return True

    def _as_input(self, value: Any) -> Ref | Const:
        if isinstance(value, Handle):
            if value.graph is not self:
                raise ValueError(f"{value} belongs to graph {value.graph.name!r}, not {self.name!r}")
            return Ref(value.target, value.port if value.port is not None else "*")
        if isinstance(value, (Ref, Const)):
            return value
        if isinstance(value, str):
            return Ref.parse(value)
        return Const(as_numpy_tree(value))

    def _configure(self, instance: NodeInstance) -> None:
        try:
            instance.config = instance.spec.make_config(instance.settings)
        except pydantic.ValidationError as error:
            for item in error.errors():
                place = ".".join(str(p) for p in item["loc"]) or "config"
                self._declaration_problems.append(
                    Problem(
                        f"node {instance.name!r} ({instance.op}): config {place}: {item['msg']} "
                        f"(got {item.get('input')!r})",
                        fix=f"see the fields of {instance.spec.config.__name__}: "
                        f"{', '.join(instance.spec.config.model_fields)}",
                        where=(instance.name,),
                    )
                )

    def _sample_for(self, refs: dict[str, Ref | Const]) -> str | None:
        samples = {self._sample_of.get(r.target) for r in refs.values() if isinstance(r, Ref)}
        samples.discard(None)
        return next(iter(samples)) if len(samples) == 1 else None

    def _auto_name(self, op: str, sample: str | None) -> str:
        """'sigmoid[signal]' for a node on one sample's events, else the op's short name."""
        short = op.rsplit(".", 1)[-1]
        name, i = (f"{short}[{sample}]" if sample else short), 2
        while name in self.nodes or name in self.sources:
            name = f"{short}_{i}[{sample}]" if sample else f"{short}_{i}"
            i += 1
        return name
