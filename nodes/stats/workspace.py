"""pyhf JSON workspaces: a pydantic schema, loading with JSON-path errors, and export.

The schema models are frozen and hold tuples, so a validated workspace is hashable and can
sit in a node's static config. Loading checks the schema first, then the cross-references
pyhf needs (bin counts, observations per channel, the measurement's POI); every error
names the file and the JSON path, what was expected and what was found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pydantic
from pydantic import ConfigDict, Field


class WorkspaceError(ValueError):
    """An invalid workspace: ``str(error)`` is one paragraph naming the file and JSON path."""

    def __init__(self, message: str, path: str = "", source: str | None = None):
        self.path = path
        self.source = source
        where = ": ".join(part for part in (source, path) if part)
        super().__init__(f"{where}: {message}" if where else message)


class _Frozen(pydantic.BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Numbers = tuple[float, ...]


class NormsysData(_Frozen):
    hi: float
    lo: float


class HistosysData(_Frozen):
    hi_data: Numbers
    lo_data: Numbers


class NormFactor(_Frozen):
    name: str
    type: Literal["normfactor"]
    data: None = None


class Lumi(_Frozen):
    name: str
    type: Literal["lumi"]
    data: None = None


class ShapeFactor(_Frozen):
    name: str
    type: Literal["shapefactor"]
    data: None = None


class NormSys(_Frozen):
    name: str
    type: Literal["normsys"]
    data: NormsysData


class HistoSys(_Frozen):
    name: str
    type: Literal["histosys"]
    data: HistosysData


class ShapeSys(_Frozen):
    name: str
    type: Literal["shapesys"]
    data: Numbers


class StatError(_Frozen):
    name: str
    type: Literal["staterror"]
    data: Numbers


Modifier = Annotated[
    NormFactor | Lumi | ShapeFactor | NormSys | HistoSys | ShapeSys | StatError,
    Field(discriminator="type"),
]
MODIFIER_TYPES = ("histosys", "lumi", "normfactor", "normsys", "shapefactor", "shapesys", "staterror")


class Sample(_Frozen):
    name: str
    data: Numbers = Field(min_length=1)
    modifiers: tuple[Modifier, ...] = ()


class Channel(_Frozen):
    name: str
    samples: tuple[Sample, ...] = Field(min_length=1)


class Observation(_Frozen):
    name: str
    data: Numbers


class ParameterConfig(_Frozen):
    name: str
    inits: Numbers | None = None
    bounds: tuple[tuple[float, float], ...] | None = None
    fixed: bool | None = None
    auxdata: Numbers | None = None
    sigmas: Numbers | None = None
    factors: Numbers | None = None


class MeasurementConfig(_Frozen):
    poi: str
    parameters: tuple[ParameterConfig, ...] = ()


class Measurement(_Frozen):
    name: str
    config: MeasurementConfig


class Workspace(_Frozen):
    """A pyhf workspace (schema 1.0.0)."""

    channels: tuple[Channel, ...] = Field(min_length=1)
    observations: tuple[Observation, ...] = ()
    measurements: tuple[Measurement, ...] = Field(min_length=1)
    version: str = "1.0.0"

    def measurement(self, name: str | None = None) -> Measurement:
        """The named measurement, or the first one (as pyhf does)."""
        if name is None:
            return self.measurements[0]
        for measurement in self.measurements:
            if measurement.name == name:
                return measurement
        known = ", ".join(repr(m.name) for m in self.measurements)
        raise WorkspaceError(f"no measurement named {name!r}; the workspace has {known}", "$.measurements")


def _json_path(loc: tuple) -> str:
    """pydantic's error location as a JSON path, without discriminator tags."""
    path = "$"
    previous = None
    for item in loc:
        if isinstance(item, int):
            path += f"[{item}]"
        elif not (isinstance(previous, int) and item in MODIFIER_TYPES):
            path += f".{item}"
        previous = item
    return path


