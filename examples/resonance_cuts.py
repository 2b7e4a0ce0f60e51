"""Cut optimisation on a resonance search, by gradient and by brute-force grid scan.

The events (examples/resonance_sample.py) are written to ROOT files with uproot and read
back through diffdag's ROOT source. Four cuts: a window on the diphoton invariant mass,
a lower cut on the leading photon's pt / mass, an upper cut on delta-R. The objective is
the Asimov discovery significance with the background-shape systematic as its
uncertainty. The gradient result is compared, in hard mode on the same events, with the
best point of a grid scan of the hard cuts.

    python examples/resonance_cuts.py [--events 200000] [--steps 150] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import workflow as wf
from resonance_sample import BRANCHES, OBJECTS, write_root
from nodes import cuts, histograms, kinematics, metrics
from workflow.execute import Root, chunks
from workflow.optimize import optimize

EXPECTED = {"signal": 60.0, "background": 20000.0}  # events in the full samples
# name: (initial value, bounds, learning rate): Adam moves each by about its rate per step
CUTS = {
    "m_low": (115.0, (100.0, 125.0), 0.3),
    "m_high": (135.0, (125.0, 150.0), 0.3),
    "pt_over_m": (0.2, (0.0, 0.8), 0.005),
    "dr_max": (4.5, (1.5, 6.0), 0.02),
}
SLOPES = {"mass": 1.0, "pt_over_m": 0.02, "delta_r": 0.05}


def build_graph() -> wf.Graph:
    """Soft cuts on mass, pt/m and delta-R; Z_A with the shape systematic as uncertainty."""
    fields = {branch: "float32" for branch in BRANCHES}
    with wf.Graph("resonance_cuts") as g:
        p = {name: g.param(name, init=init, bounds=bounds) for name, (init, bounds, _) in CUTS.items()}
        counts = {}
        for sample in EXPECTED:
            events = g.source(sample, fields={**fields, "weight": "float32"})
            mass = kinematics.invariant_mass(events, objects=OBJECTS)
            delta_r = kinematics.delta_r(events, objects=OBJECTS)
            pt_over_m = events[f"{OBJECTS[0]}_pt"] / mass
            passed = cuts.combine(
                cuts.window(mass, p["m_low"], p["m_high"], slope=SLOPES["mass"]),
                cuts.sigmoid(pt_over_m, p["pt_over_m"], keep="above", slope=SLOPES["pt_over_m"]),
                cuts.sigmoid(delta_r, p["dr_max"], keep="below", slope=SLOPES["delta_r"]),
            )
            weight = passed * events["weight"]
            counts[sample] = histograms.count(weight)
            if sample == "background":
                up = histograms.count(weight * events["weight_up"], name="count_up[background]")
                down = histograms.count(weight * events["weight_down"], name="count_down[background]")
                mc_variance = histograms.count(weight * weight, name="sumw2[background]")
        # the shape systematic and the background's limited Monte Carlo statistics
        shape = 0.5 * (up - down)
        variance = shape * shape + mc_variance
        z = metrics.asimov_significance_uncertain(counts["signal"], counts["background"], variance)
        g.set_objective(-z)
    return g


def root_sources(paths: dict[str, Path], n_events: int, step_size: int = 50_000) -> dict[str, Root]:
    """The ROOT files as sources, normalised to the expected yields, read ``step_size`` events at a time."""
    return {s: Root(paths=[str(path)], tree="events", step_size=step_size, scale=EXPECTED[s] / n_events)
            for s, path in paths.items()}


def optimise(program: wf.Program, data, steps: int):
    """Adam with a learning rate per cut (GeV for the mass window, unitless for the others)."""
    optimizer = optax.multi_transform({n: optax.adam(rate) for n, (_, _, rate) in CUTS.items()},
                                      {n: n for n in CUTS})
    result = optimize(program, lambda step: data, steps, optimizer, progress=False, hard_every=steps + 1)
    return {n: float(v) for n, v in result.params.items()}


GRID_RANGES = {"m_low": (115.0, 124.0), "m_high": (126.0, 135.0), "pt_over_m": (0.0, 0.72), "dr_max": (2.3, 5.0)}


def grid_scan(program: wf.Program, arrays, points_per_cut: int, batch: int = 64):
    """The hard significance at every grid point, evaluated by the same program in hard mode."""
    axes = [np.linspace(low, high, points_per_cut) for low, high in GRID_RANGES.values()]
    points = np.array(list(itertools.product(*axes)))
    hard = jax.vmap(lambda p: program.evaluate(p, arrays, mode="hard"))
    values = []
    with jax.enable_x64(True):
        for start in range(0, len(points), batch):
            block = points[start:start + batch]
            values.append(np.asarray(hard({n: jnp.asarray(block[:, i]) for i, n in enumerate(GRID_RANGES)})))
    values = -np.concatenate(values)
    best = int(np.argmax(values))
    return dict(zip(GRID_RANGES, points[best])), float(values[best]), len(points)


def read_arrays(sources: dict[str, Root], graph: wf.Graph) -> dict[str, dict[str, np.ndarray]]:
    """All events of each source in memory, through the same reader the executors use."""
    out = {}
    for sample, source in sources.items():
        pieces = source.pieces(1 << 62)
        parts = [chunks.read_fields(sample, source, piece, graph.sources[sample].fields) for piece in pieces]
        out[sample] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per sample")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--data", type=Path, default=None, help="folder for the ROOT files (default: temporary)")
    parser.add_argument("--grid", type=int, default=10, help="grid points per cut")
    parser.add_argument("--quick", action="store_true", help="fewer events, steps and grid points, for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.steps, args.grid = 60_000, 100, 6

    with tempfile.TemporaryDirectory() as scratch:
        paths = write_root(args.data or Path(scratch), args.events)
        graph = build_graph()
        program = graph.compile()
        sources = root_sources(paths, args.events)

        start = time.perf_counter()
        params = optimise(program, sources, args.steps)
        gradient_s = time.perf_counter() - start
        z_before = -float(program.evaluate(program.init_params(), sources, mode="hard"))
        z_gradient = -float(program.evaluate(params, sources, mode="hard"))

        arrays = read_arrays(sources, graph)
        start = time.perf_counter()
        grid_best, z_grid, n_grid = grid_scan(program, arrays, args.grid)
        grid_s = time.perf_counter() - start

    print(f"{'':<10} {'m_low':>7} {'m_high':>7} {'pt/m':>6} {'dR_max':>7} {'hard Z':>7} {'evaluations':>12} {'time_s':>7}")
    for label, cut, z, n, t in (("initial", {n: c[0] for n, c in CUTS.items()}, z_before, 1, 0.0),
                                ("gradient", params, z_gradient, args.steps, gradient_s),
                                ("grid", grid_best, z_grid, n_grid, grid_s)):
        print(f"{label:<10} {cut['m_low']:7.2f} {cut['m_high']:7.2f} {cut['pt_over_m']:6.3f} "
              f"{cut['dr_max']:7.2f} {z:7.3f} {n:12d} {t:7.1f}")
    print(f"gradient / grid significance: {z_gradient / z_grid:.3f}")
    return {"z_before": z_before, "z_gradient": z_gradient, "z_grid": z_grid, "params": params,
            "grid_best": grid_best, "gradient_evaluations": args.steps, "grid_evaluations": n_grid}


if __name__ == "__main__":
    main()
