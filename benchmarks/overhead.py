"""Overhead of a compiled graph against the same analysis written by hand in JAX.

The analysis: per sample, a parameter-independent feature (the radius sqrt(x^2 + y^2)),
soft cuts on the radius and on x, a weighted count, and the Asimov significance. The
Program's jitted ``value_and_grad`` is timed against ``jax.jit(jax.value_and_grad(f))``
of a hand-written ``f`` doing the same work (features computed once, outside the step, as
the Program does), side by side in one run. A third column times the Program without its
feature cache, which is what re-computing features every step would cost.

    python benchmarks/overhead.py [--calls 50] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import workflow as wf
from nodes import cuts, histograms, metrics
from workflow import Events, node

SCALE = {"signal": 50.0, "background": 1000.0}


@node("bench.radius", kind="event", inputs={"x": Events, "y": Events}, outputs={"r": Events})
def radius(x, y, *, config):
    """Distance from the origin in the (x, y) plane."""
    return jnp.sqrt(x**2 + y**2)


def build_program(n_events: int) -> wf.Program:
    with wf.Graph("overhead") as g:
        cut_r = g.param("cut_r", init=1.0)
        cut_x = g.param("cut_x", init=0.0)
        counts = {}
        for sample, scale in SCALE.items():
            events = g.source(sample, fields={"x": "float32", "y": "float32"})
            r = radius(events["x"], events["y"])
            weight = (scale / n_events) * cuts.sigmoid(r, cut_r, keep="below", slope=0.2)
            weight = weight * cuts.sigmoid(events["x"], cut_x, keep="above", slope=0.2)
            counts[sample] = histograms.count(weight)
        g.set_objective(-metrics.asimov_significance(counts["signal"], counts["background"]))
    return g.compile()


def handwritten_objective(n_events: int):
    def objective(params, features):
        counts = {}
        for sample, scale in SCALE.items():
            r, x = features[sample]
            w = (scale / n_events) * jax.nn.sigmoid((params["cut_r"].astype(r.dtype) - r) / 0.2)
            w = w * jax.nn.sigmoid((x - params["cut_x"].astype(x.dtype)) / 0.2)
            counts[sample] = jnp.sum(w.astype(jnp.float64))
        s, b = counts["signal"], jnp.maximum(counts["background"], 1e-6)
        q = 2 * jnp.sum((s + b) * jnp.log1p(s / b) - s)
        return -jnp.where(q > 0, jnp.sqrt(jnp.where(q > 0, q, 1.0)), 0.0)

    return jax.jit(jax.value_and_grad(objective))


def median_seconds(calls: int, **candidates) -> dict[str, float]:
    """Median time of each candidate, calls interleaved so machine noise hits all alike."""
    for call in candidates.values():
        jax.block_until_ready(call())  # compile and warm up
    times = {name: [] for name in candidates}
    for _ in range(calls):
        for name, call in candidates.items():
            start = time.perf_counter()
            jax.block_until_ready(call())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def measure(n_events: int, calls: int) -> dict:
    rng = np.random.default_rng(0)
    data = {s: {"x": rng.normal(m, 1, n_events).astype(np.float32),
                "y": rng.normal(m, 1, n_events).astype(np.float32)} for s, m in (("signal", 0.5), ("background", 0))}
    program = build_program(n_events)
    prepared = program.prepare(data)
    with jax.enable_x64(True):
        # device arrays, as parameters are after the first optimiser update
        params = {k: jnp.asarray(v) for k, v in program.init_params().items()}
        step = handwritten_objective(n_events)
        features = {s: (jnp.sqrt(d["x"] ** 2 + d["y"] ** 2), jnp.asarray(d["x"])) for s, d in data.items()}

    def handwritten():
        with jax.enable_x64(True):
            return step(params, features)

    def uncached():  # the jitted step fed raw data computes the features on every call
        with jax.enable_x64(True):
            return program._value_and_grad(params, data)

    times = median_seconds(calls, program=lambda: program.value_and_grad(params, data),
                           handwritten=handwritten, uncached=uncached)
    check = float(program.value_and_grad(params, prepared)[0])
    with jax.enable_x64(True):
        assert abs(check - float(step(params, features)[0])) < 1e-6 * abs(check)
    return {"events": n_events, "program_s": times["program"], "handwritten_s": times["handwritten"],
            "ratio": times["program"] / times["handwritten"], "uncached_s": times["uncached"]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--events", type=float, nargs="*", default=[1e3, 1e4, 1e5, 1e6])
    args = parser.parse_args(argv)

    rows = [measure(int(n), args.calls) for n in args.events]
    print(f"{'events':>9} {'program_s':>12} {'handwritten_s':>14} {'ratio':>7} {'uncached_s':>12}")
    for row in rows:
        print(f"{row['events']:>9} {row['program_s']:12.6f} {row['handwritten_s']:14.6f} "
              f"{row['ratio']:7.3f} {row['uncached_s']:12.6f}")
    result = {"rows": rows, "max_ratio": max(r["ratio"] for r in rows)}
    print(f"max_ratio = {result['max_ratio']:.3f} (median of {args.calls} calls each)")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
