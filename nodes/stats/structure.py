"""The static structure of a HistFactory model, and the dynamic yields read from a workspace.

``ModelSpec`` is pure, hashable Python: channels, samples, modifiers and parameter sets in
pyhf's order with pyhf's bounds, inits, fixed flags and constraint types. It is the static
half of a model (a jit static argument, or closed over). The numbers of the workspace
(sample yields, modifier data, observations) form the dynamic half, a pytree of arrays:

    yields[channel][sample] = {"data": nominal, "modifiers": {"normsys/x": {"hi", "lo"},
                               "histosys/y": {"hi_data", "lo_data"}, "shapesys/z": unc,
                               "staterror/w": unc}}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nodes.stats.workspace import MODIFIER_TYPES, Workspace, WorkspaceError

PYHF_INTERPCODES = {"normsys": "code4", "histosys": "code4p"}
NORMSYS_CODES = ("code1", "code4")
HISTOSYS_CODES = ("code0", "code4p")
# modifier types whose numbers are dynamic inputs (the others carry no data)
DATA_MODIFIERS = ("histosys", "normsys", "shapesys", "staterror")


@dataclass(frozen=True)
class ParamSet:
    """One named parameter set (pyhf's paramset) and where it sits in the parameter vector."""

    name: str
    type: str  # the modifier type that first required it
    offset: int
    n: int
    inits: tuple[float, ...]
    bounds: tuple[tuple[float, float], ...]
    fixed: tuple[bool, ...]
    constraint: str | None  # "normal", "poisson" or None
    auxdata: tuple[float, ...] | None = None  # static aux data; None when it depends on yields
    sigmas: tuple[float, ...] | None = None  # static widths; None when they depend on yields
    channels: tuple[str, ...] = ()  # staterror: the channels its bins cover, in order

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.n)


@dataclass(frozen=True)
class SampleSpec:
    name: str
    modifiers: tuple[tuple[str, str], ...]  # (type, name) pairs


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    nbins: int
    samples: tuple[SampleSpec, ...]  # sorted by name, as pyhf orders samples


