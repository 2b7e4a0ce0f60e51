"""Cuts on per-event variables: soft (sigmoid) weights and their hard (step) twins.

The slope is given in units of the variable: the sigmoid goes from 27% to 73% over one
``slope`` around the threshold (default 0.1). A slope of a few percent of the variable's
spread is a good start; much smaller makes gradients vanish away from the threshold, much
larger lets events far from the threshold leak through. As ``slope -> 0`` the soft cut
becomes its hard twin (a step function), which the compiler substitutes in hard mode.

Weights of several cuts combine by product (``cuts.combine``): an event passes a set of
cuts when it passes each of them.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import pydantic

from workflow import Events, NodeConfig, Scalar, node


class CutConfig(NodeConfig):
    """Direction of a one-sided cut and the softness of its edge."""

    keep: Literal["above", "below"] = "above"
    slope: float = pydantic.Field(0.1, gt=0, description="width of the soft edge, in units of the variable")


class WindowConfig(NodeConfig):
    """Softness of both edges of a two-sided window cut."""

    slope: float = pydantic.Field(0.1, gt=0, description="width of each soft edge, in units of the variable")


def _signed_distance(x, threshold, keep: str):
    threshold = jnp.asarray(threshold, dtype=x.dtype)
    return x - threshold if keep == "above" else threshold - x


def _inverse_slope(slope: float, dtype):
    """1/slope in the data's dtype, capped so that a tiny slope never overflows to inf.

    An infinite inverse slope would turn the sigmoid's zero derivative far from the
    threshold into 0 * inf = NaN; the cap keeps it a (huge) finite number.
    """
    cap = float(jnp.finfo(dtype).max) / 16.0
    return jnp.asarray(min(1.0 / slope, cap), dtype=dtype)


def _soft_pass(distance, slope: float):
    return jax.nn.sigmoid(distance * _inverse_slope(slope, distance.dtype))


@node(
    "cuts.sigmoid",
    kind="event",
    inputs={"x": Events, "threshold": Scalar},
    outputs={"weight": Events},
    config=CutConfig,
    hard="cuts.step",
)
def sigmoid(x, threshold, *, config: CutConfig):
    """Soft cut weight in (0, 1): sigmoid((x - threshold) / slope), mirrored for ``keep='below'``."""
    x = jnp.asarray(x)
    return _soft_pass(_signed_distance(x, threshold, config.keep), config.slope)


@node(
    "cuts.step",
    kind="event",
    inputs={"x": Events, "threshold": Scalar},
    outputs={"weight": Events},
    config=CutConfig,
    differentiable=False,
)
def step(x, threshold, *, config: CutConfig):
    """Hard cut weight, 1 where the event passes and 0 elsewhere (the value at the threshold is 1)."""
    x = jnp.asarray(x)
    return (_signed_distance(x, threshold, config.keep) >= 0).astype(x.dtype)


@node(
    "cuts.window",
    kind="event",
    inputs={"x": Events, "low": Scalar, "high": Scalar},
    outputs={"weight": Events},
    config=WindowConfig,
    hard="cuts.window_step",
)
def window(x, low, high, *, config: WindowConfig):
    """Soft two-sided cut low < x < high: sigmoid((x - low)/slope) * sigmoid((high - x)/slope)."""
    x = jnp.asarray(x)
    above_low = _soft_pass(_signed_distance(x, low, "above"), config.slope)
    below_high = _soft_pass(_signed_distance(x, high, "below"), config.slope)
    return above_low * below_high


@node(
    "cuts.window_step",
    kind="event",
    inputs={"x": Events, "low": Scalar, "high": Scalar},
    outputs={"weight": Events},
    config=WindowConfig,
    differentiable=False,
)
def window_step(x, low, high, *, config: WindowConfig):
    """Hard window weight, 1 where low <= x <= high and 0 elsewhere."""
    x = jnp.asarray(x)
    inside = (_signed_distance(x, low, "above") >= 0) & (_signed_distance(x, high, "below") >= 0)
    return inside.astype(x.dtype)


@node(
    "cuts.combine",
    kind="event",
    inputs={"a": Events, "b": Events, "c": Events, "d": Events},
    outputs={"weight": Events},
)
def combine(a, b, c=None, d=None, *, config):
    """Weight of passing every given cut: the product of two to four cut weights.

    Works unchanged in hard mode (a product of 0/1 weights is their logical AND).
    Chain ``combine`` nodes for more than four cuts.
    """
    weight = jnp.asarray(a) * jnp.asarray(b)
    for extra in (c, d):
        if extra is not None:
            weight = weight * jnp.asarray(extra)
    return weight
