"""Kinematics on event records: invariant mass, delta-R and transverse mass.

Objects are read from a sample's record by name: with the default ``template``, object
``mu1`` has fields ``mu1_pt``, ``mu1_eta``, ``mu1_phi`` and ``mu1_mass``. Example:
``kinematics.invariant_mass(events, objects=("mu1", "mu2"))``.

The invariant mass uses the pairwise form m^2 = sum_i m_i^2 + 2 sum_{i<j} (mT_i mT_j
cosh(y_i - y_j) - pt_i pt_j cos(phi_i - phi_j)) (y: rapidity, mT = sqrt(pt^2 + m^2)), which
avoids the cancellation in E^2 - |p|^2 that loses float32 precision for boosted objects.
Square roots are guarded: values and gradients stay finite at zero mass or zero distance.
"""

from __future__ import annotations

import jax.numpy as jnp
import pydantic

from workflow import Events, NodeConfig, Record, node


def _safe_sqrt(q):
    """sqrt(max(q, 0)) with a finite (zero) gradient where q <= 0."""
    positive = q > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, q, 1.0)), 0.0)


def wrap_phi(dphi):
    """An azimuthal difference mapped to [-pi, pi)."""
    return jnp.remainder(dphi + jnp.pi, 2 * jnp.pi) - jnp.pi


class ObjectsConfig(NodeConfig):
    """Which objects of the record to combine and how their field names are spelled."""

    objects: tuple[str, ...] = pydantic.Field(min_length=2, description="object names, e.g. ('mu1', 'mu2')")
    template: str = pydantic.Field("{object}_{var}", description="field name of variable var of an object")
    variables: tuple[str, str, str, str] = ("pt", "eta", "phi", "mass")
    massless: bool = False

    @pydantic.field_validator("template")
    @classmethod
    def _has_placeholders(cls, template):
        if "{object}" not in template or "{var}" not in template:
            raise ValueError(f"template must contain '{{object}}' and '{{var}}', got {template!r}")
        return template


class PairConfig(ObjectsConfig):
    """Exactly two objects."""

    objects: tuple[str, str] = pydantic.Field(description="the two objects, e.g. ('j1', 'j2')")


def _field(record, config: ObjectsConfig, obj: str, var_index: int, op: str):
    name = config.template.format(object=obj, var=config.variables[var_index])
    if name not in record:
        raise KeyError(f"{op}: record has no field {name!r} (object {obj!r}); it has {sorted(record)}")
    value = jnp.asarray(record[name])
    return value if jnp.issubdtype(value.dtype, jnp.floating) else value.astype(jnp.float32)


def _pt_eta_phi_m(record, config: ObjectsConfig, obj: str, op: str):
    pt = _field(record, config, obj, 0, op)
    eta = _field(record, config, obj, 1, op)
    phi = _field(record, config, obj, 2, op)
    mass = jnp.zeros_like(pt) if config.massless else _field(record, config, obj, 3, op)
    return pt, eta, phi, mass


def _rapidity_and_mt(pt, eta, mass):
    """Rapidity y and transverse mass mT = sqrt(pt^2 + m^2) of (pt, eta, m)."""
    mt = _safe_sqrt(pt * pt + mass * mass)
    safe_mt = jnp.where(mt > 0, mt, 1.0)
    y = jnp.where(mt > 0, jnp.arcsinh(pt * jnp.sinh(eta) / safe_mt), eta)
    return y, mt


@node(
    "kinematics.invariant_mass",
    kind="event",
    inputs={"record": Record},
    outputs={"mass": Events},
    config=ObjectsConfig,
)
def invariant_mass(record, *, config: ObjectsConfig):
    """Invariant mass of two or more objects given as (pt, eta, phi, mass)."""
    op = "kinematics.invariant_mass"
    objects = [_pt_eta_phi_m(record, config, obj, op) for obj in config.objects]
    m2 = sum(mass * mass for _, _, _, mass in objects)
    rapidities = [_rapidity_and_mt(pt, eta, mass) for pt, eta, _, mass in objects]
    for i in range(len(objects)):
        for j in range(i + 1, len(objects)):
            (pt_i, _, phi_i, _), (pt_j, _, phi_j, _) = objects[i], objects[j]
            (y_i, mt_i), (y_j, mt_j) = rapidities[i], rapidities[j]
            m2 = m2 + 2 * (mt_i * mt_j * jnp.cosh(y_i - y_j) - pt_i * pt_j * jnp.cos(phi_i - phi_j))
    return _safe_sqrt(m2)


@node(
    "kinematics.delta_r",
    kind="event",
    inputs={"record": Record},
    outputs={"delta_r": Events},
    config=PairConfig,
)
def delta_r(record, *, config: PairConfig):
    """Delta-R = sqrt(d_eta^2 + d_phi^2) of two objects, d_phi wrapped to [-pi, pi)."""
    op = "kinematics.delta_r"
    first, second = config.objects
    d_eta = _field(record, config, first, 1, op) - _field(record, config, second, 1, op)
    d_phi = wrap_phi(_field(record, config, first, 2, op) - _field(record, config, second, 2, op))
    return _safe_sqrt(d_eta * d_eta + d_phi * d_phi)


@node(
    "kinematics.transverse_mass",
    kind="event",
    inputs={"record": Record},
    outputs={"mt": Events},
    config=PairConfig,
)
def transverse_mass(record, *, config: PairConfig):
    """Transverse mass sqrt(2 pt_1 pt_2 (1 - cos d_phi)) of two objects (e.g. lepton and MET).

    Massless objects: only pt and phi are read (``objects=("lep", "met")`` reads ``met_pt``,
    ``met_phi``).
    """
    op = "kinematics.transverse_mass"
    first, second = config.objects
    pt_1, phi_1 = _field(record, config, first, 0, op), _field(record, config, first, 2, op)
    pt_2, phi_2 = _field(record, config, second, 0, op), _field(record, config, second, 2, op)
    return _safe_sqrt(2 * pt_1 * pt_2 * (1 - jnp.cos(phi_1 - phi_2)))
