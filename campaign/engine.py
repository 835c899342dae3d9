"""The batching point: draw inputs for sample indices and run a per-mission model on all of them.

Models are written for one mission; :func:`compiled` applies ``jit(vmap(...))`` once per campaign structure
(model, variables, sampler, precision, batch size) and caches it at module level, so a Ray worker compiles
once and reuses the function for every shard. Design parameters, distribution parameters and the seed are
traced arguments: a sweep over any of them reuses the compiled code.

Bit-identical results whatever the shard size or the number of workers
----------------------------------------------------------------------
A value computed in a batch can depend on the other elements of that batch in its last bits:
``jax.scipy.special.betainc`` iterates its continued fraction until *every* element has converged and keeps
updating those that already had, and XLA may generate different code for different array sizes (vector body
versus scalar tail, contraction into fused multiply-adds). So the compiled function always sees the same batch
for a given sample:

* missions run in batches of ``batch_size`` aligned to the global index (batch ``k`` holds indices
  ``[k*batch_size, (k+1)*batch_size)``); a shard is a whole number of batches; indices past the campaign's
  end fill the last batch and are dropped;
* epistemic inputs are computed one outer index at a time (``lax.map`` over a scalar body), so every batch
  that shares an outer index computes the identical value.

Each sample is therefore computed by the same executable, with the same neighbours and in the same lane, in
every run with the same ``batch_size`` and precision on the same kind of CPU. Any NaN or infinity in an input
or output is reported with the sample indices that produced it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from . import distributions
from .distributions import Level
from .models import MODELS
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
    saltelli_design,
    split_words,
)
from .spec import CampaignSpec, campaign_dtype, enables_x64

__all__ = ["CampaignSpec", "campaign_dtype", "enables_x64"]  # re-exported: the spec is data, evaluated here


class NonFiniteError(RuntimeError):
    """A model produced NaN or infinity: a defect in the model or its inputs, never a mission outcome."""


def configure_jax(precision: str, cache_dir: str | None = None) -> None:
    """Set this process's JAX precision and persistent compilation cache. Call before any JAX computation
    in a worker: the driver's settings are not inherited by Ray workers."""
    jax.config.update("jax_enable_x64", enables_x64(precision))
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@lru_cache(maxsize=32)
def compiled(
    model_name: str,
    variables: tuple[tuple[str, distributions.DistKind, Level], ...],
    host_sampled: bool,
    precision: str,
):
    """The jitted batch function for one campaign structure.

    ``variables`` holds ``(name, kind, level)`` of each variable. The returned function takes
    ``(seed_words, params, tables, thetas, sample_words, outer_words, outer_pos, u_aleatory, u_epistemic)`` and returns
    ``(inputs, outputs)``, dicts of arrays of shape ``(batch,)``. ``sample_words`` ``(batch, 2)`` and
    ``outer_words`` ``(K, 2)`` are uint32 index words; ``outer_pos`` maps each sample to its outer index's row;
    ``u_*`` are host uniforms (ignored, and zero-sized, for Monte Carlo, which draws them here).
    """
    model = MODELS[model_name]
    dtype = campaign_dtype(precision)
    simulate = model.simulator(jnp.float32 if precision == "mixed" else None)
    static = [Variable(name, kind, (), level) for name, kind, level in variables]
    position = {v.name: j for j, v in enumerate(static)}
    aleatory = tuple(v for v in static if v.level is Level.aleatory)
    epistemic = tuple(v for v in static if v.level is Level.epistemic)

    def batch(seed_words, params, tables, thetas, sample_words, outer_words, outer_pos, u_aleatory, u_epistemic):
        root = root_key(seed_words)

        def one_outer(args):  # scalar body: identical code for every outer index
            words, u = args
            if not host_sampled:
                u = mc_uniforms(root, PURPOSE_EPISTEMIC, words, epistemic, dtype)
            return {v.name: distributions.icdf(v.kind, thetas[position[v.name]], u[j]) for j, v in enumerate(epistemic)}

        if not host_sampled:
            u_aleatory = jax.vmap(lambda w: mc_uniforms(root, PURPOSE_ALEATORY, w, aleatory, dtype))(sample_words)
        inputs = {
            v.name: distributions.icdf(v.kind, thetas[position[v.name]], u_aleatory[:, j])
            for j, v in enumerate(aleatory)
        }
        if epistemic:
            per_outer = jax.lax.map(one_outer, (outer_words, u_epistemic))
            inputs.update({name: values[outer_pos] for name, values in per_outer.items()})
        inputs = {v.name: inputs[v.name] for v in static}  # declaration order
        keys = jax.vmap(lambda w: index_key(root, PURPOSE_MODEL, w[0], w[1]))(sample_words)
        p = model.params_of(params)
        one = lambda x, key: simulate(p, model.inputs_of(x), tables, key)  # noqa: E731
        return inputs, jax.vmap(one)(inputs, keys)

    return jax.jit(batch)


