"""Rover power and thermal balance: analytic cases, exact integration, conservation, endurance, monotonicity."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from campaign import engine
from campaign.models import power_thermal as pt
from campaign.models.outcomes import Outcome
from tests.helpers import compose
from tests.oracles import power_thermal as reference
from tests.oracles import section_params


@pytest.fixture(scope="module")
def night_config():
    return compose("+experiment=night_survival", "run.samples=256", "run.batch_size=256")


@pytest.fixture(scope="module")
def design(night_config) -> dict:
    """The default rover's power/thermal parameters, dispersions at their nominal values."""
    p = section_params(dict(night_config.params), "power", "thermal")
    return {**p, "load_factor": 1.0}


def env_series(n, flux=1361.0, disk=0.0, cos_inc=1.0, sink=80.0, earth=True) -> pt.Env:
    full = lambda v, dtype=jnp.float64: jnp.broadcast_to(jnp.asarray(v, dtype), (n,))  # noqa: E731
    return pt.Env(full(flux), full(disk), full(cos_inc), full(sink), full(earth, bool))


def run(p: dict, env: pt.Env, dt_h: float = 1.0) -> pt.State:
    p = pt.rover_record({k: jnp.float64(v) for k, v in p.items()})
    step = jax.jit(lambda s, e: (pt.step(p, s, e, dt_h), None))
    state, _ = jax.lax.scan(step, pt.init(p, jnp.float64), env)
    return state


def linear_box(design: dict, **overrides) -> dict:
    """No radiator and no heater: the box is a linear RC circuit."""
    return {
        **design,
        "radiator_emissivity_closed": 0.0,
        "radiator_emissivity_open": 0.0,
        "heater_max_w": 0.0,
        "load_heat_fraction": 1.0,
        "survival_temp_k": 1.0,
        "battery_capacity_wh": 1e7,
        **overrides,
    }


def test_steady_state_is_the_analytic_balance(design):
    p = linear_box(design, hibernate_w=12.0, insulation_conductance_w_per_k=0.08)
    state = run(p, env_series(3000, disk=0.0, sink=100.0))
    assert float(state.temp_k) == pytest.approx(100.0 + 12.0 / 0.08, rel=1e-9)


def test_linear_box_is_integrated_exactly_whatever_the_step(design):
    p = linear_box(design, hibernate_w=12.0, box_heat_capacity_j_per_k=20000.0)
    coarse = run(p, env_series(3, sink=60.0), dt_h=10.0)
    fine = run(p, env_series(30, sink=60.0), dt_h=1.0)
    assert float(coarse.temp_k) == pytest.approx(float(fine.temp_k), rel=1e-12)


def test_radiator_linearisation_converges_with_substeps(design):
    p = {
        **design,
        "heater_max_w": 0.0,
        "survival_temp_k": 1.0,
        "battery_capacity_wh": 1e7,
        "hibernate_w": 150.0,
        "load_heat_fraction": 1.0,
    }  # hot box: louvres open, radiation dominates
    hourly = run(p, env_series(24, sink=120.0), dt_h=1.0)
    minutes = run(p, env_series(24 * 60, sink=120.0), dt_h=1.0 / 60.0)
    assert float(hourly.temp_k) > p["heater_setpoint_k"] + 30  # louvres fully open: a real test of the radiator
    assert float(hourly.temp_k) == pytest.approx(float(minutes.temp_k), abs=0.05)


