"""The surface mission: drilling, water science, mobility and the operations planner, step by step and as a
campaign. Every statistical check uses fixed seeds; every comparison between designs uses common random numbers
(the same sampled missions, the same draws)."""

from __future__ import annotations

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from campaign import engine
from campaign.config import ConfigError
from campaign.models import Outcome, rules
from campaign.models import deployment as dep
from campaign.models import drill as drillmod
from campaign.models import night_survival as ns
from campaign.models import science as sci
from campaign.models import surface as sf
from tests.helpers import compose, spec_arguments

N = 256  # missions per sample (one batch)


def rec(values: dict) -> SimpleNamespace:
    """A section's values as the models read them (attributes, like the records the engine hands them)."""
    return SimpleNamespace(**values)


def campaign(*overrides: str, n: int = N, experiment: str = "drill_campaign") -> dict[str, np.ndarray]:
    config = compose(f"+experiment={experiment}", f"run.samples={n}", f"run.batch_size={n}", "run.seed=5", *overrides)
    return engine.evaluate_shard(config.spec(n), 0, n)


def trajectories(*overrides: str, n: int = 48):
    """Step-by-step records of ``n`` missions: ``(outputs, Record, Plan, params)`` with a leading mission axis."""
    config = compose("+experiment=drill_campaign", f"run.samples={n}", f"run.batch_size={n}", "run.seed=3", *overrides)
    spec = config.spec(n)
    columns = engine.evaluate_shard(spec, 0, n)
    params, tables = spec_arguments(spec, jnp.float64)
    inputs = sf.MODEL.inputs_of({v.name: jnp.asarray(columns[v.name], jnp.float64) for v in spec.variables})
    keys = jax.vmap(jax.random.key)(jnp.arange(n))
    run = jax.jit(jax.vmap(lambda x, k, p, t: sf.trajectory(p, x, t, k), in_axes=(0, 0, None, None)))
    out, rec, plan = jax.device_get(run(inputs, keys, params, tables))
    return out, rec, plan, jax.tree_util.tree_map(np.asarray, params)


@pytest.fixture(scope="module")
def recorded():
    return trajectories()


# ------------------------------------------------------------------------------------------------- drill
DRILL = {
    "target_depth_m": 1.5,
    "max_attempts_per_site": 3,
    "dry_rate_m_per_h": 0.5,
    "icy_rate_m_per_h": 0.2,
    "ice_transition_sharpness": 6.0,
    "rock_blocking_per_m": 0.3,
    "jam_per_h": 0.01,
    "jam_loses_drill_prob": 0.1,
    "bit_life_m": 50.0,
    "icy_wear_factor": 3.0,
    "max_attempt_h": 12.0,
    "setup_h": 1.5,
    "min_sample_depth_m": 0.1,
}


def draws(n=20_000, seed=0):
    u = np.random.default_rng(seed).uniform(1e-9, 1 - 1e-9, size=(3, n))
    water = np.random.default_rng(seed + 1).lognormal(0.5, 1.0, n)
    dry_layer = np.random.default_rng(seed + 2).uniform(0, 0.3, n)
    return water, dry_layer, u


def test_with_no_rocks_and_weak_regolith_every_attempt_reaches_the_target():
    water, dry_layer, u = draws()
    p = {**DRILL, "rock_blocking_per_m": 0.0, "jam_per_h": 0.0}
    a = drillmod.attempt(rec(p), water, dry_layer, 1e6, 1.0, *u)  # a critical ice content no site reaches: weak ground
    assert np.all(np.asarray(a.reached_target)) and np.allclose(a.depth_m, 1.5)
    # and the time is the analytic one: the dry layer at the dry rate, the rest at the (nearly dry) rate below it
    rate = drillmod.penetration_rate_m_per_h(rec(p), water, 1e6)
    assert np.allclose(a.drilling_h, dry_layer / 0.5 + (1.5 - dry_layer) / rate, rtol=1e-9)


