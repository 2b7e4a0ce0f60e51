"""Profile-likelihood test statistics and the asymptotic calculator, with pyhf's conventions.

``qmu``/``qmu_tilde`` and ``q0`` follow pyhf.infer.test_statistics (the "tilde" is the POI's
lower bound at 0, which the fits respect); the asymptotic formulae follow
pyhf.infer.calculators.AsymptoticCalculator, with two guards pyhf lacks: square roots and
the qmu_tilde division are safe in value and gradient, and q_A = 0 (no sensitivity) gives
CLs = 1 instead of 0/0. CLs is computed in log space so tails do not underflow to 0/0.

The five fits of one hypothesis test run as two stages of three vmapped fits sharing one
traced solver (``lax.scan``): on the data, then on the Asimov data. Median expected CLs and
expected Z0 on nominal Asimov data need one fit (``expected_cls``, ``expected_significance``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr, ndtr

from nodes.stats.fits import fit_batch, minimize
from nodes.stats.layout import pack
from nodes.stats.model import (
    expected_actualdata_packed,
    expected_auxdata_packed,
    expected_data,
    logpdf_packed,
    nominal_pars,
)
from nodes.stats.structure import ModelSpec

TEST_STATS = ("qtilde", "q", "q0")
EXPECTED_SIGMAS = (2.0, 1.0, 0.0, -1.0, -2.0)  # pyhf's order: CLs_exp[0] is the -2 sigma band


def safe_sqrt(x):
    """sqrt with a finite (zero) gradient at 0, and 0 for tiny negative rounding."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def profile_fits(spec: ModelSpec, mu, data, yields, asimov_mu):
    """The five fits of an asymptotic test at POI ``mu``; Asimov data generated at ``asimov_mu``.

    Two stages of three vmapped fits share one traced solver through ``lax.scan``:
    stage 1 on the data (free, POI held at ``mu``, POI held at ``asimov_mu`` -> Asimov data),
    stage 2 on the Asimov data (POI held at ``mu``, free; the third slot repeats the free fit).
    Returns -2 log L values (``nll_*``), best-fit POIs (``muhat*``) and the Asimov data.
    """
    poi = spec.poi_index
    packed = pack(spec, yields)
    mu = jnp.asarray(mu, dtype=data.dtype)
    pois = jnp.stack([jnp.stack([mu, mu, jnp.asarray(asimov_mu, data.dtype)]), jnp.stack([mu, mu, mu])])
    held = jnp.asarray([[False, True, True], [True, False, False]])

    def stage(dataset, inputs):
        stage_pois, stage_held = inputs
        pars, nll = fit_batch(spec, jnp.stack([dataset] * 3), packed, stage_pois, stage_held, already_packed=True)
        asimov = jnp.concatenate([expected_actualdata_packed(spec, pars[2], packed), expected_auxdata_packed(spec, pars[2], packed)])
        return asimov, (pars[:, poi], nll, asimov)

    _, (muhats, nlls, asimovs) = jax.lax.scan(stage, data, (pois, held))
    return {
        "nll_free": nlls[0, 0], "muhat": muhats[0, 0], "nll_fixed": nlls[0, 1],
        "nll_fixed_A": nlls[1, 0], "nll_free_A": nlls[1, 1], "muhat_A": muhats[1, 1],
        "asimov": asimovs[0],
    }


def tmu(nll_fixed, nll_free):
    """-2 log lambda(mu), clipped at zero as pyhf does."""
    return jnp.clip(nll_fixed - nll_free, 0.0, None)


def qmu_from(nll_fixed, nll_free, muhat, mu):
    """qmu (and qmu_tilde, with the POI bounded at 0): zero when muhat > mu."""
    return jnp.where(muhat > mu, 0.0, tmu(nll_fixed, nll_free))


def q0_from(nll_fixed, nll_free, muhat):
    """q0: zero when muhat < 0."""
    return jnp.where(muhat < 0, 0.0, tmu(nll_fixed, nll_free))


def asymptotic_teststat(q, q_asimov, test_stat: str):
    """pyhf's asymptotic test statistic in sqrt(q) space, with the q_A = 0 guard."""
    sq, sq_a = safe_sqrt(q), safe_sqrt(q_asimov)
    if test_stat in ("q", "q0"):
        return sq - sq_a
    sensitive = sq_a > 0
    far = (q - q_asimov) / (2.0 * jnp.where(sensitive, sq_a, 1.0))
    return jnp.where((sq <= sq_a) | ~sensitive, sq - sq_a, far)


def pvalues(teststat, sqrt_q_asimov):
    """(CLsb, CLb, CLs) of a test statistic; CLs as a ratio in log space."""
    log_clsb = log_ndtr(-(teststat + sqrt_q_asimov))
    log_clb = log_ndtr(-teststat)
    return jnp.exp(log_clsb), jnp.exp(log_clb), jnp.exp(log_clsb - log_clb)


