"""The HistFactory likelihood in JAX: expected data and log-density, equal to pyhf's.

Every function takes the static ``ModelSpec`` and a dynamic yields pytree, so new yields
never retrace. Data are laid out as pyhf's: main bins of the channels (sorted by name),
then auxiliary data of the constrained parameter sets in parameter order.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.scipy.special import gammaln

from nodes.stats.interpolation import ADDITIVE, MULTIPLICATIVE
from nodes.stats.layout import layout, pack
from nodes.stats.structure import ModelSpec


def poisson_logpdf(n, lam):
    """log Poisson(n | lam) with the continuous n! (pyhf's); 0 * log(0) is 0, gradient too."""
    has_counts = n > 0
    n_log_lam = jnp.where(has_counts, n * jnp.log(jnp.where(has_counts, lam, 1.0)), 0.0)
    return n_log_lam - lam - gammaln(n + 1.0)


def normal_logpdf(x, mu, sigma):
    return -0.5 * ((x - mu) / sigma) ** 2 - jnp.log(sigma * jnp.sqrt(2.0 * jnp.pi))


def expected_actualdata_packed(spec: ModelSpec, pars, packed):
    """Expected main-bin rates from packed yields: sum over samples of (nominal + shifts) x factors."""
    lay = layout(spec)
    nominal = packed["nominal"]
    shifted = nominal
    if lay.histosys:
        alpha = pars[lay.histosys_index][:, None, None]
        shifted = nominal + jnp.sum(ADDITIVE[spec.histosys_code](alpha, packed["histo_lo"], nominal, packed["histo_hi"]), axis=0)
    factor = jnp.ones_like(nominal)
    if lay.normsys:
        alpha = pars[lay.normsys_index][:, None, None]
        factor = jnp.prod(MULTIPLICATIVE[spec.normsys_code](alpha, packed["norm_lo"], packed["norm_hi"]), axis=0)
    if lay.scaled_index.shape[0]:
        scaled = pars[lay.scaled_index][:, None, :]
        factor = factor * jnp.prod(jnp.where(lay.scaled_mask, scaled, 1.0), axis=0)
    return jnp.sum(shifted * factor, axis=0)


def expected_auxdata_packed(spec: ModelSpec, pars, packed):
    """Expected auxiliary data: the parameters (Gaussian) or parameter x tau (Poisson)."""
    lay = layout(spec)
    aux = jnp.zeros(spec.naux, dtype=pars.dtype)
    aux = aux.at[lay.normal_aux].set(pars[lay.normal_index])
    return aux.at[lay.poisson_aux].set(pars[lay.poisson_index] * packed["taus"])


def logpdf_packed(spec: ModelSpec, pars, data, packed):
    """log L(pars | data) from packed yields (the form the fits use)."""
    lay = layout(spec)
    lam = expected_actualdata_packed(spec, pars, packed)
    total = jnp.sum(poisson_logpdf(data[: spec.nmain], lam))
    aux = data[spec.nmain:]
    if lay.normal_index.size:
        total = total + jnp.sum(normal_logpdf(aux[lay.normal_aux], pars[lay.normal_index], packed["sigmas"]))
    if lay.poisson_index.size:
        total = total + jnp.sum(poisson_logpdf(aux[lay.poisson_aux], pars[lay.poisson_index] * packed["taus"]))
    return total


def nominal_pars(spec: ModelSpec, poi=1.0):
    """pyhf's suggested initial parameters with the POI set to ``poi``."""
    pars = jnp.asarray(spec.suggested_init())
    return pars if spec.poi_name is None else pars.at[spec.poi_index].set(poi)


def expected_actualdata(spec: ModelSpec, pars, yields):
    """Expected main-bin rates, channels concatenated in sorted order (pyhf's)."""
    return expected_actualdata_packed(spec, jnp.asarray(pars), pack(spec, yields))


def nominal_auxdata(spec: ModelSpec, yields):
    """Auxiliary data of the model as built (pyhf's ``config.auxdata``)."""
    lay = layout(spec)
    aux = jnp.asarray(lay.static_auxdata)
    return aux.at[lay.poisson_aux].set(pack(spec, yields)["taus"]) if lay.poisson_index.size else aux


def expected_auxdata(spec: ModelSpec, pars, yields):
    return expected_auxdata_packed(spec, jnp.asarray(pars), pack(spec, yields))


def expected_data(spec: ModelSpec, pars, yields):
    """Main rates followed by expected auxiliary data (pyhf's ``expected_data``)."""
    packed = pack(spec, yields)
    pars = jnp.asarray(pars)
    return jnp.concatenate([expected_actualdata_packed(spec, pars, packed), expected_auxdata_packed(spec, pars, packed)])


def observed_data(spec: ModelSpec, observations: dict, yields):
    """Observed main data by channel plus the nominal auxiliary data (pyhf's ``ws.data``)."""
    main = jnp.concatenate([jnp.asarray(observations[c.name], dtype=jnp.float64) for c in spec.channels])
    return jnp.concatenate([main, nominal_auxdata(spec, yields)])


def logpdf(spec: ModelSpec, pars, data, yields):
    """log L(pars | data): Poisson main terms plus constraint terms (pyhf's ``model.logpdf``)."""
    return logpdf_packed(spec, jnp.asarray(pars), jnp.asarray(data), pack(spec, yields))


def twice_nll(spec: ModelSpec, pars, data, yields):
    """-2 log L (pyhf's ``twice_nll``)."""
    return -2.0 * logpdf(spec, pars, data, yields)
