"""Reductions over events: weighted counts and histograms, accumulated in float64.

Every node here is a ``reduce`` node, additive over any split of the events, so the
compiler may feed it chunks and sum the results (``mask`` zeroes padding rows).

* ``histograms.kde``: binned-KDE histogram, counts_j = sum_i w_i [Phi((b_{j+1} - x_i)/h)
  - Phi((b_j - x_i)/h)]; hard twin ``histograms.hist`` (``numpy.histogram`` with the same
  edges and overflow rule). It runs over fixed-size event blocks (``block_size``) in a
  ``lax.scan`` under ``jax.checkpoint``, with a hand-written JVP, so value and gradient
  need O(events + block_size x bins) memory, never O(events x bins).
* ``histograms.softmax``: INFERNO-style soft assignment of a k-output score to k bins;
  hard twin ``histograms.argmax``.

Bin edges are static (``edges=(...)`` in the config, checked strictly increasing when the
graph is built) or trainable: the ``trainable_edges`` input (not called ``edges``, so the
DSL keyword ``kde(x, edges=(...))`` stays the validated config field). Feed it from
``histograms.increasing_edges`` (in ``nodes.binning``; ``raw_from_edges`` gives its init),
which keeps edges strictly increasing by construction. Density normalisation divides by
the total, which is not additive over chunks, so it is a separate global node,
``histograms.density``, applied to the summed histogram.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import pydantic

from nodes.binning import EdgesConfig, raw_from_edges, resolve_edges  # noqa: F401 (re-exported)
from nodes.binning import increasing_edges_node as increasing_edges  # noqa: F401 (the node)
from workflow import Array, Events, Histogram, NodeConfig, Scalar, node


def apply_mask(weights, mask):
    """Zero the weight of padding rows (mask is None when every row is real)."""
    return weights if mask is None else jnp.where(mask > 0, weights, 0)


def event_weights(weight, mask, n: int, dtype, accumulate: bool = True):
    """Per-event weights (ones when no weight is given), padding rows zeroed.

    In float64 for accumulation; ``accumulate=False`` keeps their dtype (blocked nodes cast
    one block at a time, so no float64 copy of every weight is made).
    """
    w = jnp.ones((n,), dtype) if weight is None else jnp.asarray(weight)
    w = apply_mask(w, mask)
    return w.astype(jnp.float64) if accumulate else w


def _as_events_1d(x, op: str):
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{op}: x must be a 1-D per-event array, got shape {x.shape}")
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


@node("histograms.count", kind="reduce", inputs={"weight": Events}, outputs={"count": Scalar})
def count(weight, *, config, mask=None):
    """Weighted event count, sum_i w_i, in float64 (additive over any split of the events)."""
    return jnp.sum(apply_mask(weight, mask).astype(jnp.float64))


class HistogramConfig(EdgesConfig):
    """Binning of a (soft or hard) histogram.

    ``bandwidth`` is the Gaussian kernel width in units of the variable (a fraction of the
    narrowest bin is a good start; -> 0 gives the hard histogram). ``overflow`` folds
    events below the first / above the last edge into the first / last bin (off: dropped,
    as ``numpy.histogram`` does). ``block_size`` events are processed at a time. Bandwidths
    below sqrt(1 / max float) (5e-20 in float32) act as that value.
    """

    bandwidth: float = pydantic.Field(0.1, gt=0, allow_inf_nan=False, description="kernel width, units of x")
    overflow: bool = False
    block_size: int = pydantic.Field(8192, gt=0, description="events per block (memory ~ block_size x bins)")


_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


def _edge_z(x, edges, inv_h: float):
    """(b_k - x_i) / h for a block of events: shape (block, bins + 1), in the data's dtype."""
    return (edges[None, :] - x[:, None]) * jnp.asarray(inv_h, x.dtype)


def _split_cdf(z):
    """Phi(z) = step + tail, step = [z > 0] exact, |tail| = P(Z > |z|) <= 1/2 accurate.

    Summing the two parts separately (in float64) keeps the far tails that would be lost
    in 1 - tail when float32 Phi is close to 1.
    """
    tail = 0.5 * jax.lax.erfc(jnp.abs(z) * jnp.asarray(_SQRT_HALF, z.dtype))
    above = z > 0
    return above.astype(z.dtype), jnp.where(above, -tail, tail)