@pytest.mark.parametrize("knob", ["rock_blocking_per_m", "water_wt"])
def test_rock_density_and_ice_content_lower_success_monotonically_on_the_same_draws(knob):
    water, dry_layer, u = draws()
    rates, depths = [], []
    for scale in (0.25, 0.5, 1.0, 2.0, 4.0):
        p = {
            **DRILL,
            "rock_blocking_per_m": DRILL["rock_blocking_per_m"] * (scale if knob == "rock_blocking_per_m" else 1),
        }
        w = water * (scale if knob == "water_wt" else 1.0)
        a = drillmod.attempt(rec(p), w, dry_layer, 2.0, 1.0, *u)
        rates.append(float(np.mean(a.reached_target)))
        depths.append(np.asarray(a.depth_m))
    assert all(r1 > r2 for r1, r2 in zip(rates, rates[1:])), rates  # strictly lower at each step
    for shallow, deep in zip(depths[1:], depths):  # and no single scenario gets deeper
        assert np.all(shallow <= deep + 1e-12)


def test_blocking_rocks_are_a_poisson_process_in_depth():
    water, dry_layer, u = draws(n=50_000)
    p = {**DRILL, "jam_per_h": 0.0, "icy_rate_m_per_h": 0.5, "rock_blocking_per_m": 0.4}
    a = drillmod.attempt(rec(p), water, dry_layer, 2.0, 1.0, *u)
    expected = np.exp(-0.4 * 1.5)  # no blocking rock in 1.5 m
    assert float(np.mean(a.reached_target)) == pytest.approx(
        expected, abs=4 * np.sqrt(expected * (1 - expected) / u.shape[1])
    )
    assert np.all(np.asarray(a.stopped_by)[~np.asarray(a.reached_target)] == drillmod.ROCK)


def test_ice_cemented_regolith_is_concrete_or_sand_nothing_in_between():
    rate = lambda w: float(drillmod.penetration_rate_m_per_h(rec(DRILL), w, 2.0))  # noqa: E731
    assert rate(0.5) == pytest.approx(0.5, rel=0.01) and rate(8.0) == pytest.approx(0.2, rel=0.01)
    assert rate(1.5) > 0.45 and rate(3.0) < 0.24  # the change happens within a factor two of the critical content


# ----------------------------------------------------------------------------------------------- science
SCIENCE = {
    "wet_fraction_shadowed": 0.5,
    "wet_fraction_sunlit": 0.2,
    "wet_sigma_log": 0.8,
    "dry_water_wt": 0.0037,
    "dry_layer_max_m": 0.3,
    "detection_limit_wt": 0.05,
    "precision_rel": 0.1,
    "precision_abs_wt": 0.01,
    "goal_sites": 3,
    "goal_shadow_sites": 1,
    "goal_traverse_km": 2.0,
}


def test_measured_water_is_unbiased_within_the_instrument_precision():
    rng = np.random.default_rng(4)
    true = rng.lognormal(0.0, 1.0, 40_000)
    reported = np.asarray(sci.measure(rec(SCIENCE), true, rng.standard_normal(true.size)))
    z = (reported - true) / np.asarray(sci.precision_wt(rec(SCIENCE), true))
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and z.std() == pytest.approx(1.0, abs=0.02)


def test_ground_truth_is_patchy_around_the_regional_mean():
    shadowed = jnp.ones(20_000, bool)
    g = sci.ground_truth(rec(SCIENCE), shadowed, jnp.asarray(1.5), jax.random.key(1))
    water, wet = np.asarray(g.water_wt), np.asarray(g.wet)
    assert wet.mean() == pytest.approx(0.5, abs=0.02)  # much ground dry
    assert water.mean() == pytest.approx(1.5, rel=0.05)  # shadowed ground averages the regional mean
    assert np.median(water[wet]) > 2.0  # wet spots hold several wt%
    assert np.all(water[~wet] == 0.0037)


def test_the_samples_reported_in_a_mission_are_unbiased(recorded):
    _, _, plan, params = recorded
    p = params.science
    z = (plan.reported_wt - plan.true_wt) / np.asarray(sci.precision_wt(p, plan.true_wt))
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and z.std() == pytest.approx(1.0, abs=0.1)


def test_with_no_water_anywhere_the_goal_is_never_met():
    c = campaign("mission.science.uncertain.regional_mean_wt={dist:fixed,value:0.0}", "mission.science.dry_water_wt=0")
    assert c["samples_analysed"].sum() > 100  # the rover did measure
    assert not c["water_goal_met"].any() and not c["sites_water_quantified"].any()


