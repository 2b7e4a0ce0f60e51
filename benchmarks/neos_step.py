"""One neos optimisation step as a diffdag graph: jitted value_and_grad of expected CLs.

The neos configuration: four 2-D Gaussian samples (identity covariance) with means signal
(-1, 1), background (1, -1), background-up (2.5, 2), background-down (-2.5, -1.5); an MLP
2-W-W-1 (ReLU, sigmoid output) scores each event; a binned-KDE histogram of the score
(4 bins on [0, 1], bandwidth 0.1) gives each sample's yields, scaled to signal 20 and
background 100 events (histogram x scale / events) plus 1e-3 per bin; the model has signal
x mu (normfactor) and a background histosys from up/down; the objective is the expected
CLs at mu = 1 with qmu on Asimov data at mu = 0 (``stats.cls_expected``, test_stat "q").

``pyhf_cls`` recomputes CLs with pyhf (numpy, tight fit) from the same yields.
Reference: relaxed 0.4's hand-written pipeline at width 32, 2000 events per sample:
1.46 ms per step, 5.9 s first call.

    python benchmarks/neos_step.py --events 2000 --width 32 [--steps 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import jax
import numpy as np

import workflow as wf
from nodes import histograms, observables
from nodes.stats import graph_nodes as stats

MEANS = {"signal": (-1.0, 1.0), "background": (1.0, -1.0), "background_up": (2.5, 2.0), "background_down": (-2.5, -1.5)}
EXPECTED = {"signal": 20.0, "background": 100.0, "background_up": 100.0, "background_down": 100.0}
EDGES = (0.0, 0.25, 0.5, 0.75, 1.0)


def make_samples(events: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        name: {f"x{i}": rng.normal(mean[i], 1.0, events).astype(np.float32) for i in range(2)}
        for name, mean in MEANS.items()
    }


def build_program(events: int, width: int, seed: int = 0):
    """The neos graph; returns (program, initial parameters, yields handles)."""
    init = observables.init_mlp([2, width, width, 1], seed=seed)
    with wf.Graph("neos") as g:
        network = g.param("nn", init=init)
        yields = {}
        for sample in MEANS:
            record = g.source(sample, fields={"x0": "float32", "x1": "float32"})
            score = observables.mlp(network, observables.stack(record, fields=("x0", "x1")))
            counts = histograms.kde(score, edges=EDGES, bandwidth=0.1)
            yields[sample] = counts * (EXPECTED[sample] / events) + 1e-3
        model = stats.simple_model(yields["signal"], yields["background"], yields["background_up"], yields["background_down"])
        g.set_objective(stats.cls_expected(model, test_stat="q"))
    return g.compile(), {"nn": init}, yields


def pyhf_cls(yields: dict) -> float:
    import pyhf

    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer(tolerance=1e-12))
    model = pyhf.Model({"channels": [{"name": "singlechannel", "samples": [
        {"name": "signal", "data": yields["signal"].tolist(), "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
        {"name": "background", "data": yields["background"].tolist(), "modifiers": [
            {"name": "background_shape", "type": "histosys",
             "data": {"hi_data": yields["background_up"].tolist(), "lo_data": yields["background_down"].tolist()}}]},
    ]}]}, poi_name="mu")
    asimov = model.expected_data([0.0] * model.config.npars)  # mu = 0, alpha = 0
    return float(pyhf.infer.hypotest(1.0, asimov, model, test_stat="q"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=2000, help="events per sample")
    p.add_argument("--width", type=int, default=32, help="hidden-layer width of the MLP")
    p.add_argument("--steps", type=int, default=200, help="timed steps (median reported)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args()
    warnings.filterwarnings("ignore")

    data = make_samples(args.events)
    start = time.perf_counter()
    program, params, yields = build_program(args.events, args.width)
    value, grads = program.value_and_grad(params, data)
    jax.block_until_ready(grads)
    first_call_s = time.perf_counter() - start

    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        jax.block_until_ready(program.value_and_grad(params, data))
        times.append(time.perf_counter() - t0)
    step_median_s = statistics.median(times)

    outputs = program.evaluate(params, data, mode="soft", outputs=list(yields.values()))
    numbers = {name: np.asarray(value, dtype=np.float64) for name, value in zip(yields, outputs.values())}
    reference = pyhf_cls(numbers)
    cls = float(value)

    print(f"neos step: {args.events} events/sample, MLP 2-{args.width}-{args.width}-1, 4-bin KDE, expected CLs (qmu)")
    print(f"{'first call [s]':>15} {'step median [ms]':>17} {'CLs':>12} {'pyhf CLs':>12} {'rel diff':>10}")
    print(f"{first_call_s:>15.2f} {step_median_s * 1e3:>17.3f} {cls:>12.8f} {reference:>12.8f} {abs(cls - reference) / reference:>10.2e}")
    print("reference (relaxed 0.4, width 32, 2000 events): 1.46 ms per step, 5.9 s first call")
    if args.json:
        print(json.dumps({"events": args.events, "width": args.width, "first_call_s": first_call_s,
                          "step_median_s": step_median_s, "cls": cls, "pyhf_cls": reference}))


if __name__ == "__main__":
    main()
