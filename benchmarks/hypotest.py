"""diffdag's jitted hypotest against pyhf.infer.hypotest (numpy backend), side by side.

Workspaces of 1, 10 and 100 bins: signal x mu with a normsys, background with a histosys
and a per-bin shapesys (pyhf's uncorrelated-background model plus two systematics), so
the model has nbins + 3 parameters. Both compute observed CLs and the expected band at
mu = 1 with qtilde.

Timing: medians of repeated calls; diffdag after compilation (compile time shown
separately), pyhf with its default optimizer settings (as users run it).
Agreement: ``max_rel_diff`` is the largest relative difference over CLs_obs and CLs_exp
against pyhf with a tight fit (scipy tolerance 1e-12): at its default tolerance pyhf itself
is only good to a few 1e-5 on such models.

    python benchmarks/hypotest.py [--bins 1 10 100] [--repeats 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import jax
import numpy as np


def make_workspace(nbins: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    signal = rng.uniform(2.0, 10.0, nbins)
    background = rng.uniform(40.0, 80.0, nbins)
    shape = rng.uniform(0.9, 1.1, nbins)
    observed = np.round(background + 0.5 * signal + rng.normal(0, 3.0, nbins)).clip(0)
    return {
        "channels": [{"name": "SR", "samples": [
            {"name": "signal", "data": signal.tolist(), "modifiers": [
                {"name": "mu", "type": "normfactor", "data": None},
                {"name": "sig_xsec", "type": "normsys", "data": {"hi": 1.05, "lo": 0.94}}]},
            {"name": "background", "data": background.tolist(), "modifiers": [
                {"name": "bkg_shape", "type": "histosys", "data": {"hi_data": (background * shape).tolist(),
                                                                   "lo_data": (background / shape).tolist()}},
                {"name": "bkg_stat", "type": "shapesys", "data": (0.08 * background).tolist()}]},
        ]}],
        "observations": [{"name": "SR", "data": observed.tolist()}],
        "measurements": [{"name": "meas", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }


def _median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_diffdag(obj: dict, repeats: int):
    from nodes.stats.bound import model_from_workspace
    from nodes.stats.inference import hypotest
    from nodes.stats.workspace import parse_workspace

    with jax.enable_x64(True):
        model, data = model_from_workspace(parse_workspace(obj))
        spec = model.spec
        compiled = jax.jit(lambda d, y: hypotest(spec, 1.0, d, y, "qtilde"))
        start = time.perf_counter()
        result = jax.block_until_ready(compiled(data, model.yields))
        compile_s = time.perf_counter() - start
        seconds = _median_time(lambda: jax.block_until_ready(compiled(data, model.yields)), repeats)
    values = np.concatenate([[float(result["CLs_obs"])], np.asarray(result["CLs_exp"])])
    return seconds, compile_s, values


def time_pyhf(obj: dict, repeats: int):
    import pyhf

    ws = pyhf.Workspace(obj)
    model = ws.model()
    data = ws.data(model)
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer(tolerance=1e-12))
    tight_obs, tight_exp = pyhf.infer.hypotest(1.0, data, model, test_stat="qtilde", return_expected_set=True)
    pyhf.set_backend("numpy", "scipy")
    run = lambda: pyhf.infer.hypotest(1.0, data, model, test_stat="qtilde", return_expected_set=True)
    seconds = _median_time(run, repeats)
    return seconds, np.concatenate([[float(tight_obs)], np.ravel(tight_exp)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bins", type=int, nargs="+", default=[1, 10, 100])
    p.add_argument("--repeats", type=int, default=20, help="timed calls of diffdag per workspace")
    p.add_argument("--pyhf-repeats", type=int, default=5, help="timed calls of pyhf per workspace")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args()
    warnings.filterwarnings("ignore")

    rows = []
    print(f"{'bins':>5} {'pars':>5} {'diffdag [ms]':>13} {'compile [s]':>12} {'pyhf [ms]':>11} {'ratio':>8} {'max rel diff':>13}")
    for nbins in args.bins:
        obj = make_workspace(nbins)
        diffdag_s, compile_s, ours = time_diffdag(obj, args.repeats)
        pyhf_s, reference = time_pyhf(obj, args.pyhf_repeats)
        max_rel_diff = float(np.max(np.abs(ours - reference) / np.abs(reference)))
        ratio = pyhf_s / diffdag_s
        print(f"{nbins:>5} {nbins + 3:>5} {diffdag_s * 1e3:>13.3f} {compile_s:>12.2f} {pyhf_s * 1e3:>11.1f} {ratio:>8.1f} {max_rel_diff:>13.2e}")
        rows.append({"bins": nbins, "diffdag_s": diffdag_s, "pyhf_s": pyhf_s, "ratio": ratio, "max_rel_diff": max_rel_diff})
    if args.json:
        print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
