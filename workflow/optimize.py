"""The optimisation loop: optax steps on a compiled program, with checkpoints and resume.

    result = optimize(program, data, steps=200, optimizer=optax.adam(1e-3),
                      batch_size=2000, checkpoint_every=50, out="runs/neos")

Each step draws its batch from ``(seed, step)`` alone, so a run resumed from a checkpoint
ends with the same parameters as one that never stopped. Parameters are projected back
inside their bounds (``program.clip``) after every update. A NaN or infinite objective or
gradient stops the run and keeps the last good parameters.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax

from workflow.checkpoint import latest_step, load_checkpoint, save_checkpoint, save_tree, write_json

SMALL = 8  # parameters with at most this many numbers are recorded in full, larger ones as norms


@dataclass
class RunResult:
    """What a run produced: final and initial parameters, per-step history, why it stopped."""

    params: dict[str, Any]
    initial_params: dict[str, Any]
    history: list[dict] = field(default_factory=list)
    steps: int = 0  # steps completed
    stopped: str | None = None  # None when all steps ran, else the reason
    out: Path | None = None


class Batches:
    """``batches(step)``: per sample, ``size`` events drawn without replacement from ``(seed, step)``."""

    def __init__(self, data: dict[str, dict[str, Any]], size: int | None, seed: int = 0):
        self.data, self.size, self.seed = data, size, seed
        self.counts = {s: len(next(iter(fields.values()))) for s, fields in data.items()}

    def __call__(self, step: int) -> dict[str, dict[str, Any]]:
        out = {}
        for i, (sample, fields) in enumerate(self.data.items()):
            n = self.counts[sample]
            if self.size is None or self.size >= n:
                out[sample] = fields
                continue
            rng = np.random.default_rng([self.seed, step, i])
            index = np.sort(rng.choice(n, size=self.size, replace=False))
            out[sample] = {k: np.asarray(v)[index] for k, v in fields.items()}
        return out


def optimize(
    program,
    data: dict | Callable[[int], Any],
    steps: int,
    optimizer: optax.GradientTransformation | None = None,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    params: dict[str, Any] | None = None,
    checkpoint_every: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    hard_every: int = 1,
    progress: bool = True,
    on_step: Callable[[dict], None] | None = None,
) -> RunResult:
    """Minimise ``program``'s objective for ``steps`` steps; returns a :class:`RunResult`.

    ``data`` is ``{sample: {field: array}}`` (drawn into batches of ``batch_size`` events per
    sample when given) or a function ``step -> data``. With ``out``, checkpoints go to
    ``out/checkpoints`` every ``checkpoint_every`` steps and the final parameters to
    ``out/params.npz`` and ``out/params.json``; ``resume=True`` continues from the newest
    checkpoint there.
    """
    optimizer = optimizer or optax.adam(1e-3)
    batches = data if callable(data) else Batches(data, batch_size, seed)
    out = None if out is None else Path(out)
    initial = params if params is not None else program.init_params()
    with jax.enable_x64(True):
        params = initial
        opt_state = optimizer.init(params)
    history: list[dict] = []
    start = 0
    if resume and out is not None and latest_step(out) is not None:
        checkpoint = load_checkpoint(out, params, opt_state)
        start, params, opt_state = checkpoint.step, checkpoint.params, checkpoint.opt_state
        history = list(checkpoint.state.get("history", []))
    result = RunResult(params=params, initial_params=initial, history=history, steps=start, out=out)
    elapsed = history[-1]["time"] if history else 0.0
    bar = _Progress(steps, start, enabled=progress)
    try:
        for step in range(start, steps):
            t0 = time.perf_counter()
            batch = batches(step)
            with jax.enable_x64(True):
                value, grads = program.value_and_grad(params, batch)
                value = float(value)
                grad_norm = float(_norm(grads))
                if not (math.isfinite(value) and math.isfinite(grad_norm)):
                    what = "objective" if not math.isfinite(value) else "gradient"
                    result.stopped = f"{what} is not finite at step {step}; kept the parameters of step {step}"
                    break
                hard = float(program.evaluate(params, batch, mode="hard")) if step % hard_every == 0 else None
                updates, opt_state = optimizer.update(grads, opt_state, params)
                params = program.clip(optax.apply_updates(params, updates))
            elapsed += time.perf_counter() - t0
            record = {"step": step, "objective": value, "objective_hard": hard, "grad_norm": grad_norm,
                      "time": elapsed, **_summary(params)}
            history.append(record)
            result.params, result.steps = params, step + 1
            bar.update(record)
            if on_step is not None:
                on_step(record)
            if out is not None and checkpoint_every and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
                save_checkpoint(out, step + 1, params, opt_state, {"seed": seed, "history": history})
    finally:
        bar.close()
    if out is not None:
        save_checkpoint(out, result.steps, result.params, opt_state, {"seed": seed, "history": history})
        save_parameters(out, result.params)
        write_json(out / "history.json", history)
    return result


def save_parameters(folder: Path, params: dict[str, Any]) -> None:
    """Final parameters as ``params.npz`` (leaves) and ``params.json`` (readable values)."""
    save_tree(Path(folder) / "params.npz", params)
    write_json(Path(folder) / "params.json", jax.tree_util.tree_map(lambda v: np.asarray(v).tolist(), params))


def _summary(params: dict[str, Any]) -> dict[str, Any]:
    """Small parameters in full, larger ones (network weights) as their L2 norm."""
    values, norms = {}, {}
    for name, value in params.items():
        leaves = [np.asarray(leaf, np.float64) for leaf in jax.tree_util.tree_leaves(value)]
        size = sum(leaf.size for leaf in leaves)
        if size <= SMALL and len(leaves) == 1:
            values[name] = leaves[0].tolist()
        else:
            norms[name] = float(np.sqrt(sum(np.sum(leaf**2) for leaf in leaves)))
    return {"params": values, "param_norms": norms}


class _Progress:
    """A rich progress bar showing the objective and its hard-mode value."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.progress = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]optimising"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("objective {task.fields[soft]}  hard {task.fields[hard]}"),
        )
        self.task = self.progress.add_task("run", total=total, completed=done, soft="-", hard="-")
        self.progress.start()

    def update(self, record: dict) -> None:
        if self.progress is None:
            return
        hard = record["objective_hard"]
        self.progress.update(self.task, advance=1, soft=f"{record['objective']:.5g}",
                             hard="-" if hard is None else f"{hard:.5g}")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _norm(tree) -> float:
    tree_norm = getattr(getattr(optax, "tree", None), "norm", None)
    return tree_norm(tree) if tree_norm is not None else optax.global_norm(tree)