@pytest.mark.parametrize("instrument", ["analysers_ok", "spectrometers_ok"])
def test_with_instruments_off_the_goal_is_never_met(instrument):
    reference = campaign()
    off = campaign(f"mission.science.uncertain.{instrument}={{dist:fixed,value:0}}")
    assert reference["water_goal_met"].any()
    assert not off["water_goal_met"].any()
    if instrument == "analysers_ok":
        assert not off["samples_analysed"].any() and off["drill_attempts"].sum() > 0
    else:
        assert not off["traverse_km"].any() and off["km_driven"].sum() > 0


def test_the_goal_is_counted_from_measurements():
    c = campaign()
    met = c["water_goal_met"]
    assert met.any() and (~met).any()
    assert np.all(c["sites_water_quantified"][met] >= 3) and np.all(c["shadow_sites_water_quantified"][met] >= 1)
    goal_km = dict(compose("+experiment=drill_campaign").params)["science.goal_traverse_km"]
    assert np.all(c["traverse_km"][met] >= goal_km - 1e-6) and (c["traverse_km"] < goal_km).any()
    assert np.all(c["target_depth_samples"] >= c["sites_water_quantified"])
    assert np.all(c["samples_analysed"] >= c["target_depth_samples"])
    assert np.all(c["drill_attempts"] >= c["samples_analysed"])


# ---------------------------------------------------------------------------------------------- mobility
def test_no_driving_in_darkness_without_battery_margin(recorded):
    _, rec, _, params = recorded
    driving = (rec.mode == rules.DRIVE) & rec.worked
    in_dark = driving & rec.dark
    assert in_dark.any() and driving.any()  # the plan does take the rover into shadow
    assert np.all(rec.soc[in_dark] >= params.operations.soc_dark_drive_min - 1e-12)
    # out of the Earth's view only to get out of shadow (the retreat is autonomous; the rest is ground in the loop)
    assert np.all(rec.in_shadow[driving & ~rec.earth_visible])


def test_odometry_equals_the_sum_of_drives(recorded):
    out, rec, plan, params = recorded
    assert np.allclose(rec.drive_km.sum(axis=1), out["km_driven"], rtol=1e-12, atol=1e-12)
    assert np.all(rec.drive_km[rec.mode != rules.DRIVE] == 0)
    limit = params.mobility.drive_speed_kmph * params.surface.step_hours * 2.0  # speed factor at most 2
    assert np.all(rec.drive_km <= limit)
    assert np.all(out["km_driven"] <= np.asarray(plan.legs_km).sum(axis=-1) + 1e-9)
    assert np.all(out["traverse_km"] <= out["km_driven"] + 1e-12)


def test_a_dead_rover_does_nothing(recorded):
    _, rec, _, _ = recorded
    dead_before = np.concatenate([np.zeros_like(rec.alive[:, :1]), ~rec.alive[:, :-1]], axis=1)
    assert dead_before.any()
    assert np.all(rec.mode[dead_before] == rules.HIBERNATE) and not rec.worked[dead_before].any()
    assert not rec.drive_km[dead_before].any()


def test_mobility_hazards_stop_the_rover_at_their_odometer_reading():
    c = campaign("mission.mobility.entrapment_per_km=2.0", "mission.mobility.wheel_failure_per_km=0")
    stuck = c["immobilised"]
    assert stuck.mean() > 0.5 and np.all(c["mobility_loss"][stuck] == 1) and np.all(c["mobility_loss"][~stuck] == 0)
    assert not c["plan_completed"][stuck].any()
    # the odometer at entrapment is exponential with mean 1 / (rate x hazard factor): its median ~ ln 2 / rate
    km = c["km_driven"][stuck] * c["mobility.hazard_factor"][stuck]
    assert np.median(km) < 0.5  # well inside the 1.25 km route


# ---------------------------------------------------------------------------------------------- planner
def test_more_battery_never_hurts_on_common_random_numbers():
    small, large = (
        campaign("mission.power.battery_capacity_wh=3000"),
        campaign("mission.power.battery_capacity_wh=6000"),
    )
    assert large["reached_100_days"].mean() > small["reached_100_days"].mean()
    assert large["water_goal_met"].mean() >= small["water_goal_met"].mean()


