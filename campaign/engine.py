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
    PURPOSE_ALEATORY,
    PURPOSE_EPISTEMIC,
    PURPOSE_MODEL,
    SamplerKind,
    Variable,
    host_uniforms,
    index_key,
    mc_uniforms,
    outer_block,
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
    """The jitted shard function for one campaign structure.

    ``variables`` holds ``(name, kind, level, len(theta))``: the static part of each variable. The returned
    function takes ``(seed_words, params, thetas, sample_words, outer_words, outer_pos, u_aleatory,
    u_epistemic)`` and returns ``(inputs, outputs)``, dicts of arrays of shape ``(shard,)``. ``sample_words``
    ``(shard, 2)`` and ``outer_words`` ``(K, 2)`` are uint32 index words; ``outer_pos`` maps each sample to its
    outer index's row; ``u_*`` are host uniforms, or None for Monte Carlo. Epistemic inputs are drawn and
    transformed once per outer index, then gathered: ``K`` is about ``shard / inner_samples``.
    """
    model = MODELS[model_name]
    dtype = jnp.float64 if precision == "float64" else jnp.float32
    static = [Variable(name, kind, (), level) for name, kind, level, _ in variables]
    aleatory = tuple(v for v in static if v.level is distributions.Level.aleatory)
    epistemic = tuple(v for v in static if v.level is distributions.Level.epistemic)
    theta_index = {v.name: j for j, v in enumerate(static)}

    def transform(group, u, thetas):
        return {v.name: distributions.icdf(v.kind, thetas[theta_index[v.name]], u[:, j]) for j, v in enumerate(group)}

    def shard(seed_words, params, thetas, sample_words, outer_words, outer_pos, u_aleatory, u_epistemic):
        root = root_key(seed_words)
        if not host_sampled:
            u_aleatory = jax.vmap(lambda w: mc_uniforms(root, PURPOSE_ALEATORY, w, aleatory, dtype))(sample_words)
            u_epistemic = jax.vmap(lambda w: mc_uniforms(root, PURPOSE_EPISTEMIC, w, epistemic, dtype))(outer_words)
        inputs = transform(aleatory, u_aleatory, thetas)
        inputs.update({k: v[outer_pos] for k, v in transform(epistemic, u_epistemic, thetas).items()})
        inputs = {v.name: inputs[v.name] for v in static}  # declaration order
        keys = jax.vmap(lambda w: index_key(root, PURPOSE_MODEL, w[0], w[1]))(sample_words)
        return inputs, jax.vmap(model.simulate, in_axes=(None, 0, 0))(params, inputs, keys)

    return jax.jit(shard)


def evaluate_shard(spec: CampaignSpec, first: int, count: int) -> dict[str, np.ndarray]:
    """Inputs and outputs of samples ``first .. first+count-1`` as NumPy columns (``sample_index`` first).

    The shard is padded to ``spec.shard_size`` (one compiled shape for every shard) and cut back to ``count``.
    Raises :class:`NonFiniteError` naming the offending sample indices if any value is NaN or infinite.
    """
    if not 0 < count <= spec.shard_size:
        raise ValueError(f"shard of {count} samples does not fit the shard size {spec.shard_size}")
    index = first + np.arange(spec.shard_size, dtype=np.int64)
    outer_first, k = outer_block(first, spec.shard_size, spec.inner_samples)
    outer = outer_first + np.arange(k, dtype=np.int64)
    outer_pos = (index // spec.inner_samples - outer_first).astype(np.int32)
    host = spec.sampler is not SamplerKind.monte_carlo
    u_a = u_e = None
    if host:
        args = (spec.seed, spec.inner_samples, spec.samples)
        levels = distributions.Level
        u_a = host_uniforms(spec.sampler, _of_level(spec, levels.aleatory), index, *args).astype(spec.dtype)
        u_e = host_uniforms(spec.sampler, _of_level(spec, levels.epistemic), outer, *args).astype(spec.dtype)
    structure = tuple((v.name, v.kind, v.level, len(v.theta)) for v in spec.variables)
    fn = compiled(spec.model, structure, host, spec.precision)
    inputs, outputs = fn(
        jnp.asarray(np.concatenate(split_words(np.array([spec.seed]))), jnp.uint32),
        {k: jnp.asarray(v, spec.dtype) for k, v in spec.params},
        tuple(jnp.asarray(v.theta, spec.dtype) for v in spec.variables),
        jnp.asarray(np.stack(split_words(index), axis=1)),
        jnp.asarray(np.stack(split_words(outer), axis=1)),
        jnp.asarray(outer_pos),
        u_a,
        u_e,
    )
    columns = {"sample_index": index[:count]}
    columns.update({k: np.asarray(v)[:count] for k, v in inputs.items()})
    columns.update({k: np.asarray(v)[:count] for k, v in outputs.items()})
    check_finite(columns)
    return columns


def _of_level(spec: CampaignSpec, level: distributions.Level) -> tuple[Variable, ...]:
    return tuple(v for v in spec.variables if v.level is level)


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
