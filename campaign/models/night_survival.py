"""Night survival: can the rover (no radioisotope heaters) live through every darkness of its surface mission?

One mission = a landing time drawn in the landing window, a landed position scattered around the site, a
horizon known only to within its uncertainty, and a rover whose array, battery, loads, insulation and survival
limit are dispersed about their design values. Hour by hour (``surface.step_hours``) the Sun's and the Earth's
positions at the site (JPL DE421), the local horizon and the regolith temperature set the array power, the
communication windows and the thermal sink; :mod:`campaign.models.power_thermal` does the rest.

The landing site's environment (the DE421 table, the horizon seen from a height, the time loop over blocks of
steps and the site's light) is :mod:`campaign.models.site`'s; this model runs the rover's power/thermal step
(:func:`campaign.models.power_thermal.step`) in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from . import power_thermal as pt
from . import site
from ._spec import Input, Kind, MissionModel, Output, Param, Section
from .outcomes import Outcome
from .site import SITE, SiteLight, SiteTables

SURFACE = Section(
    name="surface",
    params=(
        Param("landing_window_start_utc", "UTC", "Opening of the landing window", kind="utc"),
        Param("landing_window_days", "d", "Length of the landing window", ge=0, le=3650),
        Param("mission_days", "d", "Length of the surface mission to survive", gt=0, le=3650),
        Param("step_hours", "h", "Time step of the surface simulation", gt=0, le=24),
        Param(
            "goal_days",
            "d",
            "Days on the surface the mission's goal asks for (reached_100_days: alive at the end "
            "of a planned stay at least this long)",
            gt=0,
            le=3650,
        ),
    ),
    inputs=(Input("landing_time_frac", "1", "Landing time as a fraction of the landing window", (0.0, 1.0)),),
)
POWER = Section(
    name="power",
    params=(
        Param("array_area_m2", "m2", "Solar array area", ge=0),
        Param(
            "array_height_m",
            "m",
            "Height of the solar array (tower) above the ground: the array sees the horizon from there",
            ge=0,
            le=1000,
        ),
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
        Param(
            "sunlit_disk_fraction",
            "1",
            "Visible fraction of the solar disk above which the array counts as "
            "sunlit (the rover may operate; the site's sunlit hours)",
            ge=0,
            le=1,
        ),
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
        Param(
            "louvre_open_start_k",
            "K",
            "Box temperature above the heater set point at which the radiator's louvres start to open",
            ge=0,
        ),
        Param(
            "louvre_open_full_k",
            "K",
            "Box temperature above the heater set point at which the louvres are fully "
            "open (greater than louvre_open_start_k)",
            gt=0,
        ),
    ),
    inputs=(
        Input("insulation_conductance_factor", "1", "Realised / nominal insulation conductance", (0.0, float("inf"))),
        Input("survival_temp_offset_k", "K", "Deviation of the true survival limit from its specification"),
    ),
)

OUTPUTS = (
    Output("surface_ok", Kind.BOOL, "", "Survived every darkness of the surface mission", role="phase"),
    Output(
        "reached_100_days",
        Kind.BOOL,
        "",
        "Operated 100 days (or surface.mission_days, if longer) on the surface",
        role="goal",
    ),
    Output(
        "days_survived",
        Kind.FLOAT,
        "d",
        "Days on the surface until the rover was lost (mission length if not)",
        meaning="survival_days",
    ),
    Output(
        "landing_day", Kind.FLOAT, "d", "Landing time, days after the landing window opened", meaning="landing_date"
    ),
    Output("landing_distance_m", Kind.FLOAT, "m", "Landed distance from the surveyed site"),
    Output("nights_survived", Kind.INT, "1", "Darkness periods of 24 h or more survived"),
    Output("had_night", Kind.BOOL, "", "At least one darkness period of 24 h or more occurred"),
    Output(
        "longest_darkness_h",
        Kind.FLOAT,
        "h",
        "Longest darkness (<1% of the solar disk visible) over the "
        "planned stay, at the landing site from the array's height, whatever happens to the rover",
    ),
    Output(
        "worst_night_energy_margin_wh",
        Kind.FLOAT,
        "Wh",
        "Lowest battery energy above its floor, net of unserved demand, over the worst night",
        valid_when="had_night",
        meaning="night_energy_margin",
    ),
    Output("min_soc", Kind.FLOAT, "1", "Lowest battery state of charge"),
    Output("min_box_temp_k", Kind.FLOAT, "K", "Lowest box temperature"),
    Output("max_box_temp_k", Kind.FLOAT, "K", "Highest box temperature"),
    Output("thermal_cycles", Kind.INT, "1", "Box thermal cycles (swings of cycle_amplitude_k above the set point)"),
    Output(
        "sunlit_fraction",
        Kind.FLOAT,
        "1",
        "Fraction of the planned stay with most of the solar disk visible, "
        "at the landing site from the array's height, whatever happens to the rover",
    ),
    Output(
        "earth_visible_fraction",
        Kind.FLOAT,
        "1",
        "Fraction of the planned stay with the Earth above the horizon, "
        "at the landing site, whatever happens to the rover",
    ),
    Output("energy_generated_kwh", Kind.FLOAT, "kWh", "Array energy put to use"),
    Output("heater_energy_kwh", Kind.FLOAT, "kWh", "Energy spent on the box heater"),
)


def check(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cross-field checks of the site (:func:`campaign.models.site.check`) and of the rover: the louvres open
    over a band of temperatures."""
    problems = site.check(params)
    if params["thermal.louvre_open_full_k"] <= params["thermal.louvre_open_start_k"]:
        problems.append(("mission.thermal.louvre_open_full_k", "must be > mission.thermal.louvre_open_start_k"))
    return problems