def test_energy_and_heat_bookkeeping_close(design):
    rng = np.random.default_rng(5)
    n = 24 * 60
    sunlit = (np.arange(n) // 60) % 4 != 0  # 60-h darkness every 240 h
    env = pt.Env(
        jnp.asarray(1361.0 + rng.normal(0, 5, n)),
        jnp.asarray(np.where(sunlit, rng.uniform(0.6, 1, n), 0.0)),
        jnp.asarray(rng.uniform(0.8, 1.0, n)),
        jnp.asarray(rng.uniform(40, 150, n)),
        jnp.asarray(rng.uniform(size=n) < 0.6),
    )
    p = {**design, "battery_capacity_wh": 5000.0, "battery_fade_per_year": 0.5}  # fast fade: clipping exercised
    p0 = pt.rover_record({k: jnp.float64(v) for k, v in p.items()})
    start = pt.init(p0, jnp.float64)
    end = run(p, env)
    assert int(end.step) == n and bool(end.alive), "the scenario must run to its end for the check to mean much"
    stored = float(end.energy_wh - start.energy_wh)
    spent = float(end.load_wh + end.heater_wh + end.battery_loss_wh)
    assert float(end.generated_wh) - spent == pytest.approx(stored, abs=1e-6 * float(end.generated_wh))
    assert float(end.heat_in_j - end.heat_out_j) == pytest.approx(
        p["box_heat_capacity_j_per_k"] * float(end.temp_k - start.temp_k), abs=1e-6 * float(end.heat_in_j)
    )
    assert float(end.curtailed_wh) >= 0 and float(end.battery_loss_wh) > 0 and float(end.heater_wh) > 0


def test_darkness_shorter_than_the_analytic_endurance_is_survived_and_a_longer_one_is_not(design):
    """With the hibernation load's own heat exactly holding the box at its set point, the heater is idle and the
    battery lasts (E0 - floor) * discharge efficiency / load; after that the box cools below survival."""
    load, sink, setpoint = 15.0, 80.0, 263.0
    p = {
        **design,
        "hibernate_w": load,
        "load_heat_fraction": 1.0,
        "heater_setpoint_k": setpoint,
        "insulation_conductance_w_per_k": load / (setpoint - sink),
        "radiator_emissivity_closed": 0.0,
        "radiator_emissivity_open": 0.0,
        "box_heat_capacity_j_per_k": 500.0,
        "survival_temp_k": setpoint - 5.0,
        "battery_fade_per_year": 0.0,
    }
    usable_wh = (p["soc_initial"] - p["soc_min"]) * p["battery_capacity_wh"] * p["discharge_efficiency"]
    endurance_h = usable_wh / load
    short = run(p, env_series(int(0.95 * endurance_h), disk=0.0, sink=sink))
    long = run(p, env_series(int(1.05 * endurance_h), disk=0.0, sink=sink))
    assert bool(short.alive) and float(short.heater_wh) == pytest.approx(0.0, abs=1e-6)
    assert not bool(long.alive) and int(long.cause) == Outcome.SURFACE_FROZE_BATTERY_EXHAUSTED
    assert int(long.death_step) == pytest.approx(endurance_h, abs=2.0)


def test_the_numpy_reference_step_agrees_with_the_jax_step(design):
    rng = np.random.default_rng(2)
    n = 2000
    p = {
        **design,
        "battery_capacity_wh": rng.uniform(1000, 6000, n),
        "insulation_conductance_w_per_k": rng.uniform(0.02, 0.3, n),
        "load_factor": rng.uniform(0.8, 1.2, n),
    }
    energy = rng.uniform(0.1, 1.0, n) * p["battery_capacity_wh"]
    temp = rng.uniform(240.0, 300.0, n)
    step_index = rng.integers(0, 2400, n)
    env = {
        "solar_flux_w_m2": rng.uniform(1300, 1420, n),
        "disk_fraction": rng.choice([0.0, 0.3, 0.8, 1.0], n),
        "array_cos_incidence": rng.uniform(0, 1, n),
        "sink_temp_k": rng.uniform(30, 200, n),
        "earth_visible": rng.uniform(size=n) < 0.5,
    }
    ref = reference.step(p, energy, temp, step_index, env, 1.0)

    def one(pi, e, t, k, ei):
        pi = pt.rover_record(pi)
        s = pt.init(pi, jnp.float64)._replace(energy_wh=e, temp_k=t, step=k)
        return pt.step(pi, s, pt.Env(**ei), 1.0)

    axes = {k: (0 if np.ndim(v) else None) for k, v in p.items()}
    out = jax.jit(jax.vmap(one, in_axes=(axes, 0, 0, 0, 0)))(
        {k: jnp.asarray(v, jnp.float64) for k, v in p.items()},
        jnp.asarray(energy),
        jnp.asarray(temp),
        jnp.asarray(step_index, jnp.int32),
        {k: jnp.asarray(v) for k, v in env.items()},
    )
    np.testing.assert_allclose(np.asarray(out.energy_wh), ref["energy_wh"], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(np.asarray(out.temp_k), ref["temp_k"], rtol=1e-10)
    assert np.array_equal(~np.asarray(out.alive), ref["lost"])


@pytest.mark.parametrize(
    "name, values, better",
    [
        ("power.battery_capacity_wh", (2500.0, 4000.0, 6000.0), "increasing"),
        ("thermal.insulation_conductance_w_per_k", (0.15, 0.08, 0.04), "decreasing"),
    ],
)
def test_better_design_never_lowers_survival_on_the_same_scenarios(night_config, name, values, better):
    params, tables = night_config.numeric_params(), night_config.tables()
    results = []
    for value in values:
        changed = tuple((k, value if k == name else v) for k, v in params)
        cols = engine.evaluate_shard(night_config.spec(256, changed, tables), 0, 256)
        results.append(cols)
    for worse, improved in zip(results, results[1:]):
        assert np.all(improved["days_survived"] >= worse["days_survived"] - 1e-9)
        assert np.all(improved["surface_ok"] >= worse["surface_ok"])
    assert results[-1]["surface_ok"].sum() > results[0]["surface_ok"].sum(), "the design change must matter here"
