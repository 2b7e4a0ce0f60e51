"""The in-process executor: one jit over all events when they fit, else a loop over chunks.

With the events of all samples within ``budget`` bytes, each sample is read whole and the
program runs as one jitted function of the arrays (no callbacks). Otherwise each sample is
cut into chunks of ``chunk_size`` events, the last one padded and masked so one compiled
chunk function serves them all, and the sum rule loops over them: memory for the event
work is bounded by the chunk size. ``keep=True`` holds the prepared chunks (raw fields and
cached features) in memory across steps; ``keep=False`` reads them again at every call, so
memory stays bounded by the chunk size whatever the number of events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workflow.execute.chunks import Layout, describe, load_chunk, read_fields, tree_sum
from workflow.execute.sources import SourceBase
from workflow.execute.sum_rule import Sharded


@dataclass
class _Sample:
    layout: Layout
    source: SourceBase
    chunks: list | None = None


@dataclass
class InProcess:
    """Run chunks in this process. ``budget``: bytes of event data allowed in one jit."""

    chunk_size: int = 1 << 18
    budget: int = 1 << 30
    keep: bool = True
    last: dict = field(default_factory=dict, repr=False)  # counters of the last call, for tests

    def open(self, kernel, sources: dict[str, SourceBase]):
        """Plan (and with ``keep``, load) every sample; a Prepared dataset when it fits the budget."""
        layouts = {s: describe(kernel, s, src, self.chunk_size) for s, src in sources.items()}
        total = sum(l.n_events * l.row_bytes for l in layouts.values())
        if total <= self.budget:
            return self._whole(kernel, sources, layouts)
        samples = {s: _Sample(layouts[s], sources[s]) for s in sources}
        if self.keep:
            for item in samples.values():
                item.chunks = [self._load(kernel, item, i) for i in range(len(item.layout.pieces))]
        return Sharded(self, kernel, samples, {s: l.template() for s, l in layouts.items()})

    def _whole(self, kernel, sources, layouts):
        from workflow.program import Prepared

        prepared = {}
        for sample, source in sources.items():
            fields = kernel.fields(sample)
            parts = [read_fields(sample, source, p, fields) for p in layouts[sample].pieces]
            raw = {f: np.concatenate([p[f] for p in parts]) for f in fields}
            prepared[sample] = dict(kernel.prepare(sample, raw))
        return Prepared(prepared)

    @staticmethod
    def _load(kernel, item: _Sample, index: int):
        layout = item.layout
        return load_chunk(kernel, layout.sample, index, item.source, layout.pieces[index], layout.length)

    def _chunks(self, dataset: Sharded, sample: str):
        item = dataset.state[sample]
        if item.chunks is not None:
            yield from item.chunks
        else:
            for i in range(len(item.layout.pieces)):
                yield self._load(dataset.kernel, item, i)

    def sums(self, dataset: Sharded, mode: str, inputs: dict) -> dict:
        """Per sample, the float64 sum over its chunks of the partial sums."""
        kernel, out, self.last = dataset.kernel, {}, {}
        for sample, values in inputs.items():
            parts = [kernel.sums(sample, mode, values, c.values, c.mask) for c in self._chunks(dataset, sample)]
            out[sample] = tree_sum(parts)
            self.last[sample] = len(parts)
        return out

    def vjp(self, dataset: Sharded, mode: str, inputs: dict, cotangents: dict) -> dict:
        """Per sample, the float64 sum over its chunks of the input cotangents."""
        kernel, out = dataset.kernel, {}
        for sample, values in inputs.items():
            parts = [_flat(kernel.vjp(sample, mode, values, c.values, c.mask, cotangents[sample]))
                     for c in self._chunks(dataset, sample)]
            out[sample] = _unflat(tree_sum([p for p, _ in parts]), parts[0][1])
        return out

    def release(self, dataset: Sharded) -> None:
        for item in dataset.state.values():
            item.chunks = None

    def close(self) -> None:
        pass


def _flat(tree):
    """A pytree as {index: leaf} (tree_sum adds dicts) and its structure."""
    import jax

    leaves, structure = jax.tree_util.tree_flatten(tree)
    return {str(i): leaf for i, leaf in enumerate(leaves)}, structure


def _unflat(flat, structure):
    import jax

    return jax.tree_util.tree_unflatten(structure, [flat[str(i)] for i in range(len(flat))])
