"""The night-survival mission in plain NumPy, vectorised over missions, one time step after another: the oracle
of :mod:`campaign.models.night_survival` and the NumPy peer of the benchmarks.

The same physics as :mod:`campaign.models.night_survival` (which the engine compiles with JAX), written the way
an analyst would write it for a peer tool: the environment table of the model's ``prepare`` hook, the host
functions of :mod:`campaign.models.environment`, the NumPy power/thermal step of
:mod:`tests.oracles.power_thermal`, and
the mission's bookkeeping (darkness periods, thermal cycles, first failure) with boolean masks, and the landing
site's light over the planned stay (its longest darkness, sunlit and Earth-visible hours) tallied apart, at every
step whatever happens to the rover. It is the physics that the benchmark's peers run: OpenTURNS calls
:func:`simulate` on a whole sample, monaco on one mission at a time. ``tests/test_numpy_mission.py`` checks
that it agrees with the JAX model on a fixed sample.

Only NumPy runs here (JAX is imported by the campaign modules but never used), so forked worker processes are
safe.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from campaign.models import environment as envmod
from campaign.models import night_survival as ns
from campaign.models import power_thermal as pt
from campaign.models import site as sitemod
from campaign.models.outcomes import Outcome
from tests.oracles import Values, power_thermal

COLUMN = {name: j for j, name in enumerate(sitemod.SITE_COLUMNS)}


def rover_parameters(params: Mapping[str, object], inputs: Mapping[str, np.ndarray]) -> dict:
    """Power/thermal parameters of each mission (arrays where dispersed). How the sampled dispersions apply is
    configuration plumbing, not physics, so the JAX model's own mapping is used (it works on NumPy arrays)."""
    scalars = {k: float(v) for k, v in params.items() if k.startswith(("power.", "thermal.")) and np.ndim(v) == 0}
    sections = (ns.POWER, ns.THERMAL)
    records = {
        "params": Values({s.name: s.params_of(scalars) for s in sections}),
        "inputs": Values({s.name: s.inputs_of(inputs) for s in sections}),
    }
    return Values(ns.rover_parameters(records["params"], records["inputs"])._asdict())


def table_positions(params: Mapping[str, object], inputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Table position of each mission's landing (float64 rows from the table's start) and rows per step."""
    landing_h = (
        float(params["env.window_offset_h"])
        + inputs["surface.landing_time_frac"] * float(params["surface.landing_window_days"]) * 24.0
    )
    return landing_h / sitemod.TABLE_STEP_HOURS, float(params["surface.step_hours"]) / sitemod.TABLE_STEP_HOURS


def site_table(params: Mapping[str, object]) -> np.ndarray:
    """The environment table as the rover's design sees it (:data:`campaign.models.site.SITE_COLUMNS`):
    the array's incidence for its tilt and the radiative sink for the box's view factor, row by row."""
    table = np.asarray(params["env.table"], dtype=np.float64)
    col = lambda name: table[:, sitemod.ENV_COLUMNS.index(name)]  # noqa: E731
    tilt = np.radians(float(params["power.array_tilt_deg"]))
    f = float(params["thermal.ground_view_factor"])
    derived = {
        "array_cos_incidence": np.maximum(
            col("sun_sin_elevation") * np.cos(tilt) + col("sun_cos_elevation") * np.sin(tilt), 0.0
        ),
        "sink_temp_k": (f * col("regolith_temp_k") ** 4 + (1 - f) * sitemod.SKY_K**4) ** 0.25,
    }
    return np.stack([derived[name] if name in derived else col(name) for name in sitemod.SITE_COLUMNS], axis=1)


def environment(table: np.ndarray, shift_deg: np.ndarray, position: np.ndarray) -> dict:
    """The rover's environment (arrays over missions) at fractional rows ``position`` of a :func:`site_table`."""
    index = np.minimum(np.floor(position).astype(np.int64), table.shape[0] - 2)
    w = np.clip(position - index, 0.0, 1.0)[:, None]
    row = (1 - w) * table[index] + w * table[index + 1]
    col = lambda name: row[:, COLUMN[name]]  # noqa: E731
    return {
        "solar_flux_w_m2": col("solar_flux_w_m2"),
        "disk_fraction": envmod.disk_fraction_visible(
            col("sun_elevation_deg"), col("sun_horizon_deg") + shift_deg, col("sun_radius_deg")
        ),
        "array_cos_incidence": col("array_cos_incidence"),
        "sink_temp_k": col("sink_temp_k"),
        "earth_visible": col("earth_clearance_deg") > shift_deg,
    }


