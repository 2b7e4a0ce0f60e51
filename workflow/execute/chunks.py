"""Chunks: a piece of a sample read, checked, scaled, padded to a fixed length and masked.

A chunk carries the sample stage's parameter-independent features (``Kernel.prepare``)
with it, so they are computed once per chunk, not at every step. Partial sums of chunks
are added in float64 in a fixed pairwise tree order, whichever executor produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workflow.execute.sources import Piece, SourceBase, SourceError


@dataclass
class Chunk:
    """Prepared values of ``n`` real events padded to ``len(mask)`` rows (mask: 1 real, 0 padding)."""

    sample: str
    index: int
    values: dict[str, Any]
    mask: np.ndarray
    n: int

    def __sizeof__(self) -> int:
        """Bytes held, so that Dask's scheduler keeps each step's tasks where their chunk lives."""
        arrays = [*self.values.values(), self.mask]
        return sum(int(getattr(a, "nbytes", 0)) for a in arrays) + 64


def check_source(sample: str, source: SourceBase, fields: dict[str, str]) -> None:
    """Raise a SourceError naming sample, file and field if a file lacks a field or has another dtype."""
    wanted = _columns_to_read(sample, source, fields)
    for file, name in enumerate(source.files()):
        try:
            found = source.columns(file)
        except SourceError as error:
            raise SourceError(f"sample {sample!r}: {error}") from None
        for column, dtype in wanted.items():
            what = "branch" if source.kind == "root" else "column"
            if column not in found:
                raise SourceError(
                    f"sample {sample!r}, file {name!r}: no {what} {column!r} "
                    f"(graph field {_field_for(column, fields, source)!r}); the file has {sorted(found)}")
            if dtype is not None and np.dtype(found[column]) != np.dtype(dtype):
                raise SourceError(
                    f"sample {sample!r}, file {name!r}, field {_field_for(column, fields, source)!r}: "
                    f"expected dtype {np.dtype(dtype)}, found {found[column]}; "
                    f"declare {found[column]} in g.source or convert the file")


def _columns_to_read(sample: str, source: SourceBase, fields: dict[str, str]) -> dict[str, str | None]:
    """Source columns needed for the declared fields: {column: required dtype or None}."""
    wanted = {f: d for f, d in fields.items() if f != source.weight_field}
    scaled = source.weight is not None or source.lumi != 1 or source.scale != 1
    if source.weight_field in fields:
        if source.weight is not None:
            wanted[source.weight] = None  # any float dtype; cast to the declared one
        elif not scaled:
            wanted[source.weight_field] = fields[source.weight_field]
    elif scaled:
        raise SourceError(
            f"sample {sample!r}: the source sets weight/lumi/scale but the graph declares no field "
            f"{source.weight_field!r}; declare it in g.source(..., fields={{{source.weight_field!r}: 'float32'}})")
    return wanted


def _field_for(column: str, fields: dict[str, str], source: SourceBase) -> str:
    return source.weight_field if column == source.weight and column not in fields else column


def read_fields(sample: str, source: SourceBase, piece: Piece, fields: dict[str, str]) -> dict[str, np.ndarray]:
    """The declared fields of one piece; the weight field scaled by lumi x scale."""
    wanted = _columns_to_read(sample, source, fields)
    try:
        columns = source.read(piece, list(wanted))
    except SourceError as error:
        raise SourceError(f"sample {sample!r}: {error}") from None
    out = {}
    for field, dtype in fields.items():
        if field == source.weight_field:
            factor = source.lumi * source.scale
            if source.weight is not None:
                weights = np.asarray(columns[source.weight], np.float64) * factor
            elif field in columns:
                weights = columns[field]
                weights = weights if factor == 1 else np.asarray(weights, np.float64) * factor
            else:
                weights = np.full((piece.size,), factor)
            out[field] = np.asarray(weights, dtype)
        else:
            array = np.asarray(columns[field])
            if array.dtype != np.dtype(dtype):
                raise SourceError(f"sample {sample!r}, file {source.files()[piece.file]!r}, field {field!r}: "
                                  f"expected dtype {np.dtype(dtype)}, found {array.dtype}")
            out[field] = array
    return out


def pad_rows(columns: dict[str, np.ndarray], length: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Pad every column to ``length`` rows by repeating its last row; mask 1 for real rows.

    Repeating a real row (rather than zeros) keeps every node finite on padding rows, so
    their masked-out contributions cannot turn into NaN in a gradient.
    """
    n = len(next(iter(columns.values()))) if columns else 0
    mask = np.zeros((length,), np.float32)
    mask[:n] = 1
    if n == length:
        return columns, mask
    if n == 0:
        return {k: np.zeros((length,) + v.shape[1:], v.dtype) for k, v in columns.items()}, mask
    padded = {k: np.concatenate([v, np.repeat(v[-1:], length - n, axis=0)]) for k, v in columns.items()}
    return padded, mask


def load_chunk(kernel, sample: str, index: int, source: SourceBase, piece: Piece, length: int) -> Chunk:
    """Read one piece, pad it to ``length`` rows and compute its cached features."""
    fields = kernel.fields(sample)
    raw, mask = pad_rows(read_fields(sample, source, piece, fields), length)
    return Chunk(sample, index, kernel.prepare(sample, raw), mask, piece.size)


def tree_sum(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Sum dicts of arrays in float64, pairwise in a fixed order (deterministic for a given list)."""
    if not parts:
        raise ValueError("nothing to sum: the sample has no chunks")
    level = [{k: np.asarray(v, np.float64) for k, v in p.items()} for p in parts]
    while len(level) > 1:
        pairs = [(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        nxt = [{k: a[k] + b[k] for k in a} for a, b in pairs]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


@dataclass
class Layout:
    """How a sample is chunked: its pieces, the padded chunk length, one chunk's value shapes."""

    sample: str
    pieces: list[Piece]
    length: int
    values: dict[str, tuple[tuple[int, ...], str]]  # key -> (shape, dtype) of a prepared chunk
    n_events: int
    row_bytes: int

    def template(self):
        """ShapeDtypeStructs of a prepared chunk's values and of its mask."""
        import jax

        values = {k: jax.ShapeDtypeStruct(shape, dtype) for k, (shape, dtype) in self.values.items()}
        return values, jax.ShapeDtypeStruct((self.length,), "float32")


def describe(kernel, sample: str, source: SourceBase, chunk_size: int) -> Layout:
    """Check a sample's source against the declared fields and plan its chunks (reads one event)."""
    import jax

    fields = kernel.fields(sample)
    check_source(sample, source, fields)
    pieces = source.pieces(chunk_size) or [Piece(0, 0, 0)]
    length = max(p.size for p in pieces) or 1
    block = getattr(kernel, "block", 0)
    if block and length > block:
        length = -(-length // block) * block  # whole blocks (see Kernel._sums)
    first = pieces[0]
    raw = read_fields(sample, source, Piece(first.file, first.start, min(first.start + 1, first.stop)), fields)
    raw, _ = pad_rows(raw, length)
    with jax.enable_x64(True):
        shapes = jax.eval_shape(lambda r: kernel._prepare(sample, r), {f"{sample}.{k}": v for k, v in raw.items()})
    row_bytes = sum(int(np.prod(v.shape[1:], dtype=int)) * v.dtype.itemsize for v in raw.values())
    return Layout(sample, pieces, length, {k: (tuple(s.shape), str(s.dtype)) for k, s in shapes.items()},
                  sum(p.size for p in pieces), row_bytes)