def _fold(per_edge, total, overflow: bool, first=0.0, last=None):
    """With overflow the first / last edge sit at -inf / +inf: fix their entries."""
    if not overflow:
        return per_edge
    return per_edge.at[0].set(first).at[-1].set(total if last is None else last)


def _edge_sums(step, tail, w, overflow: bool):
    """sum_i w_i Phi(z_ik) per edge k in float64, from the step and tail parts of Phi."""
    w = w.astype(jnp.float64)
    total = jnp.sum(w)
    return (_fold(w @ step.astype(jnp.float64), total, overflow)
            + _fold(w @ tail.astype(jnp.float64), total, overflow, last=0.0))


@partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _kde_block(x, w, edges, inv_h: float, overflow: bool):
    """float64 bin contents of one block: differences of sum_i w_i Phi((b_k - x_i)/h)."""
    step, tail = _split_cdf(_edge_z(x, edges, inv_h))
    return jnp.diff(_edge_sums(step, tail, w, overflow))


@_kde_block.defjvp
def _kde_block_jvp(inv_h, overflow, primals, tangents):
    """Analytic JVP from d Phi(z_ik) = phi(z_ik) (d b_k - d x_i) / h.

    Written by hand so that autodiff never goes through the branches of ``erfc``; reverse
    mode transposes it, forward mode and Hessians work too. Folded (infinite) edges
    move nothing.
    """
    x, w, edges = primals
    dx, dw, d_edges = tangents
    z = _edge_z(x, edges, inv_h)
    step, tail = _split_cdf(z)
    density = (jnp.exp(-0.5 * z * z) * jnp.asarray(_INV_SQRT_2PI, z.dtype)).astype(jnp.float64)
    w64 = w.astype(jnp.float64)
    moved = inv_h * ((w64 @ density) * d_edges.astype(jnp.float64) - (w64 * dx.astype(jnp.float64)) @ density)
    d_sums = _edge_sums(step, tail, dw, overflow) + _fold(moved, 0.0, overflow, last=0.0)
    return jnp.diff(_edge_sums(step, tail, w, overflow)), jnp.diff(d_sums)


def _capped_inverse(width: float, dtype) -> float:
    """1/width, capped at sqrt(max float) so that a tiny width never gives inf (and NaN)."""
    return min(1.0 / width, float(jnp.finfo(dtype).max) ** 0.5)


def blocked_sum(block_fn, x, w, block_size: int, n_out: int, remat: bool = True):
    """sum over event blocks of block_fn(x_block, w_block) -> (n_out,) float64.

    Blocks run in a ``lax.scan``. With ``remat`` the body is rematerialised
    (``jax.checkpoint``), so the backward pass stores only the block inputs and recomputes
    the (block x bins) intermediates, one block at a time. The last block is padded with
    zero-weight events.
    """
    n = x.shape[0]
    if n == 0:
        return jnp.zeros((n_out,), jnp.float64)
    if n <= block_size:
        return block_fn(x, w)
    n_blocks = -(-n // block_size)
    pad = n_blocks * block_size - n
    xs = jnp.pad(x, (0, pad)).reshape(n_blocks, block_size)
    ws = jnp.pad(w, (0, pad)).reshape(n_blocks, block_size)
    body_fn = jax.checkpoint(block_fn) if remat else block_fn

    def body(total, block):
        return total + body_fn(*block), None

    total, _ = jax.lax.scan(body, jnp.zeros((n_out,), jnp.float64), (xs, ws))
    return total


@node(
    "histograms.kde",
    kind="reduce",
    inputs={"x": Events, "weight": Events, "trainable_edges": Array},
    outputs={"counts": Histogram},
    config=HistogramConfig,
    hard="histograms.hist",
)
def kde(x, weight=None, trainable_edges=None, *, config: HistogramConfig, mask=None):
    """Binned-KDE histogram: sum_i w_i [Phi((b_{j+1}-x_i)/h) - Phi((b_j-x_i)/h)], float64."""
    x = _as_events_1d(x, "histograms.kde")
    bin_edges = resolve_edges(trainable_edges, config, x.dtype, "histograms.kde")
    w = event_weights(weight, mask, x.shape[0], x.dtype, accumulate=False)
    inv_h = _capped_inverse(config.bandwidth, x.dtype)

    def block_fn(xb, wb):
        return _kde_block(xb, wb, bin_edges, inv_h, config.overflow)

    return blocked_sum(block_fn, x, w, config.block_size, bin_edges.shape[0] - 1)


@node(
    "histograms.hist",
    kind="reduce",
    inputs={"x": Events, "weight": Events, "trainable_edges": Array},
    outputs={"counts": Histogram},
    config=HistogramConfig,
    differentiable=("weight",),  # in the event weights, not in the values binned
)
def hist(x, weight=None, trainable_edges=None, *, config: HistogramConfig, mask=None):
    """Ordinary weighted histogram, bins [b_j, b_{j+1}) and the last one closed, as numpy's.

    Comparisons run in float64 like numpy's (float32 data against float64 edges), so the
    result equals ``numpy.histogram(x, edges, weights=w)`` bin by bin. With ``overflow``,
    events outside the edges go to the first / last bin instead of being dropped.
    """
    x = _as_events_1d(x, "histograms.hist")
    bin_edges = resolve_edges(trainable_edges, config, jnp.float64, "histograms.hist")
    w = event_weights(weight, mask, x.shape[0], x.dtype)
    n_bins = bin_edges.shape[0] - 1
    x64 = jax.lax.stop_gradient(x).astype(jnp.float64)
    index = jnp.searchsorted(bin_edges, x64, side="right") - 1
    index = jnp.where(x64 == bin_edges[-1], n_bins - 1, index)  # the last bin is closed
    if config.overflow:
        index = jnp.clip(index, 0, n_bins - 1)
    else:
        index = jnp.where((index < 0) | (index >= n_bins), n_bins, index)  # n_bins: dropped
    return jnp.zeros((n_bins,), jnp.float64).at[index].add(w, mode="drop")


class SoftmaxBinningConfig(NodeConfig):
    """Temperature of the softmax that assigns events to bins (-> 0 gives the argmax bin)."""

    temperature: float = pydantic.Field(1.0, gt=0, allow_inf_nan=False)


def _as_scores(scores, op: str):
    scores = jnp.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"{op}: scores must be (events, k) logits, one column per bin; got shape {scores.shape}")
    return scores


