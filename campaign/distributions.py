"""Probability distributions as inverse CDFs: uniforms in (0, 1) in, values out (pure JAX).

Every sampler (Monte Carlo, Sobol, Latin hypercube) produces uniforms; this module maps them to the
distribution named in the config. A distribution is a :class:`DistKind` (static: it selects the code path) and
a parameter vector ``theta`` (dynamic: a sweep over a distribution parameter does not recompile).

``PARAMETERS`` fixes, per kind, the config keys and their order in ``theta``; ``OPTIONAL`` gives the defaults
of optional keys. ``check`` validates a parameter set and returns human-readable problems.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, betaln, ndtr, ndtri


class DistKind(enum.Enum):
    fixed = "fixed"
    normal = "normal"
    lognormal = "lognormal"
    truncnormal = "truncnormal"
    uniform = "uniform"
    triangular = "triangular"
    beta = "beta"
    bernoulli = "bernoulli"
    choice = "choice"


class Level(enum.Enum):
    """``aleatory``: drawn per mission. ``epistemic``: drawn per outer index ``sample_index // inner_samples``,
    i.e. one value shared by a block of missions (a state of knowledge rather than a mission-to-mission
    variation)."""

    aleatory = "aleatory"
    epistemic = "epistemic"


PARAMETERS: dict[DistKind, tuple[str, ...]] = {
    DistKind.fixed: ("value",),
    DistKind.normal: ("mean", "std"),
    DistKind.lognormal: ("median", "sigma_log"),
    DistKind.truncnormal: ("mean", "std", "low", "high"),
    DistKind.uniform: ("low", "high"),
    DistKind.triangular: ("low", "mode", "high"),
    DistKind.beta: ("alpha", "beta", "low", "high"),
    DistKind.bernoulli: ("p",),
    DistKind.choice: ("values", "weights"),
}
OPTIONAL: dict[DistKind, dict[str, Any]] = {
    DistKind.beta: {"low": 0.0, "high": 1.0},
    DistKind.choice: {"weights": None},
}
ALL_PARAMETER_NAMES: tuple[str, ...] = tuple(dict.fromkeys(n for names in PARAMETERS.values() for n in names))


def check(kind: DistKind, given: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems with a parameter set, as ``(parameter, message)`` pairs; empty when valid.

    ``given`` holds only the parameters that were set (not None).
    """
    allowed = PARAMETERS[kind]
    problems = [
        (k, f"is not a parameter of '{kind.value}' (its parameters: {', '.join(allowed)})")
        for k in given
        if k not in allowed
    ]
    optional = OPTIONAL.get(kind, {})
    problems += [(k, f"is required by '{kind.value}'") for k in allowed if k not in given and k not in optional]
    if problems:
        return problems
    v = {**optional, **given}
    if kind is DistKind.choice:
        values, weights = list(v["values"]), v["weights"]
        if not values:
            return [("values", "must list at least one value")]
        if weights is not None:
            weights = list(weights)
            if len(weights) != len(values):
                return [("weights", f"must have one weight per value ({len(values)}), got {len(weights)}")]
            if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
                return [("weights", "must be finite, >= 0 and not all 0")]
        return [("values", "must be finite")] if not all(math.isfinite(x) for x in values) else []
    bad = [(k, "must be a finite number") for k in allowed if not math.isfinite(float(v[k]))]
    if bad:
        return bad
    rules = {
        DistKind.normal: [("std", v.get("std", 0) >= 0, "must be >= 0")],
        DistKind.lognormal: [
            ("median", v.get("median", 1) > 0, "must be > 0"),
            ("sigma_log", v.get("sigma_log", 0) >= 0, "must be >= 0"),
        ],
        DistKind.truncnormal: [
            ("std", v.get("std", 1) > 0, "must be > 0"),
            ("high", v.get("low", 0) < v.get("high", 1), "must be > low"),
        ],
        DistKind.uniform: [("high", v.get("low", 0) <= v.get("high", 1), "must be >= low")],
        DistKind.triangular: [
            ("high", v.get("low", 0) < v.get("high", 1), "must be > low"),
            ("mode", v.get("low", 0) <= v.get("mode", 0) <= v.get("high", 0), "must lie in [low, high]"),
        ],
        DistKind.beta: [
            ("alpha", v.get("alpha", 1) > 0, "must be > 0"),
            ("beta", v.get("beta", 1) > 0, "must be > 0"),
            ("high", v.get("low", 0) < v.get("high", 1), "must be > low"),
        ],
        DistKind.bernoulli: [("p", 0 <= v.get("p", 0) <= 1, "is a probability and must lie in [0, 1]")],
    }
    return [(k, msg) for k, ok, msg in rules.get(kind, []) if not ok]


