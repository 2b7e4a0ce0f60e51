"""Maximum-likelihood and fixed-POI fits, differentiated implicitly.

The solver is a projected, Levenberg-damped Newton method with the exact Hessian, under
``lax.while_loop`` until the projected gradient of -2 log L is below ``GRADIENT_TOLERANCE``.
Its derivative is a custom VJP from the implicit function theorem at the optimum: free
parameters satisfy grad(x, theta) = 0, parameters at an active bound stay there (zero
derivative, like the POI at zero in qmu_tilde), fixed ones (a held POI included) follow
their value. The solver is never unrolled. A custom VJP rather than ``lax.custom_root``:
the backward pass reuses the solver's own Hessian at the optimum and needs one
forward-over-reverse product, instead of re-linearising the optimality condition and
transposing a tangent solve (smaller programs, faster compiles). Reverse mode only.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from nodes.stats.layout import pack
from nodes.stats.model import logpdf_packed, twice_nll
from nodes.stats.structure import ModelSpec

GRADIENT_TOLERANCE = 1e-10  # on the projected gradient of -2 log L ...
RELATIVE_TOLERANCE = 1e-13  # ... or this times |-2 log L|, whichever is larger (rounding floor)
MAX_ITERATIONS = 200


def _targets(spec: ModelSpec, poi, poi_fixed):
    """Fixed mask and the values fixed parameters are held at (the POI at ``poi`` if held)."""
    values = jnp.asarray(spec.suggested_init())
    fixed = jnp.asarray(spec.suggested_fixed())
    if poi is None or spec.poi_name is None:
        return fixed, values
    is_poi = jnp.arange(spec.npars) == spec.poi_index
    fixed = fixed | (is_poi & jnp.asarray(poi_fixed, dtype=bool))
    values = jnp.where(is_poi & fixed, jnp.asarray(poi, dtype=values.dtype), values)
    return fixed, values


def value_gradient_hessian(objective):
    """x -> (f, grad f, hess f) from one forward-over-reverse trace."""
    def gradient_with_value(x):
        f, g = jax.value_and_grad(objective)(x)
        return g, (f, g)

    def evaluate(x):
        h, (f, g) = jax.jacfwd(gradient_with_value, has_aux=True)(x)
        return f, g, h

    return evaluate


def _projected_newton(objective, x0, lower, upper, fixed):
    """Minimise ``objective`` in the box, holding ``fixed`` entries.

    Each iteration evaluates value, gradient and Hessian at a candidate point (one trace
    site), accepts it if -2 log L did not increase (else raises the damping), then solves
    the damped Newton system on the free parameters (not fixed, not pushed against a
    bound) for the next candidate, clipped into the box. Returns (minimiser, Hessian there).
    """
    evaluate = value_gradient_hessian(objective)
    n = x0.shape[0]

    def cond(state):
        return (state[-2] < MAX_ITERATIONS) & (state[-1] > GRADIENT_TOLERANCE)

    def body(state):
        x, f, g, h, candidate, damping, it, _ = state
        f_new, g_new, h_new = evaluate(candidate)
        accept = jnp.isfinite(f_new) & (f_new <= f + 1e-12 * jnp.abs(f))
        x, f, g, h = (jnp.where(accept, new, old) for new, old in ((candidate, x), (f_new, f), (g_new, g), (h_new, h)))
        damping = jnp.where(accept, jnp.maximum(damping * 0.1, 1e-12), jnp.minimum(damping * 10.0, 1e12))
        projected = jnp.max(jnp.abs(jnp.where(fixed, 0.0, x - jnp.clip(x - g, lower, upper))))
        floor = jnp.maximum(GRADIENT_TOLERANCE, RELATIVE_TOLERANCE * jnp.abs(f))
        size = jnp.where(jnp.isfinite(f), projected * (GRADIENT_TOLERANCE / floor), jnp.inf)
        # rejected steps at numerical convergence keep raising the damping: stop there too
        size = jnp.where(accept | (damping < 1e10), size, 0.0)
        inactive = fixed | ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))
        both = inactive[:, None] | inactive[None, :]
        h_free = jnp.where(both, 0.0, h) + jnp.diag(jnp.where(inactive, 1.0, 0.0))
        scale = jnp.maximum(jnp.abs(jnp.diag(h_free)), 1e-12)
        step = jnp.linalg.solve(h_free + damping * jnp.diag(scale), jnp.where(inactive, 0.0, g))
        candidate = jnp.where(fixed, x, jnp.clip(x - step, lower, upper))
        return x, f, g, h, candidate, damping, it + 1, size

    x0 = jnp.where(fixed, x0, jnp.clip(x0, lower, upper))
    inf = jnp.asarray(jnp.inf, x0.dtype)
    state = (x0, inf, jnp.zeros_like(x0), jnp.eye(n, dtype=x0.dtype), x0, jnp.asarray(1e-3, x0.dtype), 0, inf)
    x, _, _, h, *_ = jax.lax.while_loop(cond, body, state)
    return x, h


def _objective(spec: ModelSpec, x, data, packed):
    return -2.0 * logpdf_packed(spec, x, data, packed)


def _bounds(spec: ModelSpec):
    bounds = spec.suggested_bounds()
    return jnp.asarray(bounds[:, 0]), jnp.asarray(bounds[:, 1])


def _newton_fit(spec: ModelSpec, data, packed, poi, held):
    fixed, values = _targets(spec, poi, held)
    lower, upper = _bounds(spec)
    return _projected_newton(lambda x: _objective(spec, x, data, packed), values, lower, upper, fixed)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _solve(spec: ModelSpec, data, packed, poi, held):
    return _newton_fit(spec, data, packed, poi, held)[0]


def _solve_fwd(spec, data, packed, poi, held):
    x, h = _newton_fit(spec, data, packed, poi, held)
    return x, (x, h, data, packed, poi, held)


def _solve_bwd(spec, residuals, x_bar):
    """Implicit function theorem at the optimum.

    Free parameters satisfy grad_F(x, theta) = 0; parameters at a bound stay there; a held
    POI equals ``poi``. With v = H_FF^-1 x_bar_F: theta_bar = -(d grad_F / d theta)^T v
    (a forward-over-reverse product, by symmetry of second derivatives) and
    poi_bar = x_bar_poi - H_poi,F v. The Hessian is the solver's own, at the optimum.
    """
    x, h, data, packed, poi, held = residuals
    fixed, _ = _targets(spec, poi, held)
    lower, upper = _bounds(spec)
    gradient_in_theta = jax.grad(_objective, argnums=(2, 3))
    g = jax.grad(_objective, argnums=1)(spec, x, data, packed)
    inactive = fixed | ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))
    both = inactive[:, None] | inactive[None, :]
    h_free = jnp.where(both, 0.0, h) + jnp.diag(jnp.where(inactive, 1.0, 0.0))
    v = jnp.where(inactive, 0.0, jnp.linalg.solve(h_free, jnp.where(inactive, 0.0, x_bar)))
    _, (data_bar, packed_bar) = jax.jvp(lambda z: gradient_in_theta(spec, z, data, packed), (x,), (-v,))
    poi_bar = jnp.where(held, x_bar[spec.poi_index] - h[spec.poi_index] @ v, 0.0) if spec.poi_name else 0.0
    return data_bar, packed_bar, jnp.asarray(poi_bar, dtype=x.dtype), None


_solve.defvjp(_solve_fwd, _solve_bwd)


def minimize(spec: ModelSpec, data, yields, poi=None, poi_fixed=True, already_packed=False):
    """Best-fit parameters of -2 log L: all free, or with the POI held at ``poi``.

    ``poi_fixed`` may be a traced boolean, so one traced solver serves free and fixed-POI
    fits under ``vmap``. Reverse-differentiable in ``data``, ``yields`` and ``poi`` by the
    implicit function theorem (a custom VJP; the solver is never unrolled).
    """
    packed = yields if already_packed else pack(spec, yields)
    held = jnp.logical_and(jnp.asarray(poi_fixed, dtype=bool), poi is not None)
    poi = jnp.asarray(0.0 if poi is None else poi, dtype=jnp.float64)
    return _solve(spec, jnp.asarray(data), packed, poi, held)


def fit(spec: ModelSpec, data, yields):
    """Unconditional maximum-likelihood fit: (best-fit parameters, -2 log L there)."""
    pars = minimize(spec, data, yields)
    return pars, twice_nll(spec, pars, data, yields)


def fixed_poi_fit(spec: ModelSpec, poi, data, yields):
    """Fit with the POI held at ``poi``: (parameters, -2 log L there)."""
    pars = minimize(spec, data, yields, poi=poi)
    return pars, twice_nll(spec, pars, data, yields)


def fit_batch(spec: ModelSpec, datasets, yields, pois, poi_fixed, already_packed=False):
    """Several fits at once (one traced solver): dataset i with the POI at pois[i] if poi_fixed[i].

    Returns (parameters, -2 log L), each with the batch axis first.
    """
    def one(data, poi, held):
        pars = minimize(spec, data, packed, poi=poi, poi_fixed=held, already_packed=True)
        return pars, -2.0 * logpdf_packed(spec, pars, data, packed)

    packed = yields if already_packed else pack(spec, yields)
    return jax.vmap(one, in_axes=(0, 0, 0))(datasets, jnp.asarray(pois, dtype=datasets.dtype), jnp.asarray(poi_fixed))
