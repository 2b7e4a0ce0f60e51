"""histograms.*: KDE and hard histograms, softmax binning, density, trainable edges."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from tests.conftest import in_x64
from nodes import histograms
from nodes.binning import increasing_edges, increasing_edges_node, raw_from_edges
from workflow import REGISTRY

EDGES = (-2.0, -1.0, 0.0, 0.5, 1.0, 2.5)


def sample(n=400, seed=0, scale=1.5):
    rng = np.random.default_rng(seed)
    return rng.normal(0.2, scale, size=n), rng.uniform(0.1, 2.0, size=n)


def directional_fd(f, x, direction, eps=1e-6):
    return (f(x + eps * direction) - f(x - eps * direction)) / (2 * eps)


# --- hard limits -----------------------------------------------------------------------


@pytest.mark.parametrize("overflow", [False, True])
@in_x64
def test_kde_with_vanishing_bandwidth_equals_numpy_histogram(overflow):
    x, w = sample()
    counts = histograms.kde(x, w, edges=EDGES, bandwidth=1e-10, overflow=overflow)
    data = np.clip(x, EDGES[0], EDGES[-1]) if overflow else x
    np.testing.assert_allclose(counts, np.histogram(data, EDGES, weights=w)[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@in_x64
def test_hist_equals_numpy_histogram_including_values_on_edges(dtype):
    x, _ = sample()
    x = np.concatenate([x, EDGES, [EDGES[-1]] * 3]).astype(dtype)  # ties with every edge
    w = np.random.default_rng(1).integers(1, 8, size=x.size) * 0.25  # exact sums
    expected = np.histogram(x, EDGES, weights=w)[0]
    np.testing.assert_array_equal(histograms.hist(x, w, edges=EDGES), expected)


@in_x64
def test_hist_with_overflow_folds_outside_events_into_edge_bins():
    x = np.array([-50.0, -2.5, 0.2, 3.0, 1e30])
    counts = histograms.hist(x, edges=EDGES, overflow=True)
    np.testing.assert_array_equal(counts, [2, 0, 1, 0, 2])


@in_x64
def test_hist_takes_edges_from_the_input_port():
    x, w = sample()
    np.testing.assert_array_equal(
        histograms.hist(x, w, jnp.asarray(EDGES)), histograms.hist(x, w, edges=EDGES)
    )


# --- the KDE formula, blocks and gradients ----------------------------------------------


def kde_reference(x, w, edges, h, overflow):
    edges = np.array(edges, float)
    if overflow:
        edges[0], edges[-1] = -np.inf, np.inf
    cdf = norm.cdf((edges[None, :] - x[:, None]) / h)
    return w @ (cdf[:, 1:] - cdf[:, :-1])


@pytest.mark.parametrize("overflow", [False, True])
@pytest.mark.parametrize("block_size", [64, 100_000])
@in_x64
def test_kde_matches_gaussian_cdf_formula_for_any_block_size(overflow, block_size):
    x, w = sample()
    counts = histograms.kde(x, w, edges=EDGES, bandwidth=0.3, overflow=overflow, block_size=block_size)
    np.testing.assert_allclose(counts, kde_reference(x, w, EDGES, 0.3, overflow), rtol=1e-12)


@in_x64
def test_kde_keeps_far_tail_content_in_float32():
    x = np.zeros(1000, np.float32)
    counts = histograms.kde(x, edges=(-1.0, 0.0, 1.0, 1.5), bandwidth=0.3)
    expected = kde_reference(x.astype(float), np.ones(1000), (-1.0, 0.0, 1.0, 1.5), 0.3, False)
    np.testing.assert_allclose(counts, expected, rtol=1e-5)  # last bin holds ~4e-4 events


@pytest.mark.parametrize("overflow", [False, True])
@in_x64
def test_kde_gradient_for_a_data_shift_equals_analytic_gaussian(overflow):
    x, w = sample()
    h = 0.3
    jac = jax.jacobian(lambda s: histograms.kde(x + s, w, edges=EDGES, bandwidth=h, overflow=overflow,
                                                block_size=128))(0.0)
    edges = np.array(EDGES)
    pdf = norm.pdf((edges[None, :] - x[:, None]) / h) / h
    if overflow:
        pdf[:, 0] = pdf[:, -1] = 0.0
    expected = -(w @ (pdf[:, 1:] - pdf[:, :-1]))
    np.testing.assert_allclose(jac, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("overflow", [False, True])
@in_x64
def test_kde_gradients_match_finite_differences(overflow):
    x, w = sample(n=200)
    rng = np.random.default_rng(2)
    cotangent = rng.normal(size=len(EDGES) - 1)

    @jax.jit
    def loss(x, w, edges):
        return cotangent @ histograms.kde(x, w, edges, bandwidth=0.4, overflow=overflow, block_size=64)

    edges = jnp.asarray(EDGES)
    grads = jax.grad(loss, argnums=(0, 1, 2))(jnp.asarray(x), jnp.asarray(w), edges)
    for i, (arg, grad) in enumerate(zip((x, w, np.asarray(EDGES)), grads)):
        direction = rng.normal(size=arg.shape)
        args = [x, w, edges]

        def along(a, i=i, args=args):
            return loss(*[a if j == i else v for j, v in enumerate(args)])

        np.testing.assert_allclose(np.dot(grad, direction), directional_fd(along, arg, direction), rtol=1e-6)


@in_x64
def test_kde_gradient_through_trainable_edges_matches_finite_differences():
    x, w = sample(n=200)

    @jax.jit
    def loss(raw):
        edges = increasing_edges_node(raw, low=-2.0, high=2.5)
        return jnp.sum(histograms.kde(x, w, edges, bandwidth=0.3) ** 2)

    raw = jnp.asarray(raw_from_edges(EDGES, low=-2.0, high=2.5))
    direction = np.random.default_rng(3).normal(size=raw.shape)
    np.testing.assert_allclose(np.dot(jax.grad(loss)(raw), direction), directional_fd(loss, raw, direction),
                               rtol=1e-6)


@in_x64
def test_kde_forward_and_reverse_mode_jacobians_agree():
    x, w = sample(n=100)

    def counts(shift_and_scale):
        shift, scale = shift_and_scale
        return histograms.kde(x + shift, w * scale, edges=EDGES, bandwidth=0.3, block_size=32)

    point = jnp.asarray([0.1, 1.3])
    np.testing.assert_allclose(jax.jacfwd(counts)(point), jax.jacrev(counts)(point), rtol=1e-10, atol=1e-12)


@in_x64
def test_kde_value_and_gradient_vectorise_with_vmap():
    x, w = sample(n=100)

    def loss(shift):
        return jnp.sum(histograms.kde(x + shift, w, edges=EDGES, bandwidth=0.3, block_size=32) ** 2)

    shifts = jnp.asarray([-0.5, 0.0, 0.7])
    value_and_grad = jax.jit(jax.value_and_grad(loss))
    values, grads = jax.jit(jax.vmap(value_and_grad))(shifts)
    expected = [value_and_grad(s) for s in shifts]
    np.testing.assert_allclose(values, [v for v, _ in expected], rtol=1e-12)
    np.testing.assert_allclose(grads, [g for _, g in expected], rtol=1e-10)


# --- additivity of every reduce node ----------------------------------------------------

REDUCE_CASES = {
    "histograms.count": lambda x, s, w: {"weight": w},
    "histograms.kde": lambda x, s, w: {"x": x, "weight": w, "edges": EDGES, "bandwidth": 0.3, "block_size": 16},
    "histograms.hist": lambda x, s, w: {"x": x, "weight": w, "edges": EDGES, "overflow": True},
    "histograms.softmax": lambda x, s, w: {"scores": s, "weight": w, "temperature": 0.5},
    "histograms.argmax": lambda x, s, w: {"scores": s, "weight": w},
}


def test_every_histogram_reduce_node_has_an_additivity_case():
    reduce_ops = {op for op, spec in REGISTRY.items() if op.startswith("histograms.") and spec.kind == "reduce"}
    assert reduce_ops == set(REDUCE_CASES)


def events(n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1.5, n), rng.normal(size=(n, 3)), rng.uniform(0, 2, n)


@functools.cache
def jitted(op):
    """The node as one jitted function of (x, scores, weights): compiled once per shape."""
    return jax.jit(lambda x, s, w: REGISTRY[op](**REDUCE_CASES[op](x, s, w)))


@pytest.mark.parametrize("op", sorted(REDUCE_CASES))
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), cuts=st.lists(st.integers(0, 6).map(lambda k: 4 * k), max_size=3))
@in_x64
def test_reduce_node_on_a_partition_sums_to_the_whole(op, seed, cuts):
    """Random (permuted) events cut into up to 4 parts, empty ones included; part sizes are
    multiples of 4 so that few shapes need compiling."""
    x, s, w = events(24, seed)
    order = np.random.default_rng(seed).permutation(24)  # parts need not be contiguous
    x, s, w = x[order], s[order], w[order]
    bounds = [0, *sorted(cuts), 24]
    whole = jitted(op)(x, s, w)
    parts = [jitted(op)(x[a:b], s[a:b], w[a:b]) for a, b in itertools.pairwise(bounds)]
    np.testing.assert_allclose(sum(parts), whole, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("op", sorted(REDUCE_CASES))
@in_x64
def test_padding_rows_contribute_nothing(op):
    x, s, w = events(30, 0)
    real = run_case(op, x, s, w)
    padded = run_case(op, np.r_[x, x[:10]], np.r_[s, s[:10]], np.r_[w, w[:10]], mask=np.r_[np.ones(30), np.zeros(10)])
    for port, value in real.items():
        np.testing.assert_allclose(padded[port], value, rtol=1e-12)


def run_case(op, x, s, w, mask=None):
    """Run a reduce node as the compiler does: ports, config and the padding mask."""
    spec, case = REGISTRY[op], REDUCE_CASES[op](x, s, w)
    inputs = {k: v for k, v in case.items() if k in spec.inputs}
    config = spec.make_config({k: v for k, v in case.items() if k not in spec.inputs})
    return spec.run(inputs, config, mask=mask)


# --- extreme inputs ---------------------------------------------------------------------


def _finite_value_and_grad(loss, *args):
    value, grads = jax.value_and_grad(loss, argnums=tuple(range(len(args))))(*args)
    assert np.isfinite(value)
    for grad in grads:
        assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("bandwidth", [1e-30, 1e-6, 1e6])
@pytest.mark.parametrize("overflow", [False, True])
@in_x64
def test_kde_is_finite_at_extreme_inputs(bandwidth, overflow):
    x = jnp.asarray([-1e30, -1e5, -2.0, 0.0, 0.5, 1e5, 1e30], jnp.float32)  # ties, far outside
    zero_w = jnp.zeros(7, jnp.float32)

    @jax.jit
    def loss(x, w, edges):
        counts = histograms.kde(x, w, edges, bandwidth=bandwidth, overflow=overflow)
        return jnp.sum(counts) + jnp.sum(counts**2)

    _finite_value_and_grad(loss, x, jnp.ones(7, jnp.float32), jnp.asarray(EDGES))
    _finite_value_and_grad(loss, x, zero_w, jnp.asarray(EDGES))
    _finite_value_and_grad(loss, x[:0], zero_w[:0], jnp.asarray(EDGES))  # no events at all


@in_x64
def test_softmax_binning_is_finite_at_extreme_scores_and_temperatures():
    scores = jnp.asarray([[1e30, -1e30, 0.0], [0.0, 0.0, 0.0], [-3e38, 3e38, 1.0]], jnp.float32)
    for temperature in (1e-30, 1.0, 1e30):
        _finite_value_and_grad(
            lambda s, w, t=temperature: jnp.sum(histograms.softmax(s, w, temperature=t) ** 2), scores, jnp.ones(3)
        )


# --- softmax binning, density, trainable edges ------------------------------------------


@in_x64
def test_softmax_binning_at_low_temperature_equals_argmax_histogram():
    _, s, w = events(200, 4)
    np.testing.assert_allclose(
        histograms.softmax(s, w, temperature=1e-6), histograms.argmax(s, w), rtol=1e-12, atol=1e-12
    )


@in_x64
def test_softmax_binning_gradient_matches_finite_differences():
    _, s, w = events(50, 5)
    direction = np.random.default_rng(6).normal(size=s.shape)

    @jax.jit
    def loss(scores):
        return jnp.sum(histograms.softmax(scores, w, temperature=0.7) ** 2)

    np.testing.assert_allclose(np.sum(jax.grad(loss)(s) * direction), directional_fd(loss, s, direction),
                               rtol=1e-6)


@in_x64
def test_density_matches_numpy_density():
    x, w = sample()
    counts = histograms.hist(x, w, edges=EDGES)
    expected = np.histogram(x, EDGES, weights=w, density=True)[0]
    np.testing.assert_allclose(histograms.density(counts, edges=EDGES), expected, rtol=1e-12)


@in_x64
def test_density_of_an_empty_histogram_is_zero_with_finite_gradient():
    grad = jax.grad(lambda c: jnp.sum(histograms.density(c, edges=EDGES)))(jnp.zeros(5))
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("ends", [{}, {"low": -2.0}, {"low": -2.0, "high": 2.5}])
@in_x64
def test_raw_from_edges_inverts_increasing_edges(ends):
    raw = raw_from_edges(EDGES, **ends)
    np.testing.assert_allclose(increasing_edges(jnp.asarray(raw), **ends), EDGES, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ends", [{}, {"low": -2.0}, {"low": -2.0, "high": 2.5}])
@in_x64
def test_increasing_edges_stay_strictly_increasing_for_extreme_raw_values(ends):
    raw = jnp.asarray([0.0, -1e4, 1e4, -1e4, 50.0])  # float64, as programs keep parameters
    edges = increasing_edges_node(raw, **ends)
    assert np.all(np.diff(np.asarray(edges)) > 0)
    assert np.all(np.isfinite(jax.grad(lambda r: jnp.sum(increasing_edges_node(r, **ends) ** 2))(raw)))


@in_x64
def test_increasing_edges_gradient_matches_finite_differences():
    raw = jnp.asarray([0.3, -0.2, 0.5, 1.0])
    direction = np.array([0.2, -1.0, 0.4, 0.7])
    for ends in ({}, {"low": -1.0}, {"low": -1.0, "high": 3.0}):
        def loss(r, ends=ends):
            return jnp.sum(jnp.sin(increasing_edges_node(r, **ends)))

        np.testing.assert_allclose(np.dot(jax.grad(loss)(raw), direction), directional_fd(loss, raw, direction),
                                   rtol=1e-6)


# --- configuration errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "settings_, message",
    [
        ({"edges": (0.0, 1.0, 0.5)}, "strictly increasing"),
        ({"edges": (0.0, 1.0, 1.0)}, "strictly increasing"),
        ({"edges": (0.0,)}, "at least 2"),
        ({"edges": (0.0, 1.0), "bandwidth": 0.0}, "greater than 0"),
        ({"edges": (0.0, 1.0), "bandwidth": -1.0}, "greater than 0"),
        ({"edges": (0.0, 1.0), "block_size": 0}, "greater than 0"),
    ],
)
@pytest.mark.parametrize("op", ["histograms.kde", "histograms.hist"])
def test_bad_histogram_config_is_a_clear_validation_error(op, settings_, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        REGISTRY[op].make_config(settings_)


def test_non_positive_temperature_is_a_validation_error():
    with pytest.raises(pydantic.ValidationError, match="temperature"):
        REGISTRY["histograms.softmax"].make_config({"temperature": 0.0})


def test_histogram_without_edges_says_how_to_give_them():
    with pytest.raises(ValueError, match="needs bin edges"):
        histograms.kde(np.zeros(3), bandwidth=0.1)


def test_hard_twins_share_ports_and_config_and_are_not_differentiable():
    for soft, hard in [("histograms.kde", "histograms.hist"), ("histograms.softmax", "histograms.argmax")]:
        soft_spec, hard_spec = REGISTRY[soft], REGISTRY[hard]
        assert soft_spec.hard == hard and not hard_spec.differentiable
        assert (soft_spec.inputs, soft_spec.outputs, soft_spec.config, soft_spec.kind) == (
            hard_spec.inputs, hard_spec.outputs, hard_spec.config, hard_spec.kind)


# --- in a graph -------------------------------------------------------------------------


def test_bad_histogram_configs_are_graph_build_errors_naming_node_and_field():
    import workflow as wf

    with pytest.raises(wf.GraphError) as error, wf.Graph("bad_binning") as g:
        events = g.source("signal", fields={"x": "float32"})
        histograms.kde(events["x"], edges=(0.0, 1.0, 0.5), bandwidth=0.0, name="soft_hist")
    message = str(error.value)
    assert "soft_hist" in message and "strictly increasing" in message
    assert "bandwidth" in message and "greater than 0" in message


def test_program_with_trainable_edges_matches_the_nodes_and_numpy_in_hard_mode():
    import workflow as wf
    from nodes import metrics

    rng = np.random.default_rng(7)
    data = {"signal": {"x": rng.normal(1, 1, 300)}, "background": {"x": rng.normal(-1, 1, 900)}}
    with wf.Graph("trainable_binning") as g:
        raw = g.param("raw", init=raw_from_edges(EDGES, low=-2.0, high=2.5))
        edges = histograms.increasing_edges(raw, low=-2.0, high=2.5)
        counts = {s: histograms.kde(g.source(s, fields={"x": "float64"})["x"], trainable_edges=edges,
                                    bandwidth=0.2, overflow=True) for s in data}
        g.set_objective(-metrics.asimov_significance(counts["signal"], counts["background"]))

    def direct(raw):
        edges = increasing_edges(raw, low=-2.0, high=2.5)
        s, b = (histograms.kde(data[k]["x"], None, edges, bandwidth=0.2, overflow=True) for k in data)
        return -metrics.asimov_significance(s, b)

    program = g.compile()
    with jax.enable_x64(True):
        params = program.init_params()
        value, grads = program.value_and_grad(params, data)
        np.testing.assert_allclose(value, direct(jnp.asarray(params["raw"])), rtol=1e-10)
        np.testing.assert_allclose(grads["raw"], jax.grad(direct)(jnp.asarray(params["raw"])), rtol=1e-8)
        s, b = (np.histogram(np.clip(data[k]["x"], EDGES[0], EDGES[-1]), EDGES)[0] for k in data)
        np.testing.assert_allclose(program.evaluate(params, data), -metrics.asimov_significance(s, b), rtol=1e-10)
