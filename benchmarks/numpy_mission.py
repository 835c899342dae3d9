"""The night-survival mission in plain NumPy, vectorised over missions, one time step after another.

The same physics as :mod:`campaign.models.night_survival` (which the engine compiles with JAX), written the way
an analyst would write it for a peer tool: the environment table of the model's ``prepare`` hook, the host
functions of :mod:`campaign.models.environment`, the NumPy power/thermal step of :mod:`campaign.reference`, and
the mission's bookkeeping (darkness periods, thermal cycles, first failure) with boolean masks. It is the
physics that the benchmark's peers run: OpenTURNS calls :func:`simulate` on a whole sample, monaco on one
mission at a time. ``tests/test_numpy_mission.py`` checks that it agrees with the JAX model on a fixed sample.

Only NumPy runs here (JAX is imported by the campaign modules but never used), so forked worker processes are
safe.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from campaign import reference
from campaign.models import environment as envmod
from campaign.models import night_survival as ns
from campaign.models import power_thermal as pt
from campaign.models.outcomes import Outcome

COLUMN = {name: j for j, name in enumerate(ns.SITE_COLUMNS)}


def rover_parameters(params: Mapping[str, object], inputs: Mapping[str, np.ndarray]) -> dict:
    """Power/thermal parameters of each mission (arrays where dispersed). How the sampled dispersions apply is
    configuration plumbing, not physics, so the JAX model's own mapping is used (it works on NumPy arrays)."""
    scalars = {k: float(v) for k, v in params.items() if k.startswith(("power.", "thermal.")) and np.ndim(v) == 0}
    return ns.rover_parameters(scalars, inputs)


def table_positions(params: Mapping[str, object], inputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Table position of each mission's landing (float64 rows from the table's start) and rows per step."""
    landing_h = float(params["env.window_offset_h"]) + inputs["surface.landing_time_frac"] * float(
        params["surface.landing_window_days"]) * 24.0
    return landing_h / ns.TABLE_STEP_HOURS, float(params["surface.step_hours"]) / ns.TABLE_STEP_HOURS


def site_table(params: Mapping[str, object]) -> np.ndarray:
    """The environment table as the rover's design sees it (:data:`campaign.models.night_survival.SITE_COLUMNS`):
    the array's incidence for its tilt and the radiative sink for the box's view factor, row by row."""
    table = np.asarray(params["env.table"], dtype=np.float64)
    col = lambda name: table[:, ns.ENV_COLUMNS.index(name)]  # noqa: E731
    tilt = np.radians(float(params["power.array_tilt_deg"]))
    f = float(params["thermal.ground_view_factor"])
    derived = {
        "array_cos_incidence": np.maximum(col("sun_sin_elevation") * np.cos(tilt)
                                          + col("sun_cos_elevation") * np.sin(tilt), 0.0),
        "sink_temp_k": (f * col("regolith_temp_k") ** 4 + (1 - f) * ns.SKY_K**4) ** 0.25,
    }
    return np.stack([derived[name] if name in derived else col(name) for name in ns.SITE_COLUMNS], axis=1)


def environment(table: np.ndarray, shift_deg: np.ndarray, position: np.ndarray) -> dict:
    """The rover's environment (arrays over missions) at fractional rows ``position`` of a :func:`site_table`."""
    index = np.minimum(np.floor(position).astype(np.int64), table.shape[0] - 2)
    w = np.clip(position - index, 0.0, 1.0)[:, None]
    row = (1 - w) * table[index] + w * table[index + 1]
    col = lambda name: row[:, COLUMN[name]]  # noqa: E731
    return {
        "solar_flux_w_m2": col("solar_flux_w_m2"),
        "disk_fraction": envmod.disk_fraction_visible(col("sun_elevation_deg"), col("sun_horizon_deg") + shift_deg,
                                                      col("sun_radius_deg")),
        "array_cos_incidence": col("array_cos_incidence"),
        "sink_temp_k": col("sink_temp_k"),
        "earth_visible": col("earth_clearance_deg") > shift_deg,
    }