@dataclass(frozen=True)
class ModelSpec:
    """Static structure of a HistFactory model (hashable)."""

    channels: tuple[ChannelSpec, ...]
    params: tuple[ParamSet, ...]
    poi_name: str | None
    normsys_code: str = "code4"
    histosys_code: str = "code4p"
    invalid_bins: tuple[tuple[str, tuple[bool, ...]], ...] = ()  # shapesys: bins without a parameter

    @property
    def npars(self) -> int:
        return sum(p.n for p in self.params)

    @property
    def nmain(self) -> int:
        return sum(c.nbins for c in self.channels)

    @property
    def naux(self) -> int:
        return sum(p.n for p in self.params if p.constraint)

    def param(self, name: str) -> ParamSet:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r}; the model has {[p.name for p in self.params]}")

    @property
    def poi_index(self) -> int:
        if self.poi_name is None:
            raise ValueError("the model has no parameter of interest")
        return self.param(self.poi_name).offset

    @property
    def par_order(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def suggested_init(self) -> np.ndarray:
        return np.array([v for p in self.params for v in p.inits], dtype=np.float64)

    def suggested_bounds(self) -> np.ndarray:
        return np.array([b for p in self.params for b in p.bounds], dtype=np.float64).reshape(-1, 2)

    def suggested_fixed(self) -> np.ndarray:
        return np.array([f for p in self.params for f in p.fixed], dtype=bool)


def _default_paramset(mtype: str, name: str, nbins: int, sample_data, mod_data) -> dict:
    """pyhf's required_parset for one modifier occurrence."""
    if mtype in ("normsys", "histosys"):
        return {"constraint": "normal", "n": 1, "inits": (0.0,), "bounds": ((-5.0, 5.0),), "fixed": (False,), "auxdata": (0.0,), "sigmas": (1.0,)}
    if mtype == "normfactor":
        return {"constraint": None, "n": 1, "inits": (1.0,), "bounds": ((0.0, 10.0),), "fixed": (False,)}
    if mtype == "shapefactor":
        return {"constraint": None, "n": nbins, "inits": (1.0,) * nbins, "bounds": ((0.0, 10.0),) * nbins, "fixed": (False,) * nbins}
    if mtype == "lumi":
        return {"constraint": "normal", "n": 1, "inits": None, "bounds": None, "fixed": (False,), "auxdata": None, "sigmas": None}
    if mtype == "shapesys":
        valid = tuple(bool(s > 0 and u > 0) for s, u in zip(sample_data, mod_data))
        return {"constraint": "poisson", "n": nbins, "inits": (1.0,) * nbins, "bounds": ((1e-10, 10.0),) * nbins,
                    "fixed": tuple(not v for v in valid), "auxdata": None, "sigmas": None}
    raise AssertionError(mtype)


def _staterror_fixed(ws: Workspace, name: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """Channels a staterror covers and its bins with zero relative error (fixed, as pyhf)."""
    channels, fixed = [], []
    for channel in sorted(ws.channels, key=lambda c: c.name):
        with_mod = [s for s in channel.samples if any(m.type == "staterror" and m.name == name for m in s.modifiers)]
        if not with_mod:
            continue
        channels.append(channel.name)
        total = np.sum([s.data for s in with_mod], axis=0)
        unc = [next(m.data for m in s.modifiers if m.type == "staterror" and m.name == name) for s in with_mod]
        rel2 = np.sum([np.where(total > 0, np.asarray(u) / np.where(total > 0, total, 1.0), 0.0) ** 2 for u in unc], axis=0)
        fixed.extend(bool(v == 0) for v in rel2)
    return tuple(channels), tuple(fixed)


def build_spec(ws: Workspace, measurement: str | None = None, modifier_settings: dict | None = None) -> ModelSpec:
    """The static model structure pyhf's ``ws.model(measurement_name=...)`` would build."""
    settings = {**PYHF_INTERPCODES, **{k: v["interpcode"] for k, v in (modifier_settings or {}).items()}}
    if settings["normsys"] not in NORMSYS_CODES or settings["histosys"] not in HISTOSYS_CODES:
        raise WorkspaceError(f"unsupported interpolation codes {settings}; normsys takes {NORMSYS_CODES}, histosys {HISTOSYS_CODES}")
    meas = ws.measurement(measurement)
    channels = sorted(ws.channels, key=lambda c: c.name)
    sample_names = sorted({s.name for c in channels for s in c.samples})
    all_mods = sorted({(m.name, m.type) for c in channels for s in c.samples for m in s.modifiers})

    required: dict[str, list[tuple[str, dict]]] = {}
    for mtype in MODIFIER_TYPES:
        if mtype == "staterror":
            for name in sorted({n for n, t in all_mods if t == "staterror"}):
                cover, fixed = _staterror_fixed(ws, name)
                n = len(fixed)
                required.setdefault(name, []).append((mtype, {
                    "constraint": "normal", "n": n, "inits": (1.0,) * n, "bounds": ((1e-10, 10.0),) * n, "fixed": fixed,
                    "auxdata": (1.0,) * n, "sigmas": None, "channels": cover}))
            continue
        seen = set()
        for channel in channels:
            by_name = {s.name: s for s in channel.samples}
            for sname in sample_names:
                sample = by_name.get(sname)
                if sample is None:
                    continue
                mods = {(m.name, m.type): m for m in sample.modifiers}
                for name, t in all_mods:
                    if t != mtype or (name, t) not in mods or (mtype != "shapesys" and name in seen):
                        continue
                    if mtype == "shapesys" and name in seen:
                        raise WorkspaceError(f"shapesys {name!r} is used by more than one sample; pyhf forbids sharing it")
                    seen.add(name)
                    mod = mods[(name, t)]
                    required.setdefault(name, []).append(
                        (mtype, _default_paramset(mtype, name, len(sample.data), sample.data, mod.data)))

    user = {p.name: p for p in meas.config.parameters}
    params, offset, invalid = [], 0, []
    for name, reqs in required.items():
        mtype, req = reqs[0]
        for other_type, other in reqs[1:]:
            if {k: v for k, v in other.items() if k != "sigmas"} != {k: v for k, v in req.items() if k != "sigmas"}:
                raise WorkspaceError(f"parameter {name!r} is required by {mtype} and {other_type} with different settings; use unique modifier names")
        cfg = user.get(name)
        req = dict(req)
        if cfg is not None:
            for key in ("inits", "bounds", "auxdata", "sigmas"):
                value = getattr(cfg, key)
                if value is not None:
                    if len(value) != req["n"]:
                        raise WorkspaceError(f"parameter {name!r}: expected {req['n']} {key}, found {len(value)}", f"$.measurements[?(@.name=={meas.name!r})].config.parameters")
                    req[key] = tuple(tuple(v) if key == "bounds" else v for v in value)
            if cfg.fixed is not None:
                req["fixed"] = (cfg.fixed,) * req["n"]
        for key in ("inits", "bounds") + (("auxdata", "sigmas") if mtype == "lumi" else ()):
            if req.get(key) is None:
                raise WorkspaceError(f"parameter {name!r} ({mtype}) needs {key} in the measurement's parameter settings, found none",
                                     "$.measurements[].config.parameters")
        if mtype == "shapesys":
            invalid.append((name, req["fixed"]))
        params.append(ParamSet(name=name, type=mtype, offset=offset, **req))
        offset += req["n"]
    if meas.config.poi not in required:
        raise WorkspaceError(f"expected the POI to be a model parameter, found {meas.config.poi!r}", "$.measurements[].config.poi")
    channel_specs = tuple(
        ChannelSpec(
            name=c.name,
            nbins=len(c.samples[0].data),
            samples=tuple(SampleSpec(s.name, tuple((m.type, m.name) for m in s.modifiers))
                          for s in sorted(c.samples, key=lambda s: s.name)),
        )
        for c in channels
    )
    return ModelSpec(channel_specs, tuple(params), meas.config.poi, settings["normsys"], settings["histosys"], tuple(invalid))


def read_yields(ws: Workspace) -> dict:
    """The workspace's numbers as a yields pytree of float64 numpy arrays."""
    yields = {}
    for channel in ws.channels:
        for sample in channel.samples:
            mods = {}
            for m in sample.modifiers:
                if m.type in ("normsys",):
                    mods[f"{m.type}/{m.name}"] = {"hi": np.float64(m.data.hi), "lo": np.float64(m.data.lo)}
                elif m.type == "histosys":
                    mods[f"{m.type}/{m.name}"] = {"hi_data": np.asarray(m.data.hi_data, np.float64),
                                                  "lo_data": np.asarray(m.data.lo_data, np.float64)}
                elif m.type in ("shapesys", "staterror"):
                    mods[f"{m.type}/{m.name}"] = np.asarray(m.data, np.float64)
            yields.setdefault(channel.name, {})[sample.name] = {"data": np.asarray(sample.data, np.float64), "modifiers": mods}
    return yields


def read_observations(ws: Workspace) -> dict:
    """Observed main data by channel, as float64 arrays."""
    return {o.name: np.asarray(o.data, np.float64) for o in ws.observations}
