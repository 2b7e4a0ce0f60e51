"""Port types: what flows along an edge of a graph.

A port type says two things the validator checks before anything runs: whether the value
has an event axis (``per_event``), and what shape family it belongs to. Shapes themselves
are checked separately with ``jax.eval_shape``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PortType:
    """A named family of values; ``per_event`` values carry the event axis first."""

    name: str
    per_event: bool
    rank: int | None = None  # required rank for global arrays, None for any
    doc: str = ""

    def __repr__(self) -> str:
        return self.name


Events = PortType("Events", per_event=True, doc="per-event array, events on axis 0")
Record = PortType("Record", per_event=True, doc="a sample's event record; index it: events['mass']")
Scalar = PortType("Scalar", per_event=False, rank=0, doc="a global scalar")
Histogram = PortType("Histogram", per_event=False, rank=1, doc="a global 1-D array of bin contents")
Array = PortType("Array", per_event=False, doc="a global array of any shape")
Pytree = PortType("Pytree", per_event=False, doc="any global pytree (network weights, models)")

ALL_TYPES = {t.name: t for t in (Events, Record, Scalar, Histogram, Array, Pytree)}

# destination type -> source types it accepts. Array-shaped globals are interchangeable as
# long as the rank agrees, which eval_shape checks afterwards.
_ACCEPTS: dict[PortType, frozenset[PortType]] = {
    Events: frozenset({Events}),
    Record: frozenset({Record}),
    Scalar: frozenset({Scalar, Array}),
    Histogram: frozenset({Histogram, Array}),
    Array: frozenset({Scalar, Histogram, Array}),
    Pytree: frozenset({Scalar, Histogram, Array, Pytree}),
}


def accepts(destination: PortType, source: PortType) -> bool:
    """Whether a value of type ``source`` may feed a port of type ``destination``."""
    return source in _ACCEPTS[destination]


def type_of_value(value) -> PortType:
    """The port type of a parameter's initial value: scalar, array or pytree."""
    import numpy as np

    if isinstance(value, (int, float, np.number)) or (hasattr(value, "shape") and value.shape == ()):
        return Scalar
    if hasattr(value, "shape"):
        return Array
    return Pytree
