"""HistFactory interpolation codes, as pyhf defines them, in JAX.

Additive (histosys): code0 (piecewise linear) and code4p (polynomial inside |alpha| < 1).
Multiplicative (normsys): code1 (piecewise exponential) and code4 (polynomial inside
|alpha| < 1, exponential outside). Every branch is finite, so ``jnp.where`` keeps
gradients clean.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

# pyhf's inverse of the code-4 boundary-condition matrix at alpha0 = 1
_CODE4_INVERSE = np.array(
    [
        [15 / 16, -15 / 16, -7 / 16, -7 / 16, 1 / 16, -1 / 16],
        [3 / 2, 3 / 2, -9 / 16, 9 / 16, 1 / 16, 1 / 16],
        [-5 / 8, 5 / 8, 5 / 8, 5 / 8, -1 / 8, 1 / 8],
        [-3 / 2, -3 / 2, 7 / 8, -7 / 8, -1 / 8, -1 / 8],
        [3 / 16, -3 / 16, -3 / 16, -3 / 16, 1 / 16, -1 / 16],
        [1 / 2, 1 / 2, -5 / 16, 5 / 16, 1 / 16, 1 / 16],
    ]
)


def code0(alpha, lo, nom, hi):
    """Additive piecewise-linear shift."""
    return jnp.where(alpha > 0, alpha * (hi - nom), alpha * (nom - lo))


def code4p(alpha, lo, nom, hi):
    """Additive shift: linear outside |alpha| > 1, a smooth sixth-order polynomial inside."""
    up, down = hi - nom, nom - lo
    s, a = 0.5 * (up + down), 0.0625 * (up - down)
    a2 = alpha * alpha
    inside = alpha * s + a2 * (a2 * (3.0 * a2 - 10.0) + 15.0) * a
    return jnp.where(alpha > 1, alpha * up, jnp.where(alpha < -1, alpha * down, inside))


def _safe_log(x):
    positive = x > 0
    return jnp.where(positive, jnp.log(jnp.where(positive, x, 1.0)), -jnp.inf)


def code1(alpha, lo, hi):
    """Multiplicative factor (hi)^alpha above zero, (lo)^(-alpha) below (nominal is 1)."""
    return jnp.where(alpha >= 0, jnp.power(hi, alpha), jnp.power(lo, -alpha))


def code4(alpha, lo, hi):
    """Multiplicative factor: exponential outside |alpha| >= 1, polynomial inside (pyhf code4)."""
    log_hi, log_lo = _safe_log(hi), _safe_log(lo)
    b = jnp.stack([hi - 1.0, lo - 1.0, log_hi * hi, -log_lo * lo, log_hi**2 * hi, log_lo**2 * lo])
    coefficients = jnp.tensordot(jnp.asarray(_CODE4_INVERSE), b, axes=1)
    powers = jnp.stack([alpha**i for i in range(1, 7)])
    inside = 1.0 + jnp.sum(coefficients * powers, axis=0)
    return jnp.where(alpha >= 1, jnp.power(hi, alpha), jnp.where(alpha <= -1, jnp.power(lo, -alpha), inside))


ADDITIVE = {"code0": code0, "code4p": code4p}
MULTIPLICATIVE = {"code1": code1, "code4": code4}
