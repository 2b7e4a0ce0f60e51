"""A compiled graph: plain JAX functions of a parameter pytree and the data.

``value``, ``value_and_grad`` and ``evaluate`` are jitted, run with 64-bit mode scoped to
the call, and compose with ``jax.jit``, ``jax.grad`` and ``jax.vmap``. Data is a dict
``{sample: {field: array}}`` or ``{sample: source}`` (``workflow.execute.sources``); its
parameter-independent features are computed once per dataset (``prepare``) and reused on
every later call with the same data.

With an ``executor`` (``workflow.execute.InProcess`` or ``Dask``) the events are cut into
chunks that the executor holds; each sample's reductions are then a sum over chunks under
a ``jax.custom_vjp`` (``workflow.execute.sum_rule``), so the program stays one function
that ``jax.jit`` and ``jax.value_and_grad`` accept. Without one, in-memory arrays run in
one jit, as before, and sources are read by a default ``InProcess()``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable

import jax
import numpy as np

from workflow.errors import DataError
from workflow.execute.eager import traced
from workflow.execute.sources import SourceBase
from workflow.execute.sum_rule import Sharded
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

    def __init__(self, graph: Graph, executor=None):
        self.graph = graph
        self.executor = executor
        self.plan = make_plan(graph)
        self._kernel = None
        self._default_executor = None  # reads sources when no executor was given
        self._eager_regions = None
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
            data = self._dataset(data)
            if self._eager(params, data):
                return self._regions().outputs(params, data, "soft", (self.objective,))[self.objective]
            return self._evaluate(params, data, mode="soft", keys=(self.objective,))[self.objective]

    def value_and_grad(self, params: dict[str, Any], data) -> tuple[jax.Array, dict[str, Any]]:
        """The objective and its gradient with respect to every trainable parameter."""
        with jax.enable_x64(True):
            data = self._dataset(data)
            if self._eager(params, data):
                return self._regions().value_and_grad(params, data)
            return self._value_and_grad(params, data)

    def grad(self, params: dict[str, Any], data) -> dict[str, Any]:
        with jax.enable_x64(True):
            data = self._dataset(data)
            if self._eager(params, data):
                return self._regions().value_and_grad(params, data)[1]
            return self._grad(params, data)

    def evaluate(self, params: dict[str, Any], data, mode: str = "hard",
                 outputs: Iterable[Handle | str] | None = None):
        """The objective, or the named outputs as a dict, with hard twins substituted in hard mode."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        keys = (self.objective,) if outputs is None else tuple(_key(o) for o in outputs)
        with jax.enable_x64(True):
            data = self._dataset(data)
            if self._eager(params, data):
                result = self._regions().outputs(params, data, mode, keys)
            else:
                result = self._evaluate(params, data, mode=mode, keys=keys)
        return result[self.objective] if outputs is None else {k: result[k] for k in keys}

    def prepare(self, data: dict[str, Any]):
        """Compute the parameter-independent features of a dataset once, for reuse across steps.

        Returns a :class:`Prepared` (arrays, one jit) or, when an executor chunks the data,
        a ``Sharded`` handle to chunks the executor holds. Both pass through ``jax.jit``.
        """
        if self.executor is None and not _has_sources(data):
            self._check_data(data)
            with jax.enable_x64(True):
                return self._prepare(self._raw_values(data))
        from workflow.execute.kernel import Kernel, remember
        from workflow.execute.sources import as_source

        if not isinstance(data, dict):
            raise DataError(f"data must be a dict {{sample: source or {{field: array}}}}, got {type(data).__name__}")
        missing = [s for s in self.graph.sources if s not in data]
        if missing:
            raise DataError(f"data has no sample {missing[0]!r}; the graph reads samples {list(self.graph.sources)}")
        if self._kernel is None:
            self._kernel = Kernel(self.graph, self.plan)
            remember(self._kernel)
        sources = {s: as_source(data[s]) for s in self.graph.sources}
        return self._executor().open(self._kernel, sources)

    def close(self) -> None:
        """Release the datasets this program holds and stop the executor's workers, if it started them."""
        for _, dataset in self._datasets.values():
            if hasattr(dataset, "release"):
                dataset.release()
        self._datasets.clear()
        if self.executor is not None:
            self.executor.close()

    def __enter__(self) -> "Program":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
        from workflow.execute.sum_rule import summed

        if isinstance(data, Sharded):  # traced by a caller: the sum rule, through callbacks
            inputs = {s: {k: values[k] for k in data.kernel.inputs(s)} for s in self.plan.sample_stage}
            sums = {k: v for per_sample in summed(data, mode, inputs).values() for k, v in per_sample.items()}
            return self._global_from(values, sums, mode, keys)
        per_sample = data.values if isinstance(data, Prepared) else self._raw_values(data).values
        everything = dict(values)
        for sample, nodes in self.plan.sample_stage.items():
            sample_values = {**values, **per_sample[sample]}
            run_nodes(self.graph, nodes, sample_values, mode)
            everything.update(sample_values)
        return self._global_outputs(everything, mode, keys)

    def _stage_values(self, params, mode: str = "soft") -> dict[str, Any]:
        """Parameter values and the parameter stage's outputs."""
        values = self._parameter_values(params)
        return run_nodes(self.graph, self.plan.parameter_stage, values, mode)

    def _global_from(self, values, sums, mode: str, keys) -> dict[str, Any]:
        return self._global_outputs({**values, **sums}, mode, keys, per_event_known=False)

    def _global_outputs(self, everything, mode: str, keys, per_event_known: bool = True) -> dict[str, Any]:
        run_nodes(self.graph, self.plan.global_stage, everything, mode)
        missing = [k for k in keys if k not in everything]
        if missing:
            hint = "" if per_event_known else (
                "; with chunked data only the reductions the global stage reads and global outputs exist")
            raise KeyError(f"no output {missing}; outputs are 'node.port' of nodes in the graph{hint}")
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
        """Prepared data for ``data``, computed once per distinct set of arrays or sources."""
        if isinstance(data, (Prepared, Sharded)):
            return data
        leaves, structure = jax.tree_util.tree_flatten(data)
        key = (structure, tuple(map(id, leaves)))  # the same arrays and source objects: a hit
        hit = self._datasets.get(key)
        if hit is not None:
            self._datasets.move_to_end(key)
            return hit[1]
        if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
            return data  # inside a user's trace: features are computed in that trace, in one jit
        if isinstance(data, dict) and _has_sources(data):  # equal sources are the same dataset
            key = (structure, tuple(sorted((s, v.identity()) for s, v in data.items() if _is_source(v))),
                   tuple(id(leaf) for leaf in leaves if not _is_source(leaf)))
            hit = self._datasets.get(key)
            if hit is not None:
                self._datasets.move_to_end(key)
                return hit[1]
        prepared = self.prepare(data)
        self._datasets[key] = ((leaves, data), prepared)  # holding the data keeps the ids unique
        if len(self._datasets) > 4:
            _, (_, old) = self._datasets.popitem(last=False)
            if isinstance(old, Sharded):
                old.release()
        return prepared

    def _eager(self, params, data) -> bool:
        return isinstance(data, Sharded) and not traced(params)

    def _regions(self):
        if self._eager_regions is None:
            from workflow.execute.eager import EagerRegions

            self._eager_regions = EagerRegions(self)
        return self._eager_regions

    def _executor(self):
        if self.executor is not None:
            return self.executor
        if self._default_executor is None:
            from workflow.execute.inprocess import InProcess

            self._default_executor = InProcess()
        return self._default_executor

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


def _is_source(value) -> bool:
    return isinstance(value, SourceBase)


def _has_sources(data) -> bool:
    return isinstance(data, dict) and any(_is_source(v) for v in data.values())


def _key(output: Handle | str) -> str:
    if isinstance(output, Handle):
        return str(output.ref)
    return str(Ref.parse(output))