def evaluate_batch(spec: CampaignSpec, first: int) -> dict[str, np.ndarray]:
    """Inputs and outputs of the aligned batch of ``spec.batch_size`` samples starting at ``first``."""
    size = spec.batch_size
    if first % size:
        raise ValueError(f"batch start {first} is not aligned to the batch size {size}")
    index = first + np.arange(size, dtype=np.int64)
    outer_first, k = outer_block(first, size, spec.inner_samples)
    outer = outer_first + np.arange(k, dtype=np.int64)
    outer_pos = (index // spec.inner_samples - outer_first).astype(np.int32)
    host = spec.sampler is not SamplerKind.monte_carlo
    aleatory, epistemic = spec.of_level(Level.aleatory), spec.of_level(Level.epistemic)
    if host:
        design = saltelli_design(spec.variables) if spec.sampler is SamplerKind.saltelli else ()
        args = (spec.seed, spec.inner_samples, spec.samples, design)
        u_a = host_uniforms(spec.sampler, aleatory, index, *args)
        u_e = host_uniforms(spec.sampler, epistemic, outer, *args)
    else:
        u_a, u_e = np.zeros((size, 0)), np.zeros((k, len(epistemic)))
    fn = compiled(spec.model, tuple((v.name, v.kind, v.level) for v in spec.variables), host, spec.precision)
    inputs, outputs = fn(
        jnp.asarray(np.concatenate(split_words(np.array([spec.seed]))), jnp.uint32),
        {name: _as_param(value, spec.dtype) for name, value in spec.params},
        jax.tree_util.tree_map(lambda value: _as_param(value, spec.dtype), spec.tables),
        tuple(jnp.asarray(v.theta, spec.dtype) for v in spec.variables),
        jnp.asarray(np.stack(split_words(index), axis=1)),
        jnp.asarray(np.stack(split_words(outer), axis=1)),
        jnp.asarray(outer_pos),
        jnp.asarray(u_a, spec.dtype),
        jnp.asarray(u_e, spec.dtype),
    )
    return {
        "sample_index": index,
        **{k: np.asarray(v) for k, v in inputs.items()},
        **{k: np.asarray(v) for k, v in outputs.items()},
    }


def _as_param(value, dtype) -> jax.Array:
    """Design values in the campaign's float precision; integer arrays (e.g. step indices) and flags keep
    their type."""
    array = np.asarray(value)
    keep = np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_
    return jnp.asarray(array) if keep else jnp.asarray(array, dtype)


def evaluate_shard(spec: CampaignSpec, first: int, count: int) -> dict[str, np.ndarray]:
    """Inputs and outputs of samples ``first .. first+count-1`` as NumPy columns (``sample_index`` first).

    Runs the aligned batches covering the range (see the module docstring) and cuts the result to ``count``.
    Raises :class:`NonFiniteError` naming the offending sample indices if any value is NaN or infinite.
    """
    if not 0 < count <= spec.shard_size:
        raise ValueError(f"shard of {count} samples does not fit the shard size {spec.shard_size}")
    batches = [evaluate_batch(spec, b) for b in range(first, first + count, spec.batch_size)]
    columns = {name: np.concatenate([b[name] for b in batches])[:count] for name in batches[0]}
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
