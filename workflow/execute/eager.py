"""A program's top-level calls on chunked data: the regions as separate jitted functions.

The parameter region (``params -> values``), the executor's sums over chunks and the global
region (``values, sums -> outputs``) run one after the other from Python, and the gradient
is chained by hand through the same steps as the sum rule's custom VJP: the global
region's VJP gives the cotangent of the sums, the executor maps the chunk VJP with it and
adds the input cotangents in float64, and the parameter region's VJP takes them back to the
parameters. No callback is involved, so in-process chunk functions never run inside an
XLA computation (see ``sum_rule``), and Dask gets every sample's tasks at once.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from workflow.execute.sum_rule import Sharded, cast_cotangents


class EagerRegions:
    """Jitted regions of one program and the calls that chain them over a Sharded dataset."""

    def __init__(self, program):
        self.program = program
        self._stage = jax.jit(program._stage_values, static_argnames=("mode",))
        self._global = jax.jit(program._global_from, static_argnames=("mode", "keys"))

    def outputs(self, params, dataset: Sharded, mode: str, keys: tuple[str, ...]) -> dict[str, Any]:
        values = self._stage(params, mode=mode)
        inputs = _inputs(values, dataset)
        sums = _flat_sums(dataset.executor.sums(dataset, mode, _host(inputs)))
        return self._global(values, sums, mode=mode, keys=keys)

    def value_and_grad(self, params, dataset: Sharded):
        objective = self.program.objective
        values, stage_pullback = jax.vjp(lambda p: self._stage(p, mode="soft"), params)
        inputs = _inputs(values, dataset)
        host_inputs = _host(inputs)
        sums = _flat_sums(dataset.executor.sums(dataset, "soft", host_inputs))
        value, global_pullback = jax.vjp(
            lambda v, s: self._global(v, s, mode="soft", keys=(objective,))[objective], values, sums)
        value_cotangents, sum_cotangents = global_pullback(jnp.ones_like(value))
        cotangents = {s: {k: np.asarray(sum_cotangents[k]) for k in dataset.kernel.reductions(s)} for s in inputs}
        grads = dataset.executor.vjp(dataset, "soft", host_inputs, cotangents)
        grads = cast_cotangents(grads, inputs)
        total = dict(value_cotangents)
        for sample, per_key in grads.items():
            for key, grad in per_key.items():
                if _inexact(values[key]):
                    total[key] = jax.tree_util.tree_map(lambda a, b: a + b, total[key], grad)
        (param_grads,) = stage_pullback(total)
        return value, param_grads


def _inputs(values, dataset: Sharded) -> dict[str, dict[str, Any]]:
    return {s: {k: values[k] for k in dataset.kernel.inputs(s)} for s in dataset.templates}


def _host(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def _flat_sums(per_sample: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, np.float64) for sums in per_sample.values() for k, v in sums.items()}


def _inexact(value) -> bool:
    return all(jnp.issubdtype(jnp.result_type(x), jnp.inexact) for x in jax.tree_util.tree_leaves(value))


def traced(tree) -> bool:
    """Whether any leaf is a tracer (the program is being traced by the caller)."""
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(tree))
