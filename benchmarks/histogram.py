"""Weighted KDE histogram and its gradient: diffdag's blocked node against a naive one.

For each (events, bins) both implementations compute, in one jitted function, the value
and the gradient of a scalar loss = g . counts(x + shift, w) with respect to ``shift``
(the gradient runs through every event). Data are float32, counts float64, as in a
program.

* ``diffdag``: ``histograms.kde`` (event blocks in a ``lax.scan`` under ``jax.checkpoint``).
* ``naive``: Phi at every (edge, event) pair at once, ``(cdf[1:] - cdf[:-1]) @ w``.

time_s: median wall time of the compiled function over ``--repeats`` runs after one
warm-up; the two implementations' runs alternate, so machine load hits both alike. When a
first run takes over 5 s (1e7 events), that run is the only sample, to keep the default
run short. peak_mb: XLA's own buffer assignment for the compiled function
(``compiled.memory_analysis()``: arguments + outputs + temporaries, MiB), the memory XLA
reserves for one call; it leaves out the Python process and the JAX runtime. A
configuration needing more than 80% of the free memory is not run (time_s null).

    python benchmarks/histogram.py            # 1e5, 1e6, 1e7 events x 4, 50 bins
    python benchmarks/histogram.py --quick    # 1e5, 1e6 events
    python benchmarks/histogram.py --json     # the table, then one JSON object last
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from nodes.histograms import HistogramConfig, kde


def naive_kde(x, w, edges, bandwidth):
    """The straightforward form: an (edges x events) matrix of Gaussian CDFs."""
    cdf = ndtr((edges[:, None] - x[None, :]) / bandwidth)
    return ((cdf[1:] - cdf[:-1]) @ w).astype(jnp.float64)


def make_loss(impl: str, edges: np.ndarray, bandwidth: float):
    if impl == "diffdag":
        config = HistogramConfig(edges=tuple(edges), bandwidth=bandwidth)

        def counts(x, w):
            return kde.fn(x, w, None, config=config, mask=None)
    else:
        edges32 = jnp.asarray(edges, jnp.float32)

        def counts(x, w):
            return naive_kde(x, w, edges32, jnp.float32(bandwidth))

    cotangent = jnp.linspace(1.0, 2.0, len(edges) - 1, dtype=jnp.float64)

    def loss(shift, x, w):
        return cotangent @ counts(x + shift.astype(x.dtype), w)

    return jax.jit(jax.value_and_grad(loss))


def available_memory() -> float:
    """Bytes of memory available to a new allocation (Linux MemAvailable; else infinite)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


SLOW_S = 5.0  # a configuration whose first run takes longer is timed by that run only


def compile_impl(impl: str, n_events: int, n_bins: int):
    """The compiled value-and-gradient function, its inputs, and its XLA memory in bytes."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=n_events).astype(np.float32))
    w = jnp.asarray(rng.uniform(0.5, 1.5, size=n_events).astype(np.float32))
    edges = np.linspace(-3.0, 3.0, n_bins + 1)
    bandwidth = 0.5 * (edges[1] - edges[0])
    args = (jnp.float64(0.01), x, w)
    compiled = make_loss(impl, edges, bandwidth).lower(*args).compile()
    memory = compiled.memory_analysis()
    peak = memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
    peak -= getattr(memory, "alias_size_in_bytes", 0)
    if peak > 0.8 * available_memory():
        return None, args, peak, 0.0  # would not fit: report its memory, skip the run
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))  # warm-up
    return compiled, args, peak, time.perf_counter() - start


def measure(n_events: int, n_bins: int, repeats: int) -> list[dict]:
    """One row per implementation; timed runs alternate between them so load hits both."""
    impls = ("diffdag", "naive")
    prepared = {impl: compile_impl(impl, n_events, n_bins) for impl in impls}
    if max(p[3] for p in prepared.values()) > SLOW_S:  # keep the default run short:
        times = {impl: [prepared[impl][3]] for impl in impls}  # the first run is the sample
        repeats = 0
    else:
        times = {impl: [] for impl in impls}
    for _ in range(repeats):
        for impl in impls:
            compiled, args, _, _ = prepared[impl]
            if compiled is None:
                continue
            start = time.perf_counter()
            jax.block_until_ready(compiled(*args))
            times[impl].append(time.perf_counter() - start)
    return [
        {
            "events": n_events,
            "bins": n_bins,
            "impl": impl,
            "time_s": round(statistics.median(times[impl]), 4) if prepared[impl][0] is not None else None,
            "peak_mb": round(prepared[impl][2] / 2**20, 1),
        }
        for impl in impls
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 and 1e6 events only")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (median)")
    parser.add_argument("--events", type=float, nargs="*", help="event counts (default 1e5 1e6 1e7)")
    parser.add_argument("--bins", type=int, nargs="*", default=[4, 50])
    args = parser.parse_args(argv)
    events = args.events or ([1e5, 1e6] if args.quick else [1e5, 1e6, 1e7])

    rows = []
    print(f"{'events':>10} {'bins':>5} {'impl':>8} {'time_s':>9} {'peak_mb':>9}")
    with jax.enable_x64(True):
        for n_events in events:
            for n_bins in args.bins:
                for row in measure(int(n_events), n_bins, args.repeats):
                    rows.append(row)
                    time_s = "skipped" if row["time_s"] is None else f"{row['time_s']:.4f}"
                    print(f"{row['events']:>10} {row['bins']:>5} {row['impl']:>8} {time_s:>9} "
                          f"{row['peak_mb']:>9.1f}", flush=True)
    print("peak_mb: XLA buffer assignment (arguments + outputs + temporaries) of value_and_grad")
    if args.json:
        print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
