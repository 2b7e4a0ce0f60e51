"""observables.*: feature stacking, linear projection, the built-in MLP and any network."""

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
import pytest
from jax.flatten_util import ravel_pytree

from nodes import observables
from nodes.observables import init_mlp, network_from
from workflow import REGISTRY

RNG = np.random.default_rng(0)
FEATURES = RNG.normal(size=(7, 3)).astype(np.float32)


def directional_fd(f, x, direction, eps=1e-6):
    return (f(x + eps * direction) - f(x - eps * direction)) / (2 * eps)


def test_stack_puts_record_fields_in_config_order():
    record = {"a": np.arange(4.0), "b": np.arange(4.0) * 10, "c": -np.arange(4.0)}
    np.testing.assert_array_equal(observables.stack(record, fields=("c", "a")), np.stack([record["c"], record["a"]], 1))


def test_stack_names_missing_fields():
    with pytest.raises(KeyError, match="'mass'"):
        observables.stack({"pt": np.ones(2)}, fields=("pt", "mass"))


def test_linear_projects_features_with_bias():
    w = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(observables.linear(FEATURES, w, 0.25), FEATURES @ w + 0.25, rtol=1e-6)


def test_init_mlp_has_one_layer_per_size_pair_and_is_seeded():
    params = init_mlp((3, 8, 4, 1), seed=7)
    assert [p["w"].shape for p in params] == [(3, 8), (8, 4), (4, 1)]
    assert [p["b"].shape for p in params] == [(8,), (4,), (1,)]
    again, other = init_mlp((3, 8, 4, 1), seed=7), init_mlp((3, 8, 4, 1), seed=8)
    np.testing.assert_array_equal(params[0]["w"], again[0]["w"])
    assert not np.allclose(params[0]["w"], other[0]["w"])


def test_init_mlp_rejects_sizes_without_output():
    with pytest.raises(ValueError, match="sizes"):
        init_mlp((3,))


def test_mlp_with_one_sigmoid_output_gives_one_probability_per_event():
    score = observables.mlp(init_mlp((3, 8, 1), seed=0), FEATURES)
    assert score.shape == (7,) and np.all((score > 0) & (score < 1))


def test_mlp_softmax_output_rows_sum_to_one():
    score = observables.mlp(init_mlp((3, 8, 4), seed=0), FEATURES, output_activation="softmax")
    assert score.shape == (7, 4)
    np.testing.assert_allclose(np.sum(score, axis=1), np.ones(7), rtol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "silu", "identity"])
def test_mlp_identity_output_matches_a_numpy_forward_pass(activation):
    params = init_mlp((3, 5, 2), seed=1)
    hidden = {"relu": lambda h: np.maximum(h, 0), "tanh": np.tanh, "identity": lambda h: h,
              "gelu": lambda h: np.asarray(jax.nn.gelu(h)), "silu": lambda h: h / (1 + np.exp(-h))}[activation]
    h = hidden(FEATURES @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"]))
    expected = h @ np.asarray(params[1]["w"]) + np.asarray(params[1]["b"])
    score = observables.mlp(params, FEATURES, activation=activation, output_activation="identity")
    np.testing.assert_allclose(score, expected, rtol=1e-5, atol=1e-6)


def test_mlp_scores_in_the_data_dtype_with_float64_params():
    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), init_mlp((3, 4, 1), seed=0))
        assert observables.mlp(params, FEATURES).dtype == jnp.float32


def test_mlp_parameter_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        x = FEATURES.astype(np.float64)
        params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), init_mlp((3, 6, 1), seed=2))
        flat, unravel = ravel_pytree(params)

        @jax.jit
        def loss(v):
            return jnp.sum(observables.mlp(unravel(v), x, activation="tanh") ** 2)

        direction = np.random.default_rng(3).normal(size=flat.shape)
        np.testing.assert_allclose(np.dot(jax.grad(loss)(flat), direction), directional_fd(loss, flat, direction),
                                   rtol=1e-6)


def test_linear_weight_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        x = FEATURES.astype(np.float64)

        def loss(w):
            return jnp.sum(jnp.tanh(observables.linear(x, w[:3], w[3])))

        w, direction = np.array([0.3, -0.2, 0.5, 0.1]), np.array([1.0, 0.5, -0.3, 0.2])
        np.testing.assert_allclose(np.dot(jax.grad(loss)(w), direction), directional_fd(loss, w, direction),
                                   rtol=1e-6)


def test_network_named_mlp_equals_the_built_in_mlp():
    params = init_mlp((3, 8, 1), seed=0)
    np.testing.assert_allclose(observables.network(params, FEATURES, apply="mlp"), observables.mlp(params, FEATURES))


def test_network_with_an_unregistered_apply_name_is_a_validation_error():
    with pytest.raises(pydantic.ValidationError, match="no apply function named 'nope'"):
        REGISTRY["observables.network"].make_config({"apply": "nope"})


def test_bad_activation_name_is_a_validation_error():
    with pytest.raises(pydantic.ValidationError, match="activation"):
        REGISTRY["observables.mlp"].make_config({"activation": "swishy"})


def plain_logistic(params, x):
    return jax.nn.sigmoid(x @ params["w"] + params["b"])


def test_network_from_plugs_in_any_apply_function():
    net = network_from(plain_logistic, "test_plain_logistic")
    params = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array(0.1)}
    assert net.op == "observables.test_plain_logistic" and REGISTRY[net.op] is net
    np.testing.assert_allclose(net(params, FEATURES), plain_logistic(params, FEATURES), rtol=1e-6)
    np.testing.assert_allclose(observables.network(params, FEATURES, apply="test_plain_logistic"),
                               plain_logistic(params, FEATURES), rtol=1e-6)


def test_network_from_parameter_gradient_matches_finite_differences():
    net = network_from(plain_logistic, "test_plain_logistic")
    with jax.enable_x64(True):
        x = FEATURES.astype(np.float64)

        def loss(v):
            return jnp.sum(jnp.log(net({"w": v[:3], "b": v[3]}, x)))

        v, direction = np.array([0.3, -0.2, 0.5, 0.1]), np.array([1.0, 0.5, -0.3, 0.2])
        np.testing.assert_allclose(np.dot(jax.grad(loss)(v), direction), directional_fd(loss, v, direction),
                                   rtol=1e-6)


def test_network_from_twice_with_the_same_function_returns_the_same_node():
    assert network_from(plain_logistic, "test_plain_logistic") is network_from(plain_logistic, "test_plain_logistic")


def test_network_from_refuses_a_taken_name():
    with pytest.raises(ValueError, match="already"):
        network_from(lambda p, x: x, "test_plain_logistic")
    with pytest.raises(ValueError, match="already"):
        network_from(lambda p, x: x, "stack")