@node(
    "histograms.softmax",
    kind="reduce",
    inputs={"scores": Events, "weight": Events},
    outputs={"counts": Histogram},
    config=SoftmaxBinningConfig,
    hard="histograms.argmax",
)
def softmax(scores, weight=None, *, config: SoftmaxBinningConfig, mask=None):
    """INFERNO soft histogram: counts_j = sum_i w_i softmax(scores_i / T)_j, one bin per output.

    ``scores`` are logits (a network with ``output_activation='identity'``).
    """
    scores = _as_scores(scores, "histograms.softmax")
    inv_t = jnp.asarray(_capped_inverse(config.temperature, scores.dtype), scores.dtype)
    big = float(jnp.finfo(scores.dtype).max) / 4  # clip so that softmax never sees inf - inf
    membership = jax.nn.softmax(jnp.clip(scores * inv_t, -big, big), axis=-1)
    w = event_weights(weight, mask, scores.shape[0], scores.dtype)
    return w @ membership.astype(jnp.float64)


@node(
    "histograms.argmax",
    kind="reduce",
    inputs={"scores": Events, "weight": Events},
    outputs={"counts": Histogram},
    config=SoftmaxBinningConfig,
    differentiable=("weight",),  # in the event weights, not in the scores
)
def argmax(scores, weight=None, *, config: SoftmaxBinningConfig, mask=None):
    """Hard twin of ``histograms.softmax``: each event fills the bin of its largest score."""
    scores = _as_scores(scores, "histograms.argmax")
    w = event_weights(weight, mask, scores.shape[0], scores.dtype)
    best = jnp.argmax(jax.lax.stop_gradient(scores), axis=-1)
    return jnp.zeros((scores.shape[1],), jnp.float64).at[best].add(w)


@node(
    "histograms.density",
    kind="global",
    inputs={"counts": Histogram, "trainable_edges": Array},
    outputs={"density": Histogram},
    config=EdgesConfig,
)
def density(counts, trainable_edges=None, *, config: EdgesConfig):
    """counts / (total x bin width), integrating to 1 like ``numpy.histogram(density=True)``.

    Global, because dividing by the total is not additive over chunks: apply it to the
    summed histogram. An empty histogram gives zeros (no NaN).
    """
    counts = jnp.asarray(counts, jnp.float64)
    widths = jnp.diff(resolve_edges(trainable_edges, config, jnp.float64, "histograms.density"))
    total = jnp.sum(counts)
    safe_total = jnp.where(total != 0, total, 1.0)
    return jnp.where(total != 0, counts / (safe_total * widths), 0.0)
