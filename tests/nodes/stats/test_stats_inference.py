"""Test statistics, CLs, p0 and Z0 equal pyhf's hypotest; their gradients equal finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm
from stats_fixtures import WORKSPACES, build, leaf, perturbed

from nodes.stats import inference as I
from nodes.stats.model import expected_data, nominal_pars


def _compiled_tests(spec, traces):
    """One compiled function per model: CLs for both test statistics at a POI, and the discovery test."""
    def run(mu, data, yields):
        traces.append(1)
        fits = I.profile_fits(spec, mu, data, yields, asimov_mu=0.0)
        result = {ts: I.cls_from_fits(fits, mu, ts) for ts in ("qtilde", "q")}
        result["discovery"] = I.discovery(spec, data, yields)
        return result
    return jax.jit(run)


@pytest.fixture(scope="module", params=sorted(WORKSPACES))
def case(request):
    obj = WORKSPACES[request.param]()
    with jax.enable_x64(True):
        spec, yields, data = build(obj)
        traces = []
        return obj, spec, yields, data, _compiled_tests(spec, traces), traces


@pytest.mark.parametrize("test_stat", ["qtilde", "q"])
@pytest.mark.parametrize("poi", [1.0, 0.5])
def test_cls_observed_and_expected_equal_pyhf(case, tight_pyhf, test_stat, poi):
    obj, _, yields, data, compiled, _ = case
    ws = tight_pyhf.Workspace(obj)
    model = ws.model()
    cls_obs, cls_exp = tight_pyhf.infer.hypotest(poi, ws.data(model), model, test_stat=test_stat, return_expected_set=True)
    with jax.enable_x64(True):
        ours = compiled(poi, data, yields)[test_stat]
    assert float(ours["CLs_obs"]) == pytest.approx(float(cls_obs), rel=1e-5)
    np.testing.assert_allclose(np.asarray(ours["CLs_exp"]), np.ravel(cls_exp), rtol=1e-5)


def test_p0_equals_pyhf_and_z0_is_its_significance(case, tight_pyhf):
    obj, _, yields, data, compiled, _ = case
    ws = tight_pyhf.Workspace(obj)
    model = ws.model()
    p0, p0_exp = tight_pyhf.infer.hypotest(0.0, ws.data(model), model, test_stat="q0", return_expected=True)
    with jax.enable_x64(True):
        result = compiled(1.0, data, yields)["discovery"]
    assert float(result["p0"]) == pytest.approx(float(p0), rel=1e-5)
    assert float(result["p0_exp"]) == pytest.approx(float(p0_exp), rel=1e-5)
    assert float(result["Z0"]) == pytest.approx(float(norm.isf(float(p0))), rel=1e-5, abs=1e-9)


def test_new_yields_and_poi_reuse_the_compiled_hypotest(case):
    _, _, yields, data, compiled, traces = case
    with jax.enable_x64(True):
        compiled(1.0, data, yields)
        before = len(traces)
        other = compiled(2.0, data, jax.tree_util.tree_map(lambda a: a * 1.2, yields))
    assert len(traces) == before == 1
    assert np.isfinite(float(other["qtilde"]["CLs_obs"]))


# yields entries probed by finite differences: every kind of dynamic number
PROBES = [
    (("SR", "signal", "data"), 1),
    (("SR", "background", "data"), 0),
    (("CR", "background", "data"), 1),
    (("SR", "background", "modifiers", "histosys/jes", "hi_data"), 1),
    (("SR", "background", "modifiers", "normsys/bkg_norm", "hi"), None),
    (("SR", "background", "modifiers", "shapesys/bkg_unc"), 0),
    (("CR", "ttbar", "modifiers", "staterror/staterror_CR"), 1),
]


def _finite_difference(function, yields, path, index, rel_step=1e-4):
    value = float(leaf(yields, path) if index is None else leaf(yields, path)[index])
    step = rel_step * max(abs(value), 1e-3)
    idx = () if index is None else index
    up = function(perturbed(yields, path, idx, step))
    down = function(perturbed(yields, path, idx, -step))
    return (np.asarray(up) - np.asarray(down)) / (2 * step)


def _check_against_fd(gradient, values_of, yields):
    for path, index in PROBES:
        analytic = np.asarray(leaf(gradient, path) if index is None else leaf(gradient, path)[index])
        numeric = _finite_difference(values_of, yields, path, index)
        np.testing.assert_allclose(analytic.ravel(), numeric.ravel(), rtol=1e-5, atol=1e-9, err_msg=str(path))


OUTPUTS = ("CLs_obs", "CLs_exp_median", "Z0", "Z0_exp")


@pytest.fixture(scope="module")
def jacobian_of_outputs():
    """(values, jacobian w.r.t. the yields) of CLs_obs, median CLs_exp, Z0, Z0_exp: one compile."""
    with jax.enable_x64(True):
        spec, yields, data = build(WORKSPACES["all_modifiers"]())

    def outputs(y, d):
        cls = I.hypotest(spec, 1.0, d, y)
        z = I.discovery(spec, d, y)
        values = jnp.stack([cls["CLs_obs"], cls["CLs_exp"][2], z["Z0"], z["Z0_exp"]])
        return values, values

    compiled = jax.jit(jax.jacrev(outputs, has_aux=True))
    return spec, yields, data, compiled


@pytest.mark.parametrize("output", [0, 1, 2, 3], ids=OUTPUTS)
def test_gradient_equals_central_finite_differences(jacobian_of_outputs, output):
    _spec, yields, data, compiled = jacobian_of_outputs
    with jax.enable_x64(True):
        jacobian, values = compiled(yields, data)
        assert float(values[output]) > 1e-3  # away from the clipped regions: FD is meaningful
        assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(jacobian))
        row = jax.tree_util.tree_map(lambda g: g[output], jacobian)
        _check_against_fd(row, lambda y: compiled(y, data)[1][output], yields)


def test_no_nan_when_data_equal_expectation(jacobian_of_outputs):
    spec, yields, _, compiled = jacobian_of_outputs
    with jax.enable_x64(True):
        asimov = jax.jit(lambda y: expected_data(spec, jnp.asarray(spec.suggested_init()), y))(yields)  # mu = 1: q(1) = 0
        jacobian, values = compiled(yields, asimov)
    cls_obs = float(values[0])
    assert 0.5 < cls_obs < 1.0  # q = 0: CLsb = 1/2, CLs = 1 / (2 Phi(sqrt(q_A)))
    assert np.all(np.isfinite(np.asarray(values)))
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(jacobian))


def test_poi_fitted_at_its_bound_gives_finite_gradients_equal_to_finite_differences():
    obj = WORKSPACES["counting"]()  # observed below background: muhat sits at the bound 0

    def cls_and_muhat(y, data):
        fits = I.profile_fits(spec, 1.0, data, y, asimov_mu=0.0)
        return I.cls_from_fits(fits, 1.0)["CLs_obs"], fits["muhat"]

    with jax.enable_x64(True):
        spec, yields, data = build(obj)
        compiled = jax.jit(jax.value_and_grad(cls_and_muhat, has_aux=True))
        (_, muhat), grads = compiled(yields, data)
        path = ("singlechannel", "signal", "data")
        numeric = _finite_difference(lambda y: compiled(y, data)[0][0], yields, path, 0)
    assert float(muhat) == 0.0
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
    assert float(leaf(grads, path)[0]) == pytest.approx(float(numeric), rel=1e-5)


def test_qtilde_without_sensitivity_gives_cls_one_not_nan():
    def cls(q, q_asimov):
        return I.pvalues(I.asymptotic_teststat(q, q_asimov, "qtilde"), I.safe_sqrt(q_asimov))[2]

    value, grads = jax.jit(jax.value_and_grad(cls, argnums=(0, 1)))(2.0, 0.0)
    assert float(value) == pytest.approx(1.0)
    assert np.all(np.isfinite(grads))


def test_safe_sqrt_has_zero_gradient_at_zero():
    assert float(jax.grad(I.safe_sqrt)(0.0)) == 0.0
    assert float(jax.grad(I.safe_sqrt)(4.0)) == pytest.approx(0.25)


def test_one_fit_expected_cls_and_z0_equal_the_full_tests_on_nominal_asimov_data():
    with jax.enable_x64(True):
        spec, yields, _ = build(WORKSPACES["counting"]())

        def both(y):
            background_only = expected_data(spec, nominal_pars(spec, 0.0), y)
            signal_plus_background = expected_data(spec, nominal_pars(spec, 1.0), y)
            return (I.expected_cls(spec, 1.0, y), I.hypotest(spec, 1.0, background_only, y, "q")["CLs_obs"],
                    I.expected_significance(spec, y), I.discovery(spec, signal_plus_background, y)["Z0"])

        fast_cls, full_cls, fast_z0, full_z0 = jax.jit(both)(yields)
    assert float(fast_cls) == pytest.approx(float(full_cls), rel=1e-8)
    assert float(fast_z0) == pytest.approx(float(full_z0), rel=1e-8)