def test_the_sites_light_is_the_landing_sites_whatever_the_rover_does():
    """The same landings with a rover of a quarter of the battery: it dies at other times and drives into shadow
    differently, yet the longest darkness, sunlit and Earth-visible fractions are the same, to the bit, and they
    are what the night-survival model gives for the same landings: the landing site's light over the planned
    stay, not the rover's (its shadowed stretches, or nothing once it is dead)."""
    base, weak = campaign(), campaign("mission.power.battery_capacity_wh=1000")
    config = compose("+experiment=drill_campaign", f"run.samples={N}", f"run.batch_size={N}", "run.seed=5")
    spec = config.spec(N)
    for v in spec.variables:
        np.testing.assert_array_equal(weak[v.name], base[v.name], err_msg=v.name)
    assert (weak["days_survived"] != base["days_survived"]).mean() > 0.3
    assert (weak["shadow_hours"] != base["shadow_hours"]).mean() > 0.3 and (base["shadow_hours"] > 0).mean() > 0.3
    params, tables = spec_arguments(spec, jnp.float64)
    inputs = ns.MODEL.inputs_of(
        {
            v.name: jnp.asarray(base[v.name])
            for v in spec.variables
            if v.name in {f"{s.name}.{i.name}" for s in ns.MODEL.sections for i in s.inputs}
        }
    )
    params = ns.MODEL.params_of(
        {
            f"{s.name}.{q}": getattr(getattr(params, s.name), q)
            for s in ns.MODEL.sections
            for q in getattr(params, s.name)._fields
        }
    )
    # Parameters passed in, as the engine does: closed over as constants, they would let XLA round the fractions'
    # division otherwise (by the last bit).
    night_survival = jax.jit(jax.vmap(lambda i, p, t: ns.simulate(p, i, t, None), in_axes=(0, None, None)))
    site = jax.device_get(night_survival(inputs, params, tables.site))
    for name in ("longest_darkness_h", "sunlit_fraction", "earth_visible_fraction"):
        np.testing.assert_array_equal(weak[name], base[name], err_msg=name)
        np.testing.assert_array_equal(site[name], base[name], err_msg=name)


def test_component_failures_and_fatigue_end_missions_with_their_own_codes():
    c = campaign("mission.reliability.component_failure_per_year=36.5")  # mean time to failure 10 days
    failed = c["outcome"] == Outcome.SURFACE_COMPONENT_FAILURE
    assert failed.mean() > 0.5 and not c["surface_ok"][failed].any()
    assert np.median(c["days_survived"][failed]) == pytest.approx(10 * np.log(2), rel=0.3)
    none = campaign("mission.reliability.component_failure_per_year=0")
    assert not (none["outcome"] == Outcome.SURFACE_COMPONENT_FAILURE).any()
    fatigue = campaign("mission.reliability.fatigue_cycles_median=0.5", "mission.reliability.fatigue_sigma_log=0")
    assert (fatigue["outcome"] == Outcome.SURFACE_THERMAL_FATIGUE).any()


def test_mismatched_plan_lists_are_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"mission\.science\.site_shadowed: must have one entry per planned site"):
        compose("+experiment=drill_campaign", "mission.science.site_shadowed=[0,1]")
    with pytest.raises(ConfigError, match=r"mission\.operations\.soc_shadow_exit"):
        compose("+experiment=drill_campaign", "mission.operations.soc_shadow_exit=0.1")


# -------------------------------------------------------------------------------------------- deployment
def test_deployment_fails_more_often_on_steeper_landings_on_the_same_draws():
    p = rec({"mechanism_failure_prob": 0.01, "tilt_limit_deg": 20.0, "tilt_width_deg": 2.0})
    u = np.random.default_rng(2).uniform(size=40_000)
    ok = [np.asarray(dep.deploy(p, slope, 1.0, u)["deployment_ok"]) for slope in (0.0, 10.0, 18.0, 22.0, 30.0)]
    for steep, gentle in zip(ok[1:], ok):
        assert np.all(gentle | ~steep)  # a success on a steeper slope was a success on the gentler one
    rates = [o.mean() for o in ok]
    assert rates[0] == pytest.approx(0.99, abs=0.003) and rates[-1] < 0.01
    level = dep.deploy(p, 0.0, 0.0, u)
    codes = np.asarray(level["outcome"])
    assert set(np.unique(codes)) <= {Outcome.SUCCESS, Outcome.DEPLOYMENT_MECHANISM, Outcome.DEPLOYMENT_TILT}
    assert float(rules.tilt_failure_prob(p, 20.0, np)) == pytest.approx(0.5)
