"""The stats.* nodes run on arrays, equal pyhf on the same yields, and flow through a graph."""

import jax
import numpy as np
import pytest

import workflow as wf
from nodes.stats import graph_nodes as G
from workflow import REGISTRY

SIGNAL, BACKGROUND = np.array([5.0, 8.0]), np.array([50.0, 52.0])
UP, DOWN = BACKGROUND * 1.1, BACKGROUND * 0.9


def _pyhf_model(pyhf):
    return pyhf.Model({
        "channels": [{"name": "singlechannel", "samples": [
            {"name": "signal", "data": SIGNAL.tolist(), "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
            {"name": "background", "data": BACKGROUND.tolist(), "modifiers": [
                {"name": "background_shape", "type": "histosys", "data": {"hi_data": UP.tolist(), "lo_data": DOWN.tolist()}}]},
        ]}],
    }, poi_name="mu")


def test_every_stats_node_is_registered():
    expected = {"stats.simple_model", "stats.histfactory", "stats.cls", "stats.cls_expected", "stats.p0",
                "stats.z0", "stats.sigma_mu", "stats.fisher", "stats.upper_limit"}
    assert expected <= set(REGISTRY)


def test_expected_cls_node_equals_pyhf_on_background_only_asimov(tight_pyhf):
    model = _pyhf_model(tight_pyhf)
    asimov = model.expected_data([0.0] * model.config.npars)  # mu = 0, alpha = 0
    reference = tight_pyhf.infer.hypotest(1.0, asimov, model, test_stat="qtilde")
    with jax.enable_x64(True):
        ours = jax.jit(lambda *h: G.cls_expected(G.simple_model(*h)))(SIGNAL, BACKGROUND, UP, DOWN)
    assert float(ours) == pytest.approx(float(reference), rel=1e-5)


def test_histfactory_node_replaces_template_yields(all_modifiers_json):
    template = G.parse_workspace(all_modifiers_json)
    with jax.enable_x64(True):
        doubled = G.histfactory({"SR/signal": np.array([12.0, 22.0, 0.0])}, template=template)
    np.testing.assert_array_equal(np.asarray(doubled.yields["SR"]["signal"]["data"]), [12.0, 22.0, 0.0])
    assert doubled.spec.poi_name == "mu"


def test_graph_of_parameters_to_expected_cls_gives_gradients():
    with wf.Graph("stats") as g:
        signal = g.param("signal", init=SIGNAL)
        model = G.simple_model(signal, BACKGROUND, UP, DOWN)
        prog = g.compile(objective=G.cls_expected(model))
    value, grads = prog.value_and_grad({"signal": SIGNAL}, {})
    assert 0.0 < float(value) < 1.0
    assert np.all(np.asarray(grads["signal"]) < 0)  # more signal, smaller CLs
