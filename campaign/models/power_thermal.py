"""Rover power and thermal balance, one time step at a time: ``state = step(p, state, env)``.

Electrical: a solar array (area, efficiency, degradation; the rover turns its array towards the Sun's azimuth, so
the incidence depends on the Sun's elevation and the array's tilt only) charges a Li-ion battery (capacity with
fade, charge/discharge efficiencies, a floor state of charge). Loads depend on the mode: ``operate`` (idle plus
duty-weighted drive, drill, analyse and, while the Earth is in view, communication) when the Sun is up and the
battery is above its operating threshold, ``hibernate`` otherwise. The essential load is served first, then the
heater; what the array and the battery above its floor cannot supply is not served (the rover browns out).

Thermal: a lumped warm box of heat capacity C gains the dissipated electrical load and the heater, and loses heat
through its insulation (conductance G) and a louvred radiator (emissivity x area) to a sink temperature set by the
regolith it sees. The radiator term is linearised about the step's start temperature, and the resulting linear equation
``C dT/dt = Q + B - G_tot T`` is integrated exactly over the step, so long steps stay stable. The thermostatic
heater is sized in closed form to end the step at its set point, within its maximum power.

Survival: the box below its survival temperature ends the mission (cause: the battery was exhausted, or the
heater could not keep up); above its maximum temperature too. The rover's darkness periods (less than 1% of the
solar disk visible on its array), the nights among them and the battery margin through each, and thermal cycles are
tracked. Like every field of the state, they stop when the rover dies: the light of the landing site over the
whole planned stay is tallied apart (:class:`campaign.models.site.SiteLight`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from ._spec import record
from .outcomes import Outcome

SIGMA = 5.670374419e-8  # Stefan-Boltzmann constant, W/m2/K4 (CODATA 2018, exact)
DARK_DISK_FRACTION = 0.01  # assumed: below this visible fraction of the solar disk the array is effectively dark
NIGHT_MIN_HOURS = 24.0  # assumed (a definition): darkness periods at least this long count as nights


class Env(NamedTuple):
    """What the rover experiences during one step (scalars)."""

    solar_flux_w_m2: jnp.ndarray  # at the Moon's distance from the Sun, normal incidence, whole disk
    disk_fraction: jnp.ndarray  # visible fraction of the solar disk
    array_cos_incidence: jnp.ndarray  # cosine of the incidence on the array (>= 0)
    sink_temp_k: jnp.ndarray  # radiative sink seen by the box
    earth_visible: jnp.ndarray  # bool: direct-to-Earth communication possible


class State(NamedTuple):
    step: jnp.ndarray
    energy_wh: jnp.ndarray
    temp_k: jnp.ndarray
    alive: jnp.ndarray
    death_step: jnp.ndarray
    cause: jnp.ndarray
    min_soc: jnp.ndarray
    min_temp_k: jnp.ndarray
    max_temp_k: jnp.ndarray
    dark_hours: jnp.ndarray  # length of the rover's current darkness (0 in light)
    nights_survived: jnp.ndarray
    night_margin_wh: jnp.ndarray  # lowest (energy above floor - unserved demand) in the current darkness
    worst_night_margin_wh: jnp.ndarray
    night_unserved_wh: jnp.ndarray
    cycle_armed: jnp.ndarray
    thermal_cycles: jnp.ndarray
    # Cumulative bookkeeping (Wh electrical, J thermal) for conservation checks and reports.
    generated_wh: jnp.ndarray  # array output put to use (loads, heater, charging)
    curtailed_wh: jnp.ndarray  # array output with nowhere to go (battery full)
    load_wh: jnp.ndarray
    heater_wh: jnp.ndarray
    battery_loss_wh: jnp.ndarray
    unserved_wh: jnp.ndarray
    heat_in_j: jnp.ndarray
    heat_out_j: jnp.ndarray
    load_served: jnp.ndarray  # bool: the last step's load was powered (an activity in it took place)


def rover_record(values: dict):
    """The rover's power/thermal parameters as a typed record (``p.battery_capacity_wh``): the ``power`` and
    ``thermal`` sections' fields (with their dispersions applied) plus the sampled ``load_factor``."""
    return record("Rover", tuple(values))(**values)


def capacity_wh(p, t_days):
    """Usable capacity after fade (linear in time)."""
    return p.battery_capacity_wh * (1.0 - p.battery_fade_per_year * t_days / 365.25)


