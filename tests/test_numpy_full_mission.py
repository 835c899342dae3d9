"""The NumPy whole mission that the benchmark's peers run is the same physics as the JAX model: fed the JAX
model's own internal draws, it gives the same outputs; and its own NumPy draws give the same campaign."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import numpy_full_mission as nfm
from campaign import engine, sampling
from campaign.models._keys import indexed, open_uniform, subkey
from campaign.models.outcomes import Outcome
from tests.helpers import compose

LANDING_UNIFORMS = ("misalign", "engine_out", "engine_out_time", "altimeter_fault", "slope_quantile_target",
                    "rock_target", "hazard_detected", "divert_direction", "divert_distance", "slope_quantile_safe",
                    "slope_quantile_landed", "rock_landed")


def jax_draws(spec: engine.CampaignSpec, count: int) -> dict[str, np.ndarray]:
    """The draws the JAX model makes inside missions ``0 .. count-1``: each mission's key as the engine makes
    it, then every purpose's key as launch, landing, mission and surface derive it (``subkey``, ``indexed``,
    ``fold_in`` per descent step)."""
    params = dict(spec.params)
    f64 = jnp.float64
    root = sampling.root_key(jnp.asarray(np.concatenate(sampling.split_words(np.array([spec.seed]))), jnp.uint32))
    words = jnp.asarray(np.stack(sampling.split_words(np.arange(count, dtype=np.int64)), axis=1))
    steps = jnp.asarray(params["landing.step_index"])
    sites = jnp.arange(len(params["plan.legs_km"]) - 1)
    slots = jnp.arange(sites.shape[0] * len(params["plan.attempt_slots"]))
    uniform = lambda k: open_uniform(k, f64)  # noqa: E731
    normal = lambda k: jax.random.normal(k, (), f64)  # noqa: E731

    def one(w):
        key = sampling.index_key(root, sampling.PURPOSE_MODEL, w[0], w[1])
        launch, landing, surface = (subkey(key, f"phase/{name}") for name in ("launch", "landing", "surface"))
        ground = subkey(surface, "surface/ground")

        def navigation(tag, shape):
            step_key = lambda k: jax.random.fold_in(subkey(landing, "navigation"), k)  # noqa: E731
            return jax.vmap(lambda k: jax.random.normal(subkey(step_key(k), tag), shape, f64))(steps)

        return {
            "launch.ascent": uniform(subkey(launch, "launch/ascent")),
            "launch.engine": uniform(subkey(launch, "launch/engine")),
            **{f"landing.{name}": jax.random.uniform(subkey(landing, name), (), f64) for name in LANDING_UNIFORMS},
            "landing.od_position": jax.random.normal(subkey(landing, "od_position"), (3,), f64),
            "landing.accel_bias": jax.random.normal(subkey(landing, "accel_bias"), (3,), f64),
            "landing.feature_matching": navigation("feature_matching", (3,)),
            "landing.altimeter": navigation("altimeter", ()),
            "deployment.lowering": uniform(subkey(key, "phase/deployment")),
            "science.wet": indexed(ground, "science/wet", sites, uniform),
            "science.dry_layer": indexed(ground, "science/dry_layer", sites, uniform),
            "science.content": indexed(ground, "science/content", sites, normal),
            **{f"drill.{tag}": indexed(surface, f"surface/drill/{tag}", slots, uniform) for tag in ("rock", "jam", "lose")},
            "science.measure": indexed(surface, "surface/measure", slots, normal),
            "mobility.entrapment": uniform(subkey(surface, "surface/entrapment")),
            "mobility.wheel": uniform(subkey(surface, "surface/wheel")),
            "reliability.component": uniform(subkey(surface, "surface/component")),
            "reliability.fatigue": normal(subkey(surface, "surface/fatigue")),
        }

    return {name: np.asarray(values) for name, values in jax.jit(jax.vmap(one))(words).items()}
