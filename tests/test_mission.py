"""The mission chain: phase gating, outcome codes, what each phase hands to the next, and the end-to-end estimate
(convergence with N, identity across shard sizes)."""

from __future__ import annotations

import numpy as np
import pytest

from campaign import engine
from campaign.models import Outcome
from campaign.models import surface as surface_model
from campaign.models.rules import site_offset_m as offset
from tests.helpers import compose


@pytest.fixture(scope="module")
def columns():
    # A reliable launcher so that enough missions reach every phase.
    config = compose(
        "+experiment=full_mission",
        "run.samples=512",
        "run.batch_size=256",
        "mission.launch.uncertain.ascent_reliability={dist:fixed,value:0.9}",
        "mission.launch.configuration_prior=false",  # the ascent draws against the fixed pooled reliability
    )
    return engine.evaluate_shard(config.spec(512), 0, 512)


SURFACE_FLAGS = (
    "surface_ok",
    "reached_100_days",
    "had_night",
    "water_goal_met",
    "sample_analysed",
    "drilled",
    "immobilised",
    "drill_lost",
    "plan_completed",
)


def test_a_failed_phase_has_no_later_phase_activity(columns):
    no_landing = ~columns["transfer_ok"]
    no_deployment = ~columns["landing_ok"]
    no_surface = ~columns["deployment_ok"]
    assert no_landing.any() and no_deployment.any() and (no_surface & columns["landing_ok"]).any()
    assert columns["surface_ok"].any() and columns["water_goal_met"].any()
    for flag in ("landing_ok", "diverted", "engine_out", "altimeter_fault", "rock_hazard"):
        assert not columns[flag][no_landing].any(), flag
    assert not columns["deployment_ok"][no_deployment].any()
    for flag in SURFACE_FLAGS:
        assert not columns[flag][no_surface].any(), flag


def test_later_phase_numbers_are_written_as_null(columns):
    """Numbers of a phase never reached are invalid (null in the Parquet files): the store is told so."""
    from campaign.models import MODELS

    outputs = {o.name: o for o in MODELS["mission"].outputs}
    for name in ("km_driven", "samples_analysed", "drill_attempts", "days_survived", "lander_tilt_deg"):
        assert outputs[name].valid_when in ("deployment_ok", "landing_ok"), name
    assert outputs["max_depth_m"].valid_when == "drilled"  # its own flag, itself false where not deployed


def test_outcome_codes_agree_with_the_phase_flags(columns):
    phase = columns["outcome"] // 10
    assert np.array_equal(columns["launch_ok"], phase != 1)
    assert np.array_equal(columns["transfer_ok"], ~np.isin(phase, [1, 2]))
    assert np.array_equal(columns["landing_ok"], ~np.isin(phase, [1, 2, 3]))
    assert np.array_equal(columns["deployment_ok"], ~np.isin(phase, [1, 2, 3, 4]))
    assert np.array_equal(columns["surface_ok"], columns["outcome"] == Outcome.SUCCESS)
    assert np.all(columns["reached_100_days"] <= columns["surface_ok"])


def test_deployment_starts_from_the_slope_the_lander_touched_down_on(columns):
    landed = columns["landing_ok"]
    tilt, slope = columns["lander_tilt_deg"][landed], columns["slope_deg"][landed]
    assert np.all(tilt >= slope)
    assert np.allclose(tilt - slope, columns["deployment.leg_settling_deg"][landed], rtol=0, atol=1e-12)


def test_the_touchdown_error_is_where_the_rover_starts_its_surface_mission(columns):
    landed = columns["landing_ok"]
    assert np.allclose(columns["landing_distance_m"][landed], columns["miss_distance_m"][landed], rtol=1e-9)


def test_site_offset_rotates_the_touchdown_error_with_the_approach():
    east, north = offset(10.0, 0.0, 90.0, np)  # 10 m long on an eastbound approach
    assert float(east) == pytest.approx(10.0) and float(north) == pytest.approx(0.0, abs=1e-12)
    east, north = offset(0.0, 5.0, 0.0, np)  # 5 m left of a northbound approach is west
    assert float(east) == pytest.approx(-5.0) and float(north) == pytest.approx(0.0, abs=1e-12)


def test_landing_starts_from_the_mass_the_transfer_delivered(columns):
    reached = columns["transfer_ok"]
    # Lighter arrivals leave more propellant margin at PDI and more propellant at touchdown on average.
    margin = columns["propellant_margin_kg"][reached]
    left = columns["propellant_left_kg"][reached]
    assert np.corrcoef(margin, left)[0, 1] > 0.25  # ~0.37 here, with a standard error of ~0.045


