"""Scaling of one optimisation step (value_and_grad) with the number of events, per executor.

The neos configuration: four 2-D Gaussian samples (identity covariance; signal (-1, 1),
background (1, -1), background up (2.5, 2), background down (-2.5, -1.5)), an MLP 2-W-W-1
(ReLU, sigmoid output), a binned-KDE histogram of the score (4 bins on [0, 1], bandwidth
0.1), yields scaled to 20 signal and 100 background events. The objective is the expected
CLs at mu = 1 from the ``stats.*`` nodes when they are installed; otherwise the mean
Asimov significance of the signal over the nominal, up and down backgrounds (+1e-3 per bin),
negated, so that all four samples are computed either way.

Samples are generated chunk by chunk where they are read (``Gaussian`` sources): on the
workers for Dask. Each configuration runs in its own subprocess, so its peak resident
memory (``ru_maxrss`` of the process, plus the workers' for Dask) is its own.

    python benchmarks/scaling.py            # 1e5, 1e6, 1e7 events per sample
    python benchmarks/scaling.py --large    # and 1e8
    python benchmarks/scaling.py --json     # the table, then one JSON object as the last line

events_per_s counts the events of all four samples. Chunks are 2^20 events (``--chunk-size``);
the chunk function runs over blocks of 4096 events inside a chunk (``Kernel.block``). The
"one-jit" row (all events of a sample in one jit, no blocks) is skipped above 1e6 events per
sample, where its per-event intermediates no longer fit comfortably in memory. "chunked"
streams: chunks are generated again at every step (``InProcess(keep=False)``), so its memory
is bounded by the chunk size; the Dask rows keep their chunks on the workers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

SAMPLES = {"signal": ((-1.0, 1.0), 20.0), "background": ((1.0, -1.0), 100.0),
           "background_up": ((2.5, 2.0), 100.0), "background_down": ((-2.5, -1.5), 100.0)}
WARM_UP_SMALL = 10_000_000  # from here the warm-up step runs on a small sample (same chunk shape)
ONE_JIT_MAX = 1_000_000  # events per sample: beyond this one jit of the whole sample needs too much memory


def build_graph(width: int):
    """The neos graph: MLP score -> KDE histogram per sample -> objective."""
    import workflow as wf
    from nodes import histograms, observables

    with wf.Graph("neos") as g:
        net = g.param("nn", init=observables.init_mlp([2, width, width, 1], seed=0))
        hists = {}
        for sample in SAMPLES:
            events = g.source(sample, fields={"x": "float32", "y": "float32", "weight": "float32"})
            score = observables.mlp(net, observables.stack(events, fields=("x", "y")))
            hists[sample] = histograms.kde(score, events["weight"], edges=(0.0, 0.25, 0.5, 0.75, 1.0), bandwidth=0.1,
                                           name=f"kde_{sample}")
        objective, kind = _objective(g, hists)
    g.set_objective(objective)
    return g, kind


def _objective(g, hists):
    """Expected CLs at mu = 1 (stats nodes), else the mean Asimov significance, to minimise."""
    from workflow.node import REGISTRY, load_plugins

    load_plugins()
    padded = {s: hists[s] + 1e-3 for s in hists if s != "signal"}
    if {"stats.simple_model", "stats.cls_expected"} <= set(REGISTRY):
        model = g.add_node("stats.simple_model", {"signal": hists["signal"], "background": padded["background"],
                                                  "background_up": padded["background_up"],
                                                  "background_down": padded["background_down"]})
        return g.add_node("stats.cls_expected", {"model": model}, config={"test_poi": 1.0}), "expected CLs at mu=1"
    from nodes import metrics

    zs = [metrics.asimov_significance(hists["signal"], padded[b]) for b in padded]
    return -(zs[0] + zs[1] + zs[2]) / 3.0, "mean Asimov significance (stats nodes not installed)"


def sources(n: int) -> dict:
    from workflow.execute import Gaussian

    return {s: Gaussian(means=list(mean), cov=[[1.0, 0.0], [0.0, 1.0]], n_events=n, seed=i, fields=["x", "y"],
                        scale=total / n, block=1 << 16)
            for i, (s, (mean, total)) in enumerate(SAMPLES.items())}


def run_one(executor: str, workers: int, n: int, chunk: int, steps: int, width: int, grad_path: str) -> dict:
    """Time value_and_grad (after one warm-up step) in this process; save the gradient."""
    import jax

    from workflow.execute import Dask, InProcess, Sharded
    from workflow.program import Program

    graph, _ = build_graph(width)
    if executor == "one-jit":
        chosen = InProcess(budget=1 << 62)
    elif executor == "chunked":
        chosen = InProcess(chunk_size=chunk, budget=0, keep=False)
    else:
        chosen = Dask(workers=workers, chunk_size=chunk, timeout=120)
    with Program(graph, executor=chosen) as program:
        params = program.init_params()
        if n >= WARM_UP_SMALL:  # compile on a two-chunk sample: a full warm-up step would double the time
            warm = program.prepare(sources(min(2 * chunk, n)))
            program.value_and_grad(params, warm)
            warm.release()
        handle = program.prepare(sources(n))
        if hasattr(chosen, "wait") and isinstance(handle, Sharded):
            chosen.wait(handle)  # chunks generated and kept on the workers before timing
        if n < WARM_UP_SMALL:
            program.value_and_grad(params, handle)  # warm-up: compiles, loads chunks
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            value, grad = program.value_and_grad(params, handle)
            jax.block_until_ready(grad)
            times.append(time.perf_counter() - start)
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if executor == "dask":
            rss_kb += sum(chosen.client.run(_max_rss_kb).values())
    leaves = [np.asarray(x, np.float64).ravel() for x in jax.tree_util.tree_leaves(grad)]
    np.save(grad_path, np.concatenate(leaves))
    step = float(np.median(times))
    return {"executor": executor, "workers": workers, "events_per_sample": n, "step_s": round(step, 4),
            "events_per_s": round(len(SAMPLES) * n / step, 1), "peak_rss_mb": round(rss_kb / 1024, 1),
            "value": float(value)}


def _max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def configurations(sizes: list[int]) -> list[tuple[str, int, int]]:
    out = []
    for n in sizes:
        if n <= ONE_JIT_MAX:
            out.append(("one-jit", 0, n))
        out += [("chunked", 0, n), ("dask", 1, n), ("dask", 2, n)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="also 1e8 events per sample")
    parser.add_argument("--events", type=float, nargs="*", help="events per sample (default 1e5 1e6 1e7)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per configuration, median reported (default 2, 1 from 1e7 events)")
    parser.add_argument("--chunk-size", type=int, default=1 << 20, help="events per chunk")
    parser.add_argument("--width", type=int, default=32, help="hidden width of the MLP")
    parser.add_argument("--one", nargs=3, metavar=("EXECUTOR", "WORKERS", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--grad-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        executor, workers, n = args.one
        n = int(float(n))
        steps = args.steps or (2 if n < 10**7 else 1)
        print(json.dumps(run_one(executor, int(workers), n, args.chunk_size, steps, args.width, args.grad_path)))
        return

    sizes = [int(x) for x in (args.events or [1e5, 1e6, 1e7])] + ([int(1e8)] if args.large else [])
    _, objective = build_graph(args.width)
    print(f"neos, width {args.width}, chunk {args.chunk_size} events, objective: {objective}", flush=True)
    rows, grads, max_diff = [], {}, 0.0
    header = f"{'executor':>8} {'workers':>7} {'events/sample':>13} {'step s':>9} {'events/s':>12} {'peak RSS MB':>11}"
    print(header, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for executor, workers, n in configurations(sizes):
            path = os.path.join(tmp, f"{executor}-{workers}-{n}.npy")
            command = [sys.executable, __file__, "--one", executor, str(workers), str(n), "--grad-path", path,
                       "--steps", str(args.steps or 0), "--chunk-size", str(args.chunk_size), "--width", str(args.width)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{executor:>8} {workers:>7} {n:>13.0e}  failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row.pop("value")
            rows.append(row)
            grads[(executor, workers, n)] = np.load(path)
            print(f"{executor:>8} {workers:>7} {n:>13.0e} {row['step_s']:>9.3f} {row['events_per_s']:>12.3g} "
                  f"{row['peak_rss_mb']:>11.0f}", flush=True)
            reference = grads.get(("chunked", 0, n))
            if executor == "dask" and reference is not None:
                diff = np.max(np.abs(grads[(executor, workers, n)] - reference)) / np.max(np.abs(reference))
                max_diff = max(max_diff, float(diff))
    for n in sizes:
        one = next((r for r in rows if r["executor"] == "dask" and r["workers"] == 1 and r["events_per_sample"] == n), None)
        two = next((r for r in rows if r["executor"] == "dask" and r["workers"] == 2 and r["events_per_sample"] == n), None)
        if one and two:
            print(f"parallel efficiency, 2 workers over 1, {n:.0e} events/sample: "
                  f"{one['step_s'] / (2 * two['step_s']):.2f}")
    print(f"max relative difference, Dask vs in-process (chunked) gradient: {max_diff:.2e}")
    if args.json:
        print(json.dumps({"rows": rows, "max_grad_rel_diff": max_diff}))


if __name__ == "__main__":
    main()
