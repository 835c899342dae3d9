"""Powered descent and landing: guidance accuracy, integrator order, rocket equation, limits, navigation, faults."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from campaign import engine
from campaign.models import landing
from campaign.models.outcomes import Outcome
from tests.helpers import compose, model_arguments


def configured(*overrides: str):
    return compose("+experiment=landing_dispersion", "run.samples=256", "run.batch_size=256", *overrides)


def params_of(config, **design) -> tuple:
    """Model parameters and tables (``prepare`` re-run) with some landing design values replaced."""
    return model_arguments(config, {f"landing.{k}": v for k, v in design.items()})


def perfect_inputs(**overrides) -> dict:
    """Every error off: nominal thrust and Isp, perfect navigation, no faults, no hazards detected."""
    x = {f"landing.{i.name}": 0.0 for i in landing.SECTION.inputs}
    x.update({"landing.thrust_factor": 1.0, **{f"landing.{k}": v for k, v in overrides.items()}})
    return landing.MODEL.inputs_of({k: jnp.float64(v) for k, v in x.items()})


@pytest.fixture(scope="module")
def config():
    return configured()


def fly(design, inputs, key=0):
    params, tables = design
    out, traj = jax.jit(landing.trajectory)(params, inputs, tables, jax.random.key(key))
    return {k: np.asarray(v) for k, v in out.items()}, {k: np.asarray(v) for k, v in traj.items()}


def test_guidance_without_errors_lands_on_target_at_the_commanded_speed(config):
    params = params_of(config, rock_hazard_prob=0.0, slope_median_deg=1.0)
    out, _ = fly(params, perfect_inputs())
    assert out["outcome"] == Outcome.SUCCESS
    assert out["miss_distance_m"] < 0.5
    assert out["touchdown_vertical_speed_mps"] == pytest.approx(1.0, abs=0.01)
    assert out["touchdown_horizontal_speed_mps"] < 0.01
    assert out["propellant_left_kg"] > 50.0


def test_rk4_converges_at_fourth_order():
    """A constant-thrust burn near the Moon: halving the step divides the error by ~2^4."""
    state0 = (jnp.array([0.0, 0.0, landing.R_MOON + 20e3]), jnp.array([1500.0, 0.0, 0.0]), jnp.float64(4000.0))
    thrust = jnp.array([-12000.0, 0.0, 3000.0])

    def integrate(dt, duration=64.0):
        step = jax.jit(lambda s, _: (landing.rk4_step(s, thrust, 3100.0, dt), None))
        return jax.lax.scan(step, state0, None, length=int(duration / dt))[0]

    reference = integrate(1 / 64)
    errors = [float(jnp.linalg.norm(integrate(dt)[0] - reference[0])) for dt in (16.0, 8.0, 4.0)]  # above roundoff
    ratios = [a / b for a, b in zip(errors, errors[1:])]
    assert all(12.0 < r < 20.0 for r in ratios), (errors, ratios)


def test_mass_flow_obeys_the_rocket_equation_in_free_space():
    state0 = (jnp.array([1e13, 0.0, 0.0]), jnp.zeros(3), jnp.float64(4500.0))  # far away: gravity ~ 1e-14 m/s2
    thrust, exhaust = jnp.array([0.0, 15000.0, 0.0]), 315 * landing.G0
    step = jax.jit(lambda s, _: (landing.rk4_step(s, thrust, exhaust, 0.5), None))
    r, v, m = jax.lax.scan(step, state0, None, length=800)[0]
    assert float(jnp.linalg.norm(v)) == pytest.approx(exhaust * np.log(4500.0 / float(m)), rel=1e-10)
    assert float(m) == pytest.approx(4500.0 - 15000.0 / exhaust * 400.0, rel=1e-12)


def test_descent_propellant_matches_the_rocket_equation_and_stays_within_limits(config):
    params = params_of(config)
    inputs = perfect_inputs(
        od_position_error_m=300.0, accel_bias_mps2=5e-4, fm_error_floor_m=4.0, misalignment_deg=0.2, engine_out_prob=1.0
    )
    out, traj = fly(params, inputs, key=3)
    flying = traj["flying"]
    # The touchdown step is cut short by interpolation (its recorded state is the one before it): leave it out.
    whole = flying & (np.cumsum(flying) < flying.sum())
    thrust = np.linalg.norm(traj["thrust"], axis=1)[whole]
    mass = np.concatenate([[float(params[0].landing.mass_at_pdi_kg)], traj["m"][whole]])
    # Realised delta-v: the thrust acceleration integrated over the flight (trapezoid in 1/m, thrust per step).
    dt = float(params[0].landing.step_s)
    delta_v = np.sum(thrust * dt * 0.5 * (1 / mass[:-1] + 1 / mass[1:]))
    exhaust = float(params[0].landing.isp_s) * landing.G0
    used = mass[0] - mass[-1]
    assert used == pytest.approx(mass[0] * (1 - np.exp(-delta_v / exhaust)), rel=1e-4)
    assert np.all(traj["m"] >= float(params[0].landing.dry_mass_kg) - 1e-9) and np.all(traj["m"] > 0)
    every = np.linalg.norm(traj["thrust"], axis=1)[flying]
    assert np.all(every <= traj["available"][flying] * (1 + 1e-9))
    assert np.all(every >= traj["floor"][flying] * (1 - 1e-9))
    assert out["engine_out"] and traj["available"][flying].min() < traj["available"][flying].max()


def shard(config, **design):
    raw = dict(config.params)
    raw.update({f"landing.{k}": v if isinstance(v, bool) else float(v) for k, v in design.items()})
    return engine.evaluate_shard(dataclasses.replace(config, params=tuple(raw.items())).spec(256), 0, 256)


def test_miss_distance_follows_the_quality_of_navigation():
    """Same sampled scenarios, navigation degraded step by step: the median miss never shrinks."""
    medians = []
    for floor in (2.0, 8.0, 32.0):
        config = configured(f"mission.landing.uncertain.fm_error_floor_m.median={floor}")
        medians.append(np.median(shard(config)["miss_distance_m"]))
    assert medians[0] < medians[1] < medians[2]


def test_slim_class_navigation_misses_by_metres_and_none_by_hundreds(config):
    """Calibration against the record (DATA.md): SLIM's navigation error near 50 m altitude was <= 10 m (3-4 m
    likely) and it landed 55 m from target after losing an engine; without map-relative updates, landers of
    2019-2025 came down hundreds of metres to kilometres away (Chandrayaan-3 ~350 m, IM-2 250-400 m)."""
    with_fm = shard(config)["miss_distance_m"]
    without = shard(config, map_relative_nav=False)["miss_distance_m"]
    assert 1.0 < np.median(with_fm) < 30.0 and np.percentile(with_fm, 90) < 60.0
    assert 100.0 < np.median(without) < 3000.0
    assert np.median(without) > 20 * np.median(with_fm)


def test_injected_engine_out_with_two_engines_cannot_brake(config):
    params = params_of(config, engines=2, engine_thrust_n=7500.0)
    outcomes = [fly(params, perfect_inputs(engine_out_prob=1.0), key=k)[0] for k in range(6)]
    early = [o for o in outcomes if o["engine_out"] and o["descent_time_s"] > 0]
    assert early, "an engine must fail in these scenarios"
    for o in outcomes:
        assert o["outcome"] in (
            Outcome.LANDING_CRASH,
            Outcome.LANDING_PROPELLANT_EXHAUSTED,
            Outcome.LANDING_HARD,
            Outcome.LANDING_TIP_OVER,
            Outcome.SUCCESS,
        )
    assert sum(o["outcome"] != Outcome.SUCCESS for o in outcomes) >= 3


@pytest.mark.parametrize(
    "bias, expected", [(2500.0, Outcome.LANDING_CRASH), (-2500.0, Outcome.LANDING_PROPELLANT_EXHAUSTED)]
)
def test_injected_altimeter_fault_gives_the_expected_outcome(config, bias, expected):
    """Reading too high, the lander dives into the ground (ispace M2's late rangefinder); reading too low, it
    hovers above the ground until its propellant runs out and falls (ispace M1)."""
    params = params_of(config, rock_hazard_prob=0.0)
    out, _ = fly(params, perfect_inputs(altimeter_fault_prob=1.0, altimeter_fault_bias_m=bias))
    assert out["altimeter_fault"] and out["outcome"] == expected


def test_steep_terrain_and_rocks_end_in_hazard_or_tip_over(config):
    # The rule at the touchdown spot, with the relief under the trajectory off: with a 25 deg site's relief on
    # (~330 m over 1 km) a few missions end otherwise (tests/test_navigation.py covers the relief).
    steep = shard(config, slope_median_deg=25.0, slope_sigma_log=0.1, terrain_relief=False)
    assert np.all(
        np.isin(
            steep["outcome"],
            [
                Outcome.LANDING_HAZARD,
                Outcome.LANDING_TIP_OVER,
                Outcome.LANDING_PROPELLANT_EXHAUSTED,
                Outcome.LANDING_CRASH,
            ],
        )
    )
    # 25 deg is beyond the 12 deg specification but below this lander's static tip angle, atan(2.5/1.8) = 54 deg.
    assert (steep["outcome"] == Outcome.LANDING_HAZARD).mean() > 0.9
    # Past the tip angle the lander falls over (hazard avoidance off: at such a site there is no safe spot to
    # divert to, and it would pick the least steep one).
    blind = configured("mission.landing.uncertain.hazard_detection_prob={dist:fixed,value:0.0}")
    cliff = shard(blind, slope_median_deg=60.0, slope_sigma_log=0.05, terrain_relief=False)
    assert (cliff["outcome"] == Outcome.LANDING_TIP_OVER).mean() > 0.9
    flat = shard(config, slope_median_deg=1.0, slope_sigma_log=0.1, rock_hazard_prob=0.0, unmodelled_fault_term=False)
    assert (flat["outcome"] == Outcome.SUCCESS).mean() > 0.9


def test_hazard_avoidance_lowers_the_hazard_rate_on_the_same_scenarios():
    blind = configured("mission.landing.uncertain.hazard_detection_prob={dist:fixed,value:0.0}")
    seeing = configured("mission.landing.uncertain.hazard_detection_prob={dist:fixed,value:1.0}")
    hazard_blind = (shard(blind)["outcome"] == Outcome.LANDING_HAZARD).mean()
    hazard_seeing = (shard(seeing)["outcome"] == Outcome.LANDING_HAZARD).mean()
    assert hazard_seeing < hazard_blind
