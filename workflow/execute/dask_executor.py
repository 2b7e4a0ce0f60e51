"""The Dask executor: chunks loaded and kept on workers, partial sums added on the client.

``Dask(workers=N)`` starts a LocalCluster of N single-threaded worker processes;
``Dask(scheduler="tcp://host:port")`` or ``Dask(client=client)`` uses any running cluster.

- Chunks are loaded by tasks on the workers (``load[sample]`` keys): the executor keeps
  their futures across steps, so they stay in worker memory, and if a worker dies the
  scheduler rebuilds the lost chunks from the task that made them (lineage).
- Each step submits one ``sums[sample]`` / ``vjp[sample]`` task per chunk carrying the
  parameters as numpy arrays; task names carry the sample and its reduce nodes, so the
  dashboard reads like the graph. Tasks are retried (``retries``).
- Partial sums come back in float64 and are added on the client in a fixed pairwise tree
  order (``chunks.tree_sum``): the result does not depend on which worker finished first
  and equals the in-process executor's with the same chunks.
- Kernels are shipped as (token, graph bytes) and compiled once per worker process.
- One XLA thread per worker: LocalCluster workers run ``threads_per_worker=1`` and start
  with ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` in
  their environment (the Nanny's ``env``, set before the worker process imports jax). For
  an external cluster, start workers with ``--nthreads 1`` and that variable; the executor
  warns when a worker lacks it.
"""

from __future__ import annotations

import itertools
import logging
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import jax
import numpy as np

from workflow.errors import DiffdagError
from workflow.execute.chunks import Layout, describe, load_chunk, tree_sum
from workflow.execute.inprocess import _flat, _unflat
from workflow.execute.sources import Arrays, SourceBase
from workflow.execute.sum_rule import Sharded

ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
WORKER_ENV = {"XLA_FLAGS": ONE_THREAD_XLA, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}


class ExecutorError(DiffdagError):
    """The executor cannot run: no scheduler at the address, no workers, a cluster that failed."""


@dataclass
class _Sample:
    layout: Layout
    chunks: list  # futures of Chunk objects, held on the workers


