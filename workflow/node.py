"""Node declarations: a pure JAX function plus typed ports, a config model and a kind.

    @node("cuts.sigmoid", kind="event",
          inputs={"x": Events, "threshold": Scalar}, outputs={"weight": Events},
          config=SigmoidCutConfig, hard="cuts.step")
    def sigmoid(x, threshold, *, config):
        ...

The decorated object is a :class:`NodeSpec`. Called with symbolic handles inside a
``Graph`` it adds a node and returns a handle; called with arrays it simply runs.
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import pydantic

from workflow.types import PortType

Kind = Literal["event", "reduce", "global"]
KINDS: tuple[str, ...] = ("event", "reduce", "global")

REGISTRY: dict[str, "NodeSpec"] = {}


class NoConfig(pydantic.BaseModel):
    """Config of a node without static settings."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")


class NodeConfig(pydantic.BaseModel):
    """Base for node configs: frozen (hashable, static under jit), unknown keys rejected."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, eq=False)
class NodeSpec:
    """What a registered node is: its function, ports, kind, config model and hard twin.

    ``fn(*inputs, config=config)`` returns one value (single output) or a dict keyed by
    output port. ``reduce`` nodes also receive ``mask``: per-event 0/1 weights marking
    padding rows, or None when every row is real.
    """

    op: str
    fn: Callable
    kind: str
    inputs: dict[str, PortType]
    outputs: dict[str, PortType]
    config: type[pydantic.BaseModel] = NoConfig
    hard: str | None = None
    differentiable: bool = True
    gradient_ports: frozenset[str] = field(default_factory=frozenset)  # inputs a gradient flows through
    optional: frozenset[str] = field(default_factory=frozenset)
    doc: str = ""

    @property
    def short_name(self) -> str:
        return self.op.rsplit(".", 1)[-1]

    def make_config(self, settings: dict[str, Any] | pydantic.BaseModel | None) -> pydantic.BaseModel:
        """Validate static settings into this node's frozen config model."""
        if isinstance(settings, self.config):
            return settings
        return self.config(**(settings or {}))

    def run(self, inputs: dict[str, Any], config: pydantic.BaseModel, mask=None) -> dict[str, Any]:
        """Apply the function to named inputs; always returns a dict keyed by output port."""
        args = [inputs.get(port) for port in self.inputs]
        kwargs = {"config": config}
        if self.kind == "reduce":
            kwargs["mask"] = mask
        result = self.fn(*args, **kwargs)
        if len(self.outputs) == 1 and not _is_port_dict(result, self.outputs):
            return {next(iter(self.outputs)): result}
        return dict(result)

    def __call__(self, *args, name: str | None = None, **kwargs):
        from workflow.graph import Graph, Handle  # the DSL lives in graph.py

        port_values, settings = self._split_arguments(args, kwargs)
        graph = Graph.current()
        if graph is not None or any(isinstance(v, Handle) for v in port_values.values()):
            if graph is None:
                raise RuntimeError(
                    f"{self.op}(...) was given symbolic handles outside a graph.\n"
                    f"  wrong: h = {self.op}(events['x'], ...)\n"
                    f"  right: with Graph('name') as g: h = {self.op}(events['x'], ...)"
                )
            return graph.add_node(self.op, inputs=port_values, config=settings, name=name)
        outputs = self.run(port_values, self.make_config(settings))
        return outputs if len(outputs) > 1 else next(iter(outputs.values()))

    def _split_arguments(self, args, kwargs) -> tuple[dict[str, Any], dict[str, Any]]:
        ports = list(self.inputs)
        if len(args) > len(ports):
            raise TypeError(f"{self.op} takes {len(ports)} inputs ({', '.join(ports)}), got {len(args)}")
        port_values = dict(zip(ports, args))
        settings = {}
        for key, value in kwargs.items():
            if key in self.inputs:
                port_values[key] = value
            else:
                settings[key] = value
        return port_values, settings


def _is_port_dict(result, outputs) -> bool:
    return isinstance(result, dict) and set(result) == set(outputs)


def node(
    op: str,
    *,
    kind: Kind,
    inputs: dict[str, PortType],
    outputs: dict[str, PortType],
    config: type[pydantic.BaseModel] = NoConfig,
    hard: str | None = None,
    differentiable: bool | tuple[str, ...] = True,
) -> Callable[[Callable], NodeSpec]:
    """Declare a pure JAX function as a graph node registered under ``op``.

    ``differentiable`` is True, False, or the input ports a gradient still flows through
    in a node that is not differentiable in the others (an ordinary histogram is not
    differentiable in the values it bins, but is in the event weights).
    """
    if kind not in KINDS:
        raise ValueError(f"node {op!r}: kind must be one of {KINDS}, got {kind!r}")
    if "." not in op:
        raise ValueError(f"node name {op!r} must be qualified, like 'cuts.sigmoid'")

    def declare(fn: Callable) -> NodeSpec:
        signature = inspect.signature(fn)
        missing = [p for p in inputs if p not in signature.parameters]
        if not isinstance(differentiable, bool):
            missing += [p for p in differentiable if p not in inputs]
        if missing:
            raise TypeError(f"node {op!r}: function {fn.__name__} has no parameter for ports {missing}")
        optional = frozenset(
            p for p in inputs if signature.parameters[p].default is not inspect.Parameter.empty
        )
        spec = NodeSpec(
            op=op,
            fn=fn,
            kind=kind,
            inputs=dict(inputs),
            outputs=dict(outputs),
            config=config,
            hard=hard,
            differentiable=differentiable is True,
            gradient_ports=frozenset(inputs) if differentiable is True else frozenset(differentiable or ()),
            optional=optional,
            doc=inspect.getdoc(fn) or "",
        )
        register(spec)
        return spec

    return declare


def register(spec: NodeSpec) -> None:
    """Add a node to the registry; a second, different function under one name is an error."""
    known = REGISTRY.get(spec.op)
    if known is not None and known.fn.__qualname__ != spec.fn.__qualname__:
        raise ValueError(f"node {spec.op!r} is already registered by {known.fn.__module__}.{known.fn.__qualname__}")
    REGISTRY[spec.op] = spec


def lookup(op: str) -> NodeSpec:
    """The registered node ``op``; an unknown name suggests the closest registered ones."""
    load_plugins()
    try:
        return REGISTRY[op]
    except KeyError:
        close = difflib.get_close_matches(op, REGISTRY, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"unknown node {op!r}.{hint}") from None


def suggest(op: str) -> list[str]:
    load_plugins()
    return difflib.get_close_matches(op, REGISTRY, n=3)


_plugins_loaded = False


def load_plugins() -> None:
    """Register the built-in library and third-party nodes (entry point group ``diffdag.nodes``)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import importlib
    from importlib.metadata import entry_points

    importlib.import_module("workflow.arithmetic")
    importlib.import_module("nodes")
    for entry in entry_points(group="diffdag.nodes"):
        entry.load()
