"""Arithmetic on handles (-z, a + b, 2 * w): small generic nodes, global and per-event.

``arith.OP`` combines two global values, ``arith.OP_events`` two per-event arrays of one
sample, and ``arith.OP_events_by`` a per-event array with a global value (``reversed``
puts the global value first, as in ``2 - w``).
"""

from __future__ import annotations

import jax.numpy as jnp

from workflow.node import NodeConfig, node
from workflow.types import Array, Events

OPERATIONS = {"add": jnp.add, "sub": jnp.subtract, "mul": jnp.multiply, "div": jnp.divide}


class OrderConfig(NodeConfig):
    """Whether the global operand comes first (``2 - w``) rather than second (``w - 2``)."""

    reversed: bool = False


def _declare_binary(name: str) -> None:
    function = OPERATIONS[name]

    def on_values(a, b, *, config):
        return function(a, b)

    def on_events_by(events, other, *, config):
        other = jnp.asarray(other, dtype=events.dtype)
        return function(other, events) if config.reversed else function(events, other)

    on_values.__qualname__ = f"arith_{name}"
    on_events_by.__qualname__ = f"arith_{name}_events_by"
    node(f"arith.{name}", kind="global", inputs={"a": Array, "b": Array}, outputs={"out": Array})(on_values)
    node(f"arith.{name}_events", kind="event", inputs={"a": Events, "b": Events},
         outputs={"out": Events})(_copy(on_values, f"arith_{name}_events"))
    node(f"arith.{name}_events_by", kind="event", inputs={"events": Events, "other": Array},
         outputs={"out": Events}, config=OrderConfig)(on_events_by)


def _copy(fn, qualname):
    def wrapped(a, b, *, config):
        return fn(a, b, config=config)

    wrapped.__qualname__ = qualname
    return wrapped


def negate(x, *, config):
    """Elementwise negation."""
    return -x


def negate_events(x, *, config):
    """Elementwise negation of a per-event array."""
    return -x


node("arith.neg", kind="global", inputs={"x": Array}, outputs={"out": Array})(negate)
node("arith.neg_events", kind="event", inputs={"x": Events}, outputs={"out": Events})(negate_events)
for _name in OPERATIONS:
    _declare_binary(_name)