def init(p, dtype) -> State:
    """State at landing: battery at its initial state of charge, box at the heater set point."""
    z = jnp.zeros((), dtype)
    i = jnp.zeros((), jnp.int32)
    e0 = p.soc_initial * capacity_wh(p, 0.0)
    return State(
        step=i,
        energy_wh=e0,
        temp_k=p.heater_setpoint_k + z,
        alive=jnp.array(True),
        death_step=i,
        cause=jnp.zeros((), jnp.int16),
        min_soc=p.soc_initial + z,
        min_temp_k=p.heater_setpoint_k + z,
        max_temp_k=p.heater_setpoint_k + z,
        dark_hours=z,
        nights_survived=i,
        night_margin_wh=z + jnp.inf,
        worst_night_margin_wh=z + jnp.inf,
        night_unserved_wh=z,
        cycle_armed=jnp.array(False),
        thermal_cycles=i,
        generated_wh=z,
        curtailed_wh=z,
        load_wh=z,
        heater_wh=z,
        battery_loss_wh=z,
        unserved_wh=z,
        heat_in_j=z,
        heat_out_j=z,
        load_served=jnp.array(True),
    )


def radiator_emissivity(p, temp_k):
    """Louvred radiator: closed up to ``louvre_open_start_k`` above the heater set point, fully open
    ``louvre_open_full_k`` above it."""
    opening = jnp.clip(
        (temp_k - p.heater_setpoint_k - p.louvre_open_start_k) / (p.louvre_open_full_k - p.louvre_open_start_k),
        0.0,
        1.0,
    )
    return p.radiator_emissivity_closed + opening * (p.radiator_emissivity_open - p.radiator_emissivity_closed)


def box_step(p, temp_k, heat_w, sink_k, dt_s):
    """Box temperature after ``dt_s`` with constant internal heat ``heat_w`` (exact for the linearised loss),
    and the parameters of that linear law: ``(T_end, G_tot [W/K], B [W], decay)``."""
    rad = radiator_emissivity(p, temp_k) * p.radiator_area_m2 * SIGMA
    g_rad = 4 * rad * temp_k**3
    g_tot = p.insulation_conductance_w_per_k + g_rad
    b = p.insulation_conductance_w_per_k * sink_k + g_rad * temp_k - rad * (temp_k**4 - sink_k**4)
    decay = jnp.exp(-g_tot * dt_s / p.box_heat_capacity_j_per_k)
    t_inf = (heat_w + b) / g_tot
    return t_inf + (temp_k - t_inf) * decay, g_tot, b, decay


def _computed_once(unit, *values):
    """The ``values`` unchanged (``x / 1`` is exact), each stored once per step instead of recomputed wherever
    it is used.

    XLA's CPU compiler copies cheap elementwise expressions into every fused loop that uses them: the energy
    balance below feeds a dozen state fields and would be evaluated a dozen times per step (2.3x the arithmetic
    of the step). A division is an operation it does not copy, and ``unit`` is a traced 1 that it cannot fold
    away. Where ``dt_h`` is a Python number (tests), the division folds and nothing changes."""
    return tuple(v / unit for v in values)


def operate_w(p, earth_visible):
    """Duty-cycle average of the awake load (W): idle plus drive, drill, analyse and, with the Earth in view,
    communication, each weighted by its share of the awake time."""
    return (
        p.idle_w
        + p.duty_drive * p.drive_w
        + p.duty_drill * p.drill_w
        + p.duty_analyse * p.analyse_w
        + jnp.where(earth_visible, p.duty_comm * p.comm_w, 0.0)
    )


def array_power_w(p, env: Env, t_days):
    """Array power (W): the flux on the array at its incidence, for the visible part of the solar disk, through
    the array's area and its efficiency after degradation."""
    return (
        env.solar_flux_w_m2
        * p.array_area_m2
        * p.array_efficiency
        * (1.0 - p.array_degradation_per_year * t_days / 365.25)
        * env.array_cos_incidence
        * env.disk_fraction
    )


def heater_demand_w(p, temp_k, heat_load_w, sink_k, dt_s):
    """Heater power (W) that ends the step at the set point, within the heater's maximum (0 if the box stays warm
    enough without it), for a box at ``temp_k`` dissipating ``heat_load_w`` of its electrical load."""
    t_free, g_tot, b, decay = box_step(p, temp_k, heat_load_w, sink_k, dt_s)
    t_inf_needed = (p.heater_setpoint_k - decay * temp_k) / jnp.maximum(1.0 - decay, 1e-12)
    return jnp.where(
        t_free < p.heater_setpoint_k, jnp.clip(t_inf_needed * g_tot - b - heat_load_w, 0.0, p.heater_max_w), 0.0
    )


class Flows(NamedTuple):
    """A step's electrical flows: what was served, and the battery's bookkeeping (W, Wh)."""

    powered: jnp.ndarray  # the essential load was served
    load_w: jnp.ndarray
    heater_w: jnp.ndarray
    energy_wh: jnp.ndarray  # stored at the end of the step
    unclipped_wh: jnp.ndarray  # before the clip to [floor, capacity]
    charge_wh: jnp.ndarray
    drawn_wh: jnp.ndarray
    used_for_charge_wh: jnp.ndarray
    generated_wh: jnp.ndarray
    curtailed_wh: jnp.ndarray
    unserved_wh: jnp.ndarray


