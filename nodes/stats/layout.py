"""Dense, vectorised form of a model: static index arrays and the yields packed into tensors.

The likelihood's parameter-dependent part is a handful of array operations whatever the
number of samples and modifiers, which keeps the Hessians inside the fits small to trace
and to compile. ``layout(spec)`` is static (cached per spec); ``pack(spec, yields)`` turns
the yields pytree into dense arrays once, outside the solver loops.

Axes: H histosys parameters, K normsys parameters, M parameter-scaled modifiers (normfactor,
lumi, shapefactor, shapesys, staterror), S samples (sorted, as pyhf), B bins (channels
concatenated in sorted order).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from nodes.stats.structure import ModelSpec, ParamSet


@dataclass(frozen=True, eq=False)
class Layout:
    samples: tuple[str, ...]
    channel_offsets: dict
    histosys: tuple[str, ...]
    histosys_index: np.ndarray  # (H,) parameter index
    normsys: tuple[str, ...]
    normsys_index: np.ndarray  # (K,)
    scaled_index: np.ndarray  # (M, B) parameter index per bin
    scaled_mask: np.ndarray  # (M, S, B) where the modifier applies
    normal_index: np.ndarray  # parameters with Gaussian constraints, in aux order
    normal_aux: np.ndarray  # their positions in the aux data
    poisson_index: np.ndarray
    poisson_aux: np.ndarray
    static_auxdata: np.ndarray  # nominal aux data where it does not depend on yields
    static_sigmas: np.ndarray  # Gaussian widths where they do not depend on yields


@functools.lru_cache(maxsize=64)
def layout(spec: ModelSpec) -> Layout:
    """Static index arrays of a model (cached: specs are hashable)."""
    samples = tuple(sorted({s.name for c in spec.channels for s in c.samples}))
    offsets, start = {}, 0
    for c in spec.channels:
        offsets[c.name] = (start, start + c.nbins)
        start += c.nbins
    nbins = start
    params = {p.name: p for p in spec.params}
    uses = {(c.name, s.name, t, n) for c in spec.channels for s in c.samples for t, n in s.modifiers}
    names_of = lambda kind: tuple(sorted({n for (_, _, t, n) in uses if t == kind}))
    histosys, normsys = names_of("histosys"), names_of("normsys")

    scaled_index, scaled_mask = [], []
    for kind in ("normfactor", "lumi", "shapefactor", "shapesys", "staterror"):
        for name in names_of(kind):
            ps = params[name]
            index = np.zeros(nbins, dtype=np.int32)
            mask = np.zeros((len(samples), nbins), dtype=bool)
            covered = ps.offset
            for c in spec.channels:
                lo, hi = offsets[c.name]
                if ps.n == 1:
                    index[lo:hi] = ps.offset
                elif kind == "staterror":
                    if c.name in ps.channels:
                        index[lo:hi] = np.arange(covered, covered + c.nbins)
                        covered += c.nbins
                else:
                    index[lo:hi] = ps.offset + np.arange(c.nbins) if ps.n == c.nbins else ps.offset
                for si, s in enumerate(samples):
                    if (c.name, s, kind, name) in uses:
                        mask[si, lo:hi] = True
            scaled_index.append(index)
            scaled_mask.append(mask)

    normal_index, normal_aux, poisson_index, poisson_aux = [], [], [], []
    static_aux, static_sigmas, k = [], [], 0
    for ps in spec.params:
        if ps.constraint is None:
            continue
        idx = list(range(ps.offset, ps.offset + ps.n))
        pos = list(range(k, k + ps.n))
        k += ps.n
        if ps.constraint == "normal":
            normal_index += idx
            normal_aux += pos
            static_sigmas += list(ps.sigmas) if ps.sigmas is not None else [1.0] * ps.n
        else:
            poisson_index += idx
            poisson_aux += pos
        static_aux += list(ps.auxdata) if ps.auxdata is not None else [1.0] * ps.n
    as_int = lambda v: np.asarray(v, dtype=np.int32)
    return Layout(
        samples=samples, channel_offsets=offsets, histosys=histosys,
        histosys_index=as_int([params[n].offset for n in histosys]),
        normsys=normsys, normsys_index=as_int([params[n].offset for n in normsys]),
        scaled_index=np.asarray(scaled_index, dtype=np.int32).reshape(-1, nbins),
        scaled_mask=np.asarray(scaled_mask, dtype=bool).reshape(-1, len(samples), nbins),
        normal_index=as_int(normal_index), normal_aux=as_int(normal_aux),
        poisson_index=as_int(poisson_index), poisson_aux=as_int(poisson_aux),
        static_auxdata=np.asarray(static_aux, dtype=np.float64),
        static_sigmas=np.asarray(static_sigmas, dtype=np.float64),
    )


def _per_sample(spec: ModelSpec, lay: Layout, piece):
    """(S, B) array from ``piece(channel, sample_name) -> (nbins,) array``."""
    rows = []
    for s in lay.samples:
        rows.append(jnp.concatenate([jnp.asarray(piece(c, s), dtype=jnp.float64) for c in spec.channels]))
    return jnp.stack(rows)


def _safe_divide(num, den, default):
    ok = den != 0
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), default)


def staterror_sigmas(spec: ModelSpec, ps: ParamSet, yields):
    """Relative statistical error per bin, sqrt(sum unc^2) / sum nominal (1 where fixed)."""
    key = f"staterror/{ps.name}"
    sigmas = []
    for channel in spec.channels:
        if channel.name not in ps.channels:
            continue
        entries = [yields[channel.name][s.name] for s in channel.samples if ("staterror", ps.name) in s.modifiers]
        total = sum(jnp.asarray(e["data"]) for e in entries)
        rel2 = sum(_safe_divide(e["modifiers"][key], total, 0.0) ** 2 for e in entries)
        positive = rel2 > 0
        sigmas.append(jnp.where(positive, jnp.sqrt(jnp.where(positive, rel2, 1.0)), 1.0))
    return jnp.where(jnp.asarray(ps.fixed), 1.0, jnp.concatenate(sigmas))


def shapesys_factors(spec: ModelSpec, ps: ParamSet, yields):
    """Poisson rate factors tau = (nominal / uncertainty)^2 per bin (1 for bins without one)."""
    invalid = jnp.asarray(dict(spec.invalid_bins)[ps.name])
    for channel in spec.channels:
        for s in channel.samples:
            if ("shapesys", ps.name) in s.modifiers:
                entry = yields[channel.name][s.name]
                unc = jnp.where(invalid, 1.0, entry["modifiers"][f"shapesys/{ps.name}"])
                return jnp.where(invalid, 1.0, _safe_divide(entry["data"], unc, 1.0) ** 2)
    raise AssertionError(ps.name)


def pack(spec: ModelSpec, yields) -> dict:
    """The yields as dense arrays: nominal (S,B), histosys lo/hi (H,S,B), normsys lo/hi
    (K,S,B), Gaussian widths and Poisson rate factors of the constraints."""
    lay = layout(spec)
    present = {(c.name, s.name): s for c in spec.channels for s in c.samples}

    def entry(c, s):
        return yields[c.name][s] if (c.name, s) in present else None

    def nominal(c, s):
        e = entry(c, s)
        return jnp.zeros(c.nbins) if e is None else e["data"]

    def histo(name, key):
        def piece(c, s):
            e = entry(c, s)
            if e is None or ("histosys", name) not in present[(c.name, s)].modifiers:
                return nominal(c, s)
            return e["modifiers"][f"histosys/{name}"][key]
        return _per_sample(spec, lay, piece)

    def norm(name, key):
        def piece(c, s):
            e = entry(c, s)
            if e is None or ("normsys", name) not in present[(c.name, s)].modifiers:
                return jnp.ones(c.nbins)
            return jnp.broadcast_to(jnp.asarray(e["modifiers"][f"normsys/{name}"][key], jnp.float64), (c.nbins,))
        return _per_sample(spec, lay, piece)

    packed = {"nominal": _per_sample(spec, lay, nominal)}
    if lay.histosys:
        packed["histo_lo"] = jnp.stack([histo(n, "lo_data") for n in lay.histosys])
        packed["histo_hi"] = jnp.stack([histo(n, "hi_data") for n in lay.histosys])
    if lay.normsys:
        packed["norm_lo"] = jnp.stack([norm(n, "lo") for n in lay.normsys])
        packed["norm_hi"] = jnp.stack([norm(n, "hi") for n in lay.normsys])
    sigmas, taus = [], []
    for ps in spec.params:
        if ps.constraint == "normal":
            dynamic = ps.type == "staterror" and ps.sigmas is None
            sigmas.append(staterror_sigmas(spec, ps, yields) if dynamic else jnp.asarray(ps.sigmas if ps.sigmas else (1.0,) * ps.n))
        elif ps.constraint == "poisson":
            taus.append(shapesys_factors(spec, ps, yields))
    packed["sigmas"] = jnp.concatenate(sigmas) if sigmas else jnp.zeros(0)
    packed["taus"] = jnp.concatenate(taus) if taus else jnp.zeros(0)
    return packed
