"""Powered descent and landing: 3-DOF point-mass dynamics, ZEM/ZEV guidance on a navigated state, touchdown.

Dynamics (Moon-centred, non-rotating: the pole turns at < 5 m/s and is neglected) for position r, velocity v and
mass m: ``r' = v``, ``v' = -mu r/|r|^3 + T u/m``, ``m' = -T/(Isp g0)``, integrated with the classical fixed-step
Runge-Kutta scheme (4th order) inside ``lax.scan``; the target is on the sphere of radius R at (0, 0, R).

Guidance: zero-effort-miss / zero-effort-velocity feedback (Guo, Hawkins & Wie 2013, JGCD 36(3)), the
fuel-optimal unconstrained law for a fixed final time with gravity taken constant over the time to go:
``a = 6 ZEM/tgo^2 - 2 ZEV/tgo`` with ``ZEM = r_f - (r + v tgo + g tgo^2/2)`` and ``ZEV = v_f - (v + g tgo)``.
Two legs: braking from powered-descent initiation (PDI) to an approach gate above the target, then the approach
to a point a few metres above the (possibly re-targeted) landing point at the touchdown speed; the last metres
hold that speed with velocity feedback, because ZEM/ZEV is singular as the time to go vanishes. Thrust is clipped
between one engine at its lowest throttle (engines are shut down one by one, as Chandrayaan-3 landed on two of its
four) and all engines at full thrust; past the
planned end the lander descends at its touchdown speed.

Navigation: guidance acts on the estimated state ``true + error``. The error starts at the orbit-determination
error of PDI, drifts with the accelerometer bias, and is reset by map-relative feature matching (SLIM-derived;
position error growing with altitude) and by the altimeter (vertical only) below their operating altitudes. An
altimeter fault adds a constant bias to the measured altitude, the failure mode of three of the 13 landings of
2019-2025 (DATA.md).

Touchdown: position error, vertical and horizontal speed, attitude proxy (thrust tilt plus slope), propellant
left, and the terrain at the landed point (slope and rocks from the site's statistics). At the approach gate the
hazard detection finds the target unsafe with the site's hazard probability and, when it detects it, diverts to a
safe point nearby (re-targeting leg 2). Success: speeds and slope within the Chandrayaan-3 specification
(DATA.md), no rock above the clearance, and no tip-over (the kinetic energy of the horizontal motion must not lift
the centre of mass over the downhill footpad).

Code: what is fixed over a descent and drawn before it are small records (:class:`Mission`, :class:`Events`,
:class:`Terrain`, :class:`Legs`); ``lax.scan`` runs :func:`step` over a :class:`Carry`, a sequence of named
sub-steps (:func:`guidance`, :func:`actuation`, :func:`dynamics`, :func:`navigation`, :func:`touchdown`); after
the loop :func:`airborne_completion`, :func:`terrain_at_touchdown` and :func:`outputs` (the outcome by
:func:`campaign.models.rules.touchdown_outcome`).

Record-based fault term: after the physics, :func:`campaign.models.rules.record_fault` loses a landing the physics
made with the per-attempt probability ``unmodelled_fault_prob`` of a fault no modelled dispersion represents
(software or procedure: 3 of the 13 attempts of 2019-2025, DATA.md; docs/priors.md), from its own uniform stream,
so the physics is the same with the term on and off (``landing_physics_ok``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import rules
from ._keys import subkey
from ._spec import Input, Kind, MissionModel, Output, Param, Section, TableArray
from .outcomes import Outcome

MU_MOON = 4902.800066e9  # m3/s2, GM of the Moon (DE421 value, GM = 4902.8 km3/s2)
R_MOON = 1737.4e3  # m (DATA.md)
G0 = 9.80665  # m/s2, standard gravity (exact by definition; defines Isp in seconds)
G_MOON = 1.62  # m/s2 (DATA.md), for the tip-over criterion

SECTION = Section(
    name="landing",
    params=(
        Param("pdi_altitude_m", "m", "Altitude of powered-descent initiation", gt=0),
        Param("pdi_speed_mps", "m/s", "Horizontal speed at PDI", gt=0),
        Param("pdi_downrange_m", "m", "Ground distance from PDI to the target", gt=0),
        Param("approach_azimuth_deg", "deg", "Direction of the approach track at the target, from north", ge=0, lt=360),
        Param("mass_at_pdi_kg", "kg", "Lander mass at PDI (from the transfer when phases are chained)", gt=0),
        Param("dry_mass_kg", "kg", "Lander mass with no usable propellant", gt=0),
        Param("engines", "1", "Number of main engines", ge=1, integer=True),
        Param("engine_thrust_n", "N", "Maximum thrust of one engine", gt=0),
        Param("throttle_min", "1", "Lowest throttle of one engine (engines can be shut down one by one)", ge=0, le=1),
        Param("isp_s", "s", "Specific impulse", gt=0),
        Param(
            "engine_out_tilt_deg",
            "deg",
            "Extra thrust tilt from the misalignment axis after an engine-out",
            ge=0,
            lt=90,
        ),
        Param("braking_time_s", "s", "Planned duration of the braking leg (PDI to the approach gate)", gt=0),
        Param("terminal_time_s", "s", "Planned duration of the terminal descent", gt=0),
        Param("gate_altitude_m", "m", "Altitude of the approach gate above the target", gt=0),
        Param("gate_descent_rate_mps", "m/s", "Descent rate at the approach gate", ge=0),
        Param("touchdown_speed_mps", "m/s", "Commanded vertical touchdown speed", gt=0),
        Param("final_hold_altitude_m", "m", "Altitude from which the lander holds its touchdown speed", ge=0),
        Param(
            "hold_gain_per_s",
            "1/s",
            "Gain of the final hold's velocity feedback (commanded acceleration per m/s of velocity error)",
            gt=0,
        ),
        Param(
            "window_margin_s",
            "s",
            "Simulated time after the planned legs (then an airborne lander's descent is completed analytically)",
            ge=0,
        ),
        Param("step_s", "s", "Integration step", gt=0, le=5),
        Param("map_relative_nav", "", "Feature-matching (map-relative) navigation fixes on", kind="bool"),
        Param("fm_max_altitude_m", "m", "Altitude below which feature matching works", ge=0),
        Param("fm_interval_s", "s", "Time between feature-matching fixes", gt=0),
        Param("fm_error_per_altitude", "1", "Feature-matching position error per metre of altitude (1-sigma)", ge=0),
        Param(
            "fm_velocity_error_kept",
            "1",
            "Fraction of the navigation velocity error left after a feature-matching fix",
            ge=0,
            le=1,
        ),
        Param("altimeter_max_altitude_m", "m", "Altitude below which the altimeter measures", ge=0),
        Param("altimeter_error_frac", "1", "Altimeter error per metre of altitude (1-sigma)", ge=0),
        Param("hazard_divert_max_m", "m", "Largest divert the hazard avoidance commands", ge=0),
        Param("slope_median_deg", "deg", "Median local slope at the site (metre scale)", gt=0),
        Param("slope_sigma_log", "1", "Log-normal spread of the local slope", ge=0),
        Param(
            "rock_hazard_prob", "1", "Probability that a touchdown spot holds a rock above the clearance", ge=0, le=1
        ),
        Param("max_vertical_speed_mps", "m/s", "Touchdown limit on vertical speed", gt=0),
        Param("max_horizontal_speed_mps", "m/s", "Touchdown limit on horizontal speed", gt=0),
        Param("max_slope_deg", "deg", "Touchdown limit on local slope", gt=0, lt=90),
        Param("crash_speed_mps", "m/s", "Impact speed above which the lander is destroyed", gt=0),
        Param("footpad_radius_m", "m", "Distance from the centre line to a footpad", gt=0),
        Param("cg_height_m", "m", "Height of the centre of mass above the footpads", gt=0),
        Param(
            "unmodelled_fault_term",
            "",
            "Record-based term for faults no modelled dispersion represents (software, procedure) on",
            kind="bool",
        ),
    ),
    inputs=(
        Input("thrust_factor", "1", "Realised / nominal engine thrust", (0.0, float("inf"))),
        Input("isp_dispersion_frac", "1", "Relative deviation of the realised Isp"),
        Input("misalignment_deg", "deg", "Thrust misalignment angle"),
        Input("propellant_error_kg", "kg", "Deviation of the propellant at PDI from nominal"),
        Input(
            "od_position_error_m",
            "m",
            "Orbit-determination position error at PDI (1-sigma per axis)",
            (0.0, float("inf")),
        ),
        Input("accel_bias_mps2", "m/s2", "Accelerometer bias (1-sigma per axis)", (0.0, float("inf"))),
        Input(
            "fm_error_floor_m", "m", "Feature-matching position error near the ground (1-sigma)", (0.0, float("inf"))
        ),
        Input("altimeter_fault_prob", "1", "Probability of an altimeter/rangefinder fault", (0.0, 1.0)),
        Input("altimeter_fault_bias_m", "m", "Altitude bias if the altimeter faults"),
        Input("engine_out_prob", "1", "Probability that one engine fails during the descent", (0.0, 1.0)),
        Input("hazard_detection_prob", "1", "Probability that hazard detection sees an unsafe target", (0.0, 1.0)),
        Input(
            "unmodelled_fault_prob",
            "1",
            "Per-attempt probability of a fault no modelled dispersion represents (record-based)",
            (0.0, 1.0),
        ),
    ),
)

OUTPUTS = (
    Output(
        "landing_ok",
        Kind.BOOL,
        "",
        "Touched down intact and upright within the limits",
        role="phase",
        meaning="landing_success",
    ),
    Output(
        "landing_downrange_m",
        Kind.FLOAT,
        "m",
        "Touchdown point along the approach track from the target",
        meaning="touchdown_downrange",
    ),
    Output(
        "landing_crossrange_m",
        Kind.FLOAT,
        "m",
        "Touchdown point across the approach track from the target",
        meaning="touchdown_crossrange",
    ),
    Output(
        "miss_distance_m", Kind.FLOAT, "m", "Distance of the touchdown point from the target", meaning="miss_distance"
    ),
    Output(
        "touchdown_vertical_speed_mps",
        Kind.FLOAT,
        "m/s",
        "Vertical speed at touchdown (downwards positive)",
        meaning="touchdown_vertical_speed",
    ),
    Output(
        "touchdown_horizontal_speed_mps",
        Kind.FLOAT,
        "m/s",
        "Horizontal speed at touchdown",
        meaning="touchdown_horizontal_speed",
    ),
    Output("attitude_deg", Kind.FLOAT, "deg", "Thrust tilt from the local vertical at touchdown plus the slope"),
    Output("propellant_left_kg", Kind.FLOAT, "kg", "Usable propellant left at touchdown"),
    Output("slope_deg", Kind.FLOAT, "deg", "Local slope at the touchdown point"),
    Output("rock_hazard", Kind.BOOL, "", "A rock above the clearance at the touchdown point"),
    Output("diverted", Kind.BOOL, "", "Hazard avoidance moved the target", meaning="hazard_divert"),
    Output("divert_distance_m", Kind.FLOAT, "m", "Length of the divert"),
    Output("engine_out", Kind.BOOL, "", "An engine failed during the descent", meaning="engine_out"),
    Output("altimeter_fault", Kind.BOOL, "", "The altimeter faulted", meaning="altimeter_fault"),
    Output("descent_time_s", Kind.FLOAT, "s", "Time from PDI to touchdown"),
    Output("max_throttle", Kind.FLOAT, "1", "Largest throttle used (1 = all engines at full thrust)"),
    Output(
        "landing_physics_ok",
        Kind.BOOL,
        "",
        "Touched down intact and upright within the limits, before the record-based fault term",
        meaning="landing_physics_success",
    ),
)


class Tables(NamedTuple):
    """What :func:`prepare` computes on the host: the descent's step numbers and feature-matching fix numbers
    (their lengths are the loop's static sizes)."""

    step_index: TableArray  # (steps,) int32
    fix_index: TableArray  # (fixes,) int32


def prepare(params: Mapping[str, Any]) -> Tables:
    """Static sizes of the descent: its steps (the planned legs plus ``window_margin_s``) and the feature-matching
    fixes they can hold (one every ``fm_interval_s``), so that the navigation errors are drawn before the loop."""
    total = (
        float(params["landing.braking_time_s"])
        + float(params["landing.terminal_time_s"])
        + float(params["landing.window_margin_s"])
    )
    steps = int(np.ceil(total / float(params["landing.step_s"])))
    fixes = int(np.floor(steps * float(params["landing.step_s"]) / float(params["landing.fm_interval_s"]))) + 1
    return Tables(np.arange(steps, dtype=np.int32), np.arange(fixes, dtype=np.int32))


def gravity(r):
    """Lunar gravity (m/s2, (3,)) at the Moon-centred position ``r`` (m, (3,)): a point mass ``MU_MOON``."""
    return -MU_MOON * r / jnp.linalg.norm(r) ** 3


def derivatives(state, thrust_vector, exhaust_speed):
    """Time derivative of (r, v, m) under a thrust vector (N) fixed over the step."""
    r, v, m = state
    return v, gravity(r) + thrust_vector / m, -jnp.linalg.norm(thrust_vector) / exhaust_speed


def rk4_step(state, thrust_vector, exhaust_speed, dt):
    """One classical Runge-Kutta step of the point-mass dynamics (thrust constant over the step)."""
    add = lambda s, d, h: tuple(x + h * dx for x, dx in zip(s, d))  # noqa: E731
    k1 = derivatives(state, thrust_vector, exhaust_speed)
    k2 = derivatives(add(state, k1, dt / 2), thrust_vector, exhaust_speed)
    k3 = derivatives(add(state, k2, dt / 2), thrust_vector, exhaust_speed)
    k4 = derivatives(add(state, k3, dt), thrust_vector, exhaust_speed)
    return tuple(x + dt / 6 * (a + 2 * b + 2 * c + d) for x, a, b, c, d in zip(state, k1, k2, k3, k4))


def zem_zev(r, v, r_f, v_f, tgo):
    """ZEM/ZEV thrust acceleration (m/s2) towards (r_f, v_f) in ``tgo`` seconds (gravity frozen at r)."""
    g = gravity(r)
    zem = r_f - (r + v * tgo + 0.5 * g * tgo**2)
    zev = v_f - (v + g * tgo)
    return 6.0 * zem / tgo**2 - 2.0 * zev / tgo


def altitude(r):
    """Height (m) of the Moon-centred position ``r`` (m, (3,)) above the reference sphere of radius ``R_MOON``."""
    return jnp.linalg.norm(r) - R_MOON


def _uniform(key, name: str, dtype):
    """One uniform in [0, 1) from the mission's stream ``name``."""
    return jax.random.uniform(subkey(key, name), (), dtype)


def _normal3(key, name: str, dtype):
    """Three standard normals from the mission's stream ``name``."""
    return jax.random.normal(subkey(key, name), (3,), dtype)


# ----------------------------------------------------------------------------------------------- state records
class State(NamedTuple):
    """The lander's true state: Moon-centred position ``r`` (m, (3,)), velocity ``v`` (m/s, (3,)), mass ``m`` (kg)."""

    r: jax.Array
    v: jax.Array
    m: jax.Array


class NavError(NamedTuple):
    """The navigation error, estimated minus true: position ``r`` (m, (3,)) and velocity ``v`` (m/s, (3,))."""

    r: jax.Array
    v: jax.Array


class Touchdown(NamedTuple):
    """The lander at touchdown: position ``r`` (m, (3,)), velocity ``v`` (m/s, (3,)), mass ``m`` (kg), time ``t``
    from PDI (s) and the thrust vector ``thrust`` (N, (3,)) of the step that reached the ground."""

    r: jax.Array
    v: jax.Array
    m: jax.Array
    t: jax.Array
    thrust: jax.Array


class Carry(NamedTuple):
    """What the descent's loop carries from one step to the next: the true ``state`` (frozen once landed), the
    navigation error ``nav``, whether the lander has ``landed``, its ``touchdown`` (valid once landed) and the
    largest throttle used while flying (1 = all engines at full thrust)."""

    state: State
    nav: NavError
    landed: jax.Array
    touchdown: Touchdown
    max_throttle: jax.Array


class Thrust(NamedTuple):
    """What the engines give over one step: the thrust ``vector`` (N, (3,)), the ``throttle`` (1, of all engines at
    full thrust), the thrust ``available`` (N) and the lowest thrust allowed ``floor`` (N)."""

    vector: jax.Array
    throttle: jax.Array
    available: jax.Array
    floor: jax.Array


# ----------------------------------------------------------------------------------------------- the mission
class Mission(NamedTuple):
    """What stays fixed over one descent, from the design values and the sampled inputs."""

    dt: jax.Array  # s, integration step
    exhaust: jax.Array  # m/s, exhaust speed of the realised Isp
    thrust_max: jax.Array  # N, all engines at full (realised) thrust
    thrust_floor: jax.Array  # N, one engine at its lowest throttle (engines are shut down one by one)
    t_gate: jax.Array  # s from PDI, planned end of the braking leg (the approach gate)
    t_end: jax.Array  # s from PDI, planned end of the approach (then the final hold)
    up: jax.Array  # (3,), the local vertical at the target
    target: jax.Array  # (3,) m, the target on the reference sphere


def mission(p, x, dtype) -> Mission:
    """The descent's fixed quantities from the ``landing`` parameters ``p`` and inputs ``x``."""
    t_gate = p.braking_time_s
    up = jnp.array([0.0, 0.0, 1.0], dtype)
    return Mission(
        dt=p.step_s,
        exhaust=p.isp_s * (1 + x.isp_dispersion_frac) * G0,
        thrust_max=p.engines * p.engine_thrust_n * x.thrust_factor,
        thrust_floor=p.throttle_min * p.engine_thrust_n * x.thrust_factor,
        t_gate=t_gate,
        t_end=t_gate + p.terminal_time_s,
        up=up,
        target=R_MOON * up,
    )


def initial_state(p, mass):
    """PDI: ``pdi_downrange_m`` of arc behind the target, horizontal velocity towards it."""
    angle = p.pdi_downrange_m / R_MOON
    radius = R_MOON + p.pdi_altitude_m
    r = radius * jnp.stack([-jnp.sin(angle), 0.0 * angle, jnp.cos(angle)])
    v = p.pdi_speed_mps * jnp.stack([jnp.cos(angle), 0.0 * angle, jnp.sin(angle)])
    return r, v, mass


class Events(NamedTuple):
    """The mission's random events and error vectors, drawn before the loop (each from its own stream)."""

    misalign_axis: jax.Array  # (3,), horizontal unit vector the thrust tilts towards
    engine_out: jax.Array  # bool, one engine fails during the descent
    t_engine_out: jax.Array  # s from PDI, when it fails (uniform over the planned legs)
    altimeter_fault: jax.Array  # bool, the altimeter measures with a constant bias
    od_error: jax.Array  # (3,) m, orbit-determination position error at PDI (the first navigation error)
    accel_bias: jax.Array  # (3,) m/s2, accelerometer bias (drives the navigation drift)
    fix_normals: jax.Array  # (fixes, 3), standard normals of the feature-matching fixes
    altimeter_normals: jax.Array  # (steps,), standard normals of the altimeter's errors


def navigation_draws(key, steps: int, fixes: int, dtype):
    """Standard normals of the navigation errors of one descent, drawn at once: three per feature-matching fix
    (numbered by the ``fm_interval_s`` periods from PDI) and one altimeter error per step. Drawing them in bulk
    before the loop rather than step by step in it makes the descent 3x faster (fewer key derivations and
    counter-hash calls)."""
    nav = subkey(key, "navigation")
    return (
        jax.random.normal(subkey(nav, "feature_matching"), (fixes, 3), dtype),
        jax.random.normal(subkey(nav, "altimeter"), (steps,), dtype),
    )


def events(x, ms: Mission, tables: Tables, key, dtype) -> Events:
    """Draw the mission's :class:`Events` from ``key`` for the ``landing`` inputs ``x``."""
    u = lambda name: _uniform(key, name, dtype)  # noqa: E731
    misalign_axis = jnp.cross(
        ms.up, jnp.array([jnp.cos(2 * jnp.pi * u("misalign")), jnp.sin(2 * jnp.pi * u("misalign")), 0.0], dtype)
    )
    fix_normals, altimeter_normals = navigation_draws(key, tables.step_index.shape[0], tables.fix_index.shape[0], dtype)
    return Events(
        misalign_axis=misalign_axis,
        engine_out=u("engine_out") < x.engine_out_prob,
        t_engine_out=u("engine_out_time") * ms.t_end,
        altimeter_fault=u("altimeter_fault") < x.altimeter_fault_prob,
        od_error=x.od_position_error_m * _normal3(key, "od_position", dtype),
        accel_bias=x.accel_bias_mps2 * _normal3(key, "accel_bias", dtype),
        fix_normals=fix_normals,
        altimeter_normals=altimeter_normals,
    )


class Terrain(NamedTuple):
    """The target's terrain and the hazard divert it may cause at the approach gate."""

    safe_quantile: jax.Array  # 1, quantile of the site's slope distribution at the slope limit
    target_quantile: jax.Array  # 1, the target's slope quantile
    target_rock: jax.Array  # bool, a rock above the clearance at the target
    diverted: jax.Array  # bool, hazard detection found the target unsafe and diverted
    divert_distance: jax.Array  # m, length of the divert (0 without one)
    divert: jax.Array  # (3,) m, horizontal offset of the landing point from the target


def target_terrain(p, x, key, dtype) -> Terrain:
    """Draw the target's terrain (slope quantile, rock) and the hazard divert of the ``landing`` parameters ``p``
    and inputs ``x``: an unsafe target is detected with ``hazard_detection_prob`` and the lander diverts to a safe
    point up to ``hazard_divert_max_m`` away (uniform over the disc)."""
    u = lambda name: _uniform(key, name, dtype)  # noqa: E731
    safe_quantile = jax.scipy.special.ndtr(
        jnp.log(p.max_slope_deg / p.slope_median_deg) / jnp.maximum(p.slope_sigma_log, 1e-9)
    )
    target_quantile = u("slope_quantile_target")
    target_rock = u("rock_target") < p.rock_hazard_prob
    unsafe_target = target_rock | (target_quantile > safe_quantile)
    diverted = unsafe_target & (u("hazard_detected") < x.hazard_detection_prob)
    divert_angle = 2 * jnp.pi * u("divert_direction")
    divert_distance = jnp.where(diverted, p.hazard_divert_max_m * jnp.sqrt(u("divert_distance")), 0.0)
    divert = divert_distance * jnp.array([jnp.cos(divert_angle), jnp.sin(divert_angle), 0.0], dtype)
    return Terrain(safe_quantile, target_quantile, target_rock, diverted, divert_distance, divert)


class Legs(NamedTuple):
    """The guidance's two legs: the approach gate and the aim point (m, (3,)) with their velocities (m/s, (3,)),
    and the planned times at which they are reached (s from PDI)."""

    gate_r: jax.Array  # gate_altitude_m above the target
    gate_v: jax.Array  # descending at gate_descent_rate_mps
    aim_r: jax.Array  # final_hold_altitude_m above the (possibly diverted) landing point
    aim_v: jax.Array  # descending at touchdown_speed_mps (also the final hold's velocity)
    t_gate: jax.Array
    t_end: jax.Array


def legs(p, ms: Mission, divert) -> Legs:
    """The guidance's :class:`Legs` for the ``landing`` parameters ``p`` and the divert (m, (3,))."""
    return Legs(
        gate_r=ms.target + p.gate_altitude_m * ms.up,
        gate_v=-p.gate_descent_rate_mps * ms.up,
        aim_r=(ms.target + divert) + p.final_hold_altitude_m * ms.up,
        aim_v=-p.touchdown_speed_mps * ms.up,
        t_gate=ms.t_gate,
        t_end=ms.t_end,
    )


# ----------------------------------------------------------------------------------------------- one step
def guidance(p, lg: Legs, dt, t, r_est, v_est):
    """Commanded acceleration (m/s2, (3,)) at time ``t`` (s from PDI) on the navigated state (m, m/s): ZEM/ZEV to
    the gate, then to the aim point, with the time to go kept at two steps or more; past the planned end, hold the
    touchdown rate and null the horizontal velocity with the gain ``hold_gain_per_s`` (1/s). ZEM/ZEV is singular
    as the time to go vanishes, and chasing each new navigation fix this close to the ground would tip the
    lander, so the hold nulls the velocity, not the position."""
    leg1 = t < lg.t_gate
    r_f = jnp.where(leg1, lg.gate_r, lg.aim_r)
    v_f = jnp.where(leg1, lg.gate_v, lg.aim_v)
    tgo = jnp.maximum(jnp.where(leg1, lg.t_gate - t, lg.t_end - t), 2.0 * dt)
    accel = zem_zev(r_est, v_est, r_f, v_f, tgo)
    hold = -gravity(r_est) + p.hold_gain_per_s * (lg.aim_v - v_est)
    return jnp.where(t < lg.t_end, accel, hold)


def actuation(p, x, ms: Mission, ev: Events, t, mass, accel) -> Thrust:
    """The :class:`Thrust` for the commanded ``accel`` (m/s2, (3,)) of a lander of ``mass`` (kg) at time ``t`` (s):
    the magnitude clipped between one engine at its lowest throttle and the engines still working (one fewer after
    an engine-out), none once the propellant is gone; the direction tilted by the misalignment, and by
    ``engine_out_tilt_deg`` more after an engine-out."""
    out = ev.engine_out & (t >= ev.t_engine_out)
    available = jnp.where(out, ms.thrust_max * (p.engines - 1) / p.engines, ms.thrust_max)
    available = jnp.where(mass > p.dry_mass_kg, available, 0.0)
    wanted = jnp.linalg.norm(accel) * mass
    thrust = jnp.clip(wanted, ms.thrust_floor, available)
    thrust = jnp.where(available > 0, thrust, 0.0)
    direction = accel / jnp.maximum(jnp.linalg.norm(accel), 1e-12)
    tilt = jnp.radians(x.misalignment_deg) + jnp.where(out, jnp.radians(p.engine_out_tilt_deg), 0.0)
    direction = direction + tilt * ev.misalign_axis
    direction = direction / jnp.linalg.norm(direction)
    floor_n = jnp.where(available > 0, ms.thrust_floor, 0.0)
    return Thrust(thrust * direction, thrust / jnp.maximum(ms.thrust_max, 1e-9), available, floor_n)


def dynamics(p, ms: Mission, state: State, thrust_vector) -> State:
    """The true state after one step of ``ms.dt`` seconds under ``thrust_vector`` (N): one RK4 step, the mass
    kept at the dry mass or above (kg)."""
    r, v, m = rk4_step(state, thrust_vector, ms.exhaust, ms.dt)
    return State(r, v, jnp.maximum(m, p.dry_mass_kg))


def navigation(p, x, ev: Events, nav: NavError, t, dt, r, altimeter_normal) -> NavError:
    """The navigation error after the step from ``t`` to ``t + dt`` (s) that ended at the true position ``r`` (m):
    drift with the accelerometer bias; a feature-matching fix when a new ``fm_interval_s`` period begins within
    the step below ``fm_max_altitude_m`` (a fresh position error growing with altitude, the velocity error cut to
    ``fm_velocity_error_kept`` of itself); below ``altimeter_max_altitude_m`` the altimeter replaces the vertical
    error by its own (a fraction of the altitude, plus the bias of a fault)."""
    h = altitude(r)
    local_up = r / jnp.linalg.norm(r)
    nav_v = nav.v + ev.accel_bias * dt
    nav_r = nav.r + nav_v * dt
    fix = jnp.floor((t + dt) / p.fm_interval_s)  # a fix when a new period begins within the step
    fm_fix = p.map_relative_nav & (h < p.fm_max_altitude_m) & (jnp.floor(t / p.fm_interval_s) != fix)
    fm_sigma = x.fm_error_floor_m + p.fm_error_per_altitude * h
    fresh = fm_sigma * ev.fix_normals[jnp.minimum(fix.astype(jnp.int32), ev.fix_normals.shape[0] - 1)]
    nav_r = jnp.where(fm_fix, fresh, nav_r)
    nav_v = jnp.where(fm_fix, p.fm_velocity_error_kept * nav_v, nav_v)
    measured = h < p.altimeter_max_altitude_m
    vertical_error = p.altimeter_error_frac * h * altimeter_normal + jnp.where(
        ev.altimeter_fault, x.altimeter_fault_bias_m, 0.0
    )
    nav_r = jnp.where(measured, nav_r + (vertical_error - jnp.dot(nav_r, local_up)) * local_up, nav_r)
    return NavError(nav_r, nav_v)


def touchdown(landed, td: Touchdown, old: State, new: State, t, dt, thrust_vector):
    """Whether the step from ``old`` to ``new`` (at time ``t``, ``dt`` long, s) is the first to end at or below
    the ground, and the :class:`Touchdown`, linearly interpolated inside that step where it is (else ``td``)."""
    h, old_h = altitude(new.r), altitude(old.r)
    crosses = ~landed & (h <= 0.0)
    frac = jnp.clip(old_h / jnp.maximum(old_h - h, 1e-9), 0.0, 1.0)
    touch = tuple(a + frac * (b - a) for a, b in zip(old, new))
    candidate = Touchdown(touch[0], touch[1], touch[2], t + frac * dt, thrust_vector)
    return crosses, jax.tree_util.tree_map(lambda was, cand: jnp.where(crosses, cand, was), td, candidate)


def step(p, x, ms: Mission, lg: Legs, ev: Events, carry: Carry, k, altimeter_normal):
    """One step of the descent (``k`` from PDI): guidance on the navigated state, actuation, dynamics, navigation,
    touchdown. Returns the next :class:`Carry`, the :class:`Thrust` and whether the lander flew in the step."""
    t = k * ms.dt
    state, nav = carry.state, carry.nav
    accel = guidance(p, lg, ms.dt, t, state.r + nav.r, state.v + nav.v)
    thrust = actuation(p, x, ms, ev, t, state.m, accel)
    new = dynamics(p, ms, state, thrust.vector)
    nav = navigation(p, x, ev, nav, t, ms.dt, new.r, altimeter_normal)
    crosses, td = touchdown(carry.landed, carry.touchdown, state, new, t, ms.dt, thrust.vector)
    flying = ~(carry.landed & ~crosses)
    max_throttle = jnp.where(flying, jnp.maximum(carry.max_throttle, thrust.throttle), carry.max_throttle)
    landed = carry.landed | crosses
    state = jax.tree_util.tree_map(lambda was, n: jnp.where(landed, was, n), state, new)
    return Carry(state, nav, landed, td, max_throttle), thrust, flying


# ----------------------------------------------------------------------------------------------- after the loop
def airborne_completion(p, exhaust, state: State, landed, td: Touchdown, t_window) -> Touchdown:
    """The :class:`Touchdown` of a lander still airborne in ``state`` when the simulated window closes at
    ``t_window`` (s from PDI), completed analytically: it hovers down at the touchdown rate on what propellant is
    left (burning at the dry mass's hover rate, ``exhaust`` in m/s), and falls the rest of the way if that runs
    out first; its thrust points up (a unit vector) while it hovers and is zero once it falls. ``td`` unchanged
    where it ``landed``."""
    h_end = altitude(state.r)
    hover_s = (state.m - p.dry_mass_kg) * exhaust / (G_MOON * p.dry_mass_kg)
    fall_m = jnp.maximum(h_end - hover_s * p.touchdown_speed_mps, 0.0)
    fall_speed = jnp.sqrt(p.touchdown_speed_mps**2 + 2 * G_MOON * fall_m)
    airborne_up = state.r / jnp.linalg.norm(state.r)
    return Touchdown(
        r=jnp.where(landed, td.r, R_MOON * airborne_up),
        v=jnp.where(landed, td.v, -jnp.where(fall_m > 0, fall_speed, p.touchdown_speed_mps) * airborne_up),
        m=jnp.where(
            landed,
            td.m,
            jnp.where(
                fall_m > 0, p.dry_mass_kg, state.m - h_end / p.touchdown_speed_mps * G_MOON * p.dry_mass_kg / exhaust
            ),
        ),
        t=jnp.where(landed, td.t, t_window + jnp.where(fall_m > 0, hover_s, h_end / p.touchdown_speed_mps)),
        thrust=jnp.where(landed, td.thrust, jnp.where(fall_m > 0, 0.0, 1.0) * airborne_up),
    )


def terrain_at_touchdown(p, terrain: Terrain, key, downrange, crossrange, dtype):
    """Local slope (deg) and rock (bool) at the touchdown point ``downrange``/``crossrange`` (m from the target): a
    safe spot where hazard avoidance diverted and the lander reached it (within two footpad radii of the aim); the
    target's own terrain if it landed on the undiverted target; otherwise a fresh draw of the site's terrain."""
    u = lambda name: _uniform(key, name, dtype)  # noqa: E731
    on_aim = jnp.hypot(downrange - terrain.divert[0], crossrange - terrain.divert[1]) < p.footpad_radius_m * 2
    quantile = jnp.where(
        terrain.diverted,
        u("slope_quantile_safe") * terrain.safe_quantile,
        jnp.where(on_aim, terrain.target_quantile, u("slope_quantile_landed")),
    )
    quantile = jnp.where(terrain.diverted & ~on_aim, u("slope_quantile_landed"), quantile)
    slope = p.slope_median_deg * jnp.exp(
        p.slope_sigma_log * jax.scipy.special.ndtri(jnp.clip(quantile, 1e-12, 1 - 1e-12))
    )
    rock = jnp.where(
        on_aim, jnp.where(terrain.diverted, False, terrain.target_rock), u("rock_landed") < p.rock_hazard_prob
    )
    return slope, rock


def outputs(p, ms: Mission, terrain: Terrain, ev: Events, td: Touchdown, max_throttle, key, dtype) -> dict:
    """The landing's outputs (see ``OUTPUTS``) from the :class:`Touchdown` ``td``: speeds in the local frame, the
    touchdown point along and across the track (on the sphere, from the target), the thrust's tilt, the terrain
    there and the outcome (:func:`campaign.models.rules.touchdown_outcome`)."""
    local_up = td.r / jnp.linalg.norm(td.r)
    v_vertical = -jnp.dot(td.v, local_up)
    v_horizontal = jnp.linalg.norm(td.v + v_vertical * local_up)
    ground = R_MOON * local_up - ms.target
    downrange, crossrange = ground[0], ground[1]
    propellant_left = td.m - p.dry_mass_kg
    tilt_deg = jnp.degrees(
        jnp.arccos(jnp.clip(jnp.dot(td.thrust, local_up) / jnp.maximum(jnp.linalg.norm(td.thrust), 1e-9), -1.0, 1.0))
    )
    tilt_deg = jnp.where(jnp.linalg.norm(td.thrust) > 0, tilt_deg, 0.0)
    slope, rock = terrain_at_touchdown(p, terrain, key, downrange, crossrange, dtype)
    outcome = rules.touchdown_outcome(p, slope, rock, v_vertical, v_horizontal, propellant_left, G_MOON, jnp)
    return {
        "outcome": outcome,
        "landing_ok": outcome == Outcome.SUCCESS,
        "landing_downrange_m": downrange,
        "landing_crossrange_m": crossrange,
        "miss_distance_m": jnp.hypot(downrange, crossrange),
        "touchdown_vertical_speed_mps": v_vertical,
        "touchdown_horizontal_speed_mps": v_horizontal,
        "attitude_deg": tilt_deg + slope,
        "propellant_left_kg": jnp.maximum(propellant_left, 0.0),
        "slope_deg": slope,
        "rock_hazard": rock,
        "diverted": terrain.diverted,
        "divert_distance_m": terrain.divert_distance,
        "engine_out": ev.engine_out & (ev.t_engine_out < td.t),
        "altimeter_fault": ev.altimeter_fault,
        "descent_time_s": td.t,
        "max_throttle": max_throttle,
    }


# ----------------------------------------------------------------------------------------------- the descent
def simulate(params, inputs, tables: Tables, key: jax.Array) -> dict:
    """Simulate one powered descent from PDI to touchdown (scalars in, scalars out): ``params.landing`` and
    ``inputs.landing`` are the section's records, ``tables`` what :func:`prepare` returned."""
    return _descend(params.landing, inputs.landing, tables, key, record=False)[0]


def trajectory(params, inputs, tables: Tables, key: jax.Array):
    """The touchdown outputs and, per integration step (arrays of shape (steps, ...)): time ``t`` (s), true
    position ``r`` and velocity ``v`` at the step's end, mass ``m`` (kg), thrust vector (N), the thrust available
    and the lowest thrust allowed (N), and whether the lander was still flying. For tests and plots."""
    return _descend(params.landing, inputs.landing, tables, key, record=True)


def _descend(p, x, tables: Tables, key, record: bool):
    """The descent of the ``landing`` parameters ``p`` and inputs ``x``: the mission's draws, the loop of
    :func:`step` over ``tables.step_index`` inside ``lax.scan``, the completion of a lander still airborne, and
    the outputs (with the per-step record of :func:`trajectory` where ``record``)."""
    dtype = x.thrust_factor.dtype
    ms = mission(p, x, dtype)
    ev = events(x, ms, tables, key, dtype)
    terrain = target_terrain(p, x, key, dtype)
    lg = legs(p, ms, terrain.divert)

    def body(carry: Carry, xs):
        k, altimeter_normal = xs
        carry, thrust, flying = step(p, x, ms, lg, ev, carry, k, altimeter_normal)
        s = carry.state
        return carry, (
            (k * ms.dt + ms.dt, s.r, s.v, s.m, thrust.vector, thrust.available, thrust.floor, flying)
            if record
            else None
        )

    start = State(*initial_state(p, p.mass_at_pdi_kg + x.propellant_error_kg))
    zero3 = jnp.zeros(3, dtype)
    td0 = Touchdown(start.r, start.v, start.m, jnp.zeros((), dtype), zero3)
    carry0 = Carry(start, NavError(ev.od_error, zero3), jnp.array(False), td0, jnp.zeros((), dtype))
    last, recorded = jax.lax.scan(body, carry0, (tables.step_index, ev.altimeter_normals))
    td = airborne_completion(p, ms.exhaust, last.state, last.landed, last.touchdown, tables.step_index.shape[0] * ms.dt)
    out = outputs(p, ms, terrain, ev, td, last.max_throttle, key, dtype)
    out |= rules.record_fault(p, x, out["outcome"], _uniform(key, "unmodelled_fault", dtype), jnp)
    if not record:
        return out, None
    names = ("t", "r", "v", "m", "thrust", "available", "floor", "flying")
    return out, dict(zip(names, recorded))


MODEL = MissionModel(
    name="landing",
    doc="Powered descent from PDI to touchdown",
    sections=(SECTION,),
    outputs=OUTPUTS,
    simulate=simulate,
    prepare=prepare,
)
