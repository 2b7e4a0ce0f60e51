"""The graph file schema, version 1: samples, parameters, nodes, objective, optimiser, run.

    version: 1
    name: cut_optimisation
    samples:
      signal: {source: {kind: gaussian, fields: [x], means: [1], cov: [[1]], n_events: 10000, seed: 1}}
    params:
      cut_x: {init: 0.0, bounds: [-3, 3]}
    nodes:
      - {op: cuts.sigmoid, for_each: samples, inputs: {x: "{sample}.x", threshold: params.cut_x}}
    objective: neg.out
    optimizer: {name: adam, learning_rate: 0.05}
    run: {steps: 100, batch_size: 2000, checkpoint_every: 25}

``diffdag schema`` prints the JSON Schema of :class:`GraphFile`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, WithJsonSchema

from workflow.execute.sources import Source as SourceSpec
from workflow.spec.values import INITIALISERS

VERSION = 1

_NUMBER = {"type": "number"}
_VALUE_FORMS = [
    _NUMBER,
    {"type": "array", "description": "a list of numbers (float64 array)"},
    {"type": "object", "properties": {"array": {}, "dtype": {"type": "string"}}, "required": ["array"],
     "additionalProperties": False, "description": "an array of a given dtype"},
    {"type": "object", "properties": {"tree": {"type": ["object", "array"]}}, "required": ["tree"],
     "additionalProperties": False, "description": "a pytree whose leaves are values"},
]


def _init_forms() -> list[dict]:
    return _VALUE_FORMS + [
        {"type": "object", "properties": {name: init.arguments.model_json_schema()}, "required": [name],
         "additionalProperties": False, "description": f"the registered initialiser {name!r}"}
        for name, init in INITIALISERS.items()
    ]


InitValue = Annotated[Any, WithJsonSchema({"anyOf": _init_forms(), "description": "initial value"})]
InputValue = Annotated[Any, WithJsonSchema({
    "anyOf": [{"type": "string", "description": "'node.port', 'node', 'sample.field', 'sample' or 'params.NAME'"}]
    + _VALUE_FORMS})]
ConfigValue = Annotated[dict[str, Any], WithJsonSchema({"type": "object", "description": "the node's settings"})]


class Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class SampleEntry(Strict):
    """A sample: its fields (field -> dtype; a gaussian source gives them) and where events come from."""

    fields: dict[str, str] | None = None
    n_events: PositiveInt | None = None
    source: SourceSpec | None = None

    @pydantic.model_validator(mode="after")
    def _has_fields(self):
        if self.fields is None and self.source is None:
            raise ValueError("a sample needs fields {name: dtype} or a source that names them")
        return self


class ParamEntry(Strict):
    """A parameter: initial value (required), optional bounds (low, high), trainable or fixed."""

    init: InitValue
    bounds: tuple[float, float] | None = None
    trainable: bool = True
    doc: str = ""


class NodeEntry(Strict):
    """A use of a registered node. With ``for_each`` it is repeated per sample, ``{sample}`` substituted."""

    op: str
    name: str | None = None
    for_each: Literal["samples"] | list[str] | None = None
    inputs: dict[str, InputValue] = {}
    config: ConfigValue = {}


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adabelief", "lion", "lamb", "yogi", "nadam",
              "radam", "novograd", "fromage", "noisy_sgd")
SCHEDULES = ("constant_schedule", "cosine_decay_schedule", "exponential_decay", "linear_schedule",
             "piecewise_constant_schedule", "polynomial_schedule", "warmup_cosine_decay_schedule",
             "warmup_exponential_decay_schedule", "cosine_onecycle_schedule")


class ScheduleEntry(Strict):
    """An optax learning-rate schedule by name, with its keyword arguments."""

    schedule: Literal[SCHEDULES]  # type: ignore[valid-type]
    settings: dict[str, Any] = {}


class OptimizerEntry(Strict):
    """An optax optimiser by name: learning rate (a number or a schedule), other settings, clipping."""

    name: Literal[OPTIMIZERS] = "adam"  # type: ignore[valid-type]
    learning_rate: PositiveFloat | ScheduleEntry = 1e-3
    settings: dict[str, Any] = {}
    clip_norm: PositiveFloat | None = None


class RunEntry(Strict):
    """Steps, seed, events per sample per step (batch_size; all when omitted), checkpoint cadence."""

    steps: NonNegativeInt = 100
    seed: int = 0
    batch_size: PositiveInt | None = None
    eval_size: PositiveInt | None = None
    checkpoint_every: PositiveInt = 50
    hard_every: PositiveInt = 1


class ReportEntry(Strict):
    """What the report draws: histograms (label -> output), which labels stack, summary numbers."""

    histograms: dict[str, str] | None = None
    stack: list[str] | None = None
    summary: dict[str, str] = {}


class GraphFile(Strict):
    """A diffdag graph file, version 1."""

    version: Literal[1] = Field(description="the schema version; this diffdag reads 1")
    name: str = "graph"
    samples: dict[str, SampleEntry] = {}
    params: dict[str, ParamEntry] = {}
    nodes: list[NodeEntry] = []
    objective: str | None = None
    optimizer: OptimizerEntry = OptimizerEntry()
    run: RunEntry = RunEntry()
    report: ReportEntry = ReportEntry()


def json_schema() -> dict:
    """The JSON Schema of graph files."""
    schema = GraphFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "diffdag graph file (version 1)"
    return schema