def battery(p, energy_wh, cap, floor, array_w, load_req, heater_req, dt_h, unit) -> Flows:
    """Serve the essential load, then the heater, from the array and the battery above its floor; charge the
    battery with what is left of the array's output (what has nowhere to go is curtailed)."""
    available_w = array_w + (energy_wh - floor) * p.discharge_efficiency / dt_h
    powered = available_w >= load_req
    load_w = jnp.where(powered, load_req, 0.0)
    heater_w = jnp.where(powered, jnp.minimum(heater_req, available_w - load_w), 0.0)
    net_w = array_w - load_w - heater_w
    charge_wh = jnp.minimum(jnp.maximum(net_w, 0.0) * dt_h * p.charge_efficiency, cap - energy_wh)
    charge_wh = jnp.maximum(charge_wh, 0.0)
    drawn_wh = jnp.maximum(-net_w, 0.0) * dt_h / p.discharge_efficiency
    unclipped = energy_wh + charge_wh - drawn_wh
    energy = jnp.clip(unclipped, floor, cap)  # clipping only takes what capacity fade removed
    used_for_charge_wh = charge_wh / p.charge_efficiency
    generated = jnp.minimum(array_w * dt_h, (load_w + heater_w) * dt_h + used_for_charge_wh)
    curtailed = array_w * dt_h - generated
    unserved = (load_req - load_w + heater_req - heater_w) * dt_h
    energy, load_w, heater_w, generated, unserved = _computed_once(unit, energy, load_w, heater_w, generated, unserved)
    return Flows(
        powered=powered,
        load_w=load_w,
        heater_w=heater_w,
        energy_wh=energy,
        unclipped_wh=unclipped,
        charge_wh=charge_wh,
        drawn_wh=drawn_wh,
        used_for_charge_wh=used_for_charge_wh,
        generated_wh=generated,
        curtailed_wh=curtailed,
        unserved_wh=unserved,
    )


def thermal(p, temp_k, heat_w, sink_k, dt_s, unit):
    """The box's temperature at the end of the step (:func:`box_step`) and the heat it lost over the step (J):
    the integral of the (linearised) loss law ``G_tot T - B`` along the exact solution."""
    temp, g_tot, b, decay = box_step(p, temp_k, heat_w, sink_k, dt_s)
    (temp,) = _computed_once(unit, temp)
    t_inf = (heat_w + b) / g_tot
    heat_lost_j = (
        g_tot * (t_inf * dt_s + (temp_k - t_inf) * (1 - decay) * p.box_heat_capacity_j_per_k / g_tot) - b * dt_s
    )
    return temp, heat_lost_j


def survival(p, s: State, temp, flows: Flows, cap, floor):
    """Whether the rover dies in this step (the box out of its survival range) and the cause it would die of."""
    too_cold = temp < p.survival_temp_k
    too_hot = temp > p.max_temp_k
    exhausted = ~flows.powered | (flows.energy_wh <= floor + 1e-9 * cap)
    cause = jnp.where(
        too_hot,
        Outcome.SURFACE_OVERHEATED,
        jnp.where(exhausted, Outcome.SURFACE_FROZE_BATTERY_EXHAUSTED, Outcome.SURFACE_FROZE_HEATER_LIMITED),
    ).astype(jnp.int16)
    return s.alive & (too_cold | too_hot), cause


class Nights(NamedTuple):
    """The step's darkness and thermal-cycle bookkeeping (the fields of :class:`State` they update)."""

    dark_hours: jnp.ndarray
    night_ended: jnp.ndarray  # a night (a darkness of NIGHT_MIN_HOURS or more) ended in this step
    night_margin_wh: jnp.ndarray
    worst_night_margin_wh: jnp.ndarray
    night_unserved_wh: jnp.ndarray
    cycle_armed: jnp.ndarray
    completes_cycle: jnp.ndarray


