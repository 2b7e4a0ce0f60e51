"""The optimisation loop: steps, bounds, history, checkpoints, resume and NaN stops."""

import json

import numpy as np
import optax
import pytest

import workflow as wf
from nodes import cuts, histograms, metrics, observables
from workflow.checkpoint import latest_step
from workflow.optimize import Batches, optimize


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {s: {"x": rng.normal(m, 1, 4000).astype("float32"), "y": rng.normal(m, 1, 4000).astype("float32")}
            for s, m in (("signal", 1.0), ("background", -1.0))}


@pytest.fixture(scope="module")
def program():
    with wf.Graph("opt") as g:
        cut = g.param("cut", init=0.0, bounds=(-0.5, 0.5))
        net = g.param("net", init=observables.init_mlp([2, 4, 1], seed=0))
        counts = {}
        for sample in ("signal", "background"):
            events = g.source(sample, fields={"x": "float32", "y": "float32"})
            score = observables.mlp(net, observables.stack(events, fields=("x", "y")))
            weight = cuts.sigmoid(events["x"], cut, slope=0.3) * cuts.sigmoid(score, 0.5, slope=0.1)
            counts[sample] = histograms.count(weight)
        g.set_objective(-metrics.asimov_significance(counts["signal"] * 0.01, counts["background"] * 0.05))
    return g.compile()


def test_resumed_run_ends_with_the_parameters_of_an_uninterrupted_run(program, data, tmp_path):
    settings = {"optimizer": optax.adam(0.05), "batch_size": 500, "seed": 3, "checkpoint_every": 4,
                "progress": False}
    straight = optimize(program, data, 12, out=tmp_path / "straight", **settings)
    optimize(program, data, 8, out=tmp_path / "resumed", **settings)  # stops after 8 steps, as if killed
    resumed = optimize(program, data, 12, out=tmp_path / "resumed", resume=True, **settings)
    assert resumed.steps == 12 and [r["step"] for r in resumed.history] == list(range(12))
    for a, b in zip(*(jax_leaves(r.params) for r in (straight, resumed))):
        np.testing.assert_array_equal(a, b)


def jax_leaves(tree):
    import jax

    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def test_parameters_stay_inside_their_bounds(program, data):
    result = optimize(program, data, 10, optax.sgd(50.0), batch_size=500, progress=False)
    assert -0.5 <= float(result.params["cut"]) <= 0.5
    assert all(-0.5 <= r["params"]["cut"] <= 0.5 for r in result.history)


def test_history_records_soft_and_hard_objective_gradient_norm_and_time(program, data):
    history = optimize(program, data, 3, optax.adam(0.01), batch_size=500, progress=False).history
    assert [r["step"] for r in history] == [0, 1, 2]
    for record in history:
        assert np.isfinite([record["objective"], record["objective_hard"], record["grad_norm"], record["time"]]).all()
        assert "cut" in record["params"] and "net" in record["param_norms"]


def test_checkpoints_are_npz_and_json_and_load_without_pickle(program, data, tmp_path):
    optimize(program, data, 6, optax.adam(0.01), batch_size=500, checkpoint_every=2, out=tmp_path, progress=False)
    assert latest_step(tmp_path) == 6
    folders = sorted((tmp_path / "checkpoints").glob("step-*"))
    assert [f.name for f in folders] == ["step-000004", "step-000006"]  # the newest two are kept
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == ["opt_state.npz", "params.npz", "state.json"]
        with np.load(folder / "params.npz", allow_pickle=False) as stored:
            assert len(stored.files) == 5  # cut + 2 layers x (w, b)
        json.loads((folder / "state.json").read_text())
    assert not list((tmp_path / "checkpoints").glob(".*"))  # no temporary files left


class NaNAfter:
    """A stand-in program whose objective turns NaN from step ``n`` on."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def init_params(self):
        return {"a": np.asarray(1.0)}

    def value_and_grad(self, params, data):
        self.calls += 1
        value = float("nan") if self.calls > self.n else float(params["a"]) ** 2
        return value, {"a": 2 * params["a"]}

    def evaluate(self, params, data, mode="hard"):
        return float(params["a"]) ** 2

    def clip(self, params):
        return params


def test_nan_objective_stops_the_run_and_keeps_the_last_good_parameters():
    result = optimize(NaNAfter(3), lambda step: {}, 10, optax.sgd(0.1), progress=False)
    assert result.steps == 3 and "not finite at step 3" in result.stopped
    assert float(result.params["a"]) == pytest.approx(1.0 * 0.8**3)


def test_batches_depend_only_on_seed_and_step(data):
    a, b = Batches(data, 100, seed=1), Batches(data, 100, seed=1)
    np.testing.assert_array_equal(a(5)["signal"]["x"], b(5)["signal"]["x"])
    assert not np.array_equal(a(5)["signal"]["x"], a(6)["signal"]["x"])
    assert len(a(0)["background"]["y"]) == 100
