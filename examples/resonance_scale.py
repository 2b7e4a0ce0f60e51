"""The resonance cut optimisation at scale: 1e7 events per sample, in-process and on Dask.

The same ROOT files are read chunk by chunk by the in-process executor and by a 2-worker
LocalCluster (chunks loaded on the workers and kept there across steps); both runs start
from the same cuts and must end on the same cuts.

    python examples/resonance_scale.py [--events 10000000] [--steps 60] [--workers 2] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from resonance_cuts import CUTS, build_graph, optimise, root_sources
from resonance_sample import write_root

from workflow.execute import Dask, InProcess


def run(executor, paths, n_events: int, steps: int) -> tuple[dict, float]:
    program = build_graph().compile(executor=executor)
    sources = root_sources(paths, n_events, step_size=executor.chunk_size)  # one task per chunk
    with program:
        start = time.perf_counter()
        params = optimise(program, sources, steps)
        z = -float(program.evaluate(params, sources, mode="hard"))
        return {**params, "hard_z": z}, time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events per sample")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="events per chunk")
    parser.add_argument("--data", type=Path, default=None, help="folder for the ROOT files (default: temporary)")
    parser.add_argument("--quick", action="store_true", help="2e5 events and 30 steps, for tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.steps, args.chunk = 200_000, 30, 50_000

    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        paths = write_root(args.data or Path(scratch), args.events)
        write_s = time.perf_counter() - start
        local, local_s = run(InProcess(chunk_size=args.chunk, budget=0), paths, args.events, args.steps)
        dask, dask_s = run(Dask(workers=args.workers, chunk_size=args.chunk), paths, args.events, args.steps)

    worst = max(abs(local[n] - dask[n]) / max(abs(local[n]), 1e-12) for n in CUTS)
    print(f"{args.events:.0e} events per sample, {args.steps} steps (ROOT files written in {write_s:.0f} s)")
    print(f"{'executor':<18} {'m_low':>8} {'m_high':>8} {'pt/m':>7} {'dR_max':>7} {'hard Z':>7} {'time_s':>7}")
    for label, cut, seconds in (("in-process", local, local_s), (f"dask {args.workers} workers", dask, dask_s)):
        print(f"{label:<18} {cut['m_low']:8.3f} {cut['m_high']:8.3f} {cut['pt_over_m']:7.4f} "
              f"{cut['dr_max']:7.3f} {cut['hard_z']:7.3f} {seconds:7.1f}")
    print(f"largest relative difference of the final cuts: {worst:.1e}")
    return {"in_process": local, "dask": dask, "max_rel_diff": worst, "in_process_s": local_s, "dask_s": dask_s}


if __name__ == "__main__":
    main()
