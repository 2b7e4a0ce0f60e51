"""Compiled programs: equal to hand-written JAX, exact gradients, and ordinary JAX functions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import workflow as wf
from nodes import cuts, histograms, metrics
from tests.conftest import gaussian_sample
from workflow import Events, node

VARIABLES = {"x": ("above", 0.3), "y": ("below", 0.5)}
SCALE = {"signal": 0.05, "background": 0.4}


def cut_and_count_graph(dtype="float64") -> wf.Graph:
    with wf.Graph("cut_and_count") as g:
        thresholds = {v: g.param(f"cut_{v}", init=0.1) for v in VARIABLES}
        counts = {}
        for sample, scale in SCALE.items():
            events = g.source(sample, fields={v: dtype for v in VARIABLES})
            weight = scale * cuts.sigmoid(events["x"], thresholds["x"], keep="above", slope=0.3)
            weight = weight * cuts.sigmoid(events["y"], thresholds["y"], keep="below", slope=0.5)
            counts[sample] = histograms.count(weight)
        g.set_objective(-metrics.asimov_significance(counts["signal"], counts["background"]))
    return g


def handwritten(params, data):
    """The same analysis, written by hand."""
    counts = {}
    for sample, scale in SCALE.items():
        ev = data[sample]
        w = scale * jax.nn.sigmoid((ev["x"] - params["cut_x"]) / 0.3)
        w = w * jax.nn.sigmoid((params["cut_y"] - ev["y"]) / 0.5)
        counts[sample] = jnp.sum(w)
    s, b = counts["signal"], counts["background"]
    return -jnp.sqrt(2 * ((s + b) * jnp.log1p(s / b) - s))


@pytest.fixture
def data(rng):
    return {"signal": gaussian_sample(rng, 500, {"x": 1.0, "y": -1.0}),
            "background": gaussian_sample(rng, 2000, {"x": -0.5, "y": 0.5})}


@pytest.fixture(scope="module")
def program():
    return cut_and_count_graph().compile()


def test_value_and_gradient_equal_a_handwritten_function(program, data):
    params = {"cut_x": np.float64(0.2), "cut_y": np.float64(-0.1)}
    value, grads = program.value_and_grad(params, data)
    with jax.enable_x64(True):
        expected, expected_grads = jax.value_and_grad(handwritten)(params, data)
    assert value == pytest.approx(float(expected), rel=1e-12)
    for name in params:
        assert grads[name] == pytest.approx(float(expected_grads[name]), rel=1e-10)


def test_jit_grad_and_vmap_work_on_the_program(program, data):
    params = program.init_params()
    assert float(jax.jit(program.value)(params, data)) == pytest.approx(float(program.value(params, data)))
    grads = jax.grad(program.value)(params, data)
    assert grads["cut_x"] == pytest.approx(float(program.grad(params, data)["cut_x"]))
    batch = {"cut_x": jnp.linspace(-0.5, 0.5, 4), "cut_y": jnp.zeros(4)}
    values = jax.vmap(program.value, in_axes=(0, None))(batch, data)
    singles = [program.value({"cut_x": float(x), "cut_y": 0.0}, data) for x in batch["cut_x"]]
    assert np.allclose(values, singles, rtol=1e-6)


def test_hard_mode_equals_a_numpy_reference(program, data):
    params = {"cut_x": 0.2, "cut_y": -0.1}
    counts = {}
    for sample, scale in SCALE.items():
        ev = data[sample]
        counts[sample] = scale * np.sum((ev["x"] >= 0.2) & (ev["y"] <= -0.1))
    s, b = counts["signal"], counts["background"]
    expected = -np.sqrt(2 * ((s + b) * np.log(1 + s / b) - s))
    assert float(program.evaluate(params, data, mode="hard")) == pytest.approx(expected, rel=1e-12)


def test_evaluate_returns_named_outputs(program, data):
    params = program.init_params()
    outputs = program.evaluate(params, data, mode="hard", outputs=["count[signal].count"])
    expected = SCALE["signal"] * np.sum((data["signal"]["x"] >= 0.1) & (data["signal"]["y"] <= 0.1))
    assert float(outputs["count[signal].count"]) == pytest.approx(expected)


def _random_graph(seed: int):
    """A random cut-and-count graph: random variables, cut directions, slopes and combination."""
    rng = np.random.default_rng(seed)
    variables = [f"v{i}" for i in range(rng.integers(1, 4))]
    samples = ["s0", "s1", "s2"][: rng.integers(2, 4)]
    with wf.Graph(f"random{seed}") as g:
        thresholds = {v: g.param(f"t_{v}", init=float(rng.normal(0, 0.5))) for v in variables}
        counts = []
        for sample in samples:
            events = g.source(sample, fields={v: "float64" for v in variables})
            weight = None
            for v in variables:
                cut = cuts.sigmoid(events[v], thresholds[v], keep=str(rng.choice(["above", "below"])),
                                   slope=float(rng.uniform(0.2, 1.0)))
                weight = cut if weight is None else weight * cut
            counts.append(histograms.count(float(rng.uniform(0.1, 2.0)) * weight))
        background = counts[1] if len(counts) == 2 else counts[1] + counts[2]
        objective = -metrics.asimov_significance(counts[0], background)
        if rng.random() < 0.5:
            objective = objective + counts[0] / background
    data = {s: {v: rng.normal(rng.normal(), 1.0, 300) for v in variables} for s in samples}
    return g.compile(objective=objective), data


@pytest.mark.parametrize("seed", range(6))
def test_gradient_equals_central_finite_differences_on_random_graphs(seed):
    program, data = _random_graph(seed)
    params = program.init_params()
    _, grads = program.value_and_grad(params, data)
    eps = 1e-6
    for name in params:
        up = dict(params, **{name: params[name] + eps})
        down = dict(params, **{name: params[name] - eps})
        numeric = (float(program.value(up, data)) - float(program.value(down, data))) / (2 * eps)
        assert float(grads[name]) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_sixty_four_bit_mode_is_scoped_to_the_program(program, data):
    value = program.value(program.init_params(), data)
    assert value.dtype == jnp.float64
    assert jnp.ones(1).dtype == jnp.float32  # the user's global setting is untouched


def test_float32_data_keeps_event_work_in_float32_and_sums_in_float64(rng):
    program = cut_and_count_graph("float32").compile()
    data32 = {"signal": gaussian_sample(rng, 100, {"x": 1.0, "y": -1.0}, np.float32),
              "background": gaussian_sample(rng, 100, {"x": -0.5, "y": 0.5}, np.float32)}
    outputs = program.evaluate(program.init_params(), data32, mode="soft",
                               outputs=["sigmoid[signal].weight", "count[signal].count"])
    assert outputs["sigmoid[signal].weight"].dtype == jnp.float32
    assert outputs["count[signal].count"].dtype == jnp.float64


def test_fixed_parameters_are_constants_and_bounds_are_kept_by_clip():
    with wf.Graph("g") as g:
        free = g.param("free", init=0.0, bounds=(-1.0, 1.0))
        fixed = g.param("fixed", init=2.0, trainable=False)
        g.set_objective(free * fixed)
    program = g.compile()
    assert set(program.init_params()) == {"free"}
    assert float(program.grad({"free": 0.3}, {})["free"]) == pytest.approx(2.0)
    assert float(program.clip({"free": 5.0})["free"]) == 1.0


def test_unknown_or_missing_parameters_are_rejected(program, data):
    with pytest.raises(KeyError, match=r"missing \['cut_y'\], unknown \['cut_z'\]"):
        program.value({"cut_x": 0.0, "cut_z": 1.0}, data)


def test_missing_sample_field_or_wrong_dtype_is_a_data_error(program, data):
    with pytest.raises(wf.DataError, match="no sample 'background'"):
        program.value(program.init_params(), {"signal": data["signal"]})
    with pytest.raises(wf.DataError, match="sample 'signal' has no field 'y'"):
        program.value(program.init_params(), {**data, "signal": {"x": data["signal"]["x"]}})
    wrong = {k: v.astype(np.float32) for k, v in data["signal"].items()}
    with pytest.raises(wf.DataError, match="expected dtype float64, found float32"):
        program.value(program.init_params(), {**data, "signal": wrong})


FEATURE_RUNS = []


@node("testfeatures.radius", kind="event", inputs={"x": Events, "y": Events}, outputs={"r": Events})
def radius(x, y, *, config):
    """A parameter-independent feature that records each time it is computed."""
    jax.debug.callback(lambda: FEATURE_RUNS.append(1))
    return jnp.sqrt(x**2 + y**2)


def test_parameter_independent_features_are_computed_once_per_dataset(data):
    with wf.Graph("cached") as g:
        t = g.param("t", init=1.0)
        counts = {}
        for sample in ("signal", "background"):
            events = g.source(sample, fields={"x": "float64", "y": "float64"})
            counts[sample] = histograms.count(cuts.sigmoid(radius(events["x"], events["y"]), t))
        g.set_objective(-metrics.asimov_significance(counts["signal"], counts["background"]))
    program = g.compile()
    assert program.plan.cached["signal"] == ("radius[signal]",)
    FEATURE_RUNS.clear()
    params = program.init_params()
    for _ in range(3):
        program.value_and_grad(params, data)
    jax.effects_barrier()
    assert len(FEATURE_RUNS) == 2  # one per sample, not one per step
    new_data = {s: {k: v + 0.0 for k, v in d.items()} for s, d in data.items()}
    program.value_and_grad(params, new_data)
    jax.effects_barrier()
    assert len(FEATURE_RUNS) == 4


def test_every_node_runs_under_a_named_scope(program, data):
    with jax.enable_x64(True):
        text = jax.jit(program._soft_objective).lower(program.init_params(), data).as_text(debug_info=True)
    for name in program.graph.nodes:
        assert f"/{name}/" in text