def _describe(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list, str, int, float, bool, type(None))) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_references(ws: Workspace) -> list[tuple[str, str]]:
    """Cross-field problems pyhf would reject, as (JSON path, message) pairs."""
    problems = []
    channel_bins = {}
    for ci, channel in enumerate(ws.channels):
        if channel.name in channel_bins:
            problems.append((f"$.channels[{ci}].name", f"duplicate channel name {channel.name!r}"))
        nbins = len(channel.samples[0].data)
        channel_bins[channel.name] = nbins
        seen = set()
        for si, sample in enumerate(channel.samples):
            where = f"$.channels[{ci}].samples[{si}]"
            if sample.name in seen:
                problems.append((f"{where}.name", f"duplicate sample name {sample.name!r} in channel {channel.name!r}"))
            seen.add(sample.name)
            if len(sample.data) != nbins:
                problems.append((f"{where}.data", f"expected {nbins} bins (as the channel's first sample), found {len(sample.data)}"))
            for mi, mod in enumerate(sample.modifiers):
                mwhere = f"{where}.modifiers[{mi}].data"
                arrays = {"histosys": ("hi_data", "lo_data")}.get(mod.type, ())
                for key in arrays:
                    found = len(getattr(mod.data, key))
                    if found != len(sample.data):
                        problems.append((f"{mwhere}.{key}", f"expected {len(sample.data)} values (the sample's bins), found {found}"))
                if mod.type in ("shapesys", "staterror") and len(mod.data) != len(sample.data):
                    problems.append((mwhere, f"expected {len(sample.data)} values (the sample's bins), found {len(mod.data)}"))
    observed = {}
    for oi, obs in enumerate(ws.observations):
        observed[obs.name] = oi
        if obs.name not in channel_bins:
            problems.append((f"$.observations[{oi}].name", f"no channel named {obs.name!r}"))
        elif len(obs.data) != channel_bins[obs.name]:
            problems.append((f"$.observations[{oi}].data", f"expected {channel_bins[obs.name]} bins (channel {obs.name!r}), found {len(obs.data)}"))
    for name in channel_bins:
        if ws.observations and name not in observed:
            problems.append(("$.observations", f"expected an observation for channel {name!r}, found none"))
    modifier_names = {m.name for c in ws.channels for s in c.samples for m in s.modifiers}
    for mi, measurement in enumerate(ws.measurements):
        if measurement.config.poi not in modifier_names:
            problems.append((f"$.measurements[{mi}].config.poi", f"expected the name of a modifier, found {measurement.config.poi!r}"))
    return problems


def parse_workspace(obj: Any, source: str | None = None) -> Workspace:
    """Validate a decoded JSON object as a workspace; raise WorkspaceError naming the JSON path."""
    try:
        ws = Workspace.model_validate(obj)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        extra = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
        found = f"; found {_describe(first['input'])}" if first["type"] != "missing" else ""
        raise WorkspaceError(f"{first['msg'].lower()}{found}{extra}", _json_path(first["loc"]), source) from None
    problems = check_references(ws)
    if problems:
        path, message = problems[0]
        extra = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise WorkspaceError(message + extra, path, source)
    return ws


def load_workspace(path: str | Path) -> Workspace:
    """Read and validate a pyhf JSON workspace file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise WorkspaceError(f"cannot read the file ({error.strerror})", "", str(path)) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        raise WorkspaceError(f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}", "$", str(path)) from None
    return parse_workspace(obj, str(path))


def to_pyhf_json(ws: Workspace) -> dict:
    """The workspace as a pyhf JSON object (unset parameter settings left out)."""
    obj = ws.model_dump(mode="json")
    for measurement in obj["measurements"]:
        measurement["config"]["parameters"] = [
            {k: v for k, v in par.items() if v is not None} for par in measurement["config"]["parameters"]
        ]
    return obj


def _numbers(values) -> Numbers:
    return tuple(float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1))


def with_yields(ws: Workspace, yields: dict, observations: dict | None = None) -> Workspace:
    """A copy of the workspace whose numbers are replaced by a yields pytree (see model.py)."""
    channels = []
    for channel in ws.channels:
        samples = []
        for sample in channel.samples:
            entry = yields.get(channel.name, {}).get(sample.name)
            if entry is None:
                samples.append(sample)
                continue
            modifiers = []
            for mod in sample.modifiers:
                value = entry.get("modifiers", {}).get(f"{mod.type}/{mod.name}")
                if value is None:
                    modifiers.append(mod)
                elif mod.type == "normsys":
                    modifiers.append(mod.model_copy(update={"data": NormsysData(hi=float(value["hi"]), lo=float(value["lo"]))}))
                elif mod.type == "histosys":
                    data = HistosysData(hi_data=_numbers(value["hi_data"]), lo_data=_numbers(value["lo_data"]))
                    modifiers.append(mod.model_copy(update={"data": data}))
                else:
                    modifiers.append(mod.model_copy(update={"data": _numbers(value)}))
            samples.append(sample.model_copy(update={"data": _numbers(entry["data"]), "modifiers": tuple(modifiers)}))
        channels.append(channel.model_copy(update={"samples": tuple(samples)}))
    update = {"channels": tuple(channels)}
    if observations is not None:
        update["observations"] = tuple(Observation(name=name, data=_numbers(observations[name])) for name in sorted(observations))
    return parse_workspace(ws.model_copy(update=update).model_dump())
