"""The graphs of graphs/*.yaml written with the Python DSL, for the round-trip tests."""

from pathlib import Path

import workflow as wf
from nodes import cuts, histograms, metrics, observables
from nodes.stats import graph_nodes as stats

GRAPHS = Path(__file__).resolve().parents[3] / "graphs"


def cut_optimisation() -> wf.Graph:
    with wf.Graph("cut_optimisation") as g:
        cut_x = g.param("cut_x", init=0.0, bounds=(-3, 3), doc="keep events with x above this")
        cut_y = g.param("cut_y", init=-1.0, bounds=(-3, 3), doc="keep events with y above this")
        scales = {
            "signal": g.param("signal_scale", init=0.005, trainable=False,
                              doc="expected signal events per generated event"),
            "background": g.param("background_scale", init=0.05, trainable=False,
                                  doc="expected background events per generated event"),
        }
        yields = {}
        for sample in ("signal", "background"):
            events = g.source(sample, fields={"x": "float32", "y": "float32"})
            pass_x = cuts.sigmoid(events["x"], cut_x, slope=0.2, name=f"pass_x[{sample}]")
            pass_y = cuts.sigmoid(events["y"], cut_y, slope=0.2, name=f"pass_y[{sample}]")
            selected = g.add_node("arith.mul_events", {"a": pass_x, "b": pass_y}, name=f"selected[{sample}]")
            count = histograms.count(selected, name=f"count[{sample}]")
            yields[sample] = g.add_node("arith.mul", {"a": count, "b": scales[sample]}, name=f"yield[{sample}]")
        z = metrics.asimov_significance(yields["signal"], yields["background"], name="significance")
        loss = g.add_node("arith.neg", {"x": z}, name="loss")
        g.set_objective(loss)
    return g


SAMPLES = ("signal", "background", "background_up", "background_down")
SCALE = {"signal": 0.01, "background": 0.05, "background_up": 0.05, "background_down": 0.05}


def _network_yields(g, network, binning):
    """Per sample: MLP score of (x, y), binned by ``binning(score)``, scaled to expected events + 0.001."""
    yields = {}
    for sample in SAMPLES:
        events = g.source(sample, fields={"x": "float32", "y": "float32"})
        features = observables.stack(events, fields=("x", "y"))
        counts = binning(sample, features)
        scaled = g.add_node("arith.mul", {"a": counts, "b": SCALE[sample]}, name=f"scaled[{sample}]")
        yields[sample] = g.add_node("arith.add", {"a": scaled, "b": 0.001}, name=f"yield[{sample}]")
    model = stats.simple_model(yields["signal"], yields["background"], yields["background_up"],
                               yields["background_down"], name="model")
    return model


def neos() -> wf.Graph:
    with wf.Graph("neos") as g:
        network = g.param("network", init=observables.init_mlp([2, 32, 32, 1], seed=0),
                          doc="MLP 2-32-32-1, ReLU, sigmoid output")

        def kde(sample, features):
            score = observables.mlp(network, features, activation="relu", output_activation="sigmoid")
            return histograms.kde(score, edges=(0.0, 0.25, 0.5, 0.75, 1.0), bandwidth=0.1)

        model = _network_yields(g, network, kde)
        cls = stats.cls_expected(model, test_poi=1.0, test_stat="q", name="cls")
        stats.z0(model, name="z0")
        stats.sigma_mu(model, name="sigma_mu")
        g.set_objective(cls)
    return g


def inferno() -> wf.Graph:
    with wf.Graph("inferno") as g:
        network = g.param("network", init=observables.init_mlp([2, 32, 32, 4], seed=0),
                          doc="MLP 2-32-32-4, ReLU, logits out")

        def softmax(sample, features):
            logits = observables.mlp(network, features, activation="relu", output_activation="identity")
            return histograms.softmax(logits, temperature=0.5)

        model = _network_yields(g, network, softmax)
        sigma = stats.sigma_mu(model, name="sigma_mu")
        stats.z0(model, name="z0")
        stats.cls_expected(model, test_poi=1.0, test_stat="q", name="cls")
        g.set_objective(sigma)
    return g


BUILDERS = {"cut_optimisation": cut_optimisation, "neos": neos, "inferno": inferno}
