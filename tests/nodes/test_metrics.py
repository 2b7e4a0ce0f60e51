"""metrics.*: significances and the binary cross-entropy baseline."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import in_x64
from nodes import metrics
from workflow import REGISTRY

S = np.array([3.0, 5.0, 0.5, 0.0])
B = np.array([40.0, 10.0, 2.0, 7.0])
SIGNIFICANCES = ["metrics.asimov_significance", "metrics.s_over_sqrt_b", "metrics.s_over_sqrt_b_db"]


def directional_fd(f, x, direction, eps=1e-6):
    return (f(x + eps * direction) - f(x - eps * direction)) / (2 * eps)


@in_x64
def test_asimov_significance_of_one_bin_matches_the_formula():
    expected = np.sqrt(2 * ((5 + 100) * np.log(1 + 5 / 100) - 5))
    np.testing.assert_allclose(metrics.asimov_significance(5.0, 100.0), expected, rtol=1e-12)


@in_x64
def test_asimov_significance_tends_to_s_over_sqrt_b_for_small_signal():
    np.testing.assert_allclose(metrics.asimov_significance(1e-3, 1e4), 1e-3 / 1e2, rtol=1e-6)


@in_x64
def test_asimov_significance_adds_bins_in_quadrature():
    per_bin = [metrics.asimov_significance(s, b) for s, b in zip(S, B)]
    np.testing.assert_allclose(metrics.asimov_significance(S, B), np.sqrt(np.sum(np.square(per_bin))), rtol=1e-12)


@in_x64
def test_s_over_sqrt_b_adds_bins_in_quadrature():
    np.testing.assert_allclose(metrics.s_over_sqrt_b(S, B), np.sqrt(np.sum(S**2 / B)), rtol=1e-12)
    np.testing.assert_allclose(metrics.s_over_sqrt_b(5.0, 25.0), 1.0, rtol=1e-12)


@in_x64
def test_s_over_sqrt_b_db_with_relative_uncertainty():
    expected = np.sqrt(np.sum(S**2 / (B + (0.2 * B) ** 2)))
    np.testing.assert_allclose(metrics.s_over_sqrt_b_db(S, B, relative_uncertainty=0.2), expected, rtol=1e-12)


@in_x64
def test_s_over_sqrt_b_db_with_absolute_uncertainty_input():
    db = np.array([1.0, 2.0, 0.5, 3.0])
    expected = np.sqrt(np.sum(S**2 / (B + db**2)))
    np.testing.assert_allclose(metrics.s_over_sqrt_b_db(S, B, db), expected, rtol=1e-12)


@in_x64
def test_s_over_sqrt_b_db_without_uncertainty_is_s_over_sqrt_b():
    np.testing.assert_allclose(
        metrics.s_over_sqrt_b_db(S, B, relative_uncertainty=0.0), metrics.s_over_sqrt_b(S, B), rtol=1e-12
    )


@pytest.mark.parametrize("op", SIGNIFICANCES)
@in_x64
def test_significance_gradients_match_finite_differences(op):
    spec = REGISTRY[op]
    rng = np.random.default_rng(0)
    s, b = S + 0.1, B
    ds, db = rng.normal(size=4), rng.normal(size=4)
    grad_s, grad_b = jax.grad(lambda s, b: spec(s, b), argnums=(0, 1))(s, b)
    np.testing.assert_allclose(np.dot(grad_s, ds), directional_fd(lambda v: spec(v, b), s, ds), rtol=1e-6)
    np.testing.assert_allclose(np.dot(grad_b, db), directional_fd(lambda v: spec(s, v), b, db), rtol=1e-6)


@pytest.mark.parametrize("op", SIGNIFICANCES)
@pytest.mark.parametrize("s, b", [(0.0, 0.0), (0.0, 5.0), (5.0, 0.0), (1e-30, 1e-30), (1e10, 1e-10)])
@in_x64
def test_significance_is_finite_in_value_and_gradient_at_extremes(op, s, b):
    spec = REGISTRY[op]
    signal, background = jnp.full(3, s), jnp.full(3, b)
    value, grads = jax.value_and_grad(lambda s, b: spec(s, b), argnums=(0, 1))(signal, background)
    assert np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads)


# --- binary cross-entropy ---------------------------------------------------------------


def bce_reference(p, y, w):
    return np.sum(-w * (y * np.log(p) + (1 - y) * np.log(1 - p)))


@in_x64
def test_binary_cross_entropy_matches_the_formula():
    rng = np.random.default_rng(1)
    p, y, w = rng.uniform(0.05, 0.95, 20), rng.integers(0, 2, 20).astype(float), rng.uniform(size=20)
    np.testing.assert_allclose(metrics.binary_cross_entropy(p, y, w), bce_reference(p, y, w), rtol=1e-10)


@in_x64
def test_binary_cross_entropy_from_logits_equals_from_probabilities():
    logits = np.linspace(-4, 4, 9)
    from_logits = metrics.binary_cross_entropy(logits, target=1.0, from_logits=True)
    from_probs = metrics.binary_cross_entropy(1 / (1 + np.exp(-logits)), target=1.0)
    np.testing.assert_allclose(from_logits, from_probs, rtol=1e-10)


@in_x64
def test_binary_cross_entropy_target_equals_a_constant_label_input():
    p = np.linspace(0.1, 0.9, 9)
    np.testing.assert_allclose(
        metrics.binary_cross_entropy(p, target=0.0), metrics.binary_cross_entropy(p, np.zeros(9)), rtol=1e-12
    )


def test_binary_cross_entropy_without_labels_says_how_to_give_them():
    with pytest.raises(ValueError, match="target"):
        metrics.binary_cross_entropy(np.array([0.3]))


@pytest.mark.parametrize("from_logits", [False, True])
@in_x64
def test_binary_cross_entropy_gradient_matches_finite_differences(from_logits):
    score = np.linspace(0.1, 0.9, 9) if not from_logits else np.linspace(-3, 3, 9)
    y = (np.arange(9) % 2).astype(float)
    direction = np.random.default_rng(2).normal(size=9)

    def loss(s):
        return metrics.binary_cross_entropy(s, y, from_logits=from_logits)

    np.testing.assert_allclose(np.dot(jax.grad(loss)(score), direction), directional_fd(loss, score, direction),
                               rtol=1e-6)


@pytest.mark.parametrize("from_logits, score", [(False, [0.0, 1.0, 0.5]), (True, [-1e30, 1e30, 0.0])])
@in_x64
def test_binary_cross_entropy_is_finite_at_extreme_scores(from_logits, score):
    score = jnp.asarray(score, jnp.float32)
    for target in (0.0, 1.0):
        value, grad = jax.value_and_grad(
            lambda s, t=target: metrics.binary_cross_entropy(s, target=t, from_logits=from_logits))(score)
        assert np.isfinite(value) and np.all(np.isfinite(grad))


@functools.cache
def _jitted_bce():
    return jax.jit(lambda p, y, w: metrics.binary_cross_entropy(p, y, w))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), cuts=st.lists(st.integers(0, 6).map(lambda k: 4 * k), max_size=3))
@in_x64
def test_binary_cross_entropy_on_a_partition_sums_to_the_whole(seed, cuts):
    rng = np.random.default_rng(seed)
    p, y, w = rng.uniform(0.01, 0.99, 24), rng.integers(0, 2, 24).astype(float), rng.uniform(size=24)
    bounds = [0, *sorted(cuts), 24]
    parts = [_jitted_bce()(p[a:b], y[a:b], w[a:b]) for a, b in itertools.pairwise(bounds)]
    np.testing.assert_allclose(sum(parts), _jitted_bce()(p, y, w), rtol=1e-10, atol=1e-12)


@in_x64
def test_binary_cross_entropy_padding_rows_contribute_nothing():
    spec = REGISTRY["metrics.binary_cross_entropy"]
    config = spec.make_config({"target": 1.0})
    p = np.linspace(0.1, 0.9, 6)
    padded = spec.run({"score": np.r_[p, p[:2]]}, config, mask=np.r_[np.ones(6), np.zeros(2)])
    np.testing.assert_allclose(padded["loss"], spec.run({"score": p}, config)["loss"], rtol=1e-12)


def test_every_metrics_reduce_node_has_an_additivity_test():
    reduce_ops = {op for op, spec in REGISTRY.items() if op.startswith("metrics.") and spec.kind == "reduce"}
    assert reduce_ops == {"metrics.binary_cross_entropy"}


@pytest.mark.parametrize("settings_", [{"target": 2.0}, {"eps": 0.0}, {"relative_uncertainty": -1.0}])
def test_bad_metric_config_is_a_validation_error(settings_):
    op = "metrics.s_over_sqrt_b_db" if "relative_uncertainty" in settings_ else "metrics.binary_cross_entropy"
    with pytest.raises(pydantic.ValidationError):
        REGISTRY[op].make_config(settings_)


def test_uncertain_asimov_significance_tends_to_z_a_without_uncertainty():
    with jax.enable_x64(True):
        exact = metrics.asimov_significance_uncertain(5.0, 20.0, 0.0)
        z_a = metrics.asimov_significance(5.0, 20.0)
    assert float(exact) == pytest.approx(float(z_a), rel=1e-7)


def test_uncertain_asimov_significance_matches_cowans_formula_and_falls_with_uncertainty():
    s, b, db = 10.0, 50.0, 7.0
    var = db**2
    expected = np.sqrt(2 * ((s + b) * np.log((s + b) * (b + var) / (b**2 + (s + b) * var))
                            - b**2 / var * np.log(1 + var * s / (b * (b + var)))))
    with jax.enable_x64(True):
        value = float(metrics.asimov_significance_uncertain(s, b, db**2))
        wider = float(metrics.asimov_significance_uncertain(s, b, (2 * db) ** 2))
    assert value == pytest.approx(expected, rel=1e-10)
    assert wider < value < s / np.sqrt(b)


def test_uncertain_asimov_significance_gradient_matches_finite_differences():
    def z(args):
        return metrics.asimov_significance_uncertain(args[0], args[1], args[2])

    point = np.array([4.0, 30.0, 3.0])
    with jax.enable_x64(True):
        grad = np.asarray(jax.grad(z)(jnp.asarray(point)))
        eps = 1e-6
        numeric = [(float(z(point + eps * e)) - float(z(point - eps * e))) / (2 * eps) for e in np.eye(3)]
    assert np.allclose(grad, numeric, rtol=1e-6)
    assert np.all(np.isfinite(grad))