def initial_state(p: Mapping[str, object], n: int) -> dict[str, np.ndarray]:
    """The rover's power/thermal state at landing for ``n`` missions (``p`` from :func:`rover_parameters`): the
    battery at its initial state of charge, the box at the heater set point, and the mission's bookkeeping
    (:class:`campaign.models.power_thermal.State`, the fields the outputs need)."""
    full = lambda v, dtype=np.float64: np.full(n, v, dtype=dtype)  # noqa: E731
    setpoint = p["heater_setpoint_k"]
    return {
        "energy_wh": p["soc_initial"] * p["battery_capacity_wh"] + np.zeros(n),
        "temp_k": full(setpoint),
        "alive": full(True, bool),
        "death_step": full(0, np.int64),
        "cause": full(0, np.int16),
        "min_soc": full(p["soc_initial"]),
        "min_temp_k": full(setpoint),
        "max_temp_k": full(setpoint),
        "dark_hours": full(0.0),
        "nights_survived": full(0, np.int64),
        "night_margin_wh": full(np.inf),
        "worst_night_margin_wh": full(np.inf),
        "night_unserved_wh": full(0.0),
        "cycle_armed": full(False, bool),
        "thermal_cycles": full(0, np.int64),
        "generated_wh": full(0.0),
        "heater_wh": full(0.0),
    }


def initial_site_light(n: int) -> dict[str, np.ndarray]:
    """Hours of the landing site's light tallied so far (:class:`campaign.models.site.SiteLight`), for
    ``n`` missions at landing: none."""
    return {name: np.zeros(n) for name in ("dark_hours", "longest_dark_h", "sunlit_hours", "earth_hours")}


def tally_site_light(light: dict, env: Mapping[str, np.ndarray], dt_h: float, sunlit_disk_fraction: float) -> None:
    """Add one step of ``dt_h`` hours in the landing site's environment ``env`` to ``light`` (in place), for
    every mission, alive or not: the current darkness (less than 1% of the solar disk visible) and the longest
    so far, the hours with more than ``sunlit_disk_fraction`` of the disk visible, and with the Earth above the
    horizon."""
    light["dark_hours"] = np.where(env["disk_fraction"] < pt.DARK_DISK_FRACTION, light["dark_hours"] + dt_h, 0.0)
    light["longest_dark_h"] = np.maximum(light["longest_dark_h"], light["dark_hours"])
    light["sunlit_hours"] = light["sunlit_hours"] + np.where(env["disk_fraction"] > sunlit_disk_fraction, dt_h, 0.0)
    light["earth_hours"] = light["earth_hours"] + np.where(env["earth_visible"], dt_h, 0.0)


def advance(s: dict, p: Mapping[str, object], env: dict, k: int, dt_h: float, demand_w=None) -> dict:
    """Step ``k`` of the power/thermal model for every mission in ``s`` (updated in place; a rover dead at the
    start of the step stays as it died). ``demand_w``: the electrical load a planner chose, as in
    :func:`tests.oracles.power_thermal.step`. Returns that step's result (served power, whether the load was
    powered)."""
    r = power_thermal.step(p, s["energy_wh"], s["temp_k"], k, env, dt_h, demand_w)
    e, t = r["energy_wh"], r["temp_k"]
    too_hot = t > p["max_temp_k"]
    exhausted = ~r["powered"] | (e <= r["floor_wh"] + 1e-9 * r["capacity_wh"])
    new_cause = np.where(
        too_hot,
        Outcome.SURFACE_OVERHEATED,
        np.where(exhausted, Outcome.SURFACE_FROZE_BATTERY_EXHAUSTED, Outcome.SURFACE_FROZE_HEATER_LIMITED),
    ).astype(np.int16)
    a = s["alive"]
    dies = a & r["lost"]
    unserved = (r["wanted_load_w"] - r["load_w"] + r["wanted_heater_w"] - r["heater_w"]) * dt_h
    dark = env["disk_fraction"] < pt.DARK_DISK_FRACTION
    dark_hours = np.where(dark, s["dark_hours"] + dt_h, 0.0)
    night_unserved = np.where(dark, s["night_unserved_wh"] + unserved, 0.0)
    night_margin = np.where(dark, np.minimum(s["night_margin_wh"], e - r["floor_wh"] - night_unserved), np.inf)
    night_ended = (s["dark_hours"] >= pt.NIGHT_MIN_HOURS) & (~dark | dies)
    ended_margin = np.where(dies & dark, night_margin, s["night_margin_wh"])
    worst = np.where(
        night_ended | (dies & dark), np.minimum(s["worst_night_margin_wh"], ended_margin), s["worst_night_margin_wh"]
    )
    completes_cycle = s["cycle_armed"] & (t > p["heater_setpoint_k"] + p["cycle_amplitude_k"])
    armed = np.where(completes_cycle, False, s["cycle_armed"] | (t < p["heater_setpoint_k"] + 2.0))
    used_wh = (r["load_w"] + r["heater_w"]) * dt_h + r["stored_wh"] / p["charge_efficiency"]

    # Only the missions alive at the start of the step change.
    s["energy_wh"], s["temp_k"] = np.where(a, e, s["energy_wh"]), np.where(a, t, s["temp_k"])
    s["death_step"] = np.where(dies, k + 1, s["death_step"])
    s["cause"] = np.where(dies, new_cause, s["cause"])
    s["min_soc"] = np.where(a, np.minimum(s["min_soc"], e / r["capacity_wh"]), s["min_soc"])
    s["min_temp_k"] = np.where(a, np.minimum(s["min_temp_k"], t), s["min_temp_k"])
    s["max_temp_k"] = np.where(a, np.maximum(s["max_temp_k"], t), s["max_temp_k"])
    s["dark_hours"] = np.where(a, dark_hours, s["dark_hours"])
    s["nights_survived"] = s["nights_survived"] + (a & night_ended & ~dies)
    s["night_margin_wh"] = np.where(a, night_margin, s["night_margin_wh"])
    s["worst_night_margin_wh"] = np.where(a, worst, s["worst_night_margin_wh"])
    s["night_unserved_wh"] = np.where(a, night_unserved, s["night_unserved_wh"])
    s["thermal_cycles"] = s["thermal_cycles"] + (a & completes_cycle)
    s["cycle_armed"] = np.where(a, armed, s["cycle_armed"])
    s["generated_wh"] = s["generated_wh"] + np.where(a, np.minimum(r["array_w"] * dt_h, used_wh), 0.0)
    s["heater_wh"] = s["heater_wh"] + np.where(a, r["heater_w"] * dt_h, 0.0)
    s["alive"] = a & ~dies
    return r


