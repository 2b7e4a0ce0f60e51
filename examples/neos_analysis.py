"""The neos configuration as diffdag graphs, with a choice of training loss.

Four 2-D Gaussian samples (identity covariance): signal (-1, 1), background (1, -1) and
the background's shape variations up (2.5, 2) and down (-2.5, -1.5). A network scores
each event; a soft histogram of the score gives each sample's yields (signal 20 and
background 100 events, plus 1e-3 per bin); the model is signal x mu over a background
with a histosys from up/down. The losses:

- ``cls``: expected CLs at mu = 1 (neos), KDE histogram of a sigmoid score;
- ``z0``: minus the expected discovery significance, same histogram;
- ``inferno``: the expected uncertainty on mu (sigma_mu) from the Fisher information,
  with softmax binning of a 4-output network (INFERNO);
- ``bce``: binary cross-entropy of signal against nominal background (the classifier).

Every graph carries the same figures (CLs, p0, sigma_mu), so a trained network is judged
the same way whatever it was trained on: with hard histograms on held-out events.
"""

from __future__ import annotations

import time

import numpy as np
import optax

import workflow as wf
from nodes import histograms, metrics, observables
from nodes.stats import graph_nodes as stats
from workflow.optimize import optimize

MEANS = {"signal": (-1.0, 1.0), "background": (1.0, -1.0),
         "background_up": (2.5, 2.0), "background_down": (-2.5, -1.5)}
EXPECTED = {"signal": 20.0, "background": 100.0, "background_up": 100.0, "background_down": 100.0}
BINS = 4
EDGES = tuple(np.linspace(0.0, 1.0, BINS + 1))
LOSSES = ("cls", "z0", "inferno", "bce")


def make_samples(events: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """``events`` rows of every sample, float32 columns x0 and x1."""
    rng = np.random.default_rng(seed)
    return {name: {f"x{i}": rng.normal(mean[i], 1.0, events).astype(np.float32) for i in range(2)}
            for name, mean in MEANS.items()}


def build_program(loss: str, events: int, width: int, seed: int = 0) -> wf.Program:
    """The neos graph minimising ``loss``; ``events`` per sample set the yield normalisation."""
    inferno = loss == "inferno"
    sizes = [2, width, width, BINS if inferno else 1]
    with wf.Graph(f"neos_{loss}") as g:
        network = g.param("nn", init=observables.init_mlp(sizes, seed=seed))
        yields, cross_entropy = {}, []
        for sample in MEANS:
            record = g.source(sample, fields={"x0": "float32", "x1": "float32"})
            features = observables.stack(record, fields=("x0", "x1"))
            if inferno:
                scores = observables.mlp(network, features, output_activation="identity")
                counts = histograms.softmax(scores, temperature=0.1)
            else:
                score = observables.mlp(network, features)
                counts = histograms.kde(score, edges=EDGES, bandwidth=0.1)
                if sample in ("signal", "background"):
                    target = 1.0 if sample == "signal" else 0.0
                    cross_entropy.append(metrics.binary_cross_entropy(score, target=target))
            yields[sample] = counts * (EXPECTED[sample] / events) + 1e-3
        model = stats.simple_model(yields["signal"], yields["background"],
                                   yields["background_up"], yields["background_down"], name="model")
        figures = {
            "cls": stats.cls_expected(model, test_stat="q", name="cls"),
            "z0": stats.z0(model, name="z0"),
            "inferno": stats.sigma_mu(model, name="sigma_mu"),
            "p0": stats.p0(model, name="p0"),
        }
        if loss == "bce":
            objective = (cross_entropy[0] + cross_entropy[1]) / (2.0 * events)
        elif loss == "z0":
            objective = -figures["z0"]
        else:
            objective = figures[loss]
        g.set_objective(objective)
    return g.compile()


FIGURES = ("cls.cls", "p0.p0", "sigma_mu.sigma", "z0.z0")


def hard_figures(program: wf.Program, params, data) -> dict[str, float]:
    """CLs, p0, sigma_mu and Z0 with hard histograms (argmax bins for INFERNO)."""
    values = program.evaluate(params, data, mode="hard", outputs=FIGURES)
    return {key.split(".")[0]: float(value) for key, value in values.items()}


def train(program: wf.Program, steps: int, batch: int, learning_rate: float, seed: int = 1):
    """Adam on fresh batches of ``batch`` events per sample each step; returns params and history."""
    result = optimize(program, lambda step: make_samples(batch, seed + step), steps, optax.adam(learning_rate),
                      progress=False, hard_every=steps + 1)
    return result.params, [record["objective"] for record in result.history]


def run(loss: str, width: int, steps: int, batch: int = 2000, learning_rate: float = 1e-3,
        test_events: int = 100_000) -> dict:
    """Train one network and judge it before and after on held-out events with hard histograms."""
    program = build_program(loss, batch, width)
    test_program = build_program(loss, test_events, width)
    test = make_samples(test_events, seed=10_000)
    before = hard_figures(test_program, program.init_params(), test)
    start = time.perf_counter()
    params, history = train(program, steps, batch, learning_rate)
    elapsed = time.perf_counter() - start
    after = hard_figures(test_program, params, test)
    return {"loss": loss, "width": width, "steps": steps, "before": before, "after": after,
            "train_s": elapsed, "history": history}
