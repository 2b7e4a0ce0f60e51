"""Fisher information, the parameter covariance, and sigma of the POI (the INFERNO loss).

The Fisher information is the Hessian of -log L at ``pars`` on the Asimov data of
``pars`` (expected data, auxiliary data included); for Poisson and Gaussian terms this
equals the expected information exactly. The covariance is its inverse on the free
parameters (fixed ones get zero rows and columns). No fit is involved: at the Asimov
data of ``pars``, ``pars`` is the best fit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nodes.stats.inference import safe_sqrt
from nodes.stats.layout import pack
from nodes.stats.model import expected_actualdata_packed, expected_auxdata_packed, logpdf_packed, nominal_pars
from nodes.stats.structure import ModelSpec


def fisher_information(spec: ModelSpec, yields, pars):
    """Expected Fisher information matrix I(pars) = Hessian of -log L on Asimov data of pars."""
    packed = pack(spec, yields)
    pars = jnp.asarray(pars, dtype=jnp.float64)
    asimov = jnp.concatenate([expected_actualdata_packed(spec, pars, packed), expected_auxdata_packed(spec, pars, packed)])
    return jax.hessian(lambda p: -logpdf_packed(spec, p, asimov, packed))(pars)


def covariance(spec: ModelSpec, information):
    """Inverse of the Fisher information over the free parameters (zeros for fixed ones)."""
    fixed = jnp.asarray(spec.suggested_fixed())
    both = fixed[:, None] | fixed[None, :]
    free_block = jnp.where(both, 0.0, information) + jnp.diag(jnp.where(fixed, 1.0, 0.0))
    return jnp.where(both, 0.0, jnp.linalg.inv(free_block))


def sigma_poi(spec: ModelSpec, yields, poi=1.0):
    """Expected uncertainty of the POI, sqrt(cov[poi, poi]), at the nominal parameters."""
    information = fisher_information(spec, yields, nominal_pars(spec, poi))
    return safe_sqrt(covariance(spec, information)[spec.poi_index, spec.poi_index])
