"""The per-chunk functions of a compiled graph, one set per sample, shippable to workers.

``Kernel`` holds a graph and its plan and gives, per sample and mode, jitted functions
``prepare(raw) -> cached features``, ``sums(inputs, chunk, mask) -> float64 partial sums``
and ``vjp(inputs, chunk, mask, cotangent) -> float64 input cotangents``. Every call runs
with 64-bit mode scoped to it. A kernel pickles as (token, graph bytes); unpickling looks
the token up first, so each worker process builds and compiles a kernel once.
"""

from __future__ import annotations

import importlib
import threading
import uuid
from typing import Any

import cloudpickle
import jax
import jax.numpy as jnp
import numpy as np

from workflow.graph import PARAMS, Graph, Ref
from workflow.node import REGISTRY, NodeSpec, lookup
from workflow.plan import Plan, make_plan, run_nodes

_KERNELS: dict[str, "Kernel"] = {}  # per process: token -> kernel with its compiled functions
_LOCK = threading.Lock()
_LIBRARY = ("nodes", "workflow")  # node modules every worker can import
BLOCK = 1 << 12  # events per block: keeps a small network's activations in cache (2x faster)


class Kernel:
    """Per-sample chunk functions of a graph (event and reduce nodes, ending in partial sums)."""

    def __init__(self, graph: Graph, plan: Plan | None = None, token: str | None = None,
                 block: int | None = None):
        self.graph = graph
        self.block = BLOCK if block is None else block  # events per block inside a chunk (0: no blocks)
        self.plan = plan or make_plan(graph)
        self.token = token or uuid.uuid4().hex
        self._blob: bytes | None = None
        self._compiled: dict[tuple, Any] = {}

    # -- what a sample's chunks need ----------------------------------------------
    def fields(self, sample: str) -> dict[str, str]:
        return dict(self.graph.sources[sample].fields)

    def inputs(self, sample: str) -> tuple[str, ...]:
        """Keys of parameters and parameter-stage outputs the sample's uncached nodes read."""
        plan, cached = self.plan, set(self.plan.cached[sample])
        keys = set()
        for name in plan.sample_stage[sample]:
            if name in cached:
                continue
            for ref in self.graph.nodes[name].inputs.values():
                if isinstance(ref, Ref) and (ref.target in plan.parameter_stage or ref.target.startswith(PARAMS + ".")):
                    keys.add(str(ref))
        return tuple(sorted(keys))

    def reductions(self, sample: str) -> tuple[str, ...]:
        return self.plan.reductions[sample]

    # -- the functions ---------------------------------------------------------------
    def prepare(self, sample: str, raw: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        """Cached features of a chunk: what the uncached nodes read from the data."""
        fn = self._jit(("prepare", sample), self._prepare, sample)
        with jax.enable_x64(True):
            return fn({f"{sample}.{k}": v for k, v in raw.items()})

    def sums(self, sample: str, mode: str, inputs, values, mask) -> dict[str, np.ndarray]:
        fn = self._jit(("sums", sample, mode), self._sums, sample, mode)
        with jax.enable_x64(True):
            return {k: np.asarray(v) for k, v in fn(inputs, values, mask).items()}

    def vjp(self, sample: str, mode: str, inputs, values, mask, cotangent) -> dict[str, np.ndarray]:
        fn = self._jit(("vjp", sample, mode), self._vjp, sample, mode)
        with jax.enable_x64(True):
            return jax.tree_util.tree_map(np.asarray, fn(inputs, values, mask, cotangent))

    def sums_shape(self, sample: str, mode: str, inputs, values, mask):
        """Shapes and dtypes of the partial sums (``jax.eval_shape``; nothing runs)."""
        with jax.enable_x64(True):
            return jax.eval_shape(lambda i, v, m: self._sums(sample, mode, i, v, m), inputs, values, mask)

    def _prepare(self, sample: str, raw):
        values = run_nodes(self.graph, self.plan.cached[sample], dict(raw), "soft")
        return {k: values[k] for k in self.plan.prepared_keys[sample]}

    def _sums(self, sample: str, mode: str, inputs, values, mask):
        """Partial sums of a chunk, run over blocks of ``block`` events when the chunk is longer.

        Blocks keep the event work in cache; their body is rematerialised
        (``jax.checkpoint``), so the VJP stores block inputs, not block intermediates.
        Block sums are added in float64 in order.
        """
        n, block = mask.shape[0], self.block
        if not block or n <= block or n % block:
            return self._block_sums(sample, mode, inputs, values, mask)
        split = lambda x: x.reshape((n // block, block) + x.shape[1:])  # noqa: E731
        body = jax.checkpoint(lambda v, m: self._block_sums(sample, mode, inputs, v, m))
        first = jax.eval_shape(body, jax.tree_util.tree_map(lambda x: x[:block], values), mask[:block])
        zeros = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), first)

        def step(total, blocks):
            return jax.tree_util.tree_map(jnp.add, total, body(*blocks)), None

        total, _ = jax.lax.scan(step, zeros, (jax.tree_util.tree_map(split, values), split(mask)))
        return total

    def _block_sums(self, sample: str, mode: str, inputs, values, mask):
        uncached = [n for n in self.plan.sample_stage[sample] if n not in self.plan.cached[sample]]
        out = run_nodes(self.graph, uncached, {**inputs, **values}, mode, mask=mask)
        return {k: jnp.asarray(out[k], jnp.float64) for k in self.plan.reductions[sample]}

    def _vjp(self, sample: str, mode: str, inputs, values, mask, cotangent):
        differentiable = {k: v for k, v in inputs.items() if _inexact(v)}
        fixed = {k: v for k, v in inputs.items() if k not in differentiable}
        _, pullback = jax.vjp(lambda d: self._sums(sample, mode, {**fixed, **d}, values, mask), differentiable)
        (grads,) = pullback(cotangent)
        return jax.tree_util.tree_map(lambda g: g.astype(jnp.float64), grads)

    def _jit(self, key, fn, *static):
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = jax.jit(lambda *args: fn(*static, *args))
        return compiled

    # -- shipping to workers ------------------------------------------------------------
    def blob(self) -> bytes:
        if self._blob is None:
            self._blob = _dumps_graph((self.graph, self.block))
        return self._blob

    def __reduce__(self):
        return _kernel_for, (self.token, self.blob())


def _inexact(value) -> bool:
    return all(jnp.issubdtype(jnp.result_type(leaf), jnp.inexact) for leaf in jax.tree_util.tree_leaves(value))


def _kernel_for(token: str, blob: bytes) -> Kernel:
    """The process's kernel for ``token``, built from the graph bytes the first time only."""
    with _LOCK:
        kernel = _KERNELS.get(token)
        if kernel is None:
            graph, block = cloudpickle.loads(blob)
            kernel = Kernel(graph, token=token, block=block)
            kernel._blob = blob
            _KERNELS[token] = kernel
            while len(_KERNELS) > 16:
                _KERNELS.pop(next(iter(_KERNELS)))
        return kernel


def remember(kernel: Kernel) -> None:
    """Make ``kernel`` the process's kernel for its token (in-process executors share it)."""
    with _LOCK:
        _KERNELS.setdefault(kernel.token, kernel)


class _GraphPickler(cloudpickle.Pickler):
    """Library nodes travel by name; nodes defined elsewhere (scripts, tests) by value."""

    def reducer_override(self, obj):
        if isinstance(obj, NodeSpec) and REGISTRY.get(obj.op) is obj and \
                obj.fn.__module__.split(".")[0] in _LIBRARY:
            return _registered_node, (obj.op, obj.fn.__module__)
        return super().reducer_override(obj)


def _dumps_graph(graph) -> bytes:
    import io

    buffer = io.BytesIO()
    _GraphPickler(buffer, protocol=5).dump(graph)
    return buffer.getvalue()


def _registered_node(op: str, module: str) -> NodeSpec:
    importlib.import_module(module)
    return lookup(op)