def simulate(params: Mapping[str, object], inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs of :func:`campaign.models.night_survival.simulate` (same names and units) for arrays of missions.

    ``params`` maps ``"<section>.<param>"`` to the design values and the arrays of the model's ``prepare`` (as
    :meth:`campaign.config.CampaignConfig.numeric_params` returns them); ``inputs`` maps each sampled input's
    name to an array of shape (n,)."""
    inputs = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in inputs.items()}
    n = inputs["surface.landing_time_frac"].shape[0]
    p = rover_parameters(params, inputs)
    table = site_table(params)
    dt_h = float(params["surface.step_hours"])
    steps = len(params["surface.step_index"])
    distance_m = np.hypot(inputs["site.landing_offset_east_m"], inputs["site.landing_offset_north_m"])
    shift = inputs["site.horizon_error_deg"] + float(params["site.horizon_gradient_deg_per_km"]) * distance_m / 1000.0
    start, rows_per_step = table_positions(params, inputs)

    full = lambda v, dtype=np.float64: np.full(n, v, dtype=dtype)  # noqa: E731
    setpoint = p["heater_setpoint_k"]
    energy = p["soc_initial"] * p["battery_capacity_wh"]
    temp = full(setpoint)
    alive, death_step, cause = full(True, bool), full(0, np.int64), full(0, np.int16)
    min_soc, min_temp, max_temp = full(p["soc_initial"]), full(setpoint), full(setpoint)
    dark_hours, longest_dark, nights = full(0.0), full(0.0), full(0, np.int64)
    night_margin, worst_margin, night_unserved = full(np.inf), full(np.inf), full(0.0)
    armed, cycles = full(False, bool), full(0, np.int64)
    sunlit_hours, earth_hours, generated_wh, heater_wh = full(0.0), full(0.0), full(0.0), full(0.0)
    low, high = setpoint + 2.0, setpoint + p["cycle_amplitude_k"]

    for k in range(steps):
        env = environment(table, shift, start + k * rows_per_step)
        r = reference.step(p, energy, temp, k, env, dt_h)
        e, t = r["energy_wh"], r["temp_k"]
        too_hot = t > p["max_temp_k"]
        exhausted = ~r["powered"] | (e <= r["floor_wh"] + 1e-9 * r["capacity_wh"])
        new_cause = np.where(too_hot, Outcome.SURFACE_OVERHEATED,
                             np.where(exhausted, Outcome.SURFACE_FROZE_BATTERY_EXHAUSTED,
                                      Outcome.SURFACE_FROZE_HEATER_LIMITED)).astype(np.int16)
        dies = alive & r["lost"]
        unserved = (r["wanted_load_w"] - r["load_w"] + r["wanted_heater_w"] - r["heater_w"]) * dt_h
        dark = env["disk_fraction"] < pt.DARK_DISK_FRACTION
        new_dark_hours = np.where(dark, dark_hours + dt_h, 0.0)
        new_night_unserved = np.where(dark, night_unserved + unserved, 0.0)
        new_night_margin = np.where(dark, np.minimum(night_margin, e - r["floor_wh"] - new_night_unserved), np.inf)
        night_ended = (dark_hours >= pt.NIGHT_MIN_HOURS) & (~dark | dies)
        ended_margin = np.where(dies & dark, new_night_margin, night_margin)
        new_worst = np.where(night_ended | (dies & dark), np.minimum(worst_margin, ended_margin), worst_margin)
        completes_cycle = armed & (t > high)
        new_armed = np.where(completes_cycle, False, armed | (t < low))
        used_wh = (r["load_w"] + r["heater_w"]) * dt_h + r["stored_wh"] / p["charge_efficiency"]
        sunlit = env["disk_fraction"] > 0.5

        # A dead rover stays as it died: only the missions alive at the start of the step change.
        a = alive
        energy, temp = np.where(a, e, energy), np.where(a, t, temp)
        death_step = np.where(dies, k + 1, death_step)
        cause = np.where(dies, new_cause, cause)
        min_soc = np.where(a, np.minimum(min_soc, e / r["capacity_wh"]), min_soc)
        min_temp, max_temp = np.where(a, np.minimum(min_temp, t), min_temp), np.where(a, np.maximum(max_temp, t), max_temp)
        dark_hours = np.where(a, new_dark_hours, dark_hours)
        longest_dark = np.where(a, np.maximum(longest_dark, new_dark_hours), longest_dark)
        nights = nights + (a & night_ended & ~dies)
        night_margin = np.where(a, new_night_margin, night_margin)
        worst_margin = np.where(a, new_worst, worst_margin)
        night_unserved = np.where(a, new_night_unserved, night_unserved)
        cycles = cycles + (a & completes_cycle)
        armed = np.where(a, new_armed, armed)
        sunlit_hours = sunlit_hours + np.where(a & sunlit, dt_h, 0.0)
        earth_hours = earth_hours + np.where(a & env["earth_visible"], dt_h, 0.0)
        generated_wh = generated_wh + np.where(a, np.minimum(r["array_w"] * dt_h, used_wh), 0.0)
        heater_wh = heater_wh + np.where(a, r["heater_w"] * dt_h, 0.0)
        alive = alive & ~dies

    alive_hours = np.where(alive, steps, death_step) * dt_h
    had_night = np.isfinite(worst_margin)
    mission_days = float(params["surface.mission_days"])
    return {
        "outcome": np.where(alive, int(Outcome.SUCCESS), cause).astype(np.int16),
        "surface_ok": alive,
        "reached_100_days": alive & (mission_days >= 100.0),
        "days_survived": alive_hours / 24.0,
        "landing_day": inputs["surface.landing_time_frac"] * float(params["surface.landing_window_days"]),
        "landing_distance_m": distance_m,
        "nights_survived": nights,
        "had_night": had_night,
        "longest_darkness_h": longest_dark,
        "worst_night_energy_margin_wh": np.where(had_night, worst_margin, 0.0),
        "min_soc": min_soc,
        "min_box_temp_k": min_temp,
        "max_box_temp_k": max_temp,
        "thermal_cycles": cycles,
        "sunlit_fraction": sunlit_hours / np.maximum(alive_hours, dt_h),
        "earth_visible_fraction": earth_hours / np.maximum(alive_hours, dt_h),
        "energy_generated_kwh": generated_wh / 1000.0,
        "heater_energy_kwh": heater_wh / 1000.0,
    }
