"""Fits equal pyhf's tightly converged fits; their implicit gradients equal finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from stats_fixtures import WORKSPACES, build, leaf, perturbed

from nodes.stats import fits as F


@pytest.fixture(scope="module")
def fitted():
    """all_modifiers: free fit and fit with the POI held at 1, plus their jacobians, one compile."""
    with jax.enable_x64(True):
        spec, yields, data = build(WORKSPACES["all_modifiers"]())

    def fits(y):
        pars, nll = F.fit_batch(spec, jnp.stack([data, data]), y, [0.0, 1.0], [False, True])
        return pars, (pars, nll)

    return spec, yields, data, jax.jit(jax.jacrev(fits, has_aux=True))


def test_free_and_fixed_poi_fits_equal_pyhf(fitted, tight_pyhf):
    spec, yields, _data, compiled = fitted
    ws = tight_pyhf.Workspace(WORKSPACES["all_modifiers"]())
    model = ws.model()
    with jax.enable_x64(True):
        _, (pars, nll) = compiled(yields)
    free, free_nll = tight_pyhf.infer.mle.fit(ws.data(model), model, return_fitted_val=True)
    held, held_nll = tight_pyhf.infer.mle.fixed_poi_fit(1.0, ws.data(model), model, return_fitted_val=True)
    # ours is at least as good a minimum, and equal to the tolerance pyhf converges to
    assert float(nll[0]) <= float(free_nll) + 1e-9
    assert float(nll[0]) == pytest.approx(float(free_nll), abs=1e-7)
    assert float(nll[1]) == pytest.approx(float(held_nll), abs=1e-7)
    np.testing.assert_allclose(np.asarray(pars[0]), free, atol=2e-4)
    np.testing.assert_allclose(np.asarray(pars[1]), held, atol=2e-4)
    assert float(pars[1, spec.poi_index]) == 1.0


def test_fixed_parameters_stay_at_their_initial_values(fitted):
    spec, yields, _, compiled = fitted
    with jax.enable_x64(True):
        _, (pars, _) = compiled(yields)
    fixed = spec.suggested_fixed()
    assert fixed.any()  # the zero-yield bin's staterror and shapesys gammas
    np.testing.assert_array_equal(np.asarray(pars[0])[fixed], spec.suggested_init()[fixed])


@pytest.mark.parametrize("path,index", [(("SR", "signal", "data"), 1), (("SR", "background", "modifiers", "histosys/jes", "lo_data"), 0)])
def test_best_fit_poi_gradient_equals_finite_differences(fitted, path, index):
    spec, yields, _, compiled = fitted
    poi = spec.poi_index
    with jax.enable_x64(True):
        jacobian, (pars, _) = compiled(yields)
        step = 1e-4 * float(leaf(yields, path)[index])
        up = compiled(perturbed(yields, path, index, step))[1][0][0, poi]
        down = compiled(perturbed(yields, path, index, -step))[1][0][0, poi]
    assert 0.0 < float(pars[0, poi]) < 10.0  # interior: the derivative is not trivially zero
    numeric = (float(up) - float(down)) / (2 * step)
    assert float(leaf(jacobian, path)[0, poi, index]) == pytest.approx(numeric, rel=1e-5)


def test_held_poi_value_gets_its_gradient_through_the_fit():
    with jax.enable_x64(True):
        spec, yields, data = build(WORKSPACES["counting"]())
        nll_and_grad = jax.jit(jax.value_and_grad(lambda mu: F.fixed_poi_fit(spec, mu, data, yields)[1]))
        _, analytic = nll_and_grad(1.5)
        numeric = (nll_and_grad(1.5 + 1e-5)[0] - nll_and_grad(1.5 - 1e-5)[0]) / 2e-5
    assert float(analytic) == pytest.approx(float(numeric), rel=1e-5)
