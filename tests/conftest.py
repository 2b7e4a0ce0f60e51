"""Shared fixtures: small seeded toy samples."""

import functools

import jax
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def gaussian_sample(rng, n, means, dtype=np.float64):
    """A dict of independent unit Gaussian columns with the given means."""
    return {name: rng.normal(mean, 1.0, n).astype(dtype) for name, mean in means.items()}


def in_x64(test):
    """Run a test with 64-bit JAX, as programs run their nodes."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        with jax.enable_x64(True):
            return test(*args, **kwargs)

    return wrapper
