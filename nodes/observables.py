"""Per-event observables: stacked features, linear projections and neural-network scores.

A network is any ``apply(params, x) -> scores`` with a params pytree, so flax
(``model.apply``), equinox (a wrapper around ``eqx.combine``) or plain-JAX networks all plug
in. Graph configs must be static, hashable data, so an apply function is named, not passed:

* ``observables.mlp``: the built-in MLP, configured by activation names; ``init_mlp(sizes,
  seed)`` makes its params (use it as a parameter's init).
* ``observables.network``: ``apply="<name>"`` picks a function registered with
  ``register_apply(name, fn)`` (``"mlp"`` is built in).
* ``network_from(fn, name)``: registers ``fn`` and returns a node ``observables.<name>``
  with the same ports, for Python graphs.

Scores are computed in the events' dtype (params are cast to it). A network with one
output column returns shape (n,), several columns (n, k).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import pydantic

from workflow import Array, Events, NodeConfig, Pytree, Record, Scalar, node
from workflow.node import REGISTRY

ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
    "softplus": jax.nn.softplus,
    "leaky_relu": jax.nn.leaky_relu,
    "identity": lambda h: h,
}
OUTPUT_ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": jax.nn.sigmoid,
    "identity": lambda h: h,
    "softmax": lambda h: jax.nn.softmax(h, axis=-1),
    "tanh": jnp.tanh,
}
Activation = Literal["relu", "tanh", "sigmoid", "gelu", "silu", "elu", "softplus", "leaky_relu", "identity"]
OutputActivation = Literal["sigmoid", "identity", "softmax", "tanh"]


def _as_features(x):
    """(n, k) feature matrix in a floating dtype; a 1-D x is one feature."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x[:, None] if x.ndim == 1 else x


def _one_column_as_vector(scores):
    return scores[:, 0] if scores.ndim == 2 and scores.shape[1] == 1 else scores


def _cast_params(params, dtype):
    return jax.tree_util.tree_map(lambda p: jnp.asarray(p).astype(dtype), params)


class StackConfig(NodeConfig):
    """Record fields to stack as the columns of a feature matrix, in order."""

    fields: tuple[str, ...] = pydantic.Field(min_length=1)


@node("observables.stack", kind="event", inputs={"record": Record}, outputs={"features": Events}, config=StackConfig)
def stack(record, *, config: StackConfig):
    """(n, k) feature matrix from k record fields, in their common dtype."""
    missing = [f for f in config.fields if f not in record]
    if missing:
        raise KeyError(f"observables.stack: record has no fields {missing}; it has {sorted(record)}")
    columns = [jnp.asarray(record[f]) for f in config.fields]
    dtype = jnp.result_type(*columns)
    return jnp.stack([c.astype(dtype) for c in columns], axis=1)


@node(
    "observables.linear",
    kind="event",
    inputs={"x": Events, "weights": Array, "bias": Scalar},
    outputs={"projection": Events},
)
def linear(x, weights, bias=None, *, config):
    """x @ weights (+ bias): a per-event linear projection of (n, k) features to (n,)."""
    x = _as_features(x)
    projection = x @ jnp.asarray(weights).astype(x.dtype).reshape(x.shape[1])
    return projection if bias is None else projection + jnp.asarray(bias).astype(x.dtype)


# --- the built-in MLP -------------------------------------------------------------------


def init_mlp(sizes, seed: int = 0):
    """MLP params for layer sizes (inputs, hidden..., outputs): a list of {"w", "b"} dicts.

    Weights are Glorot-uniform from ``numpy.random.default_rng(seed)``, biases zero,
    float32; the same seed gives the same params on every machine.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"MLP sizes need an input and an output size, all >= 1; got {sizes}")
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)
        params.append({"w": jnp.asarray(w), "b": jnp.zeros((fan_out,), jnp.float32)})
    return params


def mlp_apply(params, x, activation: str = "relu", output_activation: str = "sigmoid"):
    """Forward pass of ``init_mlp`` params on (n, k) features."""
    hidden = ACTIVATIONS[activation]
    h = x
    for i, layer in enumerate(params):
        h = h @ layer["w"] + layer["b"]
        if i < len(params) - 1:
            h = hidden(h)
    return OUTPUT_ACTIVATIONS[output_activation](h)


class MLPConfig(NodeConfig):
    """Activation names of the built-in MLP (layer sizes come from its params)."""

    activation: Activation = "relu"
    output_activation: OutputActivation = "sigmoid"


@node(
    "observables.mlp",
    kind="event",
    inputs={"params": Pytree, "x": Events},
    outputs={"score": Events},
    config=MLPConfig,
)
def mlp(params, x, *, config: MLPConfig):
    """Built-in MLP score of (n, k) features; params from ``init_mlp``."""
    x = _as_features(x)
    scores = mlp_apply(_cast_params(params, x.dtype), x, config.activation, config.output_activation)
    return _one_column_as_vector(scores)


# --- any network, by registered name ----------------------------------------------------

APPLY_FUNCTIONS: dict[str, Callable] = {"mlp": mlp_apply}


def register_apply(name: str, apply: Callable) -> None:
    """Make ``apply(params, x)`` available to ``observables.network(apply=name)``."""
    known = APPLY_FUNCTIONS.get(name)
    if known is not None and known is not apply:
        raise ValueError(f"an apply function named {name!r} is already registered ({known!r})")
    APPLY_FUNCTIONS[name] = apply


class NetworkConfig(NodeConfig):
    """Name of a registered apply function (``register_apply``)."""

    apply: str = "mlp"

    @pydantic.field_validator("apply")
    @classmethod
    def _registered(cls, name):
        if name not in APPLY_FUNCTIONS:
            raise ValueError(f"no apply function named {name!r}; registered: {sorted(APPLY_FUNCTIONS)}")
        return name


def _run_network(apply: Callable, params, x):
    x = _as_features(x)
    return _one_column_as_vector(apply(_cast_params(params, x.dtype), x))


@node(
    "observables.network",
    kind="event",
    inputs={"params": Pytree, "x": Events},
    outputs={"score": Events},
    config=NetworkConfig,
)
def network(params, x, *, config: NetworkConfig):
    """Score of any registered network, ``apply(params, x)``, on (n, k) features."""
    return _run_network(APPLY_FUNCTIONS[config.apply], params, x)


_NAMED_NETWORKS: dict[str, object] = {}


def network_from(apply: Callable, name: str):
    """Register ``apply(params, x)`` and return its node, ``observables.<name>``.

    Calling it again with the same function returns the same node; another function under
    a taken name is an error. Example with flax: ``net = network_from(model.apply, "flax_net")``.
    """
    op = f"observables.{name}"
    if op in _NAMED_NETWORKS:
        if APPLY_FUNCTIONS[name] is not apply:
            raise ValueError(f"{op} is already registered with another apply function")
        return _NAMED_NETWORKS[op]
    if op in REGISTRY:
        raise ValueError(f"{op} is already a node of the library; choose another name")
    register_apply(name, apply)

    def run_named_network(params, x, *, config):
        return _run_network(apply, params, x)

    run_named_network.__qualname__ = f"network_from[{name}]"
    run_named_network.__doc__ = f"Score of the network {name!r} registered with network_from."
    spec = node(op, kind="event", inputs={"params": Pytree, "x": Events}, outputs={"score": Events})(
        run_named_network
    )
    _NAMED_NETWORKS[op] = spec
    return spec