@pytest.fixture(scope="module")
def large():
    """4,096 whole missions, epistemic inputs drawn once per 8 missions (512 clusters)."""
    config = compose(
        "+experiment=full_mission", "run.samples=4096", "run.batch_size=256", "run.seed=21", "run.inner_samples=8"
    )
    return config, engine.evaluate_shard(config.spec(4096), 0, 4096)


@pytest.mark.slow
@pytest.mark.parametrize("goal", ["reached_100_days", "water_goal_met"])
def test_the_end_to_end_estimate_converges_as_one_over_root_n(large, goal):
    """The cluster-robust standard error (missions sharing an epistemic draw are dependent) of 4N missions is half
    that of the first N, and the estimate from N lies within the N-interval of the estimate from 4N."""
    from campaign.analysis import mean_interval

    _, columns = large
    x, clusters = columns[goal].astype(float), columns["sample_index"] // 8
    n = x.size // 4
    small, whole = mean_interval(x[:n], clusters[:n]), mean_interval(x, clusters)
    assert 0.02 < whole["mean"] < 0.98
    assert small["se"] / whole["se"] == pytest.approx(2.0, rel=0.25)
    assert abs(small["mean"] - whole["mean"]) < 3 * small["se"]


@pytest.mark.slow
def test_the_end_to_end_results_are_identical_across_shard_sizes(large):
    config, columns = large
    spec = config.spec(512)
    for first in (0, 1536, 3584):  # shards of 512 anywhere in the campaign give the same missions, bit for bit
        shard = engine.evaluate_shard(spec, first, 512)
        for name, values in shard.items():
            assert np.array_equal(values, columns[name][first : first + 512], equal_nan=True), name


def test_mixed_precision_agrees_with_float64_on_the_same_missions():
    """``run.precision=mixed`` (the whole mission's default): float64, but the surface mission's hourly loop in
    float32. Both precisions draw the same inputs and the same surface plan (in float64), and run the same
    launch, descent and deployment bit for bit; the loop's float32 arithmetic must not change what happens.
    Tolerances (observed on 4,096 missions in brackets): every outcome, flag and count identical [identical];
    state of charge within 1e-4 [2e-6]; box temperature within 0.05 K [0.012 K]; distances within 1 m [1.2 cm];
    energies within 0.2% or 0.05 kWh [0.011 kWh]; days within one step [identical]; depths within 1 mm [5e-8 m].
    """
    runs = {}
    for precision in ("float64", "mixed"):
        config = compose(
            "+experiment=full_mission",
            f"run.precision={precision}",
            "run.batch_size=1024",
            "mission.launch.uncertain.ascent_reliability={dist:fixed,value:0.9}",
            "mission.launch.configuration_prior=false",  # the ascent draws against the fixed pooled reliability
            "mission.landing.unmodelled_fault_term=false",  # and enough landers reach the surface
        )
        runs[precision] = engine.evaluate_shard(config.spec(2048), 0, 2048)
    wide, mixed = runs["float64"], runs["mixed"]
    assert wide["min_soc"].dtype == mixed["min_soc"].dtype == np.float64
    deployed = wide["deployment_ok"]
    assert deployed.sum() > 1000 and 0.1 < wide["surface_ok"][deployed].mean() < 0.9
    assert wide["water_goal_met"].sum() >= 20
    surface = {o.name for o in surface_model.OUTPUTS}
    for name, values in wide.items():
        if name not in surface and name != "outcome":  # inputs and the phases before the surface
            np.testing.assert_array_equal(mixed[name], values, err_msg=name)
    close = {
        "min_soc": (0.0, 1e-4),
        "min_box_temp_k": (0.0, 0.05),
        "max_box_temp_k": (0.0, 0.05),
        "km_driven": (0.0, 1e-3),
        "traverse_km": (0.0, 1e-3),
        "energy_generated_kwh": (2e-3, 0.05),
        "heater_energy_kwh": (2e-3, 0.05),
        "days_survived": (0.0, 1 / 24),
        "max_depth_m": (0.0, 1e-3),
        "mean_depth_m": (0.0, 1e-3),
        "best_reported_water_wt": (1e-5, 1e-6),
        "drive_hours": (0.0, 1.0),
        "shadow_hours": (0.0, 1.0),
        "longest_darkness_h": (0.0, 1.0),
        "immobilised_day": (0.0, 1 / 24),
        "worst_night_energy_margin_wh": (0.0, 30.0),
        "sunlit_fraction": (0.0, 3 / 2400),
        "earth_visible_fraction": (0.0, 3 / 2400),
        "landing_day": (0.0, 0.0),
        "landing_distance_m": (0.0, 0.0),
    }
    for name in sorted(surface | {"outcome"}):
        a, b = wide[name], mixed[name]
        if np.issubdtype(a.dtype, np.floating):
            rtol, atol = close[name]  # every float output has its stated tolerance
            np.testing.assert_allclose(b[deployed], a[deployed], rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(b, a, err_msg=name)
