"""The NumPy whole mission that the benchmark's peers run is the same physics as the JAX model: fed the JAX
model's own internal draws, it gives the same outputs; and its own NumPy draws give the same campaign."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from campaign import engine, sampling
from campaign.models import landing as landmod
from campaign.models._keys import indexed, open_uniform, subkey
from campaign.models.outcomes import Outcome
from tests.helpers import REPO, compose
from tests.oracles import flat_design
from tests.oracles import mission as nfm

LANDING_UNIFORMS = nfm.LANDING_UNIFORMS


def jax_draws(spec: engine.CampaignSpec, count: int) -> dict[str, np.ndarray]:
    """The draws the JAX model makes inside missions ``0 .. count-1``: each mission's key as the engine makes
    it, then every purpose's key as launch, landing, mission and surface derive it (``subkey``, ``indexed``,
    ``fold_in`` per descent step)."""
    params = flat_design(spec)
    f64 = jnp.float64
    root = sampling.root_key(jnp.asarray(np.concatenate(sampling.split_words(np.array([spec.seed]))), jnp.uint32))
    words = jnp.asarray(np.stack(sampling.split_words(np.arange(count, dtype=np.int64)), axis=1))
    steps = len(params["landing.step_index"])
    sites = jnp.arange(len(params["plan.legs_km"]) - 1)
    slots = jnp.arange(sites.shape[0] * len(params["plan.attempt_slots"]))
    uniform = lambda k: open_uniform(k, f64)  # noqa: E731
    normal = lambda k: jax.random.normal(k, (), f64)  # noqa: E731

    def one(w):
        key = sampling.index_key(root, sampling.PURPOSE_MODEL, w[0], w[1])
        launch, landing, surface = (subkey(key, f"phase/{name}") for name in ("launch", "landing", "surface"))
        ground = subkey(surface, "surface/ground")

        fixes, noise = landmod.navigation_draws(landing, steps, len(params["landing.fix_index"]), f64)
        waves = len(params["landing.relief_wavelength_m"])
        return {
            "launch.ascent": uniform(subkey(launch, "launch/ascent")),
            "launch.engine": uniform(subkey(launch, "launch/engine")),
            **{f"landing.{name}": jax.random.uniform(subkey(landing, name), (), f64) for name in LANDING_UNIFORMS},
            "landing.od_position": jax.random.normal(subkey(landing, "od_position"), (3,), f64),
            "landing.accel_bias": jax.random.normal(subkey(landing, "accel_bias"), (3,), f64),
            "landing.velocimeter_bias": jax.random.normal(subkey(landing, "velocimeter_bias"), (3,), f64),
            "landing.feature_matching": fixes,
            "landing.altimeter": noise.altimeter,
            "landing.imu": noise.imu,
            "landing.velocimeter": noise.velocimeter,
            "landing.relief": jax.random.uniform(subkey(landing, "terrain/relief"), (waves, 2), f64),
            "deployment.lowering": uniform(subkey(key, "phase/deployment")),
            "science.wet": indexed(ground, "science/wet", sites, uniform),
            "science.dry_layer": indexed(ground, "science/dry_layer", sites, uniform),
            "science.content": indexed(ground, "science/content", sites, normal),
            **{
                f"drill.{tag}": indexed(surface, f"surface/drill/{tag}", slots, uniform)
                for tag in ("rock", "jam", "lose")
            },
            "science.measure": indexed(surface, "surface/measure", slots, normal),
            "mobility.entrapment": uniform(subkey(surface, "surface/entrapment")),
            "mobility.wheel": uniform(subkey(surface, "surface/wheel")),
            "reliability.component": uniform(subkey(surface, "surface/component")),
            "reliability.fatigue": normal(subkey(surface, "surface/fatigue")),
        }

    return {name: np.asarray(values) for name, values in jax.jit(jax.vmap(one))(words).items()}


N = 512  # two engine batches: every phase's failures, surface deaths, successes and met water goals (asserted)
# Missions allowed to differ in a discrete output. A decision taken on a value within a few ulp of its threshold
# (the descent step that touches down, a planner's state-of-charge or sunlight test) can go either way between
# XLA's and NumPy's order of floating-point operations, and the mission then follows another path. None does on
# this sample on an x86-64 CPU; one in 512 is allowed for another CPU's code generation.
MAX_DIVERGED = 1


@pytest.fixture(scope="module")
def sample():
    config = compose("+experiment=full_mission", "run.batch_size=256", "run.seed=4", "run.precision=float64")
    spec = config.spec(N)
    columns = engine.evaluate_shard(spec, 0, N)
    inputs = {v.name: columns[v.name] for v in spec.variables}
    return config, spec, columns, inputs, jax_draws(spec, N)


def test_numpy_full_mission_agrees_with_the_jax_model(sample):
    config, spec, columns, inputs, draws = sample
    ours = nfm.simulate(flat_design(spec), inputs, draws)
    assert set(ours) == {o.name for o in config.model.outputs} | {"outcome"}
    phases = set(np.unique(columns["outcome"]) // 10)
    assert {0, 1, 3, 5} <= phases, f"the sample must hold successes and launch, landing and surface failures: {phases}"
    assert (columns["water_goal_met"] & (columns["outcome"] == Outcome.SUCCESS)).sum() >= 5

    discrete = [name for name in ours if not np.issubdtype(columns[name].dtype, np.floating)]
    diverged = np.zeros(N, bool)
    for name in discrete:
        assert ours[name].dtype == columns[name].dtype, name
        diverged |= ours[name] != columns[name]
    assert diverged.sum() <= MAX_DIVERGED, f"missions {np.flatnonzero(diverged)} took another path"
    same = ~diverged
    for name, values in ours.items():
        if name not in discrete:
            assert values.dtype == columns[name].dtype, name
            np.testing.assert_allclose(values[same], columns[name][same], rtol=1e-7, atol=1e-9, err_msg=name)


def test_one_mission_at_a_time_gives_the_same_answer_as_the_batch(sample):
    """monaco calls the function with one mission per case (scalar inputs, one mission's draws)."""
    _, spec, columns, inputs, draws = sample
    phase = columns["outcome"] // 10
    picks = [int(np.flatnonzero(phase == ph)[0]) for ph in (0, 1, 3, 5)]  # success, launch, landing, surface
    params = flat_design(spec)
    batch = nfm.simulate(params, {k: v[picks] for k, v in inputs.items()}, {k: v[picks] for k, v in draws.items()})
    for j, i in enumerate(picks):
        one = nfm.simulate(params, {k: v[i] for k, v in inputs.items()}, {k: v[i] for k, v in draws.items()})
        for name, values in one.items():
            assert values.shape == (1,) and values[0] == batch[name][j], name


def test_numpy_draws_have_the_shapes_and_ranges_of_the_jax_draws(sample):
    _, spec, _, _, jax_drawn = sample
    ours = nfm.draws(np.random.default_rng(1), flat_design(spec), 7)
    assert set(ours) == set(jax_drawn)
    for name, (kind, shape) in nfm.draw_shapes(flat_design(spec)).items():
        assert ours[name].shape == (7, *shape) and jax_drawn[name].shape == (N, *shape), name
        if kind == nfm.UNIFORM:
            assert 0 < ours[name].min() and ours[name].max() < 1, name


@pytest.mark.slow
def test_numpy_draws_give_the_campaign_of_the_jax_engine():
    """Same sampled inputs, the model's own draws from NumPy instead of the mission keys: the probabilities of
    surviving the surface and of meeting the water goal agree within the sampling error."""
    n = 2048
    config = compose("+experiment=full_mission", "run.batch_size=256", "run.seed=5", "run.precision=float64")
    spec = config.spec(n)
    columns = engine.evaluate_shard(spec, 0, n)
    params = flat_design(spec)
    ours = nfm.simulate(
        params, {v.name: columns[v.name] for v in spec.variables}, nfm.draws(np.random.default_rng(7), params, n)
    )
    for goal in ("surface_ok", "water_goal_met", "landing_ok"):
        p_jax, p_ours = columns[goal].mean(), ours[goal].mean()
        se = np.sqrt(2 * max(p_jax * (1 - p_jax), 1e-3) / n)  # two independent estimates at most
        assert abs(p_ours - p_jax) < 4 * se, (goal, p_ours, p_jax)


NO_JAX_RUN = """
import sys
import numpy as np
from tests.oracles import mission as nfm, flat_design
from tests.helpers import compose
params = flat_design(compose("+experiment=full_mission", "run.batch_size=256").spec(256))
inputs = dict(np.load(sys.argv[1]))
out = nfm.simulate(params, inputs, nfm.draws(np.random.default_rng(1), params, 3))
assert out["outcome"].shape == (3,)
"""


def test_no_jax_runs_in_the_numpy_mission(sample, tmp_path):
    """Peers fork worker processes: the NumPy mission must run where JAX cannot even start a backend."""
    _, spec, columns, _, _ = sample
    np.savez(tmp_path / "inputs.npz", **{v.name: columns[v.name][:3] for v in spec.variables})
    env = {"JAX_PLATFORMS": "none-allowed", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", NO_JAX_RUN, str(tmp_path / "inputs.npz")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
