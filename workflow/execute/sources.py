"""Where a sample's events come from, read one piece (an entry range of one file) at a time.

Every source is a frozen pydantic model with a ``kind`` discriminator, so graph files can
name them: ``Arrays`` (columns in memory), ``Npz``, ``Parquet``, ``Root`` (uproot) and
``Gaussian`` (a seeded toy generator, generated where it is read). A source says how many
events it has, splits them into pieces of at most ``step`` events, and reads a piece's
columns as numpy arrays. Per-event weights (``weight``: the column holding them) and the
``lumi`` x ``scale`` factors become the field ``weight_field`` (see ``chunks.read_fields``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import jax
import numpy as np
import pydantic

from workflow.errors import DataError


class SourceError(DataError):
    """A source cannot deliver what the graph declares: names sample, file and field."""


@dataclass(frozen=True)
class Piece:
    """Events ``start:stop`` of file number ``file`` (entries counted within that file)."""

    file: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


class SourceBase(pydantic.BaseModel):
    """Fields every source has: the weight column and the normalisation factors."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    weight: str | None = pydantic.Field(None, description="column holding per-event weights")
    lumi: float = pydantic.Field(1.0, gt=0, description="luminosity factor applied to the weights")
    scale: float = pydantic.Field(1.0, description="extra factor (cross-section, k-factor, 1/N)")
    weight_field: str = pydantic.Field("weight", description="graph field receiving the scaled weights")

    # -- what each source provides --------------------------------------------------
    def files(self) -> list[str]:
        return ["<memory>"]

    def file_entries(self) -> list[int]:
        """Number of events in each file."""
        raise NotImplementedError

    def columns(self, file: int) -> dict[str, np.dtype]:
        """The columns a file offers and their dtypes."""
        raise NotImplementedError

    def read(self, piece: Piece, columns: list[str]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def default_step(self) -> int | None:
        """Events per piece this source asks for (None: the executor's chunk size)."""
        return None

    # -- shared ----------------------------------------------------------------------
    def entry_range(self) -> tuple[int, int | None]:
        return 0, None

    def pieces(self, step: int) -> list[Piece]:
        """Split the (entry-range restricted) events into pieces of at most ``step`` events."""
        step = self.default_step() or step
        if step < 1:
            raise ValueError(f"step must be >= 1 event, got {step}")
        first, last = self.entry_range()
        out, offset = [], 0
        for file, n in enumerate(self.file_entries()):
            lo = max(first - offset, 0)
            hi = n if last is None else min(last - offset, n)
            for start in range(lo, hi, step):
                out.append(Piece(file, start, min(start + step, hi)))
            offset += n
        return out

    def count_events(self) -> int:
        return sum(p.size for p in self.pieces(1 << 62))

    def for_piece(self, piece: Piece) -> tuple["SourceBase", Piece]:
        """A source and piece to ship to a worker for ``piece`` (in-memory sources slice here)."""
        return self, piece

    def identity(self) -> Any:
        """A hashable value that is equal for sources delivering the same events."""
        return self.model_dump_json()

    def __hash__(self) -> int:
        return hash(self.identity())


class Arrays(SourceBase):
    """Columns held in memory: ``{field: array}``, all of the same length."""

    kind: Literal["arrays"] = "arrays"
    data: dict[str, Any]

    def file_entries(self) -> list[int]:
        lengths = {len(v) for v in self.data.values()}
        return [lengths.pop() if len(lengths) == 1 else _unequal(self.data)]

    def columns(self, file: int) -> dict[str, np.dtype]:
        return {k: np.dtype(v.dtype) for k, v in self.data.items()}

    def read(self, piece: Piece, columns: list[str]) -> dict[str, np.ndarray]:
        return {c: np.asarray(self.data[c][piece.start:piece.stop]) for c in columns}

    def for_piece(self, piece: Piece) -> tuple["Arrays", Piece]:
        part = {k: np.asarray(v[piece.start:piece.stop]) for k, v in self.data.items()}
        return self.model_copy(update={"data": part}), Piece(0, 0, piece.size)

    def identity(self) -> Any:
        return ("arrays", tuple((k, id(v)) for k, v in sorted(self.data.items())),
                self.weight, self.lumi, self.scale, self.weight_field)

    def __eq__(self, other) -> bool:
        return isinstance(other, Arrays) and self.identity() == other.identity()

    __hash__ = SourceBase.__hash__


def _unequal(data) -> int:
    raise SourceError(f"in-memory columns have different lengths: { {k: len(v) for k, v in data.items()} }")


class Npz(SourceBase):
    """A numpy ``.npz`` file, one array per column."""

    kind: Literal["npz"] = "npz"
    path: str

    def files(self) -> list[str]:
        return [self.path]

    def _open(self):
        _require_file(self.path)
        return np.load(self.path, allow_pickle=False)

    def file_entries(self) -> list[int]:
        with self._open() as f:
            lengths = {len(f[k]) for k in f.files}
        return [max(lengths) if lengths else 0]

    def columns(self, file: int) -> dict[str, np.dtype]:
        with self._open() as f:
            return {k: f[k].dtype for k in f.files}

    def read(self, piece: Piece, columns: list[str]) -> dict[str, np.ndarray]:
        with self._open() as f:
            return {c: np.asarray(f[c][piece.start:piece.stop]) for c in columns}


class Parquet(SourceBase):
    """One or more Parquet files with the same flat columns (read with pyarrow)."""

    kind: Literal["parquet"] = "parquet"
    paths: list[str] = pydantic.Field(min_length=1)

    def files(self) -> list[str]:
        return list(self.paths)

    def _open(self, file: int):
        import pyarrow.parquet as pq

        _require_file(self.paths[file])
        return pq.ParquetFile(self.paths[file])

    def file_entries(self) -> list[int]:
        return [self._open(i).metadata.num_rows for i in range(len(self.paths))]

    def columns(self, file: int) -> dict[str, np.dtype]:
        schema = self._open(file).schema_arrow
        return {f.name: _arrow_dtype(f.type) for f in schema}

    def read(self, piece: Piece, columns: list[str]) -> dict[str, np.ndarray]:
        handle = self._open(piece.file)
        meta, groups, offset = handle.metadata, [], 0
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if offset < piece.stop and offset + n > piece.start:
                groups.append((g, offset))
            offset += n
        if not groups:
            return {c: np.zeros((0,), self.columns(piece.file)[c]) for c in columns}
        table = handle.read_row_groups([g for g, _ in groups], columns=columns)
        table = table.slice(piece.start - groups[0][1], piece.size)
        return {c: table.column(c).to_numpy() for c in columns}


def _arrow_dtype(arrow_type) -> np.dtype:
    try:
        return np.dtype(arrow_type.to_pandas_dtype())
    except (NotImplementedError, TypeError):
        return np.dtype(object)


class Root(SourceBase):
    """A TTree in one or more ROOT files, read with uproot.

    ``branches`` maps graph fields to branch names (default: the field names). ``step_size``
    is events per piece (int) or a memory size (``"100 MB"``, converted per file with
    uproot's ``num_entries_for``); None takes the executor's chunk size. ``entry_start`` /
    ``entry_stop`` count entries over the files in order.
    """

    kind: Literal["root"] = "root"
    paths: list[str] = pydantic.Field(min_length=1)
    tree: str
    branches: dict[str, str] | None = None
    step_size: int | str | None = None
    entry_start: int = pydantic.Field(0, ge=0)
    entry_stop: int | None = None

    def files(self) -> list[str]:
        return list(self.paths)

    def _tree(self, file: int):
        import uproot

        path = self.paths[file]
        _require_file(path)
        try:
            handle = uproot.open(path)
        except Exception as error:  # not a ROOT file, truncated, ...
            raise SourceError(f"file {path!r}: uproot cannot open it: {error}") from None
        if self.tree not in handle:
            raise SourceError(f"file {path!r}: no tree {self.tree!r}; it holds {list(handle.keys())}")
        return handle[self.tree]

    def branch(self, field: str) -> str:
        return (self.branches or {}).get(field, field)

    def file_entries(self) -> list[int]:
        return [int(self._tree(i).num_entries) for i in range(len(self.paths))]

    def columns(self, file: int) -> dict[str, np.dtype]:
        """Branch dtypes (object for jagged branches), under their graph field names."""
        tree = self._tree(file)
        fields = {self.branch(f): f for f in (self.branches or {})}
        out = {}
        for name in tree.keys():
            interpretation = getattr(tree[name], "interpretation", None)
            dtype = getattr(interpretation, "numpy_dtype", None)
            if dtype is None or getattr(interpretation, "inner_shape", ()) != ():
                dtype = np.dtype(object)  # jagged, nested or not a TTree branch
            out[fields.get(name, name)] = np.dtype(dtype)
        return out

    def entry_range(self) -> tuple[int, int | None]:
        return self.entry_start, self.entry_stop

    def default_step(self) -> int | None:
        if self.step_size is None or isinstance(self.step_size, int):
            return self.step_size
        tree = self._tree(0)
        return max(int(tree.num_entries_for(self.step_size)), 1)

    def read(self, piece: Piece, columns: list[str]) -> dict[str, np.ndarray]:
        tree = self._tree(piece.file)
        arrays = tree.arrays([self.branch(c) for c in columns], entry_start=piece.start,
                             entry_stop=piece.stop, library="np")
        return {c: arrays[self.branch(c)] for c in columns}


class Gaussian(SourceBase):
    """A seeded toy sample: events from N(means, cov), one column per field.

    Events are generated in fixed blocks of ``block`` events, block b from
    ``SeedSequence([seed, b])``, so a piece's events do not depend on how the sample is
    chunked and never pass through the client.
    """

    kind: Literal["gaussian"] = "gaussian"
    means: list[float] = pydantic.Field(min_length=1)
    cov: list[list[float]]
    n_events: int = pydantic.Field(ge=0)
    seed: int = 0
    fields: list[str]
    dtype: str = "float32"
    block: int = pydantic.Field(1 << 16, gt=0)

    @pydantic.model_validator(mode="after")
    def _shapes_agree(self):
        k = len(self.means)
        if len(self.fields) != k or np.shape(self.cov) != (k, k):
            raise ValueError(f"Gaussian: {k} means need {k} fields and a {k}x{k} cov; "
                             f"got fields {self.fields}, cov shape {np.shape(self.cov)}")
        return self

    def files(self) -> list[str]:
        return [f"<gaussian seed={self.seed}>"]

    def file_entries(self) -> list[int]:
        return [self.n_events]

    def columns(self, file: int) -> dict[str, np.dtype]:
        return {f: np.dtype(self.dtype) for f in self.fields}

    def read(self, piece: Piece, columns: list[str]) -> dict[str, np.ndarray]:
        first, last = piece.start // self.block, -(-piece.stop // self.block)
        factor = np.linalg.cholesky(np.asarray(self.cov, np.float64))
        blocks = []
        for b in range(first, last):
            n = min(self.block, self.n_events - b * self.block)
            z = np.random.default_rng(np.random.SeedSequence([self.seed, b])).standard_normal((n, len(self.means)))
            blocks.append(z @ factor.T + np.asarray(self.means))
        events = np.concatenate(blocks)[piece.start - first * self.block:piece.stop - first * self.block]
        events = events.astype(self.dtype)
        return {c: np.ascontiguousarray(events[:, self.fields.index(c)]) for c in columns}


def _require_file(path: str) -> None:
    if not os.path.exists(path):
        raise SourceError(f"file {path!r} does not exist (cwd {os.getcwd()!r})")


Source = Annotated[Union[Arrays, Npz, Parquet, Root, Gaussian], pydantic.Field(discriminator="kind")]
SOURCE_TYPES = (Arrays, Npz, Parquet, Root, Gaussian)


def as_source(value) -> SourceBase:
    """A source from a source model, an in-memory ``{field: array}`` dict or its JSON form."""
    if isinstance(value, SourceBase):
        return value
    if isinstance(value, dict) and "kind" not in value:
        return Arrays(data=dict(value))
    return pydantic.TypeAdapter(Source).validate_python(value)


for _cls in SOURCE_TYPES:  # a source is a leafless pytree: data handles pass through jax.jit
    jax.tree_util.register_pytree_node(_cls, lambda s: ((), s), lambda s, _: s)
