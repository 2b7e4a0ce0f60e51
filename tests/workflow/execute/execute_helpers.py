"""Helpers of the execute tests: a small NN + soft cut + KDE graph and its data."""

import numpy as np
import workflow as wf
from nodes import cuts, histograms, metrics, observables

SAMPLES = {"signal": (1.0, -1.0), "background": (-1.0, 1.0)}
FIELDS = {"x": "float32", "y": "float32", "weight": "float32"}


def build_graph(width: int = 8) -> wf.Graph:
    """MLP score of (x, y), a sigmoid cut on x times the event weight, a weighted KDE, Asimov Z."""
    with wf.Graph("execute_test") as g:
        threshold = g.param("cut_x", init=-0.5)
        net = g.param("nn", init=observables.init_mlp([2, width, width, 1], seed=1))
        counts = {}
        for sample in SAMPLES:
            events = g.source(sample, fields=FIELDS)
            score = observables.mlp(net, observables.stack(events, fields=("x", "y")))
            weight = cuts.sigmoid(events["x"], threshold, slope=0.5) * events["weight"]
            counts[sample] = histograms.kde(score, weight, edges=(0.0, 0.25, 0.5, 0.75, 1.0), bandwidth=0.1,
                                            name=f"kde_{sample}")
        z = metrics.asimov_significance(counts["signal"], counts["background"])
    g.set_objective(-z)
    return g


def make_data(n: int = 1010, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    return {s: {"x": rng.normal(mx, 1, n).astype("float32"), "y": rng.normal(my, 1, n).astype("float32"),
                "weight": rng.uniform(0.5, 1.5, n).astype("float32")} for s, (mx, my) in SAMPLES.items()}


def max_rel_diff(a, b) -> float:
    """Largest |a - b| over all leaves, relative to the largest |b| of the same leaf."""
    import jax

    out = 0.0
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        out = max(out, float(np.max(np.abs(x - y)) / max(np.max(np.abs(y)), 1e-300)))
    return out