def nights(p, s: State, env: Env, dt_h, temp, energy, floor, unserved, dies) -> Nights:
    """Darkness (less than :data:`DARK_DISK_FRACTION` of the solar disk visible), the nights among the darkness
    periods and the battery margin through each, and the box's thermal cycles (armed below the set point plus 2 K,
    completed above it plus ``cycle_amplitude_k``)."""
    dark = env.disk_fraction < DARK_DISK_FRACTION
    dark_hours = jnp.where(dark, s.dark_hours + dt_h, 0.0)
    night_unserved = jnp.where(dark, s.night_unserved_wh + unserved, 0.0)
    night_margin = jnp.where(dark, jnp.minimum(s.night_margin_wh, energy - floor - night_unserved), jnp.inf)
    night_ended = (s.dark_hours >= NIGHT_MIN_HOURS) & (~dark | dies)
    ended_margin = jnp.where(dies & dark, night_margin, s.night_margin_wh)
    worst_margin = jnp.where(
        night_ended | (dies & dark), jnp.minimum(s.worst_night_margin_wh, ended_margin), s.worst_night_margin_wh
    )
    low, high = p.heater_setpoint_k + 2.0, p.heater_setpoint_k + p.cycle_amplitude_k
    completes_cycle = s.cycle_armed & (temp > high)
    armed = jnp.where(completes_cycle, False, s.cycle_armed | (temp < low))
    return Nights(
        dark_hours=dark_hours,
        night_ended=night_ended,
        night_margin_wh=night_margin,
        worst_night_margin_wh=worst_margin,
        night_unserved_wh=night_unserved,
        cycle_armed=armed,
        completes_cycle=completes_cycle,
    )


# Long on purpose: one traced step, read top to bottom; most of its lines are the new State, one field a line.
def step(p, s: State, env: Env, dt_h, demand_w=None) -> State:
    """Advance one step of ``dt_h`` hours. ``p`` holds the power/thermal parameters (see night_survival).

    ``demand_w``: the nominal electrical load of this step (W, before ``p.load_factor``) chosen by an
    operations planner (:mod:`campaign.models.surface`). Without it the rover operates on the duty-cycle
    average of :func:`operate_w` when the Sun is up and the battery above its operating threshold, and
    hibernates otherwise.

    The named sub-steps, in order: :func:`array_power_w`, :func:`heater_demand_w`, :func:`battery`,
    :func:`thermal`, :func:`survival`, :func:`nights`; a dead rover stays as it died."""
    unit = dt_h / dt_h  # see _computed_once
    dt_s = dt_h * 3600.0
    t_days = s.step * dt_h / 24.0
    cap = capacity_wh(p, t_days)
    floor = p.soc_min * cap
    soc = s.energy_wh / cap

    array_w = array_power_w(p, env, t_days)
    if demand_w is None:
        operate = (env.disk_fraction > p.sunlit_disk_fraction) & (soc >= p.soc_operate_min)
        demand_w = jnp.where(operate, operate_w(p, env.earth_visible), p.hibernate_w)
    load_req = p.load_factor * demand_w
    heater_req = heater_demand_w(p, s.temp_k, p.load_heat_fraction * load_req, env.sink_temp_k, dt_s)
    array_w, load_req, heater_req = _computed_once(unit, array_w, load_req, heater_req)

    f = battery(p, s.energy_wh, cap, floor, array_w, load_req, heater_req, dt_h, unit)
    heat_w = p.load_heat_fraction * f.load_w + f.heater_w
    temp, heat_lost_j = thermal(p, s.temp_k, heat_w, env.sink_temp_k, dt_s, unit)
    dies, cause = survival(p, s, temp, f, cap, floor)
    nt = nights(p, s, env, dt_h, temp, f.energy_wh, floor, f.unserved_wh, dies)

    new = State(
        step=s.step + 1,
        energy_wh=f.energy_wh,
        temp_k=temp,
        alive=s.alive & ~dies,
        death_step=jnp.where(dies, s.step + 1, s.death_step),
        cause=jnp.where(dies, cause, s.cause),
        min_soc=jnp.minimum(s.min_soc, f.energy_wh / cap),
        min_temp_k=jnp.minimum(s.min_temp_k, temp),
        max_temp_k=jnp.maximum(s.max_temp_k, temp),
        dark_hours=nt.dark_hours,
        nights_survived=s.nights_survived + (nt.night_ended & ~dies).astype(jnp.int32),
        night_margin_wh=nt.night_margin_wh,
        worst_night_margin_wh=nt.worst_night_margin_wh,
        night_unserved_wh=nt.night_unserved_wh,
        cycle_armed=nt.cycle_armed,
        thermal_cycles=s.thermal_cycles + nt.completes_cycle.astype(jnp.int32),
        generated_wh=s.generated_wh + f.generated_wh,
        curtailed_wh=s.curtailed_wh + f.curtailed_wh,
        load_wh=s.load_wh + f.load_w * dt_h,
        heater_wh=s.heater_wh + f.heater_w * dt_h,
        battery_loss_wh=s.battery_loss_wh
        + (f.used_for_charge_wh - f.charge_wh)
        + f.drawn_wh * (1 - p.discharge_efficiency)
        + (f.unclipped_wh - f.energy_wh),
        unserved_wh=s.unserved_wh + f.unserved_wh,
        heat_in_j=s.heat_in_j + heat_w * dt_s,
        heat_out_j=s.heat_out_j + heat_lost_j,
        load_served=f.powered,
    )
    # A dead rover stays as it died: keep every field of the old state.
    return State(*(jnp.where(s.alive, n, o) for n, o in zip(new, s)))
