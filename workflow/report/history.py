"""The per-step history of a run as history.json and history.csv."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from workflow.checkpoint import write_json

COLUMNS = ("step", "objective", "objective_hard", "grad_norm", "time")


def write_history(folder: Path, history: list[dict]) -> None:
    """history.json (every field) and history.csv (one column per number, parameters flattened)."""
    folder = Path(folder)
    write_json(folder / "history.json", history)
    extra = []
    for record in history:
        for key in _flat(record):
            if key not in COLUMNS and key not in extra:
                extra.append(key)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS) + extra, lineterminator="\n")
    writer.writeheader()
    for record in history:
        writer.writerow(_flat(record))
    tmp = folder / f".history.csv.{os.getpid()}.tmp"
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, folder / "history.csv")


def _flat(record: dict) -> dict:
    row = {k: ("" if record.get(k) is None else record.get(k)) for k in COLUMNS}
    for name, value in record.get("params", {}).items():
        values = value if isinstance(value, list) else [value]
        for i, v in enumerate(_ravel(values)):
            row[name if len(values) == 1 and not isinstance(values[0], list) else f"{name}[{i}]"] = v
    for name, norm in record.get("param_norms", {}).items():
        row[f"|{name}|"] = norm
    return row


def _ravel(values):
    for v in values:
        if isinstance(v, list):
            yield from _ravel(v)
        else:
            yield v
