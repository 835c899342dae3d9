"""Samplers: uniforms in (0, 1) for every (sample index, variable), keyed by index so any shard can be drawn alone.

A campaign's unit of identity is the global ``sample_index``. Each sampler is a pure function of the seed, the
index and the variable, never of the shard layout or the worker, so results are bit-identical whatever the
shard size or the number of workers.

* ``monte_carlo`` (JAX, threefry): the uniform of variable ``v`` for sample ``i`` is drawn from
  ``fold_in(fold_in(fold_in(root, LEVEL), i), stable_id(v))``. The level tag keeps aleatory streams (indexed by
  ``i``) apart from epistemic ones (indexed by the outer index ``i // inner_samples``), and the per-variable tag
  means adding a variable leaves every other variable's draws unchanged (common random numbers).
* ``sobol`` (host, scrambled): point ``i`` of a scrambled Sobol sequence for the aleatory variables and point
  ``i // inner_samples`` of a second one for the epistemic variables, reached with ``fast_forward``. Dimensions
  follow the variable order, so unlike Monte Carlo, adding a variable can change the others' draws.
* ``latin_hypercube`` (host): stratum ``perm_v(i)`` of ``N`` for variable ``v`` plus a uniform jitter, where
  ``perm_v`` is a keyed pseudo-random permutation of ``[0, N)`` (a Feistel network with cycle walking) that is
  evaluated per index without materialising it. Each variable has its own permutation and jitter keyed by its
  stable tag, so adding a variable leaves the others unchanged here too.
* ``saltelli`` (host): the radial A/B/AB_i design of Saltelli et al. (2010) at one level, for first-order and
  total Sobol indices (:func:`saltelli_uniforms`; the estimators are in :mod:`campaign.analysis.sensitivity`).
  The design's columns are the inputs that vary, in variable order: adding or fixing one changes every draw.
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import qmc

from .distributions import DistKind, Level
from .keys import open_uniform, stable_id


class SamplerKind(enum.Enum):
    monte_carlo = "monte_carlo"
    sobol = "sobol"
    latin_hypercube = "latin_hypercube"
    saltelli = "saltelli"


# One tag per purpose under the root key: fold_in of distinct tags never collide, whereas mixing split and
# fold_in from one parent can.
PURPOSE_ALEATORY = stable_id("purpose/aleatory")
PURPOSE_EPISTEMIC = stable_id("purpose/epistemic")
PURPOSE_MODEL = stable_id("purpose/model")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Variable:
    """One uncertain input of a campaign: full name (``<section>.<input>``), distribution and level."""

    name: str
    kind: DistKind
    theta: tuple[float, ...]
    level: Level

    @property
    def tag(self) -> int:
        return stable_id(self.name)


def split_words(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Low and high 32-bit words of non-negative int64 values (JAX keys fold in 32-bit data)."""
    v = np.asarray(values, dtype=np.uint64)
    return (v & np.uint64(0xFFFFFFFF)).astype(np.uint32), (v >> np.uint64(32)).astype(np.uint32)


def root_key(seed_words: jax.Array) -> jax.Array:
    """The campaign's root key from the seed's (low, high) words; traced, so a new seed does not recompile."""
    key = jax.random.key(0)
    return jax.random.fold_in(jax.random.fold_in(key, seed_words[0]), seed_words[1])


def index_key(root: jax.Array, purpose: int, lo: jax.Array, hi: jax.Array) -> jax.Array:
    """Key of one index (given as 32-bit words) under one purpose of the root key."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(root, purpose), lo), hi)


def mc_uniforms(root: jax.Array, purpose: int, words: jax.Array, variables: tuple[Variable, ...], dtype) -> jax.Array:
    """Monte Carlo uniforms of ``variables`` at one index given as ``(lo, hi)`` words: shape ``(len(variables),)``.

    ``purpose`` is :data:`PURPOSE_ALEATORY` (the index is a sample index) or :data:`PURPOSE_EPISTEMIC` (an outer
    index).
    """
    base = index_key(root, purpose, words[0], words[1])
    draws = [open_uniform(jax.random.fold_in(base, v.tag), dtype) for v in variables]
    return jnp.stack(draws) if draws else jnp.zeros((0,), dtype)


def outer_block(first: int, size: int, inner_samples: int) -> tuple[int, int]:
    """First outer index and a fixed count covering the outer indices of ``size`` consecutive samples
    starting at ``first`` (the count depends only on ``size`` and ``inner_samples``: one compiled shape)."""
    return first // inner_samples, (size - 1) // inner_samples + 2


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective 64-bit mixer (wrap-around arithmetic is intended)."""
    x = x.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _stream_key(seed: int, tag: int, purpose: str) -> np.uint64:
    """A 64-bit key of one (seed, tag, purpose) stream for the host-side hashes."""
    acc = np.zeros(1, dtype=np.uint64)
    for word in (seed & 0xFFFFFFFFFFFFFFFF, tag, stable_id(purpose)):
        acc = _mix64((acc ^ np.uint64(word)) + _GOLDEN)
    return acc[0]


