"""The JAX HistFactory model equals pyhf's: structure, data layout and log-likelihood."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from stats_fixtures import INTERPCODES, WORKSPACES, build, pyhf_settings

from nodes.stats import model as M


@pytest.fixture(params=[(w, c) for w in sorted(WORKSPACES) for c in INTERPCODES], ids=lambda p: f"{p[0]}-{p[1][0]}-{p[1][1]}")
def both_models(request, tight_pyhf):
    name, codes = request.param
    obj = WORKSPACES[name]()
    ws = tight_pyhf.Workspace(obj)
    reference = ws.model(modifier_settings=pyhf_settings(*codes))
    with jax.enable_x64(True):
        spec, yields, data = build(obj, *codes)
    return spec, yields, data, reference, np.asarray(ws.data(reference))


def test_parameter_order_bounds_inits_and_fixed_equal_pyhf(both_models):
    spec, _, _, reference, _ = both_models
    assert list(spec.par_order) == reference.config.par_order
    np.testing.assert_array_equal(spec.suggested_init(), reference.config.suggested_init())
    np.testing.assert_array_equal(spec.suggested_bounds(), reference.config.suggested_bounds())
    np.testing.assert_array_equal(spec.suggested_fixed(), reference.config.suggested_fixed())
    assert spec.poi_index == reference.config.poi_index


def test_observed_data_with_auxdata_equals_pyhf(both_models):
    _, _, data, _, reference_data = both_models
    np.testing.assert_allclose(np.asarray(data), reference_data, rtol=1e-12)


def _random_pars(spec, seed):
    rng = np.random.default_rng(seed)
    bounds = spec.suggested_bounds()
    pars = spec.suggested_init() + rng.uniform(-1.6, 1.6, spec.npars) * ~spec.suggested_fixed()
    return np.clip(pars, bounds[:, 0] + 0.05, bounds[:, 1])


def test_logpdf_equals_pyhf_at_random_parameters(both_models):
    spec, yields, data, reference, reference_data = both_models
    with jax.enable_x64(True):
        logpdf = jax.jit(lambda p, d, y: M.logpdf(spec, p, d, y))
        for seed in range(6):  # covers |alpha| > 1 and inside the polynomial region
            pars = _random_pars(spec, seed)
            ours = float(logpdf(jnp.asarray(pars), data, yields))
            theirs = float(reference.logpdf(pars, reference_data)[0])
            assert ours == pytest.approx(theirs, rel=1e-8)


def test_expected_data_equals_pyhf(both_models):
    spec, yields, _, reference, _ = both_models
    pars = _random_pars(spec, 7)
    with jax.enable_x64(True):
        ours = np.asarray(M.expected_data(spec, jnp.asarray(pars), yields))
    np.testing.assert_allclose(ours, reference.expected_data(pars), rtol=1e-10, atol=1e-12)


def test_new_yields_do_not_retrace(all_modifiers_json):
    traces = []
    with jax.enable_x64(True):
        spec, yields, data = build(all_modifiers_json)

        @jax.jit
        def logpdf(y):
            traces.append(1)
            return M.logpdf(spec, jnp.asarray(spec.suggested_init()), data, y)

        first = logpdf(yields)
        second = logpdf(jax.tree_util.tree_map(lambda a: a * 1.1, yields))
    assert len(traces) == 1
    assert float(first) != float(second)


def test_logpdf_gradient_is_finite_in_zero_yield_bins(all_modifiers_json):
    with jax.enable_x64(True):
        spec, yields, data = build(all_modifiers_json)
        grads = jax.jit(jax.grad(lambda y: M.logpdf(spec, jnp.asarray(spec.suggested_init()), data, y)))(yields)
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
    assert float(grads["SR"]["background"]["data"][0]) != 0.0
