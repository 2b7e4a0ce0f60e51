"""Fisher information equals the curvature of pyhf's likelihood; sigma_mu and its gradient."""

import jax
import numpy as np
import pytest
from stats_fixtures import WORKSPACES, build, leaf, perturbed

from nodes.stats import fisher as FI
from nodes.stats.model import nominal_pars


def _numerical_hessian(function, x, indices, step=1e-4):
    """Central second differences of ``function`` over the parameters ``indices``."""
    n = len(x)
    h = np.zeros((len(indices), len(indices)))
    for a, i in enumerate(indices):
        for b, j in enumerate(indices[a:], start=a):
            e_i, e_j = np.eye(n)[i] * step, np.eye(n)[j] * step
            h[a, b] = h[b, a] = (function(x + e_i + e_j) - function(x + e_i - e_j) - function(x - e_i + e_j) + function(x - e_i - e_j)) / (4 * step**2)
    return h


def test_fisher_information_equals_curvature_of_pyhf_logpdf_on_asimov_data(tight_pyhf):
    obj = WORKSPACES["all_modifiers"]()
    model = tight_pyhf.Workspace(obj).model()
    with jax.enable_x64(True):
        spec, yields, _ = build(obj)
        pars = np.asarray(nominal_pars(spec, 1.0))
        information = np.asarray(jax.jit(lambda y, p: FI.fisher_information(spec, y, p))(yields, pars))
    asimov = model.expected_data(pars)
    names = ["mu", "lumi", "jes", "bkg_norm", "sig_xsec", "sf_CR", "bkg_unc", "staterror_CR"]
    indices = [model.config.par_slice(name).start for name in names]
    reference = _numerical_hessian(lambda p: -model.logpdf(p, asimov)[0], pars, indices)
    np.testing.assert_allclose(information[np.ix_(indices, indices)], reference, rtol=1e-4, atol=1e-4)


def test_covariance_inverts_information_on_free_parameters():
    with jax.enable_x64(True):
        spec, yields, _ = build(WORKSPACES["all_modifiers"]())

        @jax.jit
        def information_and_covariance(y):
            information = FI.fisher_information(spec, y, nominal_pars(spec))
            return information, FI.covariance(spec, information)

        information, cov = information_and_covariance(yields)
        cov = np.asarray(cov)
    free = ~spec.suggested_fixed()
    block = np.asarray(information)[np.ix_(free, free)]
    np.testing.assert_allclose(cov[np.ix_(free, free)] @ block, np.eye(free.sum()), atol=1e-8)
    assert np.all(cov[~free] == 0.0)


def test_sigma_mu_of_counting_model_matches_closed_form():
    # one bin, no systematics: sigma_mu = sqrt(s + b) / s at mu = 1
    obj = WORKSPACES["counting"]()
    obj["channels"][0]["samples"][1]["modifiers"] = [{"name": "unused", "type": "normsys", "data": {"hi": 1.0, "lo": 1.0}}]
    with jax.enable_x64(True):
        spec, yields, _ = build(obj)
        sigma = float(jax.jit(lambda y: FI.sigma_poi(spec, y))(yields))
    s, b = np.array([12.0, 11.0]), np.array([50.0, 52.0])
    assert sigma == pytest.approx(1.0 / np.sqrt(np.sum(s**2 / (s + b))), rel=1e-10)


def test_sigma_mu_gradient_equals_finite_differences():
    with jax.enable_x64(True):
        spec, yields, _ = build(WORKSPACES["all_modifiers"]())
        value_and_grad = jax.jit(jax.value_and_grad(lambda y: FI.sigma_poi(spec, y)))
        _, grads = value_and_grad(yields)
        for path, index in [(("SR", "signal", "data"), 0), (("SR", "background", "modifiers", "histosys/jes", "hi_data"), 1),
                            (("SR", "background", "modifiers", "shapesys/bkg_unc"), 1)]:
            step = 1e-4 * float(leaf(yields, path)[index])
            up = value_and_grad(perturbed(yields, path, index, step))[0]
            down = value_and_grad(perturbed(yields, path, index, -step))[0]
            numeric = (float(up) - float(down)) / (2 * step)
            assert float(leaf(grads, path)[index]) == pytest.approx(numeric, rel=1e-5)
        assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