def support(kind: DistKind, theta: Sequence[float]) -> tuple[float, float]:
    """Closed interval containing every value the distribution can produce."""
    t = list(theta)
    match kind:
        case DistKind.fixed:
            return t[0], t[0]
        case DistKind.normal:
            return (t[0], t[0]) if t[1] == 0 else (-math.inf, math.inf)
        case DistKind.lognormal:
            return (t[0], t[0]) if t[1] == 0 else (0.0, math.inf)
        case DistKind.truncnormal:
            return t[2], t[3]
        case DistKind.uniform:
            return t[0], t[1]
        case DistKind.triangular:
            return t[0], t[2]
        case DistKind.beta:
            return t[2], t[3]
        case DistKind.bernoulli:
            return 0.0, 1.0
        case DistKind.choice:
            n = len(t) // 2
            return min(t[:n]), max(t[:n])
    raise AssertionError(kind)


def theta_of(kind: DistKind, given: Mapping[str, Any]) -> tuple[float, ...]:
    """The parameter vector of a valid parameter set (see :func:`check`). For ``choice`` it is the values
    followed by the cumulative normalised weights."""
    v = {**OPTIONAL.get(kind, {}), **given}
    if kind is DistKind.choice:
        values = [float(x) for x in v["values"]]
        weights = [1.0] * len(values) if v["weights"] is None else [float(w) for w in v["weights"]]
        total, acc, cumulative = sum(weights), 0.0, []
        for w in weights:
            acc += w
            cumulative.append(acc / total)
        return tuple(values) + tuple(cumulative)
    return tuple(float(v[k]) for k in PARAMETERS[kind])


def _beta_initial_guess(a: jax.Array, b: jax.Array, u: jax.Array) -> jax.Array:
    """Starting point of the beta inverse (Press et al., Numerical Recipes, 3rd ed., 6.14 ``invbetai``):
    a normal approximation when a, b >= 1, otherwise the power laws of the two tails."""
    pp = jnp.where(u < 0.5, u, 1 - u)
    t = jnp.sqrt(-2 * jnp.log(pp))
    z = (2.30753 + t * 0.27061) / (1 + t * (0.99229 + t * 0.04481)) - t
    z = jnp.where(u < 0.5, -z, z)
    al = (z * z - 3) / 6
    h = 2 / (1 / (2 * a - 1) + 1 / (2 * b - 1))
    w = z * jnp.sqrt(al + h) / h - (1 / (2 * b - 1) - 1 / (2 * a - 1)) * (al + 5 / 6 - 2 / (3 * h))
    central = a / (a + b * jnp.exp(2 * w))
    lna, lnb = jnp.log(a / (a + b)), jnp.log(b / (a + b))
    t_lo, t_hi = jnp.exp(a * lna) / a, jnp.exp(b * lnb) / b
    total = t_lo + t_hi
    tails = jnp.where(u < t_lo / total, (a * total * u) ** (1 / a), 1 - (b * total * (1 - u)) ** (1 / b))
    guess = jnp.where((a >= 1) & (b >= 1), central, tails)
    tiny = jnp.finfo(u.dtype).tiny
    return jnp.clip(jnp.where(jnp.isfinite(guess), guess, 0.5), tiny, 1 - jnp.finfo(u.dtype).epsneg)