def rover_parameters(params, inputs):
    """Power/thermal parameters of this mission (a :data:`~campaign.models.power_thermal.Rover` record): the
    ``power`` and ``thermal`` design values with their sampled dispersions applied."""
    p = {**params.power._asdict(), **params.thermal._asdict()}
    p["array_efficiency"] = p["array_efficiency"] * inputs.power.array_efficiency_factor
    p["battery_capacity_wh"] = p["battery_capacity_wh"] * inputs.power.battery_capacity_factor
    p["load_factor"] = inputs.power.load_factor
    p["insulation_conductance_w_per_k"] = (
        p["insulation_conductance_w_per_k"] * inputs.thermal.insulation_conductance_factor
    )
    p["survival_temp_k"] = p["survival_temp_k"] + inputs.thermal.survival_temp_offset_k
    return pt.rover_record(p)


def survival_outputs(params, inputs, tables, s: pt.State, light: SiteLight) -> dict:
    """The outputs of :data:`OUTPUTS` from the final power/thermal state and the site's light, with ``outcome``."""
    dt_h = params.surface.step_hours
    steps = tables.step_index.shape[0]
    alive_hours = jnp.where(s.alive, steps, s.death_step) * dt_h
    stay_hours = jnp.maximum(steps * dt_h, dt_h)
    had_night = jnp.isfinite(s.worst_night_margin_wh)
    outcome = jnp.where(s.alive, Outcome.SUCCESS, s.cause).astype(jnp.int16)
    return {
        "outcome": outcome,
        "surface_ok": s.alive,
        "reached_100_days": s.alive & (params.surface.mission_days >= params.surface.goal_days),
        "days_survived": alive_hours / 24.0,
        "landing_day": inputs.surface.landing_time_frac * params.surface.landing_window_days,
        "landing_distance_m": jnp.hypot(inputs.site.landing_offset_east_m, inputs.site.landing_offset_north_m),
        "nights_survived": s.nights_survived,
        "had_night": had_night,
        "longest_darkness_h": light.longest_dark_h,
        "worst_night_energy_margin_wh": jnp.where(had_night, s.worst_night_margin_wh, 0.0),
        "min_soc": s.min_soc,
        "min_box_temp_k": s.min_temp_k,
        "max_box_temp_k": s.max_temp_k,
        "thermal_cycles": s.thermal_cycles,
        "sunlit_fraction": light.sunlit_h / stay_hours,
        "earth_visible_fraction": light.earth_h / stay_hours,
        "energy_generated_kwh": s.generated_wh / 1000.0,
        "heater_energy_kwh": s.heater_wh / 1000.0,
    }


def simulate(params, inputs, tables: SiteTables, key: jax.Array) -> dict:
    """Simulate the surface survival of one rover (scalars in, scalars out)."""
    del key  # every random quantity of this model is a sampled input
    p = rover_parameters(params, inputs)
    dt_h = params.surface.step_hours
    s, light = site.run_steps(
        params,
        inputs,
        tables,
        lambda st, env, _: pt.step(p, st, env, dt_h),
        pt.init(p, inputs.surface.landing_time_frac.dtype),
    )
    return survival_outputs(params, inputs, tables, s, light)


MODEL = MissionModel(
    name="night_survival",
    doc="Surface survival of the rover through every darkness period for the mission's length",
    sections=(SITE, SURFACE, POWER, THERMAL),
    outputs=OUTPUTS,
    simulate=simulate,
    prepare=site.prepare,
    check=check,
)