def survival_outputs(
    params: Mapping[str, object],
    inputs: Mapping[str, np.ndarray],
    s: Mapping[str, np.ndarray],
    light: Mapping[str, np.ndarray],
    distance_m: np.ndarray,
) -> dict[str, np.ndarray]:
    """The outputs of :func:`campaign.models.night_survival.survival_outputs` from a final state ``s`` and the
    site's light ``light`` (:func:`tally_site_light`)."""
    dt_h = float(params["surface.step_hours"])
    alive = s["alive"]
    steps = len(params["surface.step_index"])
    alive_hours = np.where(alive, steps, s["death_step"]) * dt_h
    stay_hours = max(steps * dt_h, dt_h)
    had_night = np.isfinite(s["worst_night_margin_wh"])
    return {
        "outcome": np.where(alive, int(Outcome.SUCCESS), s["cause"]).astype(np.int16),
        "surface_ok": alive,
        "reached_100_days": alive & (float(params["surface.mission_days"]) >= float(params["surface.goal_days"])),
        "days_survived": alive_hours / 24.0,
        "landing_day": inputs["surface.landing_time_frac"] * float(params["surface.landing_window_days"]),
        "landing_distance_m": distance_m,
        "nights_survived": s["nights_survived"],
        "had_night": had_night,
        "longest_darkness_h": light["longest_dark_h"],
        "worst_night_energy_margin_wh": np.where(had_night, s["worst_night_margin_wh"], 0.0),
        "min_soc": s["min_soc"],
        "min_box_temp_k": s["min_temp_k"],
        "max_box_temp_k": s["max_temp_k"],
        "thermal_cycles": s["thermal_cycles"],
        "sunlit_fraction": light["sunlit_hours"] / stay_hours,
        "earth_visible_fraction": light["earth_hours"] / stay_hours,
        "energy_generated_kwh": s["generated_wh"] / 1000.0,
        "heater_energy_kwh": s["heater_wh"] / 1000.0,
    }


def horizon_shift(params: Mapping[str, object], inputs: Mapping[str, np.ndarray], east_m, north_m):
    """Landed distance from the surveyed site (m) and the horizon's shift there (deg) of each mission."""
    distance_m = np.hypot(east_m, north_m)
    return distance_m, (
        inputs["site.horizon_error_deg"] + float(params["site.horizon_gradient_deg_per_km"]) * distance_m / 1000.0
    )


def as_arrays(inputs: Mapping[str, object]) -> dict[str, np.ndarray]:
    """Sampled inputs as float64 arrays of shape (n,) (a scalar is one mission)."""
    return {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in inputs.items()}


def simulate(params: Mapping[str, object], inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs of :func:`campaign.models.night_survival.simulate` (same names and units) for arrays of missions.

    ``params`` maps ``"<section>.<param>"`` to the design values and the arrays of the model's ``prepare`` (as
    :meth:`campaign.config.CampaignConfig.numeric_params` returns them); ``inputs`` maps each sampled input's
    name to an array of shape (n,)."""
    inputs = as_arrays(inputs)
    p = rover_parameters(params, inputs)
    table = site_table(params)
    dt_h = float(params["surface.step_hours"])
    distance_m, shift = horizon_shift(
        params, inputs, inputs["site.landing_offset_east_m"], inputs["site.landing_offset_north_m"]
    )
    start, rows_per_step = table_positions(params, inputs)
    n = inputs["surface.landing_time_frac"].shape[0]
    s, light = initial_state(p, n), initial_site_light(n)
    for k in range(len(params["surface.step_index"])):
        env = environment(table, shift, start + k * rows_per_step)
        tally_site_light(light, env, dt_h, float(params["power.sunlit_disk_fraction"]))
        advance(s, p, env, k, dt_h)
    return survival_outputs(params, inputs, s, light, distance_m)
