"""kinematics.*: invariant mass, delta-R and transverse mass on event records."""

import jax
import jax.numpy as jnp
import numpy as np
import pydantic
import pytest

from nodes import kinematics
from workflow import REGISTRY


def make_record(objects=("a", "b", "c"), n=50, seed=0):
    rng = np.random.default_rng(seed)
    record = {}
    for obj in objects:
        record[f"{obj}_pt"] = rng.uniform(5, 100, n)
        record[f"{obj}_eta"] = rng.uniform(-2.5, 2.5, n)
        record[f"{obj}_phi"] = rng.uniform(-np.pi, np.pi, n)
        record[f"{obj}_mass"] = rng.uniform(0, 10, n)
    return record


def four_vector(record, obj):
    pt, eta, phi, m = (record[f"{obj}_{v}"] for v in ("pt", "eta", "phi", "mass"))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([np.sqrt(px**2 + py**2 + pz**2 + m**2), px, py, pz])


def reference_mass(record, objects):
    e, px, py, pz = sum(four_vector(record, obj) for obj in objects)
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0))


@pytest.mark.parametrize("objects", [("a", "b"), ("a", "b", "c")])
def test_invariant_mass_matches_four_vector_sum(objects):
    record = make_record()
    with jax.enable_x64(True):
        mass = kinematics.invariant_mass(record, objects=objects)
    np.testing.assert_allclose(mass, reference_mass(record, objects), rtol=1e-10)


def test_invariant_mass_of_back_to_back_massless_pair_is_twice_the_pt():
    record = {"l1_pt": np.array([45.6]), "l1_eta": np.array([0.0]), "l1_phi": np.array([0.0]),
              "l2_pt": np.array([45.6]), "l2_eta": np.array([0.0]), "l2_phi": np.array([np.pi])}
    np.testing.assert_allclose(kinematics.invariant_mass(record, objects=("l1", "l2"), massless=True), [91.2],
                               rtol=1e-6)


def test_invariant_mass_is_accurate_in_float32_for_boosted_pairs():
    record = make_record(("a", "b"), seed=1)
    record["a_eta"] = record["a_eta"] * 0 + 4.0
    record["b_eta"] = record["a_eta"] + 0.05
    f32 = {k: v.astype(np.float32) for k, v in record.items()}
    np.testing.assert_allclose(kinematics.invariant_mass(f32, objects=("a", "b")),
                               reference_mass(record, ("a", "b")), rtol=1e-4)


def test_invariant_mass_reads_fields_through_the_template():
    record = {k.replace("a_", "Jet1.").replace("b_", "Jet2."): v for k, v in make_record(("a", "b")).items()}
    mass = kinematics.invariant_mass(record, objects=("Jet1", "Jet2"), template="{object}.{var}")
    np.testing.assert_allclose(mass, reference_mass(make_record(("a", "b")), ("a", "b")), rtol=1e-5)


def test_delta_r_wraps_phi_around_pi():
    record = {"a_eta": np.array([0.3]), "a_phi": np.array([3.1]), "b_eta": np.array([0.3]),
              "b_phi": np.array([-3.1])}
    np.testing.assert_allclose(kinematics.delta_r(record, objects=("a", "b")), [2 * np.pi - 6.2], rtol=1e-5)


def test_delta_r_matches_the_formula():
    record = make_record(("a", "b"))
    dphi = np.angle(np.exp(1j * (record["a_phi"] - record["b_phi"])))
    expected = np.hypot(record["a_eta"] - record["b_eta"], dphi)
    np.testing.assert_allclose(kinematics.delta_r(record, objects=("a", "b")), expected, rtol=1e-5)


def test_transverse_mass_of_back_to_back_pair_is_twice_the_pt():
    record = {"lep_pt": np.array([40.0]), "lep_phi": np.array([0.5]), "met_pt": np.array([40.0]),
              "met_phi": np.array([0.5 - np.pi])}
    np.testing.assert_allclose(kinematics.transverse_mass(record, objects=("lep", "met")), [80.0], rtol=1e-6)


def test_kinematics_gradients_are_finite_for_collinear_and_identical_objects():
    record = {f"{o}_{v}": jnp.asarray([1.0, 0.0] if v != "mass" else [0.0, 0.0]) for o in "ab"
              for v in ("pt", "eta", "phi", "mass")}  # identical massless objects, then null objects
    for op, objects in [("kinematics.invariant_mass", ("a", "b")), ("kinematics.delta_r", ("a", "b")),
                        ("kinematics.transverse_mass", ("a", "b"))]:
        grads = jax.grad(lambda r, op=op, objects=objects: jnp.sum(REGISTRY[op](r, objects=objects)))(record)
        assert all(np.all(np.isfinite(g)) for g in grads.values()), op


def test_invariant_mass_gradient_matches_finite_differences():
    record = make_record(("a", "b"), n=5)
    with jax.enable_x64(True):
        @jax.jit
        def loss(pt):
            return jnp.sum(kinematics.invariant_mass(record | {"a_pt": pt}, objects=("a", "b")))

        pt, direction = record["a_pt"], np.random.default_rng(1).normal(size=5)
        fd = (loss(pt + 1e-6 * direction) - loss(pt - 1e-6 * direction)) / 2e-6
        np.testing.assert_allclose(np.dot(jax.grad(loss)(pt), direction), fd, rtol=1e-6)


def test_missing_field_error_names_the_field_and_object():
    with pytest.raises(KeyError, match="'b_eta'.*'b'"):
        kinematics.delta_r({"a_eta": np.ones(1), "a_phi": np.ones(1)}, objects=("a", "b"))


def test_template_without_placeholders_is_a_validation_error():
    with pytest.raises(pydantic.ValidationError, match="template"):
        REGISTRY["kinematics.invariant_mass"].make_config({"objects": ("a", "b"), "template": "{object}"})


def test_delta_r_of_three_objects_is_a_validation_error():
    with pytest.raises(pydantic.ValidationError, match="objects"):
        REGISTRY["kinematics.delta_r"].make_config({"objects": ("a", "b", "c")})


def test_invariant_mass_of_one_object_is_a_validation_error():
    with pytest.raises(pydantic.ValidationError, match="objects"):
        REGISTRY["kinematics.invariant_mass"].make_config({"objects": ("a",)})
