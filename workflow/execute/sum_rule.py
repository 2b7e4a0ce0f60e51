"""The sum over chunks as one differentiable JAX operation, whatever runs the chunks.

``summed(dataset, mode, inputs)`` is a ``jax.custom_vjp``: the forward rule asks
the dataset's executor to map the sample's chunk function over its chunks and add the
float64 partial sums; the backward rule asks it to map the chunk VJP with the cotangent of
the sums and add the input cotangents. Both calls leave the trace through
``jax.pure_callback``, so the rule sits inside jitted, vmapped and differentiated code.

``Program`` uses this rule when it is traced by a caller (``jax.jit(program.value)``,
``jax.vmap``, ``jax.grad``). Its own top-level calls take the same steps without callbacks
(``workflow.execute.eager``): XLA runs callbacks on its CPU worker threads, and an
in-process executor running jitted chunk functions from there competes with them for
those threads.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@jax.tree_util.register_pytree_node_class
class Sharded:
    """A dataset whose chunks an executor holds. No array leaves: under jit it is static.

    ``state`` is the executor's own record of the chunks; ``templates[sample]`` the shapes
    of one chunk's prepared values and mask, used to type the callbacks.
    """

    def __init__(self, executor, kernel, state: Any, templates: dict[str, tuple]):
        self.executor, self.kernel, self.state, self.templates = executor, kernel, state, templates
        self._shapes: dict = {}

    def tree_flatten(self):
        return (), self

    @classmethod
    def tree_unflatten(cls, aux, children):
        return aux

    def sums_shape(self, sample: str, mode: str, inputs) -> dict[str, jax.ShapeDtypeStruct]:
        struct = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)), inputs)
        key = (sample, mode, jax.tree_util.tree_structure(struct), tuple(jax.tree_util.tree_leaves(struct)))
        if key not in self._shapes:
            values, mask = self.templates[sample]
            self._shapes[key] = self.kernel.sums_shape(sample, mode, struct, values, mask)
        return self._shapes[key]

    def release(self) -> None:
        self.executor.release(self)

    def __repr__(self) -> str:
        return f"<Sharded {sorted(self.templates)} on {type(self.executor).__name__}>"


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def summed(dataset: Sharded, mode: str, inputs: dict[str, dict[str, Any]]) -> dict[str, dict[str, jax.Array]]:
    """Per sample, the sum over its chunks of the chunk function's float64 partial sums.

    ``inputs[sample]`` are the parameter values the sample's chunk function reads. All
    samples go through one callback, so the executor can run them together and the host
    work never runs concurrently with itself inside one XLA computation.
    """
    shapes = {s: dataset.sums_shape(s, mode, i) for s, i in inputs.items()}

    def host(host_inputs):
        sums = dataset.executor.sums(dataset, mode, host_inputs)
        return jax.tree_util.tree_map(_to_bits, sums, shapes)

    bits = jax.pure_callback(host, jax.tree_util.tree_map(_bits_shape, shapes), inputs, vmap_method="sequential")
    return jax.tree_util.tree_map(_from_bits, bits, shapes)


def _forward(dataset, mode, inputs):
    return summed(dataset, mode, inputs), inputs


def _backward(dataset, mode, inputs, cotangent):
    differentiable = {s: {k: v for k, v in i.items() if _inexact(v)} for s, i in inputs.items()}
    shapes = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(jnp.shape(x), jnp.float64), differentiable)

    def host(host_inputs, host_cotangent):
        grads = dataset.executor.vjp(dataset, mode, host_inputs, host_cotangent)
        return jax.tree_util.tree_map(_to_bits, grads, shapes)

    bits = jax.pure_callback(host, jax.tree_util.tree_map(_bits_shape, shapes), inputs, cotangent,
                             vmap_method="sequential")
    grads = jax.tree_util.tree_map(_from_bits, bits, shapes)
    return (cast_cotangents(grads, inputs),)


summed.defvjp(_forward, _backward)


def cast_cotangents(grads, inputs):
    """Input cotangents in the inputs' dtypes; zeros (float0) for inputs that are not inexact."""
    out = {}
    for sample, values in inputs.items():
        out[sample] = {}
        for key, value in values.items():
            if key in grads.get(sample, {}):
                out[sample][key] = jax.tree_util.tree_map(lambda g, x: g.astype(jnp.result_type(x)),
                                                          grads[sample][key], value)
            else:
                out[sample][key] = jax.tree_util.tree_map(
                    lambda x: np.zeros(jnp.shape(x), jax.dtypes.float0), value)
    return out


# Callback results travel as the uint32 words of float64 arrays: JAX canonicalises a
# callback's results with the config of the thread that runs it, which is 32-bit when a
# user's own jax.jit runs the program outside the program's scoped 64-bit mode.
def _bits_shape(struct) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(tuple(struct.shape) + (2,), jnp.uint32)


def _to_bits(value, struct) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(value, np.float64).reshape(struct.shape))
    return array.view(np.uint32).reshape(tuple(struct.shape) + (2,))


def _from_bits(bits, struct):
    value = jax.lax.bitcast_convert_type(bits, jnp.float64)
    return value if np.dtype(struct.dtype) == np.float64 else value.astype(struct.dtype)


def _inexact(value) -> bool:
    return all(jnp.issubdtype(jnp.result_type(leaf), jnp.inexact) for leaf in jax.tree_util.tree_leaves(value))
