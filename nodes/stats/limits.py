"""Upper limits on the POI: scan CLs over a fixed grid and interpolate CLs = level.

Equal to pyhf.infer.intervals.upper_limits.upper_limit(..., scan=grid): np.interp of the
level on the reversed CLs curve. The grid is static; the hypothesis tests run vmapped over
it, and ``jnp.interp`` keeps the limit differentiable in the CLs values (hence the yields).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nodes.stats.inference import hypotest
from nodes.stats.structure import ModelSpec


def cls_scan(spec: ModelSpec, grid, data, yields, test_stat: str = "qtilde"):
    """Observed CLs (G,) and expected CLs (G, 5) at each POI value of the grid."""
    grid = jnp.asarray(grid, dtype=jnp.float64)
    results = jax.vmap(lambda mu: hypotest(spec, mu, data, yields, test_stat))(grid)
    return results["CLs_obs"], results["CLs_exp"]


def interpolate_limit(grid, cls, level: float = 0.05):
    """POI where a (decreasing) CLs curve crosses ``level``, by linear interpolation."""
    grid = jnp.asarray(grid, dtype=jnp.float64)
    return jnp.interp(level, cls[::-1], grid[::-1])


def upper_limit(spec: ModelSpec, grid, data, yields, level: float = 0.05, test_stat: str = "qtilde"):
    """Observed limit and the expected limits (5 values, -2..+2 sigma) on the POI."""
    observed, expected = cls_scan(spec, grid, data, yields, test_stat)
    expected_limits = jnp.stack([interpolate_limit(grid, expected[:, i], level) for i in range(5)])
    return interpolate_limit(grid, observed, level), expected_limits
