"""Bin edges: validated static edges, and trainable edges kept strictly increasing.

Static edges live in a node's config (``edges=(0.0, 0.5, 1.0)``) and are checked strictly
increasing when the config is built, so a graph with bad edges fails at build time.

Trainable edges are a parameter vector ``raw`` of unconstrained numbers mapped to strictly
increasing edges by ``histograms.increasing_edges`` (plain function: ``increasing_edges``):

* ``low`` and ``high`` given: n logits -> n bins covering exactly [low, high]; each bin gets
  a softmax share of the range (at least ``min_width``).
* only ``low`` given: n numbers -> n bins starting at ``low``, widths softplus(raw) + min_width.
* neither: raw[0] is the first edge, raw[1:] the widths as above.

``raw_from_edges`` inverts the map, to initialise the parameter from edges you choose:
``g.param("binning", init=raw_from_edges((0, .2, .5, 1), low=0, high=1))``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pydantic

from workflow import Array, NodeConfig, node


class EdgesConfig(NodeConfig):
    """Optional static bin edges; when absent, the node's ``trainable_edges`` input must be connected."""

    edges: tuple[float, ...] | None = pydantic.Field(None, description="strictly increasing bin edges")

    @pydantic.field_validator("edges")
    @classmethod
    def _strictly_increasing(cls, edges):
        if edges is None:
            return edges
        if len(edges) < 2:
            raise ValueError(f"edges need at least 2 values (one bin), got {len(edges)}: {edges}")
        if not all(np.isfinite(edges)):
            raise ValueError(f"edges must be finite, got {edges}")
        for i in range(1, len(edges)):
            if not edges[i] > edges[i - 1]:
                raise ValueError(
                    f"edges must be strictly increasing, but edges[{i}] = {edges[i]} <= "
                    f"edges[{i - 1}] = {edges[i - 1]} in {edges}"
                )
        return tuple(float(e) for e in edges)


def resolve_edges(edges, config: EdgesConfig, dtype, op: str):
    """The bin edges to use: the ``trainable_edges`` input if connected, else the config's."""
    if edges is None:
        if config.edges is None:
            raise ValueError(f"{op} needs bin edges: set edges=(...) in its config or connect its trainable_edges input")
        return jnp.asarray(config.edges, dtype)
    if config.edges is not None:
        raise ValueError(f"{op}: edges given both in the config and as the trainable_edges input; keep one")
    edges = jnp.asarray(edges)
    if edges.ndim != 1 or edges.shape[0] < 2:
        raise ValueError(f"{op}: trainable_edges must be a 1-D array of at least 2 values, got shape {edges.shape}")
    return edges.astype(dtype)


class IncreasingEdgesConfig(NodeConfig):
    """Fixed ends of the binning (optional) and the smallest bin width, in units of x."""

    low: float | None = pydantic.Field(None, allow_inf_nan=False)
    high: float | None = pydantic.Field(None, allow_inf_nan=False)
    min_width: float = pydantic.Field(1e-6, gt=0, allow_inf_nan=False)

    @pydantic.model_validator(mode="after")
    def _range(self):
        if self.high is not None and self.low is None:
            raise ValueError("high is given without low; give both (fixed range) or only low")
        if self.high is not None and not self.high > self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self


def increasing_edges(raw, low=None, high=None, min_width: float = 1e-6):
    """Strictly increasing edges from an unconstrained vector (see the module docstring)."""
    raw = jnp.asarray(raw)
    if not jnp.issubdtype(raw.dtype, jnp.floating):
        raw = raw.astype(jnp.float32)
    if raw.ndim != 1 or raw.shape[0] < 1:
        raise ValueError(f"raw edge parameters must be a non-empty 1-D array, got shape {raw.shape}")
    zero = jnp.zeros((1,), raw.dtype)
    if high is not None:
        n = raw.shape[0]
        floor = min(min_width / (high - low), 0.5 / n)  # fraction of the range per bin
        share = jax.nn.softmax(raw) * (1 - n * floor) + floor
        inner = low + (high - low) * jnp.cumsum(share)[:-1]
        return jnp.concatenate([jnp.full((1,), low, raw.dtype), inner, jnp.full((1,), high, raw.dtype)])
    if low is None:
        low, raw = raw[:1], raw[1:]
    widths = jax.nn.softplus(raw) + min_width
    return low + jnp.concatenate([zero, jnp.cumsum(widths)])


def raw_from_edges(edges, low=None, high=None, min_width: float = 1e-6) -> np.ndarray:
    """Inverse of ``increasing_edges``: the raw vector that gives these edges (float64 numpy)."""
    edges = np.asarray(edges, np.float64)
    EdgesConfig(edges=tuple(edges))  # same validation as static edges
    widths = np.diff(edges)
    if high is not None:
        if not (np.isclose(edges[0], low) and np.isclose(edges[-1], high)):
            raise ValueError(f"edges must run from low={low} to high={high}, got {edges[0]} .. {edges[-1]}")
        n = widths.size
        floor = min(min_width / (high - low), 0.5 / n)
        share = (widths / (high - low) - floor) / (1 - n * floor)
        if np.any(share <= 0):
            raise ValueError(f"every bin must be wider than min_width={min_width}")
        return np.log(share)
    excess = widths - min_width
    if np.any(excess <= 0):
        raise ValueError(f"every bin must be wider than min_width={min_width}")
    raw_widths = excess + np.log(-np.expm1(-excess))  # softplus^-1, stable for large widths
    return raw_widths if low is not None else np.concatenate([[edges[0]], raw_widths])


@node(
    "histograms.increasing_edges",
    kind="global",
    inputs={"raw": Array},
    outputs={"edges": Array},
    config=IncreasingEdgesConfig,
)
def increasing_edges_node(raw, *, config: IncreasingEdgesConfig):
    """Trainable bin edges, strictly increasing by construction, from an unconstrained vector."""
    return increasing_edges(raw, config.low, config.high, config.min_width)