class Dask:
    """Run chunks on a Dask cluster: a LocalCluster of ``workers`` processes, a scheduler or a client."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, client=None,
                 chunk_size: int = 1 << 20, retries: int = 3, timeout: float = 30.0,
                 on_submit: Callable[[str, list], None] | None = None):
        given = [x is not None for x in (workers, scheduler, client)]
        if sum(given) > 1:
            raise ValueError("give one of workers=N, scheduler='tcp://...' or client=Client(...)")
        self.workers = workers if any(given) else 2
        self.scheduler, self.chunk_size, self.retries, self.timeout = scheduler, chunk_size, retries, timeout
        self.on_submit = on_submit  # called with (stage, futures) after each batch is submitted
        self._client, self._cluster, self._owns_client = client, None, False
        self._steps = itertools.count()

    # -- the cluster ------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = self._connect()
            self._owns_client = True
            self._check_workers()
        return self._client

    def _connect(self):
        from distributed import Client, LocalCluster

        if self.scheduler is not None:
            try:
                return Client(self.scheduler, timeout=self.timeout, set_as_default=False)
            except (OSError, TimeoutError) as error:
                raise ExecutorError(
                    f"cannot reach the Dask scheduler at {self.scheduler!r} within {self.timeout:g} s "
                    f"({type(error).__name__}: {error}); start one with `dask scheduler` or check the address"
                ) from None
        self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                     env=dict(WORKER_ENV), dashboard_address=":0",
                                     silence_logs=logging.ERROR)
        return Client(self._cluster, set_as_default=False)

    def _check_workers(self) -> None:
        try:
            self._client.wait_for_workers(1, timeout=self.timeout)
        except TimeoutError:
            raise ExecutorError(f"no Dask worker joined the scheduler {self._client.scheduler.address} "
                                f"within {self.timeout:g} s") from None
        flags = self._client.run(_worker_xla_flags)
        lacking = [w for w, f in flags.items() if "xla_cpu_multi_thread_eigen=false" not in (f or "")]
        if lacking:
            warnings.warn(f"Dask workers {lacking} run XLA multi-threaded; start them with --nthreads 1 and "
                          f"XLA_FLAGS='{ONE_THREAD_XLA}'", stacklevel=3)

    def close(self) -> None:
        """Close the client and stop the LocalCluster, if this executor started them."""
        if self._owns_client and self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client, self._cluster, self._owns_client = None, None, False

    def __enter__(self) -> "Dask":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- datasets ---------------------------------------------------------------------
    def open(self, kernel, sources: dict[str, SourceBase]) -> Sharded:
        """Check and plan every sample on a worker (files are read where the workers run), then
        submit the tasks that load its chunks; an in-memory sample is planned here and each
        load task carries only its own slice."""
        client = self.client
        tag = f"{kernel.token[:8]}-{next(self._steps)}"
        local = {s: describe(kernel, s, src, self.chunk_size) for s, src in sources.items()
                 if isinstance(src, Arrays)}  # in memory here: no need to ship it whole to a worker
        described = {s: client.submit(describe, kernel, s, src, self.chunk_size, key=(f"describe[{s}]", tag),
                                      retries=self.retries) for s, src in sources.items() if s not in local}
        layouts = {**local, **dict(zip(described, client.gather(list(described.values()))))}
        layouts = {s: layouts[s] for s in sources}
        samples = {}
        for sample, layout in layouts.items():
            chunks = []
            for i, piece in enumerate(layout.pieces):
                source, local = sources[sample].for_piece(piece)
                chunks.append(client.submit(load_chunk, kernel, sample, i, source, local, layout.length,
                                            key=(f"load[{sample}]", tag, i), retries=self.retries))
            samples[sample] = _Sample(layout, chunks)
        if self.on_submit:
            self.on_submit("load", [f for s in samples.values() for f in s.chunks])
        return Sharded(self, kernel, samples, {s: l.template() for s, l in layouts.items()})

    def wait(self, dataset: Sharded) -> None:
        """Block until every chunk of ``dataset`` is loaded on the workers (errors raise here)."""
        from distributed import wait

        futures = [f for item in dataset.state.values() for f in item.chunks]
        with self.client.as_current():
            wait(futures)
        for future in futures:
            if future.status == "error":
                future.result()

    def release(self, dataset: Sharded) -> None:
        for item in dataset.state.values():
            for future in item.chunks:
                future.release()
            item.chunks = []

    # -- the sum rule's two maps ----------------------------------------------------
    def sums(self, dataset: Sharded, mode: str, inputs: dict) -> dict:
        """Per sample, the float64 sum over its chunks; every sample's tasks are submitted at once."""
        futures = {s: self._map(dataset, s, "sums", _chunk_sums, mode, i) for s, i in inputs.items()}
        parts = self.client.gather(futures)
        return {s: tree_sum(p) for s, p in parts.items()}

    def vjp(self, dataset: Sharded, mode: str, inputs: dict, cotangents: dict) -> dict:
        futures = {s: self._map(dataset, s, "vjp", _chunk_vjp, mode, i, cotangents[s]) for s, i in inputs.items()}
        parts = self.client.gather(futures)
        return {s: _unflat(tree_sum([f for f, _ in p]), p[0][1]) for s, p in parts.items()}

    def _map(self, dataset: Sharded, sample: str, stage: str, fn, *args) -> list:
        kernel, item = dataset.kernel, dataset.state[sample]
        args = [jax.tree_util.tree_map(np.asarray, a) if not isinstance(a, str) else a for a in args]
        name = f"{stage}[{sample}] " + "+".join(n.split("[")[0] for n in _reduce_nodes(kernel, sample))
        step = f"{kernel.token[:8]}-{next(self._steps)}"
        futures = [self.client.submit(fn, kernel, sample, *args, chunk, key=(name, step, i), retries=self.retries)
                   for i, chunk in enumerate(item.chunks)]
        if self.on_submit:
            self.on_submit(stage, futures)
        return futures


def _reduce_nodes(kernel, sample: str) -> list[str]:
    return sorted({k.split(".")[0] for k in kernel.reductions(sample)})


def _chunk_sums(kernel, sample: str, mode: str, inputs, chunk) -> dict:
    return kernel.sums(sample, mode, inputs, chunk.values, chunk.mask)


def _chunk_vjp(kernel, sample: str, mode: str, inputs, cotangent, chunk):
    return _flat(kernel.vjp(sample, mode, inputs, chunk.values, chunk.mask, cotangent))


def _worker_xla_flags() -> str | None:
    return os.environ.get("XLA_FLAGS")