def hash_uniform(seed: int, tag: int, purpose: str, index: np.ndarray) -> np.ndarray:
    """Counter-based uniforms in (0, 1), float64, one per index (53 random bits each)."""
    k = _stream_key(seed, tag, purpose)
    bits = _mix64(_mix64(np.asarray(index, dtype=np.uint64) * _GOLDEN ^ k)) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) * 2.0**-53


def permute(index: np.ndarray, n: int, seed: int, tag: int, rounds: int = 6) -> np.ndarray:
    """A keyed pseudo-random permutation of ``[0, n)`` evaluated at ``index`` (each < n).

    A balanced Feistel network over the smallest even number of bits covering ``n``; values that land
    outside ``[0, n)`` are encrypted again (cycle walking), which preserves bijectivity on ``[0, n)``.
    """
    half = max(1, (int(n - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    keys = [_stream_key(seed, tag, f"lhs/round{r}") for r in range(rounds)]

    def encrypt(x: np.ndarray) -> np.ndarray:
        left, right = x >> np.uint64(half), x & mask
        for k in keys:
            left, right = right, left ^ (_mix64(right ^ k) & mask)
        return (left << np.uint64(half)) | right

    out = encrypt(np.asarray(index, dtype=np.uint64))
    outside = out >= np.uint64(n)
    while outside.any():
        out[outside] = encrypt(out[outside])
        outside = out >= np.uint64(n)
    return out.astype(np.int64)


def _clip_open(u: np.ndarray) -> np.ndarray:
    eps = np.finfo(np.float64).eps
    return np.clip(u, eps / 2, 1 - eps / 2)


def _sobol_block(d: int, first: int, count: int, seed: int, purpose: str) -> np.ndarray:
    engine = qmc.Sobol(d, scramble=True, rng=np.random.default_rng([seed, stable_id(purpose)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # balance warning for non-power-of-2 counts
        if first:  # SciPy's fast_forward(0) on a fresh engine underflows (it skips n - 1 points)
            engine.fast_forward(first)
        return engine.random(count)


def saltelli_design(variables: tuple[Variable, ...]) -> tuple[Variable, ...]:
    """The variables of a campaign's Saltelli design, in campaign order: the epistemic variables that vary (dist
    other than ``fixed``) when there are any, else the aleatory ones that vary. Their common level is the design
    level; empty when nothing varies (the configuration refuses that)."""
    varying = [v for v in variables if v.kind is not DistKind.fixed]
    epistemic = tuple(v for v in varying if v.level is Level.epistemic)
    return epistemic or tuple(v for v in varying if v.level is Level.aleatory)


def saltelli_layout(variables: tuple[Variable, ...], inner_samples: int) -> dict:
    """What a campaign's Saltelli design is, for run.json (``saltelli_design``) and the analysis: ``level``,
    ``inputs`` (the design's column names, in order), ``d``, ``rows_per_block`` (d + 2 indices of the design
    level per block) and ``missions_per_block`` (``(d + 2) * inner_samples`` at the epistemic level, d + 2 at
    the aleatory level)."""
    design = saltelli_design(variables)
    if not design:
        raise ValueError("a Saltelli design needs at least one variable that varies")
    level, d = design[0].level, len(design)
    per_row = inner_samples if level is Level.epistemic else 1
    return {
        "level": level.value,
        "inputs": [v.name for v in design],
        "d": d,
        "rows_per_block": d + 2,
        "missions_per_block": (d + 2) * per_row,
    }


def saltelli_uniforms(
    variables: tuple[Variable, ...], index: np.ndarray, seed: int, design: tuple[Variable, ...]
) -> np.ndarray:
    """Uniforms of the ``saltelli`` sampler, shape ``(len(index), len(variables))``, float64 in (0, 1).

    The radial design of Saltelli et al. (2010, "Variance based sensitivity analysis of model output. Design and
    estimator for the total sensitivity index", CPC 181, section 3) over the d variables of ``design``
    (:func:`saltelli_design`), at their level. Index ``o`` of that level (an outer index
    ``sample_index // inner_samples`` at the epistemic level, each draw's probability estimated by its inner
    missions; a sample index at the aleatory level) belongs to block ``b = o // (d + 2)`` in role
    ``r = o % (d + 2)``: r = 0 is ``A_b``, r = 1 is ``B_b``, r = 2 + i is ``A_b`` with column i taken from
    ``B_b``. ``A_b`` and ``B_b`` are the first and last d coordinates of point b of a scrambled Sobol sequence of
    dimension 2d (Saltelli 2002, CPC 145: one 2d-dimensional sequence keeps A and B independent and each
    stratified), reached with ``fast_forward`` for the blocks that ``index`` touches, so any shard is drawn
    alone and a point does not depend on where the shard starts.

    A whole design of B blocks takes ``B * (d + 2)`` indices of the design level, i.e. ``B * (d + 2) *
    inner_samples`` missions at the epistemic level and ``B * (d + 2)`` at the aleatory level (the Sobol points
    are best balanced for B a power of two). The estimators use whole blocks only: a partial last block is left
    out of the indices (``campaign.analysis.sensitivity.saltelli`` says so in its notes); its missions still
    count in every probability.

    ``variables`` (one level, as in :func:`host_uniforms`) that are not in ``design`` (the other level, and
    ``fixed`` variables whose uniform is unused) draw plain counter-based uniforms per index
    (:func:`hash_uniform`, keyed by the variable's tag), independent from index to index: at the epistemic
    level the aleatory inputs of each mission are plain Monte Carlo, so each draw's probability carries binomial
    noise, independent between the draws of a block (the estimators remove its bias).
    """
    index = np.asarray(index, dtype=np.int64)
    u = np.empty((index.size, len(variables)), dtype=np.float64)
    if not variables or not index.size:
        return u
    purpose = f"saltelli/{variables[0].level.value}"
    names = [v.name for v in design]
    columns = [j for j, v in enumerate(variables) if v.name in names]
    for j, v in enumerate(variables):
        if j not in columns:
            u[:, j] = hash_uniform(seed, v.tag, purpose, index)
    if columns:
        d = len(design)
        block, role = index // (d + 2), index % (d + 2)
        first = int(block[0])
        point = _sobol_block(2 * d, first, int(block[-1]) - first + 1, seed, f"{purpose}/design")[block - first]
        position = np.array([names.index(variables[j].name) for j in columns])
        from_b = (role[:, None] == 1) | (role[:, None] - 2 == position[None, :])
        u[:, columns] = np.where(from_b, point[:, d + position], point[:, position])
    return u


def host_uniforms(
    kind: SamplerKind,
    variables: tuple[Variable, ...],
    index: np.ndarray,
    seed: int,
    inner_samples: int,
    total_samples: int,
    design: tuple[Variable, ...] = (),
) -> np.ndarray:
    """Uniforms of the host-side samplers, shape ``(len(index), len(variables))``.

    ``index`` are consecutive indices: sample indices for aleatory ``variables``, outer indices for epistemic
    ones (all ``variables`` must share one level, given by their first element). ``design``: the campaign's
    :func:`saltelli_design` (``saltelli`` only: which variables, of either level, form the radial design).
    """
    index = np.asarray(index, dtype=np.int64)
    u = np.empty((index.size, len(variables)), dtype=np.float64)
    if not variables or not index.size:
        return u
    level = variables[0].level
    assert all(v.level is level for v in variables), "host_uniforms takes variables of one level"
    n = total_samples if level is Level.aleatory else -(-total_samples // inner_samples)
    if kind is SamplerKind.sobol:
        u[:] = _sobol_block(len(variables), int(index[0]), index.size, seed, f"sobol/{level.value}")
    elif kind is SamplerKind.latin_hypercube:
        inside = index < n  # padding beyond the campaign has no stratum; give it a plain uniform
        strata = np.where(inside, index, 0)
        for j, v in enumerate(variables):
            jitter = hash_uniform(seed, v.tag, f"lhs/{level.value}", index)
            u[:, j] = np.where(inside, (permute(strata, n, seed, v.tag) + jitter) / n, jitter)
    elif kind is SamplerKind.saltelli:
        u[:] = saltelli_uniforms(variables, index, seed, design)
    else:
        raise ValueError(f"{kind} draws its uniforms inside the compiled model, not on the host")
    return _clip_open(u)
