"""Design sensitivities (campaign/gradients.py): pathwise derivatives against central finite differences on the
same missions, an analytic derivative of the battery bookkeeping, an exact chain-rule identity, jumps and steps
reported as such, NaN-free derivatives through the visible solar disk (whose values stay bit-identical)."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from campaign import gradients
from campaign.models import environment as envmod
from campaign.models import night_survival as ns
from campaign.models import power_thermal as pt
from campaign.models._math import arccos

SAMPLES = 128  # missions per campaign here (one batch): enough for SEs, small enough to run in seconds
# A 60-day stay from a 30-day window: a quarter of the missions see a night of 24 h or more (tested below).
SHORT = (
    "run.precision=float64",
    f"run.batch_size={SAMPLES}",
    f"run.samples={SAMPLES}",
    "mission.surface.mission_days=60",
)
BATTERY, INSULATION, AREA, EFFICIENCY, HORIZON = (
    "mission.power.battery_capacity_wh",
    "mission.thermal.insulation_conductance_w_per_k",
    "mission.power.array_area_m2",
    "mission.power.array_efficiency",
    "mission.site.horizon_mean_deg",
)
VARIABLES = (BATTERY, INSULATION, AREA, EFFICIENCY, HORIZON)  # one set: both campaigns share compiled code
SMOOTH = ("worst_night_energy_margin_wh", "min_soc", "energy_generated_kwh")  # smooth a.e., moved by all three
THERMAL = ("heater_energy_kwh", "max_box_temp_k")  # moved by the insulation only (the heater is always powered)
# Pathwise against finite difference where no mission changes its discrete path: the finite difference's own
# error at h = 1% (curvature, kinks such as a full battery crossed within +-h), measured <= 1% here; 3% assumed.
RATIO_TOLERANCE = 0.03


def by(result: dict, metric: str, variable: str) -> dict:
    return next(s for s in result["sensitivities"] if s["metric"] == metric and s["variable"] == variable)


@pytest.fixture(scope="module")
def robust() -> dict:
    """A rover with a 12 kWh battery: every mission survives, no path changes with the design values."""
    config = gradients.compose("night_survival", [*SHORT, "mission.power.battery_capacity_wh=12000"])
    return gradients.design_gradients(config, VARIABLES, samples=SAMPLES)


@pytest.fixture(scope="module")
def default() -> dict:
    """The default rover (4 kWh): some rovers die in the night, and their death hour moves with the design."""
    return gradients.design_gradients(gradients.compose("night_survival", SHORT), VARIABLES, samples=SAMPLES)


def test_pathwise_derivatives_agree_with_central_differences_on_the_same_missions(robust):
    had_night = next(m for m in robust["metrics"] if m["name"] == "had_night")["mean"]
    assert 0.1 < had_night < 0.9, "some missions must live through a night for the margins to mean something"
    pairs = [(m, v) for v in (BATTERY, INSULATION, AREA) for m in SMOOTH] + [(m, INSULATION) for m in THERMAL]
    for metric, variable in pairs:
        s = by(robust, metric, variable)
        assert s["path_changes"] == 0
        assert s["method"] == gradients.PATHWISE and s["smoothness"] == "smooth a.e.", (metric, variable)
        assert s["derivative"] == s["pathwise"]["derivative"] and math.isfinite(s["se"])
        assert s["ratio"] == pytest.approx(1.0, abs=RATIO_TOLERANCE), (metric, variable)
    flat = by(robust, "heater_energy_kwh", BATTERY)  # a battery that never runs low does not move the heater
    assert flat["smoothness"] == "flat" and flat["derivative"] == 0.0
    # the step checks itself: the same slope at twice the step
    s = by(robust, "worst_night_energy_margin_wh", BATTERY)
    fd = s["finite_difference"]
    assert fd["at_2h"]["derivative"] == pytest.approx(fd["derivative"], rel=RATIO_TOLERANCE)
    assert fd["step_check"]["ok"]
    assert 0.5 < s["derivative"] < 1.0  # Wh per Wh: at most the usable share 1 - soc_min of a new Wh


def test_derivatives_are_finite_and_the_result_is_strict_json(robust, default):
    for result in (robust, default):
        json.dumps(result, allow_nan=False)
        for s in result["sensitivities"]:
            for estimate in (s["pathwise"], s["finite_difference"]):
                if estimate is not None:
                    assert math.isfinite(estimate["derivative"]), (s["metric"], s["variable"])
        assert result["precision"] == "float64" and result["missions"]["outcomes_as_campaign"] == SAMPLES


def test_battery_bookkeeping_derivative_by_hand(robust):
    """48 h of darkness in hibernation, the battery never near its floor: E_K = soc0 C - D_K with D_K the energy
    drawn (loads and heater over the discharge efficiency), which does not depend on C, so dE_K/dC = soc0 and
    d soc_K/dC = D_K / (C^2 a) with a = 1 - fade t / 365.25 the capacity's fade at the last step's start."""
    config = gradients.compose("night_survival", SHORT)
    params = {k: jnp.asarray(v, jnp.float64) for k, v in config.numeric_params()}
    ones = {v.name: jnp.float64(1.0) for v in config.variables}
    model = config.model
    hours = 48
    env = pt.Env(*(jnp.full(hours, v) for v in (0.0, 0.0, 0.0, 90.0)), jnp.zeros(hours, bool))

    def final(capacity):
        p = ns.rover_parameters(
            model.params_of({**params, "power.battery_capacity_wh": capacity}),
            model.inputs_of({**ones, "thermal.survival_temp_offset_k": jnp.float64(0.0)}),
        )
        state, _ = jax.lax.scan(lambda s, e: (pt.step(p, s, e, 1.0), None), pt.init(p, jnp.float64), env)
        return state

    capacity = params["power.battery_capacity_wh"]
    state, tangent = jax.jvp(final, (capacity,), (jnp.float64(1.0),))
    assert bool(state.alive) and float(state.energy_wh) > 0.5 * float(capacity)
    drawn = float(state.load_wh + state.heater_wh) / float(params["power.discharge_efficiency"])
    fade = 1.0 - float(params["power.battery_fade_per_year"]) * (hours - 1) / 24.0 / 365.25
    assert float(tangent.energy_wh) == pytest.approx(float(params["power.soc_initial"]), rel=1e-12)
    assert float(tangent.min_soc) == pytest.approx(drawn / (float(capacity) ** 2 * fade), rel=1e-9)


def test_array_area_and_efficiency_act_only_through_their_product(robust, default):
    """The array's output is area x efficiency x ...: x dF/dx is the same for both, for every metric, exactly
    (an identity of the chain rule, here through the whole campaign: injection, averaging, units)."""
    values = {v["name"]: v["value"] for v in robust["variables"]}
    for result in (robust, default):
        for metric in SMOOTH + ("min_box_temp_k",):
            area, eff = by(result, metric, AREA)["pathwise"], by(result, metric, EFFICIENCY)["pathwise"]
            assert values[AREA] * area["derivative"] == pytest.approx(
                values[EFFICIENCY] * eff["derivative"], rel=1e-9, abs=1e-12
            )


def test_steps_and_jumps_are_reported_as_such_never_as_a_silent_zero(default):
    for metric in ("surface_ok", "nights_survived", "days_survived"):
        s = by(default, metric, BATTERY)
        assert s["method"] == gradients.FINITE_DIFFERENCE and s["smoothness"] == "piecewise constant"
        assert s["path_changes"] > 0 and math.isfinite(s["derivative"]) and math.isfinite(s["se"])
    assert by(default, "days_survived", BATTERY)["derivative"] > 0  # a bigger battery: rovers live longer
    assert by(default, "surface_ok", BATTERY)["pathwise"] is None  # a flag has no pathwise derivative
    assert by(default, "days_survived", BATTERY)["pathwise"]["derivative"] == 0.0  # exactly: a step count
    # Rovers that die freeze their state at the death hour: a minimum box temperature is a sawtooth of the
    # insulation; the pathwise mean misses the teeth's drops and is reported beside, not as, the slope.
    s = by(default, "min_box_temp_k", INSULATION)
    assert s["path_changes"] > 0 and s["method"] == gradients.FINITE_DIFFERENCE and "jumps" in s["note"]
    assert s["derivative"] == s["finite_difference"]["derivative"] and abs(s["ratio"] - 1) > 0.5


def test_a_design_value_read_by_prepare_gets_a_finite_difference_only(default):
    """The horizon's mean elevation shapes the environment table on the host (prepare): no pathwise derivative;
    each finite-difference point is re-prepared."""
    s = by(default, "energy_generated_kwh", HORIZON)
    assert next(v for v in default["variables"] if v["name"] == HORIZON)["through_prepare"]
    assert s["method"] == gradients.FINITE_DIFFERENCE and s["pathwise"] is None
    assert math.isfinite(s["derivative"]) and s["derivative"] < 0  # a higher horizon: less sunshine


def test_cli_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "g.json"
    code = gradients.main(
        [
            "night_survival",
            *SHORT,
            "--samples",
            str(SAMPLES),
            "--json",
            str(out),
            *(a for v in VARIABLES for a in ("--variable", v)),
            "--metric",
            "min_soc",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "+1000 Wh ->" in text and "+0.01 W/K ->" in text and "min_soc" in text
    assert json.loads(out.read_text())["sensitivities"][0]["metric"] == "min_soc"
    assert gradients.main(["night_survival", *SHORT, "--variable", "mission.surface.landing_window_start_utc"]) == 2
    assert "not a continuous design value" in capsys.readouterr().err


def segment_before(elevation, horizon, radius):
    """disk_fraction_visible as it was before the double where: the segment formula on the clipped ratio."""
    y = jnp.clip((horizon - elevation) / radius, -1.0, 1.0)
    return (arccos(y) - y * jnp.sqrt(1 - y * y)) / np.pi


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_visible_disk_is_bit_identical_and_its_derivative_finite(dtype):
    y = np.concatenate([np.linspace(-1.5, 1.5, 2001), [-1.0, 1.0, -0.0, 0.0]])
    elevation, radius = jnp.zeros(y.size, dtype), jnp.full(y.size, 0.27, dtype)
    horizon = jnp.asarray(y * 0.27, dtype)
    now = jax.jit(envmod.disk_fraction_visible)(elevation, horizon, radius)
    assert np.array_equal(np.asarray(now), np.asarray(jax.jit(segment_before)(elevation, horizon, radius)))
    _, tangent = jax.jvp(
        lambda h: envmod.disk_fraction_visible(elevation, h, radius), (horizon,), (jnp.ones_like(horizon),)
    )  # eagerly: one compilation less
    assert np.all(np.isfinite(np.asarray(tangent)))
    _, before = jax.jvp(lambda h: segment_before(elevation, h, radius), (horizon,), (jnp.ones_like(horizon),))
    assert not np.all(np.isfinite(np.asarray(before))), "the trap this guards against must exist"
    host = envmod.disk_fraction_visible(np.zeros(y.size), y * 0.27, np.full(y.size, 0.27))
    yc = np.clip(y * 0.27 / 0.27, -1, 1)
    assert np.array_equal(host, (np.arccos(yc) - yc * np.sqrt(1 - yc * yc)) / np.pi)


def test_a_nan_derivative_is_an_error_naming_its_missions():
    """What the double where above prevents is caught, never averaged into a sensitivity (json would make it null)."""
    tangents = {"min_soc": np.array([[0.1, np.nan], [0.2, 0.3]])}
    with pytest.raises(gradients.engine.NonFiniteError, match=r"d min_soc / d mission.thermal.x at 1 .*index 7"):
        gradients._check_finite(tangents, ("power.y", "thermal.x"), np.array([7, 8]))
