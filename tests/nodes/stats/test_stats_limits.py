"""Upper limits by scanning CLs equal pyhf's linear-grid upper limit."""

import jax
import numpy as np
import pytest
from stats_fixtures import WORKSPACES, build

from nodes.stats import limits as L


def test_observed_and_expected_upper_limits_equal_pyhf(tight_pyhf):
    obj = WORKSPACES["counting"]()
    ws = tight_pyhf.Workspace(obj)
    model = ws.model()
    grid = np.linspace(0.1, 5.0, 21)
    observed, expected = tight_pyhf.infer.intervals.upper_limits.upper_limit(ws.data(model), model, scan=grid)
    with jax.enable_x64(True):
        spec, yields, data = build(obj)
        ours_obs, ours_exp = jax.jit(lambda d, y: L.upper_limit(spec, tuple(grid), d, y))(data, yields)
    assert float(ours_obs) == pytest.approx(float(observed), rel=1e-5)
    np.testing.assert_allclose(np.asarray(ours_exp), np.ravel(expected), rtol=1e-5)


def test_interpolated_limit_is_where_cls_crosses_the_level():
    grid = np.array([0.0, 1.0, 2.0])
    cls = np.array([1.0, 0.25, 0.0])  # 0.05 is 4/5 of the way from 0.25 to 0
    assert float(L.interpolate_limit(grid, cls, 0.05)) == pytest.approx(1.8)
