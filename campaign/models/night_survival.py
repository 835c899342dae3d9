"""Night survival: can the rover (no radioisotope heaters) live through every darkness of its surface mission?

One mission = a landing time drawn in the landing window, a landed position scattered around the site, a
horizon known only to within its uncertainty, and a rover whose array, battery, loads, insulation and survival
limit are dispersed about their design values. Hour by hour (``surface.step_hours``) the Sun's and the Earth's
positions at the site (JPL DE421), the local horizon and the regolith temperature set the array power, the
communication windows and the thermal sink; :mod:`campaign.models.power_thermal` does the rest.

Host-side preparation (once per campaign, :func:`prepare`): Sun/Earth directions on an hourly grid covering the
landing window plus the mission, the nominal horizon profile, and the regolith surface temperature from the 1-D
model of :mod:`campaign.models.regolith` (spun up for 90 days before the window), driven by the nominal
horizon's insolation on level ground.

Assumptions (stated, not hidden): the landed position changes the site geometry negligibly (100 m is 0.003 deg of
selenographic arc) and acts through the horizon: the horizon rises by ``horizon_gradient_deg_per_km`` per km from
the surveyed point, plus an independent horizon error. The box sees the regolith over ``ground_view_factor`` of
its radiating hemisphere and 3 K sky over the rest. The array turns towards the Sun's azimuth.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from . import environment as envmod
from . import power_thermal as pt
from . import regolith
from ._spec import Input, Kind, MissionModel, Output, Param, Section
from .outcomes import Outcome

SPIN_UP_DAYS = 90.0  # regolith model spin-up before the landing window (three lunations)
TABLE_STEP_HOURS = 1.0
HORIZON_SAMPLES = 72  # horizon profile resolution: every 5 degrees of azimuth
SKY_K = 3.0

SITE = Section(
    name="site",
    params=(
        Param("latitude_deg", "deg", "Selenographic latitude of the surveyed site", ge=-90, le=90),
        Param("longitude_deg", "deg", "Selenographic longitude (east) of the surveyed site", ge=-360, le=360),
        Param("height_m", "m", "Height of the solar array above the ground", ge=0),
        Param("horizon_mean_deg", "deg", "Mean elevation of the local horizon (calibrated, see campaign/sites.py)",
              ge=-10, le=30),
        Param("horizon_amplitudes_deg", "deg", "Amplitudes of the horizon's azimuthal harmonics (k = 1, 2, ...)",
              ge=0, le=30, kind="floats"),
        Param("horizon_phases_deg", "deg", "Azimuths of the harmonics' maxima", ge=-360, le=360, kind="floats"),
        Param("horizon_gradient_deg_per_km", "deg/km", "Rise of the horizon per km away from the surveyed point",
              ge=0),
    ),
    inputs=(
        Input("horizon_error_deg", "deg", "Error of the surveyed horizon elevation"),
        Input("landing_offset_east_m", "m", "Landed position east of the target"),
        Input("landing_offset_north_m", "m", "Landed position north of the target"),
    ),
)
SURFACE = Section(
    name="surface",
    params=(
        Param("landing_window_start_utc", "UTC", "Opening of the landing window", kind="utc"),
        Param("landing_window_days", "d", "Length of the landing window", ge=0, le=3650),
        Param("mission_days", "d", "Length of the surface mission to survive", gt=0, le=3650),
        Param("step_hours", "h", "Time step of the surface simulation", gt=0, le=24),
    ),
    inputs=(Input("landing_time_frac", "1", "Landing time as a fraction of the landing window", (0.0, 1.0)),),
)
POWER = Section(
    name="power",
    params=(
        Param("array_area_m2", "m2", "Solar array area", ge=0),
        Param("array_efficiency", "1", "Array efficiency at beginning of life", ge=0, le=1),
        Param("array_tilt_deg", "deg", "Array tilt from horizontal (90: vertical)", ge=0, le=90),
        Param("array_degradation_per_year", "1/yr", "Array output lost per year", ge=0, lt=1),
        Param("battery_capacity_wh", "Wh", "Battery capacity at beginning of life", gt=0),
        Param("battery_fade_per_year", "1/yr", "Capacity lost per year", ge=0, lt=1),
        Param("charge_efficiency", "1", "Battery charge efficiency", gt=0, le=1),
        Param("discharge_efficiency", "1", "Battery discharge efficiency", gt=0, le=1),
        Param("soc_min", "1", "Floor state of charge (never discharged below)", ge=0, lt=1),
        Param("soc_initial", "1", "State of charge at deployment", ge=0, le=1),
        Param("soc_operate_min", "1", "State of charge below which the rover hibernates even in sunlight", ge=0, le=1),
        Param("hibernate_w", "W", "Load while hibernating (survival electronics, receiver)", ge=0),
        Param("idle_w", "W", "Load while awake", ge=0),
        Param("drive_w", "W", "Additional load while driving", ge=0),
        Param("drill_w", "W", "Additional load while drilling", ge=0),
        Param("analyse_w", "W", "Additional load while analysing samples", ge=0),
        Param("comm_w", "W", "Additional load while transmitting to Earth", ge=0),
        Param("duty_drive", "1", "Fraction of awake time spent driving", ge=0, le=1),
        Param("duty_drill", "1", "Fraction of awake time spent drilling", ge=0, le=1),
        Param("duty_analyse", "1", "Fraction of awake time spent analysing", ge=0, le=1),
        Param("duty_comm", "1", "Fraction of awake time with the Earth in view spent transmitting", ge=0, le=1),
        Param("load_heat_fraction", "1", "Fraction of the electrical load dissipated inside the warm box", ge=0, le=1),
    ),
    inputs=(
        Input("array_efficiency_factor", "1", "Realised / nominal array efficiency (cells, dust)", (0.0, float("inf"))),
        Input("battery_capacity_factor", "1", "Realised / nominal battery capacity", (0.0, float("inf"))),
        Input("load_factor", "1", "Realised / nominal electrical loads", (0.0, float("inf"))),
    ),
)
THERMAL = Section(
    name="thermal",
    params=(
        Param("box_heat_capacity_j_per_k", "J/K", "Heat capacity of the warm electronics/battery box", gt=0),
        Param("insulation_conductance_w_per_k", "W/K", "Conductance of the insulation to the outside", gt=0),
        Param("radiator_area_m2", "m2", "Radiator area", ge=0),
        Param("radiator_emissivity_closed", "1", "Effective radiator emissivity, louvres closed", ge=0, le=1),
        Param("radiator_emissivity_open", "1", "Effective radiator emissivity, louvres open", ge=0, le=1),
        Param("heater_setpoint_k", "K", "Thermostat set point of the box heater", gt=0),
        Param("heater_max_w", "W", "Maximum heater power", ge=0),
        Param("survival_temp_k", "K", "Box temperature below which the rover is lost", gt=0),
        Param("max_temp_k", "K", "Box temperature above which the rover is lost", gt=0),
        Param("ground_view_factor", "1", "Fraction of the box's radiating view filled by regolith", ge=0, le=1),
        Param("cycle_amplitude_k", "K", "Swing above the set point counted as one thermal cycle", gt=0),
    ),
    inputs=(
        Input("insulation_conductance_factor", "1", "Realised / nominal insulation conductance", (0.0, float("inf"))),
        Input("survival_temp_offset_k", "K", "Deviation of the true survival limit from its specification"),
    ),
)

OUTPUTS = (
    Output("surface_ok", Kind.BOOL, "", "Survived every darkness of the surface mission", role="phase"),
    Output("reached_100_days", Kind.BOOL, "", "Operated 100 days (or surface.mission_days, if longer) on the surface",
           role="goal"),
    Output("days_survived", Kind.FLOAT, "d", "Days on the surface until the rover was lost (mission length if not)"),
    Output("landing_day", Kind.FLOAT, "d", "Landing time, days after the landing window opened"),
    Output("landing_distance_m", Kind.FLOAT, "m", "Landed distance from the surveyed site"),
    Output("nights_survived", Kind.INT, "1", "Darkness periods of 24 h or more survived"),
    Output("had_night", Kind.BOOL, "", "At least one darkness period of 24 h or more occurred"),
    Output("longest_darkness_h", Kind.FLOAT, "h", "Longest darkness (<1% of the solar disk visible) endured"),
    Output("worst_night_energy_margin_wh", Kind.FLOAT, "Wh",
           "Lowest battery energy above its floor, net of unserved demand, over the worst night", valid_when="had_night"),
    Output("min_soc", Kind.FLOAT, "1", "Lowest battery state of charge"),
    Output("min_box_temp_k", Kind.FLOAT, "K", "Lowest box temperature"),
    Output("max_box_temp_k", Kind.FLOAT, "K", "Highest box temperature"),
    Output("thermal_cycles", Kind.INT, "1", "Box thermal cycles (swings of cycle_amplitude_k above the set point)"),
    Output("sunlit_fraction", Kind.FLOAT, "1", "Fraction of the time alive with most of the solar disk visible"),
    Output("earth_visible_fraction", Kind.FLOAT, "1", "Fraction of the time alive with the Earth above the horizon"),
    Output("energy_generated_kwh", Kind.FLOAT, "kWh", "Array energy put to use"),
    Output("heater_energy_kwh", Kind.FLOAT, "kWh", "Energy spent on the box heater"),
)


def horizon_profile(mean_deg: float, amplitudes_deg, phases_deg, samples: int = HORIZON_SAMPLES) -> np.ndarray:
    """Parametric horizon: elevation (deg) at ``samples`` azimuths from north,
    ``mean + sum_k a_k cos(k (az - phase_k))``."""
    az = np.radians(np.arange(samples) * 360.0 / samples)
    h = np.full(samples, float(mean_deg))
    for k, (a, ph) in enumerate(zip(amplitudes_deg, phases_deg), start=1):
        h += a * np.cos(k * (az - np.radians(ph)))
    return h


def visible_disk(sun_enu: np.ndarray, distance_au: np.ndarray, horizon_deg: np.ndarray) -> np.ndarray:
    """Visible fraction of the solar disk (host, NumPy) for Sun directions in ENU and a horizon profile."""
    elevation = np.degrees(np.arcsin(np.clip(sun_enu[:, 2], -1, 1)))
    azimuth = np.degrees(np.arctan2(sun_enu[:, 0], sun_enu[:, 1])) % 360
    h = envmod.horizon_elevation(horizon_deg, azimuth)
    return envmod.disk_fraction_visible(elevation, h, envmod.sun_radius_deg(distance_au))


def prepare(params: Mapping[str, object]) -> dict[str, np.ndarray]:
    """Ephemeris table, horizon profile and regolith temperatures for a campaign (host side, once)."""
    start = np.datetime64(str(params["surface.landing_window_start_utc"]), "s")
    span_days = SPIN_UP_DAYS + float(params["surface.landing_window_days"]) + float(params["surface.mission_days"]) + 2
    hours = np.arange(0.0, span_days * 24 + TABLE_STEP_HOURS, TABLE_STEP_HOURS)
    utc = start - np.timedelta64(int(SPIN_UP_DAYS * 86400), "s") + (hours * 3600).astype("timedelta64[s]")
    d = envmod.site_directions(float(params["site.latitude_deg"]), float(params["site.longitude_deg"]),
                               float(params["site.height_m"]), envmod.utc_to_tdb_jd(utc))
    horizon = horizon_profile(params["site.horizon_mean_deg"], params["site.horizon_amplitudes_deg"],
                              params["site.horizon_phases_deg"])
    disk = visible_disk(d["sun_enu"], d["sun_distance_au"], horizon)
    elevation = np.degrees(np.arcsin(np.clip(d["sun_enu"][:, 2], -1, 1)))
    regolith_k = regolith.surface_temperature(regolith.absorbed_flux(elevation, disk, d["sun_distance_au"]),
                                              TABLE_STEP_HOURS * 3600.0)
    steps = int(round(float(params["surface.mission_days"]) * 24 / float(params["surface.step_hours"])))
    return {
        "env.sun_enu": d["sun_enu"],
        "env.earth_enu": d["earth_enu"],
        "env.sun_distance_au": d["sun_distance_au"],
        "env.regolith_temp_k": regolith_k,
        "env.window_offset_h": np.float64(SPIN_UP_DAYS * 24),
        "site.horizon_profile_deg": horizon,
        "surface.step_index": np.arange(steps, dtype=np.int32),
    }


def environment_at(params, inputs, t_hours) -> pt.Env:
    """What the rover experiences at ``t_hours`` after the start of the ephemeris table."""
    sun = envmod.interpolate_directions(params["env.sun_enu"], t_hours, TABLE_STEP_HOURS)
    earth = envmod.interpolate_directions(params["env.earth_enu"], t_hours, TABLE_STEP_HOURS)
    distance_au = envmod.interpolate_series(params["env.sun_distance_au"], t_hours, TABLE_STEP_HOURS)
    regolith_k = envmod.interpolate_series(params["env.regolith_temp_k"], t_hours, TABLE_STEP_HOURS)
    sun_el, sun_az = envmod.elevation_azimuth(sun)
    earth_el, earth_az = envmod.elevation_azimuth(earth)
    profile = params["site.horizon_profile_deg"] + horizon_shift_deg(params, inputs)
    disk = envmod.disk_fraction_visible(sun_el, envmod.horizon_elevation(profile, sun_az),
                                        envmod.sun_radius_deg(distance_au))
    tilt = jnp.radians(params["power.array_tilt_deg"])
    el = jnp.radians(sun_el)
    f = params["thermal.ground_view_factor"]
    return pt.Env(
        solar_flux_w_m2=regolith.SOLAR_CONSTANT_W_M2 / distance_au**2,
        disk_fraction=disk,
        array_cos_incidence=jnp.maximum(jnp.sin(el) * jnp.cos(tilt) + jnp.cos(el) * jnp.sin(tilt), 0.0),
        sink_temp_k=(f * regolith_k**4 + (1 - f) * SKY_K**4) ** 0.25,
        earth_visible=earth_el > envmod.horizon_elevation(profile, earth_az),
    )


def horizon_shift_deg(params, inputs):
    """Horizon error plus the rise with distance from the surveyed point (deg)."""
    distance_km = jnp.hypot(inputs["site.landing_offset_east_m"], inputs["site.landing_offset_north_m"]) / 1000.0
    return inputs["site.horizon_error_deg"] + params["site.horizon_gradient_deg_per_km"] * distance_km


def rover_parameters(params, inputs) -> dict:
    """Power/thermal parameters of this mission: design values with their sampled dispersions applied."""
    p = {k.split(".", 1)[1]: v for k, v in params.items() if k.startswith(("power.", "thermal."))}
    p["array_efficiency"] = p["array_efficiency"] * inputs["power.array_efficiency_factor"]
    p["battery_capacity_wh"] = p["battery_capacity_wh"] * inputs["power.battery_capacity_factor"]
    p["load_factor"] = inputs["power.load_factor"]
    p["insulation_conductance_w_per_k"] = (p["insulation_conductance_w_per_k"]
                                           * inputs["thermal.insulation_conductance_factor"])
    p["survival_temp_k"] = p["survival_temp_k"] + inputs["thermal.survival_temp_offset_k"]
    return p


def simulate(params: Mapping[str, jax.Array], inputs: Mapping[str, jax.Array], key: jax.Array) -> dict:
    """Simulate the surface mission of one rover (scalars in, scalars out)."""
    del key  # every random quantity of this model is a sampled input
    dtype = inputs["surface.landing_time_frac"].dtype
    p = rover_parameters(params, inputs)
    dt_h = params["surface.step_hours"]
    landing_h = params["env.window_offset_h"] + inputs["surface.landing_time_frac"] * params[
        "surface.landing_window_days"] * 24.0

    def body(state, k):
        env = environment_at(params, inputs, landing_h + k * dt_h)
        return pt.step(p, state, env, dt_h), None

    s, _ = jax.lax.scan(body, pt.init(p, dtype), params["surface.step_index"])
    steps = params["surface.step_index"].shape[0]
    alive_hours = jnp.where(s.alive, steps, s.death_step) * dt_h
    had_night = jnp.isfinite(s.worst_night_margin_wh)
    outcome = jnp.where(s.alive, Outcome.SUCCESS, s.cause).astype(jnp.int16)
    return {
        "outcome": outcome,
        "surface_ok": s.alive,
        "reached_100_days": s.alive & (params["surface.mission_days"] >= 100.0),
        "days_survived": alive_hours / 24.0,
        "landing_day": inputs["surface.landing_time_frac"] * params["surface.landing_window_days"],
        "landing_distance_m": jnp.hypot(inputs["site.landing_offset_east_m"], inputs["site.landing_offset_north_m"]),
        "nights_survived": s.nights_survived,
        "had_night": had_night,
        "longest_darkness_h": s.longest_dark_h,
        "worst_night_energy_margin_wh": jnp.where(had_night, s.worst_night_margin_wh, 0.0),
        "min_soc": s.min_soc,
        "min_box_temp_k": s.min_temp_k,
        "max_box_temp_k": s.max_temp_k,
        "thermal_cycles": s.thermal_cycles,
        "sunlit_fraction": s.sunlit_hours / jnp.maximum(alive_hours, dt_h),
        "earth_visible_fraction": s.earth_hours / jnp.maximum(alive_hours, dt_h),
        "energy_generated_kwh": s.generated_wh / 1000.0,
        "heater_energy_kwh": s.heater_wh / 1000.0,
    }


MODEL = MissionModel(
    name="night_survival",
    doc="Surface survival of the rover through every darkness period for the mission's length",
    sections=(SITE, SURFACE, POWER, THERMAL),
    outputs=OUTPUTS,
    simulate=simulate,
    prepare=prepare,
)
