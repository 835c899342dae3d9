"""The batching point: draw inputs for a shard of sample indices and run a per-mission model on all of them.

Models are written for one mission; :func:`compiled` applies ``jit(vmap(...))`` once per campaign structure
(model, variables, sampler, precision, shard size) and caches the result at module level, so a Ray worker
compiles once and reuses the function for every shard it runs. Design parameters, distribution parameters and
the seed are traced arguments: a sweep over any of them reuses the compiled code.

Every shard has the same shape (the last one is padded with indices beyond the campaign, then cut off), and
any NaN or infinity in an input or output is reported with the sample indices that produced it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from . import distributions
from .models import MODELS, Kind, MissionModel
from .sampling import (
    PURPOSE_MODEL,
    SamplerKind,
    Variable,
    host_uniforms,
    index_key,
    mc_uniforms,
    root_key,
    split_words,
)


class NonFiniteError(RuntimeError):
    """A model produced NaN or infinity: a defect in the model or its inputs, never a mission outcome."""


@dataclass(frozen=True)
class CampaignSpec:
    """Everything a worker needs to evaluate any shard of a campaign (plain, picklable data)."""

    model: str
    params: tuple[tuple[str, float], ...]
    variables: tuple[Variable, ...]
    sampler: SamplerKind
    seed: int
    samples: int
    inner_samples: int
    shard_size: int
    precision: str = "float64"

    @property
    def dtype(self):
        return jnp.float64 if self.precision == "float64" else jnp.float32

    @property
    def mission_model(self) -> MissionModel:
        return MODELS[self.model]


def configure_jax(precision: str, cache_dir: str | None = None) -> None:
    """Set this process's JAX precision and persistent compilation cache. Call before any JAX computation
    in a worker: the driver's settings are not inherited by Ray workers."""
    jax.config.update("jax_enable_x64", precision == "float64")
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@lru_cache(maxsize=32)
def compiled(model_name: str, variables: tuple[tuple[str, distributions.DistKind, distributions.Level, int], ...],
             host_sampled: bool, precision: str):
    """The jitted, vmapped shard function for one campaign structure.

    ``variables`` holds ``(name, kind, level, len(theta))``: the static part of each variable. The returned
    function takes ``(seed_words, params, thetas, words, u)`` and returns ``(inputs, outputs)``, dicts of arrays
    of shape ``(shard,)``; ``words`` is ``(shard, 4)`` uint32 (sample and outer index words), ``u`` the host
    uniforms ``(shard, d)`` or None for Monte Carlo.
    """
    model = MODELS[model_name]
    dtype = jnp.float64 if precision == "float64" else jnp.float32
    static_vars = tuple(Variable(name, kind, (), level) for name, kind, level, _ in variables)

    def one_mission(seed_words, params, thetas, words, u):
        root = root_key(seed_words)
        if u is None:
            u = mc_uniforms(root, words, static_vars, dtype)
        inputs = {v.name: distributions.icdf(v.kind, thetas[j], u[j]) for j, v in enumerate(static_vars)}
        key = index_key(root, PURPOSE_MODEL, words[0], words[1])
        return inputs, model.simulate(params, inputs, key)

    batched = jax.vmap(one_mission, in_axes=(None, None, None, 0, 0 if host_sampled else None))
    return jax.jit(batched)


def shard_inputs(spec: CampaignSpec, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Sample indices (padded to the shard size), their key words and, for host samplers, their uniforms."""
    index = first + np.arange(spec.shard_size, dtype=np.int64)
    lo, hi = split_words(index)
    olo, ohi = split_words(index // spec.inner_samples)
    words = np.stack([lo, hi, olo, ohi], axis=1)
    u = None
    if spec.sampler is not SamplerKind.monte_carlo:
        u = host_uniforms(spec.sampler, spec.variables, index, spec.seed, spec.inner_samples, spec.samples)
    return index, words, u


def evaluate_shard(spec: CampaignSpec, first: int, count: int) -> dict[str, np.ndarray]:
    """Inputs and outputs of samples ``first .. first+count-1`` as NumPy columns (``sample_index`` first).

    Raises :class:`NonFiniteError` naming the offending sample indices if any value is NaN or infinite.
    """
    if not 0 < count <= spec.shard_size:
        raise ValueError(f"shard of {count} samples does not fit the shard size {spec.shard_size}")
    index, words, u = shard_inputs(spec, first)
    structure = tuple((v.name, v.kind, v.level, len(v.theta)) for v in spec.variables)
    fn = compiled(spec.model, structure, u is not None, spec.precision)
    dtype = spec.dtype
    params = {k: jnp.asarray(v, dtype) for k, v in spec.params}
    thetas = tuple(jnp.asarray(v.theta, dtype) for v in spec.variables)
    seed_words = jnp.asarray(np.concatenate(split_words(np.array([spec.seed]))), jnp.uint32)
    inputs, outputs = fn(seed_words, params, thetas, jnp.asarray(words),
                         None if u is None else jnp.asarray(u, dtype))
    columns = {"sample_index": index[:count]}
    columns.update({k: np.asarray(v)[:count] for k, v in inputs.items()})
    columns.update({k: np.asarray(v)[:count] for k, v in outputs.items()})
    check_finite(columns)
    return columns


def check_finite(columns: Mapping[str, np.ndarray]) -> None:
    """Raise :class:`NonFiniteError` listing every float column with NaN/inf and its sample indices."""
    problems = []
    for name, values in columns.items():
        if np.issubdtype(values.dtype, np.floating):
            bad = ~np.isfinite(values)
            if bad.any():
                where = columns["sample_index"][bad]
                shown = ", ".join(str(i) for i in where[:10]) + (" ..." if where.size > 10 else "")
                problems.append(f"'{name}' at {where.size} sample(s): sample_index {shown}")
    if problems:
        raise NonFiniteError("non-finite model values (a model defect): " + "; ".join(problems))


def output_kinds(model: MissionModel) -> dict[str, Kind]:
    """Declared kind of every model output, ``outcome`` included."""
    return {"outcome": Kind.INT, **{o.name: o.kind for o in model.outputs}}
