"""A compiled graph: plain JAX functions of a parameter pytree and the data.

``value``, ``value_and_grad`` and ``evaluate`` are jitted, run with 64-bit mode scoped to
the call, and compose with ``jax.jit``, ``jax.grad`` and ``jax.vmap``. Data is a dict
``{sample: {field: array}}``; its parameter-independent features are computed once per
dataset (``prepare``) and reused on every later call with the same arrays.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable

import jax
import numpy as np

from workflow.errors import DataError
from workflow.graph import PARAMS, Graph, Handle, Ref
from workflow.plan import make_plan, run_nodes

MODES = ("soft", "hard")


@jax.tree_util.register_pytree_node_class
class Prepared:
    """A dataset with its cached features: per sample, arrays keyed 'node.port' or 'sample.field'."""

    def __init__(self, values: dict[str, dict[str, Any]]):
        self.values = values

    def tree_flatten(self):
        return (self.values,), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


class Program:
    """The compiled form of a graph, minimising its objective."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.plan = make_plan(graph)
        self.objective = str(graph.objective)
        self.trainable = {n: p for n, p in graph.params.items() if p.trainable}
        self.fixed = {n: p for n, p in graph.params.items() if not p.trainable}
        self._evaluate = jax.jit(self._outputs, static_argnames=("mode", "keys"))
        self._value_and_grad = jax.jit(jax.value_and_grad(self._soft_objective))
        self._grad = jax.jit(jax.grad(self._soft_objective))
        self._prepare = jax.jit(self._prepare_values)
        self._datasets: OrderedDict = OrderedDict()

    # -- public API ----------------------------------------------------------------
    def init_params(self) -> dict[str, Any]:
        """Initial values of the trainable parameters, as numpy arrays (float64 for Python floats)."""
        return {n: jax.tree_util.tree_map(np.array, p.init) for n, p in self.trainable.items()}

    def value(self, params: dict[str, Any], data) -> jax.Array:
        """The objective (soft mode)."""
        with jax.enable_x64(True):
            return self._evaluate(params, self._dataset(data), mode="soft", keys=(self.objective,))[self.objective]

    def value_and_grad(self, params: dict[str, Any], data) -> tuple[jax.Array, dict[str, Any]]:
        """The objective and its gradient with respect to every trainable parameter."""
        with jax.enable_x64(True):
            return self._value_and_grad(params, self._dataset(data))

    def grad(self, params: dict[str, Any], data) -> dict[str, Any]:
        with jax.enable_x64(True):
            return self._grad(params, self._dataset(data))

    def evaluate(self, params: dict[str, Any], data, mode: str = "hard",
                 outputs: Iterable[Handle | str] | None = None):
        """The objective, or the named outputs as a dict, with hard twins substituted in hard mode."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        keys = (self.objective,) if outputs is None else tuple(_key(o) for o in outputs)
        with jax.enable_x64(True):
            result = self._evaluate(params, self._dataset(data), mode=mode, keys=keys)
        return result[self.objective] if outputs is None else {k: result[k] for k in keys}

    def prepare(self, data: dict[str, dict[str, Any]]) -> Prepared:
        """Compute the parameter-independent features of a dataset once, for reuse across steps."""
        self._check_data(data)
        with jax.enable_x64(True):
            return self._prepare(self._raw_values(data))

    def clip(self, params: dict[str, Any]) -> dict[str, Any]:
        """Project parameters back inside their bounds."""
        with jax.enable_x64(True):
            return {n: self.graph.params[n].clip(v) for n, v in params.items()}

    # -- the functions that get jitted ---------------------------------------------
    def _soft_objective(self, params, data):
        return self._outputs(params, data, mode="soft", keys=(self.objective,))[self.objective]

    def _outputs(self, params, data, mode: str, keys: tuple[str, ...]) -> dict[str, Any]:
        values = self._parameter_values(params)
        run_nodes(self.graph, self.plan.parameter_stage, values, mode)
        per_sample = data.values if isinstance(data, Prepared) else self._raw_values(data).values
        everything = dict(values)
        for sample, nodes in self.plan.sample_stage.items():
            sample_values = {**values, **per_sample[sample]}
            run_nodes(self.graph, nodes, sample_values, mode)
            everything.update(sample_values)
        run_nodes(self.graph, self.plan.global_stage, everything, mode)
        missing = [k for k in keys if k not in everything]
        if missing:
            raise KeyError(f"no output {missing}; outputs are 'node.port' of nodes in the graph")
        return {k: everything[k] for k in keys}

    def _prepare_values(self, raw: Prepared) -> Prepared:
        prepared = {}
        for sample, nodes in self.plan.cached.items():
            values = run_nodes(self.graph, nodes, dict(raw.values[sample]), "soft")
            prepared[sample] = {k: values[k] for k in self.plan.prepared_keys[sample]}
        return Prepared(prepared)

    # -- data and parameters --------------------------------------------------------
    def _parameter_values(self, params: dict[str, Any]) -> dict[str, Any]:
        unknown = set(params) - set(self.graph.params)
        missing = set(self.trainable) - set(params)
        if unknown or missing:
            raise KeyError(
                f"parameters do not match the graph: missing {sorted(missing)}, unknown {sorted(unknown)}; "
                f"start from program.init_params()"
            )
        values = {f"{PARAMS}.{n}.value": p.init for n, p in self.fixed.items()}
        values.update({f"{PARAMS}.{n}.value": v for n, v in params.items()})
        return values

    def _raw_values(self, data) -> Prepared:
        return Prepared({s: {f"{s}.{f}": data[s][f] for f in src.fields}
                         for s, src in self.graph.sources.items()})

    def _dataset(self, data):
        """Prepared data for ``data``, computed once per distinct set of arrays."""
        if isinstance(data, Prepared):
            return data
        leaves, structure = jax.tree_util.tree_flatten(data)
        if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
            return data  # inside a user's trace: features are computed in that trace
        key = (structure, tuple(map(id, leaves)))
        if key in self._datasets:
            self._datasets.move_to_end(key)
            return self._datasets[key][1]
        prepared = self.prepare(data)
        self._datasets[key] = (leaves, prepared)  # holding the leaves keeps their ids unique
        if len(self._datasets) > 4:
            self._datasets.popitem(last=False)
        return prepared

    def _check_data(self, data) -> None:
        if not isinstance(data, dict):
            raise DataError(f"data must be a dict {{sample: {{field: array}}}}, got {type(data).__name__}")
        for sample, source in self.graph.sources.items():
            if sample not in data:
                raise DataError(f"data has no sample {sample!r}; the graph reads samples {list(self.graph.sources)}")
            lengths = set()
            for field_name, dtype in source.fields.items():
                if field_name not in data[sample]:
                    raise DataError(f"sample {sample!r} has no field {field_name!r}; "
                                    f"the graph declares {list(source.fields)}")
                array = data[sample][field_name]
                if np.dtype(array.dtype) != np.dtype(dtype):
                    raise DataError(f"sample {sample!r} field {field_name!r}: expected dtype {dtype}, "
                                    f"found {array.dtype}; cast it or declare {array.dtype} in g.source")
                lengths.add(np.shape(array)[0])
            if len(lengths) > 1:
                raise DataError(f"sample {sample!r}: fields have different numbers of events {sorted(lengths)}")


def _key(output: Handle | str) -> str:
    if isinstance(output, Handle):
        return str(output.ref)
    return str(Ref.parse(output))
