"""Figures of merit computed from expected yields, and the classifier baseline loss.

Significances take signal and background yields (scalars or histograms; binned ones are
combined over bins) and run in float64. They are guarded so that empty bins, zero signal
and zero background give finite values and gradients.

``metrics.binary_cross_entropy`` is the per-event classifier loss that neos and INFERNO
compare against. It is a ``reduce`` node (a weighted sum over one sample's events, so it
shards); the loss of a classifier is the signal sample's sum with ``target=1`` plus the
background's with ``target=0``, divided by the total weight if a mean is wanted.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pydantic

from nodes.histograms import apply_mask
from workflow import Array, Events, NodeConfig, Scalar, node


def _safe_sqrt(q):
    """sqrt with a finite gradient at 0 (the slope of sqrt is infinite there)."""
    positive = q > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, q, 1.0)), 0.0)


def _safe_divide(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (value and gradient finite)."""
    nonzero = denominator != 0
    return jnp.where(nonzero, numerator / jnp.where(nonzero, denominator, 1.0), 0.0)


class AsimovConfig(NodeConfig):
    """Floor on the background yield, so an emptied background gives a finite significance."""

    min_background: float = 1e-6


@node(
    "metrics.asimov_significance",
    kind="global",
    inputs={"signal": Array, "background": Array},
    outputs={"significance": Scalar},
    config=AsimovConfig,
)
def asimov_significance(signal, background, *, config: AsimovConfig):
    """Z_A = sqrt(2 sum((s + b) ln(1 + s/b) - s)), summed over bins when given histograms."""
    s = jnp.asarray(signal, jnp.float64)
    b = jnp.maximum(jnp.asarray(background, jnp.float64), config.min_background)
    terms = (s + b) * jnp.log1p(s / b) - s
    q = 2.0 * jnp.sum(terms)
    # the square root has an infinite slope at 0; keep the gradient finite there
    safe = jnp.where(q > 0, q, 1.0)
    return jnp.where(q > 0, jnp.sqrt(safe), 0.0)


@node(
    "metrics.asimov_significance_uncertain",
    kind="global",
    inputs={"signal": Array, "background": Array, "variance": Array},
    outputs={"significance": Scalar},
    config=AsimovConfig,
)
def asimov_significance_uncertain(signal, background, variance, *, config: AsimovConfig):
    """Asimov discovery significance with a background variance db^2 (Cowan's formula).

    Z^2 = 2 sum[(s+b) ln((s+b)(b+db^2) / (b^2+(s+b)db^2)) - (b^2/db^2) ln(1 + db^2 s / (b(b+db^2)))],
    which falls back to Z_A as db -> 0. Bins are combined by adding their Z^2. The input is
    the variance, so independent uncertainties add (a systematic squared plus the sum of
    squared Monte Carlo weights) and no square root sits in the gradient.
    """
    s = jnp.asarray(signal, jnp.float64)
    b = jnp.maximum(jnp.asarray(background, jnp.float64), config.min_background)
    # a floor far below any real uncertainty keeps b^2/db^2 finite and the result equal to Z_A
    var = jnp.maximum(jnp.asarray(variance, jnp.float64), 1e-9 * b * b)
    first = (s + b) * jnp.log((s + b) * (b + var) / (b * b + (s + b) * var))
    second = (b * b / var) * jnp.log1p(var * s / (b * (b + var)))
    return _safe_sqrt(2.0 * jnp.sum(first - second))


class SimpleSignificanceConfig(NodeConfig):
    """Floor on the background yield, so an empty bin gives a finite value."""

    min_background: float = pydantic.Field(1e-6, gt=0)


@node(
    "metrics.s_over_sqrt_b",
    kind="global",
    inputs={"signal": Array, "background": Array},
    outputs={"significance": Scalar},
    config=SimpleSignificanceConfig,
)
def s_over_sqrt_b(signal, background, *, config: SimpleSignificanceConfig):
    """s / sqrt(b); for histograms the bins add in quadrature: sqrt(sum_j s_j^2 / b_j)."""
    s = jnp.asarray(signal, jnp.float64)
    b = jnp.maximum(jnp.asarray(background, jnp.float64), config.min_background)
    return _safe_sqrt(jnp.sum(s * s / b))


class UncertainSignificanceConfig(NodeConfig):
    """Background uncertainty db = relative_uncertainty x b, unless given as an input."""

    relative_uncertainty: float = pydantic.Field(0.1, ge=0, allow_inf_nan=False)
    min_background: float = pydantic.Field(1e-6, gt=0)


@node(
    "metrics.s_over_sqrt_b_db",
    kind="global",
    inputs={"signal": Array, "background": Array, "uncertainty": Array},
    outputs={"significance": Scalar},
    config=UncertainSignificanceConfig,
)
def s_over_sqrt_b_db(signal, background, uncertainty=None, *, config: UncertainSignificanceConfig):
    """s / sqrt(b + db^2), bins in quadrature; db is the ``uncertainty`` input (absolute) if given."""
    s = jnp.asarray(signal, jnp.float64)
    b = jnp.asarray(background, jnp.float64)
    db = config.relative_uncertainty * b if uncertainty is None else jnp.asarray(uncertainty, jnp.float64)
    variance = jnp.maximum(b + db * db, config.min_background)
    return _safe_sqrt(jnp.sum(s * s / variance))


class CrossEntropyConfig(NodeConfig):
    """True label of the sample's events (when no ``label`` input) and how scores are given."""

    target: float | None = pydantic.Field(None, ge=0, le=1, description="label of every event, 1 = signal")
    from_logits: bool = False
    eps: float = pydantic.Field(1e-7, gt=0, lt=0.5, description="probability clip, when from_logits is off")


@node(
    "metrics.binary_cross_entropy",
    kind="reduce",
    inputs={"score": Events, "label": Events, "weight": Events},
    outputs={"loss": Scalar},
    config=CrossEntropyConfig,
)
def binary_cross_entropy(score, label=None, weight=None, *, config: CrossEntropyConfig, mask=None):
    """sum_i w_i BCE(score_i, y_i), float64; y from the ``label`` input or ``target``.

    ``score`` is a probability (clipped to [eps, 1 - eps]) or, with ``from_logits``, a logit
    (exact, stable log-sigmoid). A (n, 1) score is read as (n,).
    """
    score = jnp.asarray(score)
    if score.ndim == 2 and score.shape[1] == 1:
        score = score[:, 0]
    if label is None:
        if config.target is None:
            raise ValueError("metrics.binary_cross_entropy needs labels: set target=0 or 1, or connect label")
        y = jnp.asarray(config.target, score.dtype)
    else:
        y = jnp.asarray(label).astype(score.dtype)
    if config.from_logits:
        log_p, log_not_p = jax.nn.log_sigmoid(score), jax.nn.log_sigmoid(-score)
    else:
        p = jnp.clip(score, config.eps, 1 - config.eps)
        log_p, log_not_p = jnp.log(p), jnp.log1p(-p)
    per_event = -(y * log_p + (1 - y) * log_not_p)
    w = jnp.ones_like(per_event) if weight is None else jnp.asarray(weight)
    return jnp.sum(apply_mask(w * per_event, mask).astype(jnp.float64))
