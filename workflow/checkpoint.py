"""Checkpoints of an optimisation: parameters and optimiser state as .npz, the rest as JSON.

A checkpoint is a folder ``checkpoints/step-NNNNNN`` written under a temporary name and
renamed into place, then ``checkpoints/latest.json`` is replaced atomically to point at
it; an interrupted write leaves the previous checkpoint in charge. Pytrees are stored as
their leaves; loading rebuilds them on the structure of a template (``program.init_params()``
and ``optimizer.init(params)``), so nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from workflow.errors import DiffdagError

LATEST = "latest.json"


class CheckpointError(DiffdagError):
    """A checkpoint that is missing or does not fit the graph being resumed."""


@dataclass
class Checkpoint:
    step: int  # steps completed
    params: Any
    opt_state: Any
    state: dict  # JSON: history, seed, ...


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, default=_plain), encoding="utf-8")
    os.replace(tmp, path)


def save_tree(path: Path, tree: Any) -> None:
    """A pytree's leaves as ``leaf_00000, ...`` in an .npz file, written atomically."""
    leaves = jax.tree_util.tree_leaves(tree)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **{f"leaf_{i:05d}": np.asarray(leaf) for i, leaf in enumerate(leaves)})
    os.replace(tmp, path)


def load_tree(path: Path, template: Any) -> Any:
    """Leaves from ``path`` in the structure (and dtypes) of ``template``."""
    leaves, treedef = jax.tree_util.tree_flatten(template)
    with np.load(path, allow_pickle=False) as stored:
        names = sorted(stored.files)
        if len(names) != len(leaves):
            raise CheckpointError(f"{path}: holds {len(names)} arrays, the run needs {len(leaves)}; "
                                  "was it written for another graph or optimiser?")
        restored = []
        for name, like in zip(names, leaves):
            value = stored[name]
            if value.shape != np.shape(like):
                raise CheckpointError(f"{path}: {name} has shape {value.shape}, the run needs {np.shape(like)}")
            restored.append(value.astype(np.asarray(like).dtype))
    return jax.tree_util.tree_unflatten(treedef, restored)


def save_checkpoint(folder: Path, step: int, params: Any, opt_state: Any, state: dict, keep: int = 2) -> Path:
    """Write checkpoint ``step`` under ``folder/checkpoints`` and point latest.json at it."""
    root = Path(folder) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:06d}"
    tmp = root / f".step-{step:06d}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_tree(tmp / "params.npz", params)
    save_tree(tmp / "opt_state.npz", opt_state)
    write_json(tmp / "state.json", {"step": step, **state})
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    write_json(root / LATEST, {"step": step, "folder": final.name})
    for old in sorted(root.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_step(folder: Path) -> int | None:
    """Steps completed by the newest checkpoint in ``folder``, or None."""
    pointer = Path(folder) / "checkpoints" / LATEST
    if not pointer.is_file():
        return None
    return int(json.loads(pointer.read_text())["step"])


def load_checkpoint(folder: Path, params_template: Any, opt_state_template: Any) -> Checkpoint:
    """The newest checkpoint in ``folder``, rebuilt on the templates' structures."""
    root = Path(folder) / "checkpoints"
    pointer = root / LATEST
    if not pointer.is_file():
        raise CheckpointError(f"{folder}: no checkpoint to resume from (no {pointer}). "
                              "Fix: resume a run folder written with checkpoints, or start a new run.")
    where = root / json.loads(pointer.read_text())["folder"]
    state = json.loads((where / "state.json").read_text())
    return Checkpoint(
        step=int(state.pop("step")),
        params=load_tree(where / "params.npz", params_template),
        opt_state=load_tree(where / "opt_state.npz", opt_state_template),
        state=state,
    )


def _plain(value):
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        return np.asarray(value).tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
