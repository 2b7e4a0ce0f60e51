"""Small cut-and-count graphs and toy data for the picture and gradient-flow tests."""

import numpy as np

import workflow as wf
from nodes import metrics
from workflow.node import lookup

SAMPLES = ("signal", "background")


def cut_graph(cut_op="cuts.sigmoid", hist_op="histograms.kde", samples=SAMPLES, extra_param=False):
    """A cut on x (threshold = param 'cut_x') then a histogram of x, per sample, into Asimov Z."""
    with wf.Graph("cut_and_hist") as g:
        threshold = g.param("cut_x", init=0.0, bounds=(-3, 3))
        if extra_param:
            g.param("unused", init=1.0)
            g.param("fixed_shift", init=0.5, trainable=False)
        counts = {}
        for sample in samples:
            events = g.source(sample, fields={"x": "float32"})
            weight = g.add_node(cut_op, {"x": events["x"], "threshold": threshold}, config={"slope": 0.3})
            counts[sample] = g.add_node(hist_op, {"x": events["x"], "weight": weight},
                                        config={"edges": (-3.0, -1.0, 0.0, 1.0, 3.0), "bandwidth": 0.3})
        z = metrics.asimov_significance(counts[samples[0]], counts[samples[-1]])
        g.set_objective(-z)
    return g


def scaled_hist_graph(hist_op="histograms.kde"):
    """A trainable scale multiplies x before the histogram: the histogram is on its only path."""
    with wf.Graph("scaled_hist") as g:
        scale = g.param("scale", init=1.2)
        counts = {}
        for sample in SAMPLES:
            events = g.source(sample, fields={"x": "float32"})
            counts[sample] = g.add_node(hist_op, {"x": events["x"] * scale},
                                        config={"edges": (-3.0, -1.0, 0.0, 1.0, 3.0), "bandwidth": 0.3})
        g.set_objective(-metrics.asimov_significance(counts["signal"], counts["background"]))
    return g


def toy_data(samples=SAMPLES, n=400):
    rng = np.random.default_rng(7)
    means = {"signal": 1.0, "background": -1.0}
    return {s: {"x": rng.normal(means.get(s, 0.0), 1.0, n).astype("float32")} for s in samples}


def trainable_edges_graph(hist_op="histograms.kde"):
    """Bin edges from a trainable vector (a parameter-stage node) feed each sample's histogram."""
    from nodes.binning import raw_from_edges

    with wf.Graph("trainable_edges") as g:
        raw = g.param("raw_edges", init=raw_from_edges([-3.0, -1.0, 0.0, 1.0, 3.0], low=-3.0, high=3.0))
        edges = g.add_node("histograms.increasing_edges", {"raw": raw}, config={"low": -3.0, "high": 3.0})
        counts = {}
        for sample in SAMPLES:
            events = g.source(sample, fields={"x": "float32"})
            port = "trainable_edges" if "trainable_edges" in lookup(hist_op).inputs else "edges"
            counts[sample] = g.add_node(hist_op, {"x": events["x"], port: edges}, config={"bandwidth": 0.3})
        g.set_objective(-metrics.asimov_significance(counts["signal"], counts["background"]))
    return g
