"""Report figures as PNG bytes: objective curve, parameter trajectories, stacked histograms.

matplotlib runs with the Agg backend (no display); histograms use mplhep's HEP style.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def objective_curve(history: list[dict]) -> bytes:
    """The soft objective per step and the hard-mode value where it was evaluated."""
    figure, axis = plt.subplots(figsize=(7, 4))
    steps = [r["step"] for r in history]
    axis.plot(steps, [r["objective"] for r in history], label="objective (soft)", color="C0")
    hard = [(r["step"], r["objective_hard"]) for r in history if r.get("objective_hard") is not None]
    if hard:
        axis.plot(*zip(*hard), label="objective (hard)", color="C1", linestyle="--")
    axis.set_xlabel("step")
    axis.set_ylabel("objective")
    values = [r["objective"] for r in history] + [v for _, v in hard]
    if values and min(values) > 0 and max(values) > 100 * min(values):
        axis.set_yscale("log")  # CLs and p-values span decades
    axis.legend()
    axis.grid(alpha=0.3)
    return _png(figure)


def parameter_trajectories(history: list[dict]) -> bytes | None:
    """Small parameters by value, larger ones (network weights) by their L2 norm, per step."""
    series: dict[str, list[tuple[int, float]]] = {}
    for record in history:
        for name, value in record.get("params", {}).items():
            flat = np.ravel(value)
            for i, v in enumerate(flat):
                series.setdefault(name if flat.size == 1 else f"{name}[{i}]", []).append((record["step"], float(v)))
        for name, norm in record.get("param_norms", {}).items():
            series.setdefault(f"|{name}|", []).append((record["step"], norm))
    if not series:
        return None
    figure, axes = plt.subplots(len(series), 1, figsize=(7, 1.8 * len(series) + 0.6), sharex=True, squeeze=False)
    for axis, (label, points) in zip(axes[:, 0], series.items()):
        axis.plot(*zip(*points), color="C2")
        axis.set_ylabel(label, rotation=0, ha="right", va="center")
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    return _png(figure)


def stacked_histograms(title: str, edges: np.ndarray, before: dict[str, Any], after: dict[str, Any],
                       stack: list[str]) -> bytes:
    """Before / after panels: ``stack`` labels stacked (filled), the others drawn as lines."""
    import mplhep

    label_x = "bin" if edges is None else title
    if edges is None:
        edges = np.arange(len(np.ravel(next(iter(after.values())))) + 1, dtype=float)
    with plt.style.context(mplhep.style.ROOT):
        figure, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
        for axis, counts, when in zip(axes, (before, after), ("before", "after")):
            stacked = [k for k in stack if k in counts]
            if stacked:
                mplhep.histplot([np.asarray(counts[k], float) for k in stacked], edges, stack=True,
                                histtype="fill", label=stacked, ax=axis, alpha=0.8)
            for label in (k for k in counts if k not in stacked):
                mplhep.histplot(np.asarray(counts[label], float), edges, histtype="step", label=label, ax=axis,
                                linewidth=1.5)
            axis.set_title(f"{title}: {when}", fontsize=12)
            axis.set_xlabel(label_x, fontsize=12)
            axis.legend(fontsize=9)
        axes[0].set_ylabel("events", fontsize=12)
        return _png(figure)