def _beta_icdf(a: jax.Array, b: jax.Array, u: jax.Array) -> jax.Array:
    """Inverse of the regularised incomplete beta function by safeguarded Newton ("rtsafe", Press et al.,
    Numerical Recipes 9.4) from :func:`_beta_initial_guess`: a Newton step is taken only if it stays inside the
    bracket and at least halves the step before it, otherwise the bracket is bisected."""
    iterations = 32 if u.dtype == jnp.float64 else 20
    log_norm = betaln(a, b)

    def body(_, state):
        x, lo, hi, previous_step, best, best_err = state
        f = betainc(a, b, x) - u
        better = jnp.abs(f) < best_err  # fixed iteration count: keep the best iterate, not the last
        best, best_err = jnp.where(better, x, best), jnp.where(better, jnp.abs(f), best_err)
        lo, hi = jnp.where(f < 0, x, lo), jnp.where(f < 0, hi, x)
        pdf = jnp.exp((a - 1) * jnp.log(x) + (b - 1) * jnp.log1p(-x) - log_norm)
        newton = x - f / pdf
        use_newton = (newton >= lo) & (newton <= hi) & (jnp.abs(2 * f) <= jnp.abs(previous_step * pdf))
        step = jnp.where(use_newton, f / pdf, 0.5 * (hi - lo))
        return jnp.where(use_newton, newton, 0.5 * (lo + hi)), lo, hi, step, best, best_err

    x0 = _beta_initial_guess(a, b, u)
    zero, one = jnp.zeros_like(u), jnp.ones_like(u)
    state = (x0, zero, one, one, x0, jnp.full_like(u, jnp.inf))
    return jax.lax.fori_loop(0, iterations, body, state)[4]


def icdf(kind: DistKind, theta: jax.Array, u: jax.Array) -> jax.Array:
    """Values of the distribution at uniforms ``u`` (any shape) by inverse CDF; ``theta`` as :func:`theta_of`."""
    t = theta.astype(u.dtype)
    match kind:
        case DistKind.fixed:
            return jnp.full_like(u, t[0])
        case DistKind.normal:
            return t[0] + t[1] * ndtri(u)
        case DistKind.lognormal:
            return t[0] * jnp.exp(t[1] * ndtri(u))
        case DistKind.truncnormal:
            mean, std, low, high = t[0], t[1], t[2], t[3]
            a, b = (low - mean) / std, (high - mean) / std
            # Work in whichever tail keeps the CDF differences away from 1, where they lose precision.
            lower_tail = ndtri(ndtr(a) + u * (ndtr(b) - ndtr(a)))
            upper_tail = -ndtri(ndtr(-b) + (1 - u) * (ndtr(-a) - ndtr(-b)))
            z = jnp.where(a > 0, upper_tail, lower_tail)
            return jnp.clip(mean + std * z, low, high)
        case DistKind.uniform:
            return t[0] + u * (t[1] - t[0])
        case DistKind.triangular:
            low, mode, high = t[0], t[1], t[2]
            split = (mode - low) / (high - low)
            left = low + jnp.sqrt(u * (high - low) * (mode - low))
            right = high - jnp.sqrt((1 - u) * (high - low) * (high - mode))
            return jnp.where(u < split, left, right)
        case DistKind.beta:
            return t[2] + (t[3] - t[2]) * _beta_icdf(t[0], t[1], u)
        case DistKind.bernoulli:
            return (u >= 1 - t[0]).astype(u.dtype)  # the non-decreasing inverse CDF, as choice([0, 1])
        case DistKind.choice:
            n = theta.shape[0] // 2
            values, cumulative = t[:n], t[n:]
            index = jnp.minimum(jnp.sum(u[..., None] >= cumulative[:-1], axis=-1), n - 1)
            return values[index]
    raise AssertionError(kind)
