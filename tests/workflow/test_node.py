"""Node declarations: the decorator, direct calls, and the registry."""

import jax.numpy as jnp
import numpy as np
import pytest

from workflow import Events, NodeConfig, Scalar, lookup, node
from workflow.node import REGISTRY


class ShiftConfig(NodeConfig):
    offset: float = 1.0


@node("testnodes.shift", kind="event", inputs={"x": Events}, outputs={"y": Events}, config=ShiftConfig)
def shift(x, *, config):
    """Add a fixed offset."""
    return x + config.offset


def test_decorated_node_runs_on_arrays_outside_a_graph():
    assert np.allclose(shift(jnp.arange(3.0), offset=2.0), [2.0, 3.0, 4.0])


def test_decorator_registers_under_qualified_name():
    assert lookup("testnodes.shift") is shift
    assert shift.kind == "event" and shift.inputs == {"x": Events} and shift.outputs == {"y": Events}


def test_unknown_node_name_suggests_close_registered_names():
    with pytest.raises(KeyError, match="cuts.sigmoid"):
        lookup("cuts.sigmoidd")


def test_node_kind_must_be_event_reduce_or_global():
    with pytest.raises(ValueError, match="kind must be one of"):
        node("testnodes.bad", kind="map", inputs={"x": Events}, outputs={"y": Events})


def test_node_name_must_be_qualified():
    with pytest.raises(ValueError, match="qualified"):
        node("unqualified", kind="event", inputs={"x": Events}, outputs={"y": Events})


def test_port_without_function_parameter_is_rejected():
    with pytest.raises(TypeError, match="no parameter for ports"):
        node("testnodes.missing", kind="global", inputs={"a": Scalar}, outputs={"b": Scalar})(
            lambda x, *, config: x)


def test_second_function_under_a_registered_name_is_rejected():
    def other(x, *, config):
        return x

    with pytest.raises(ValueError, match="already registered"):
        node("testnodes.shift", kind="event", inputs={"x": Events}, outputs={"y": Events})(other)
    assert REGISTRY["testnodes.shift"] is shift


def test_optional_ports_come_from_defaults():
    @node("testnodes.optional", kind="global", inputs={"a": Scalar, "b": Scalar}, outputs={"c": Scalar})
    def add_optional(a, b=None, *, config):
        return a if b is None else a + b

    assert add_optional.optional == frozenset({"b"})
    assert float(add_optional(2.0)) == 2.0
