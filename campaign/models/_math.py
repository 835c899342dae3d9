"""Inverse trigonometric functions for JAX that compile to vector code on the CPU.

XLA's CPU backend evaluates ``atan2`` (and ``arcsin``/``arccos``, which JAX lowers to it) one element at a time
through a scalar library call: about 20-30 ns per element, where a multiply-add costs well under 1 ns. In a
model that evaluates them at every time step of every mission they dominate the run time. These versions use
the Cephes rational approximation of ``atan`` (Moshier, *Methods and Programs for Mathematical Functions*,
1989; the coefficients of ``atan.c``) after reducing the argument to ``[-0.21, 0.66]`` with a single division,
so they are made of arithmetic, ``sqrt`` and selects only, which XLA vectorises. Accuracy (``tests/test_math.py``):
within 3 ulp of NumPy in float64 and float32.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

# atan(x) = x + x^3 P(x^2) / Q(x^2) on |x| <= 0.66 (Cephes atan.c; Q is monic).
_P = (
    -8.750608600031904122785e-1,
    -1.615753718733365076637e1,
    -7.500855792314704667340e1,
    -1.228866684490136173410e2,
    -6.485021904942025371773e1,
)
_Q = (
    1.0,
    2.485846490142306297962e1,
    1.650270098316988542046e2,
    4.328810604912902668951e2,
    4.853903996359136964868e2,
    1.945506571482613964425e2,
)
_REDUCE_ABOVE = 0.66  # tan(33.4 deg): above it, atan(a) = pi/4 + atan((a - 1) / (a + 1))


def _horner(z, coefficients):
    out = jnp.full_like(z, coefficients[0])
    for c in coefficients[1:]:
        out = out * z + c
    return out


def arctan2(y, x):
    """``atan2(y, x)`` in radians, in ``(-pi, pi]``, elementwise (same conventions as :func:`numpy.arctan2`
    for finite inputs, signed zeros included)."""
    ax, ay = jnp.abs(x), jnp.abs(y)
    hi, lo = jnp.maximum(ax, ay), jnp.minimum(ax, ay)
    reduce = lo > _REDUCE_ABOVE * hi
    den = jnp.where(reduce, lo + hi, hi)
    t = jnp.where(reduce, lo - hi, lo) / jnp.where(den > 0, den, 1.0)  # atan(lo/hi) = [pi/4 +] atan(t)
    z = t * t
    r = t + t * z * _horner(z, _P) / _horner(z, _Q)
    r = jnp.where(reduce, r + math.pi / 4, r)
    r = jnp.where(ay > ax, math.pi / 2 - r, r)
    r = jnp.where(jnp.signbit(x), math.pi - r, r)
    return jnp.where(jnp.signbit(y), -r, r)


def arcsin(x):
    """``asin(x)`` in radians for ``x`` in ``[-1, 1]`` (NaN outside)."""
    return arctan2(x, jnp.sqrt((1.0 - x) * (1.0 + x)))


def arccos(x):
    """``acos(x)`` in radians for ``x`` in ``[-1, 1]`` (NaN outside)."""
    return arctan2(jnp.sqrt((1.0 - x) * (1.0 + x)), x)