def cls_from_fits(fits, mu, test_stat: str = "qtilde"):
    """The asymptotic CLs results from the fits of ``profile_fits`` (Asimov at mu = 0)."""
    if test_stat not in ("qtilde", "q"):
        raise ValueError(f"test_stat must be 'qtilde' or 'q' for CLs, got {test_stat!r}; use discovery() for q0")
    q = qmu_from(fits["nll_fixed"], fits["nll_free"], fits["muhat"], mu)
    q_a = qmu_from(fits["nll_fixed_A"], fits["nll_free_A"], fits["muhat_A"], mu)
    sq_a = safe_sqrt(q_a)
    clsb, clb, cls = pvalues(asymptotic_teststat(q, q_a, test_stat), sq_a)
    expected = [pvalues(jnp.asarray(n, sq_a.dtype), sq_a)[2] for n in EXPECTED_SIGMAS]
    return {"CLs_obs": cls, "CLsb_obs": clsb, "CLb_obs": clb, "CLs_exp": jnp.stack(expected), "q_obs": q, "q_asimov": q_a}


def hypotest(spec: ModelSpec, mu, data, yields, test_stat: str = "qtilde"):
    """Observed and expected CLs at POI ``mu`` (pyhf.infer.hypotest, asymptotics).

    Returns a dict: CLs_obs, CLsb_obs, CLb_obs, CLs_exp (5 values, -2..+2 sigma),
    q_obs, q_asimov.
    """
    if test_stat not in ("qtilde", "q"):
        raise ValueError(f"test_stat must be 'qtilde' or 'q' for CLs, got {test_stat!r}; use discovery() for q0")
    return cls_from_fits(profile_fits(spec, mu, data, yields, asimov_mu=0.0), mu, test_stat)


def discovery(spec: ModelSpec, data, yields):
    """Discovery test (q0): observed p0 and Z0, and expected ones on Asimov data at mu = 1.

    p0 equals pyhf.infer.hypotest(0.0, ..., test_stat="q0"); Z0 = sqrt(q0).
    """
    fits = profile_fits(spec, 0.0, data, yields, asimov_mu=1.0)
    q0 = q0_from(fits["nll_fixed"], fits["nll_free"], fits["muhat"])
    q0_a = q0_from(fits["nll_fixed_A"], fits["nll_free_A"], fits["muhat_A"])
    z0, z0_a = safe_sqrt(q0), safe_sqrt(q0_a)
    return {"p0": ndtr(-z0), "Z0": z0, "p0_exp": ndtr(-z0_a), "Z0_exp": z0_a, "q0": q0, "q0_asimov": q0_a}


def nominal_asimov_q(spec: ModelSpec, yields, asimov_poi: float, test_poi):
    """-2 log lambda(test_poi) on Asimov data of the nominal parameters with POI = asimov_poi.

    One fit: on its own Asimov data the free fit is the generating point exactly (every
    Poisson and Gaussian term is at its maximum there), so only the fit with the POI held
    at ``test_poi`` runs. Used for median expected CLs and expected significance.
    """
    packed = pack(spec, yields)
    generating = nominal_pars(spec, asimov_poi)
    data = jnp.concatenate([expected_actualdata_packed(spec, generating, packed), expected_auxdata_packed(spec, generating, packed)])
    nll_free = -2.0 * logpdf_packed(spec, generating, data, packed)
    pars = minimize(spec, data, packed, poi=test_poi, already_packed=True)
    return tmu(-2.0 * logpdf_packed(spec, pars, data, packed), nll_free)


def expected_cls(spec: ModelSpec, mu, yields):
    """Median expected CLs at ``mu``: CLs on background-only Asimov data of the nominal parameters.

    Equals hypotest(mu, asimov_b, ...)["CLs_obs"] for qmu and qmu_tilde (there q_obs = q_A,
    so CLs = Phi(-sqrt(q_A)) / (1/2)), at the cost of one fit instead of five.
    """
    q_a = nominal_asimov_q(spec, yields, 0.0, mu)
    return 2.0 * ndtr(-safe_sqrt(q_a))


def expected_significance(spec: ModelSpec, yields):
    """Median expected discovery significance Z0 on Asimov data of the nominal parameters (mu = 1)."""
    return safe_sqrt(nominal_asimov_q(spec, yields, 1.0, 0.0))


def asimov_data(spec: ModelSpec, mu, data, yields):
    """Expected data of the fit to ``data`` with the POI held at ``mu`` (pyhf's Asimov)."""
    pars, _ = fit_batch(spec, data[None], yields, [mu], [True])
    return expected_data(spec, pars[0], yields)
