"""cuts.*: sigmoid and window cuts, their step twins, and the product of cuts."""

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
import pytest

from nodes import cuts
from workflow import REGISTRY

X = np.linspace(-3.0, 3.0, 61) + 0.013  # no value sits exactly on a threshold


def fd(f, t, eps=1e-6):
    return (f(t + eps) - f(t - eps)) / (2 * eps)


def test_sigmoid_is_one_half_at_the_threshold():
    np.testing.assert_allclose(cuts.sigmoid(np.array([0.7]), 0.7, slope=0.2), [0.5])


def test_sigmoid_keep_below_mirrors_keep_above():
    above = cuts.sigmoid(X, 0.3, slope=0.2)
    below = cuts.sigmoid(X, 0.3, slope=0.2, keep="below")
    np.testing.assert_allclose(above + below, np.ones_like(X), rtol=1e-6)


@pytest.mark.parametrize("keep", ["above", "below"])
def test_sigmoid_with_vanishing_slope_equals_step(keep):
    np.testing.assert_array_equal(cuts.sigmoid(X, 0.5, slope=1e-6, keep=keep), cuts.step(X, 0.5, keep=keep))


def test_step_keeps_events_at_the_threshold():
    np.testing.assert_array_equal(cuts.step(np.array([0.4, 0.5, 0.6]), 0.5), [0, 1, 1])
    np.testing.assert_array_equal(cuts.step(np.array([0.4, 0.5, 0.6]), 0.5, keep="below"), [1, 1, 0])


def test_window_with_vanishing_slope_equals_window_step():
    np.testing.assert_array_equal(cuts.window(X, -1.0, 1.5, slope=1e-6), cuts.window_step(X, -1.0, 1.5))


def test_window_is_the_product_of_two_one_sided_cuts():
    expected = cuts.sigmoid(X, -1.0, slope=0.3) * cuts.sigmoid(X, 1.5, slope=0.3, keep="below")
    np.testing.assert_allclose(cuts.window(X, -1.0, 1.5, slope=0.3), expected, rtol=1e-6)


def test_combine_multiplies_two_to_four_weights():
    a, b, c, d = (np.random.default_rng(i).uniform(size=5) for i in range(4))
    np.testing.assert_allclose(cuts.combine(a, b), a * b, rtol=1e-6)
    np.testing.assert_allclose(cuts.combine(a, b, c), a * b * c, rtol=1e-6)
    np.testing.assert_allclose(cuts.combine(a, b, c, d), a * b * c * d, rtol=1e-6)


def test_sigmoid_keeps_the_data_dtype_with_a_float64_threshold():
    with jax.enable_x64(True):
        weight = cuts.sigmoid(X.astype(np.float32), jnp.float64(0.1), slope=0.2)
    assert weight.dtype == jnp.float32


@pytest.mark.parametrize("keep", ["above", "below"])
def test_sigmoid_threshold_gradient_matches_finite_differences(keep):
    with jax.enable_x64(True):
        def loss(t):
            return jnp.sum(cuts.sigmoid(X, t, slope=0.4, keep=keep) * X)

        np.testing.assert_allclose(jax.grad(loss)(0.3), fd(loss, 0.3), rtol=1e-7)


def test_window_edge_gradients_match_finite_differences():
    with jax.enable_x64(True):
        def loss(low, high):
            return jnp.sum(cuts.window(X, low, high, slope=0.4) * X**2)

        d_low, d_high = jax.grad(loss, argnums=(0, 1))(-1.0, 1.5)
        np.testing.assert_allclose(d_low, fd(lambda t: loss(t, 1.5), -1.0), rtol=1e-7)
        np.testing.assert_allclose(d_high, fd(lambda t: loss(-1.0, t), 1.5), rtol=1e-7)


@pytest.mark.parametrize("slope", [1e-300, 1e-30, 1e-3, 1e30, 1e300])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuts_are_finite_in_value_and_gradient_at_extreme_slopes(slope, dtype):
    x = jnp.asarray(np.r_[X, 0.5, -1e30, 1e30].astype(dtype))
    with jax.enable_x64(True):
        for loss in (
            lambda t: jnp.sum(cuts.sigmoid(x, t, slope=slope)),
            lambda t: jnp.sum(cuts.window(x, t, t + 1.0, slope=slope)),
        ):
            value, grad = jax.value_and_grad(loss)(jnp.asarray(0.5, dtype))
            assert np.isfinite(value) and np.isfinite(grad)


def test_unknown_keep_direction_is_a_clear_validation_error():
    with pytest.raises(pydantic.ValidationError, match="keep"):
        REGISTRY["cuts.sigmoid"].make_config({"keep": "sideways"})


@pytest.mark.parametrize("op", ["cuts.sigmoid", "cuts.window"])
@pytest.mark.parametrize("slope", [0.0, -0.1])
def test_non_positive_slope_is_a_validation_error(op, slope):
    with pytest.raises(pydantic.ValidationError, match="slope"):
        REGISTRY[op].make_config({"slope": slope})


def test_soft_cuts_name_hard_twins_with_the_same_ports_and_config():
    for soft, hard in [("cuts.sigmoid", "cuts.step"), ("cuts.window", "cuts.window_step")]:
        soft_spec, hard_spec = REGISTRY[soft], REGISTRY[hard]
        assert soft_spec.hard == hard and not hard_spec.differentiable
        assert (soft_spec.inputs, soft_spec.outputs, soft_spec.config) == (
            hard_spec.inputs, hard_spec.outputs, hard_spec.config)


def test_unknown_keep_direction_is_a_graph_build_error_naming_the_node():
    import workflow as wf

    with pytest.raises(wf.GraphError, match="my_cut.*keep"), wf.Graph("bad_cut") as g:
        events = g.source("signal", fields={"x": "float32"})
        cuts.sigmoid(events["x"], 0.0, keep="sideways", name="my_cut")
