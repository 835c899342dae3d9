"""The vectorisable inverse trigonometric functions agree with NumPy to within 3 ulp, signs and quadrants included."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from campaign.models import _math


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_arctan2_matches_numpy_in_every_quadrant_and_at_the_axes(dtype):
    rng = np.random.default_rng(3)
    y = np.concatenate(
        [
            rng.normal(size=50_000),
            rng.uniform(-1e-6, 1e-6, 1000),
            np.tan(np.linspace(-1.5, 1.5, 2001)),
            [0.0, -0.0, 1.0, -1.0, 0.0, -0.0, 2.0, -2.0, 1e-30],
        ]
    ).astype(dtype)
    x = np.concatenate(
        [
            rng.normal(size=50_000),
            rng.uniform(-1, 1, 1000),
            np.ones(2001),
            [1.0, 1.0, 0.0, 0.0, -1.0, -1.0, 2.0, 2.0, -1.0],
        ]
    ).astype(dtype)
    got = np.asarray(jax.jit(_math.arctan2)(jnp.asarray(y), jnp.asarray(x)))
    exact = np.arctan2(y.astype(np.float64), x.astype(np.float64))
    assert got.dtype == dtype
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    assert np.all(np.abs(got - exact) <= 3 * np.maximum(ulp, np.finfo(dtype).tiny))
    assert np.array_equal(np.signbit(got), np.signbit(np.arctan2(y, x)))  # signed zeros and the branch cut


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["arcsin", "arccos"])
def test_arcsin_and_arccos_match_numpy_on_the_closed_interval(dtype, name):
    u = np.concatenate([np.linspace(-1, 1, 200_001), [-0.0, 0.5, -0.5, np.nextafter(1, 0), np.nextafter(-1, 0)]])
    u = u.astype(dtype)
    got = np.asarray(jax.jit(getattr(_math, name))(jnp.asarray(u)))
    exact = getattr(np, name)(u.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    assert np.all(np.abs(got - exact) <= 3 * np.maximum(ulp, np.finfo(dtype).tiny))
    assert np.isnan(np.asarray(getattr(_math, name)(jnp.asarray([1.5, -1.5], dtype)))).all()


def test_xla_compiles_them_without_a_scalar_library_call():
    """The reason they exist: no atan2 instruction (a per-element call on the CPU) in the optimised program."""
    x = jnp.linspace(-1.0, 1.0, 1024)
    for f in (_math.arctan2, lambda a, b: _math.arcsin(a), lambda a, b: _math.arccos(a)):
        text = jax.jit(f).lower(x, x[::-1]).compile().as_text()
        assert "atan2(" not in text
    assert "atan2(" in jax.jit(jnp.arctan2).lower(x, x).compile().as_text()  # the check can fail
