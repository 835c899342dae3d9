"""Powered descent and landing: 3-DOF point-mass dynamics, ZEM/ZEV guidance on a navigated state, touchdown.

Dynamics (Moon-centred, non-rotating: the pole turns at < 5 m/s and is neglected) for position r, velocity v and
mass m: ``r' = v``, ``v' = -mu r/|r|^3 + T u/m``, ``m' = -T/(Isp g0)``, integrated with the classical fixed-step
Runge-Kutta scheme (4th order) inside ``lax.scan``; the target is on the sphere of radius R at (0, 0, R).

Guidance: zero-effort-miss / zero-effort-velocity feedback (Guo, Hawkins & Wie 2013, JGCD 36(3)), the
fuel-optimal unconstrained law for a fixed final time with gravity taken constant over the time to go:
``a = 6 ZEM/tgo^2 - 2 ZEV/tgo`` with ``ZEM = r_f - (r + v tgo + g tgo^2/2)`` and ``ZEV = v_f - (v + g tgo)``.
Two legs: braking from powered-descent initiation (PDI) to an approach gate above the target, then the approach
to a point a few metres above the (possibly re-targeted) landing point at the touchdown speed; the last metres
hold that speed with velocity feedback, because ZEM/ZEV is singular as the time to go vanishes. Thrust is clipped between one engine at its lowest throttle (engines are shut down one by one, as Chandrayaan-3
landed on two of its four) and all engines at full thrust; past the
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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._keys import subkey
from ._spec import Input, Kind, MissionModel, Output, Param, Section
from .outcomes import Outcome

MU_MOON = 4902.800066e9  # m3/s2, GM of the Moon (DE421 value, GM = 4902.8 km3/s2)
R_MOON = 1737.4e3  # m (DATA.md)
G0 = 9.80665
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
        Param("braking_time_s", "s", "Planned duration of the braking leg (PDI to the approach gate)", gt=0),
        Param("terminal_time_s", "s", "Planned duration of the terminal descent", gt=0),
        Param("gate_altitude_m", "m", "Altitude of the approach gate above the target", gt=0),
        Param("gate_descent_rate_mps", "m/s", "Descent rate at the approach gate", ge=0),
        Param("touchdown_speed_mps", "m/s", "Commanded vertical touchdown speed", gt=0),
        Param("final_hold_altitude_m", "m", "Altitude from which the lander holds its touchdown speed", ge=0),
        Param("step_s", "s", "Integration step", gt=0, le=5),
        Param("map_relative_nav", "", "Feature-matching (map-relative) navigation fixes on", kind="bool"),
        Param("fm_max_altitude_m", "m", "Altitude below which feature matching works", ge=0),
        Param("fm_interval_s", "s", "Time between feature-matching fixes", gt=0),
        Param("fm_error_per_altitude", "1", "Feature-matching position error per metre of altitude (1-sigma)", ge=0),
        Param("altimeter_max_altitude_m", "m", "Altitude below which the altimeter measures", ge=0),
        Param("altimeter_error_frac", "1", "Altimeter error per metre of altitude (1-sigma)", ge=0),
        Param("hazard_divert_max_m", "m", "Largest divert the hazard avoidance commands", ge=0),
        Param("slope_median_deg", "deg", "Median local slope at the site (metre scale)", gt=0),
        Param("slope_sigma_log", "1", "Log-normal spread of the local slope", ge=0),
        Param("rock_hazard_prob", "1", "Probability that a touchdown spot holds a rock above the clearance", ge=0, le=1),
        Param("max_vertical_speed_mps", "m/s", "Touchdown limit on vertical speed", gt=0),
        Param("max_horizontal_speed_mps", "m/s", "Touchdown limit on horizontal speed", gt=0),
        Param("max_slope_deg", "deg", "Touchdown limit on local slope", gt=0, lt=90),
        Param("crash_speed_mps", "m/s", "Impact speed above which the lander is destroyed", gt=0),
        Param("footpad_radius_m", "m", "Distance from the centre line to a footpad", gt=0),
        Param("cg_height_m", "m", "Height of the centre of mass above the footpads", gt=0),
    ),
    inputs=(
        Input("thrust_factor", "1", "Realised / nominal engine thrust", (0.0, float("inf"))),
        Input("isp_dispersion_frac", "1", "Relative deviation of the realised Isp"),
        Input("misalignment_deg", "deg", "Thrust misalignment angle"),
        Input("propellant_error_kg", "kg", "Deviation of the propellant at PDI from nominal"),
        Input("od_position_error_m", "m", "Orbit-determination position error at PDI (1-sigma per axis)",
              (0.0, float("inf"))),
        Input("accel_bias_mps2", "m/s2", "Accelerometer bias (1-sigma per axis)", (0.0, float("inf"))),
        Input("fm_error_floor_m", "m", "Feature-matching position error near the ground (1-sigma)", (0.0, float("inf"))),
        Input("altimeter_fault_prob", "1", "Probability of an altimeter/rangefinder fault", (0.0, 1.0)),
        Input("altimeter_fault_bias_m", "m", "Altitude bias if the altimeter faults"),
        Input("engine_out_prob", "1", "Probability that one engine fails during the descent", (0.0, 1.0)),
        Input("hazard_detection_prob", "1", "Probability that hazard detection sees an unsafe target", (0.0, 1.0)),
    ),
)

OUTPUTS = (
    Output("landing_ok", Kind.BOOL, "", "Touched down intact and upright within the limits", role="phase"),
    Output("landing_downrange_m", Kind.FLOAT, "m", "Touchdown point along the approach track from the target"),
    Output("landing_crossrange_m", Kind.FLOAT, "m", "Touchdown point across the approach track from the target"),
    Output("miss_distance_m", Kind.FLOAT, "m", "Distance of the touchdown point from the target"),
    Output("touchdown_vertical_speed_mps", Kind.FLOAT, "m/s", "Vertical speed at touchdown (downwards positive)"),
    Output("touchdown_horizontal_speed_mps", Kind.FLOAT, "m/s", "Horizontal speed at touchdown"),
    Output("attitude_deg", Kind.FLOAT, "deg", "Thrust tilt from the local vertical at touchdown plus the slope"),
    Output("propellant_left_kg", Kind.FLOAT, "kg", "Usable propellant left at touchdown"),
    Output("slope_deg", Kind.FLOAT, "deg", "Local slope at the touchdown point"),
    Output("rock_hazard", Kind.BOOL, "", "A rock above the clearance at the touchdown point"),
    Output("diverted", Kind.BOOL, "", "Hazard avoidance moved the target"),
    Output("divert_distance_m", Kind.FLOAT, "m", "Length of the divert"),
    Output("engine_out", Kind.BOOL, "", "An engine failed during the descent"),
    Output("altimeter_fault", Kind.BOOL, "", "The altimeter faulted"),
    Output("descent_time_s", Kind.FLOAT, "s", "Time from PDI to touchdown"),
    Output("max_throttle", Kind.FLOAT, "1", "Largest throttle used (1 = all engines at full thrust)"),
)


class Tables(NamedTuple):
    """What :func:`prepare` computes on the host: the descent's step numbers and feature-matching fix numbers
    (their lengths are the loop's static sizes)."""

    step_index: np.ndarray  # (steps,) int32
    fix_index: np.ndarray  # (fixes,) int32


def prepare(params: Mapping[str, object]) -> Tables:
    """Static sizes of the descent: its steps (the planned legs plus a minute of margin) and the feature-matching
    fixes they can hold (one every ``fm_interval_s``), so that the navigation errors are drawn before the loop."""
    total = float(params["landing.braking_time_s"]) + float(params["landing.terminal_time_s"]) + 60.0
    steps = int(np.ceil(total / float(params["landing.step_s"])))
    fixes = int(np.floor(steps * float(params["landing.step_s"]) / float(params["landing.fm_interval_s"]))) + 1
    return Tables(np.arange(steps, dtype=np.int32), np.arange(fixes, dtype=np.int32))


def navigation_draws(key, steps: int, fixes: int, dtype):
    """Standard normals of the navigation errors of one descent, drawn at once: three per feature-matching fix
    (numbered by the ``fm_interval_s`` periods from PDI) and one altimeter error per step. Drawing them in bulk
    before the loop rather than step by step in it makes the descent 3x faster (fewer key derivations and
    counter-hash calls)."""
    nav = subkey(key, "navigation")
    return (jax.random.normal(subkey(nav, "feature_matching"), (fixes, 3), dtype),
            jax.random.normal(subkey(nav, "altimeter"), (steps,), dtype))


def gravity(r):
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


def initial_state(p, mass):
    """PDI: ``pdi_downrange_m`` of arc behind the target, horizontal velocity towards it."""
    angle = p.pdi_downrange_m / R_MOON
    radius = R_MOON + p.pdi_altitude_m
    r = radius * jnp.stack([-jnp.sin(angle), 0.0 * angle, jnp.cos(angle)])
    v = p.pdi_speed_mps * jnp.stack([jnp.cos(angle), 0.0 * angle, jnp.sin(angle)])
    return r, v, mass


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
    dtype = x.thrust_factor.dtype
    dt = p.step_s
    exhaust = p.isp_s * (1 + x.isp_dispersion_frac) * G0
    thrust_max = p.engines * p.engine_thrust_n * x.thrust_factor
    mass0 = p.mass_at_pdi_kg + x.propellant_error_kg
    t_gate = p.braking_time_s
    t_end = t_gate + p.terminal_time_s
    up = jnp.array([0.0, 0.0, 1.0], dtype)
    target = R_MOON * up

    # Random events and error vectors of this mission (each from its own stream).
    normal3 = lambda name: jax.random.normal(subkey(key, name), (3,), dtype)  # noqa: E731
    uniform = lambda name: jax.random.uniform(subkey(key, name), (), dtype)  # noqa: E731
    misalign_axis = jnp.cross(up, jnp.array([jnp.cos(2 * jnp.pi * uniform("misalign")),
                                              jnp.sin(2 * jnp.pi * uniform("misalign")), 0.0], dtype))
    engine_out = uniform("engine_out") < x.engine_out_prob
    t_engine_out = uniform("engine_out_time") * t_end
    alt_fault = uniform("altimeter_fault") < x.altimeter_fault_prob
    nav_err_r0 = x.od_position_error_m * normal3("od_position")
    bias = x.accel_bias_mps2 * normal3("accel_bias")
    fix_normals, altimeter_normals = navigation_draws(key, tables.step_index.shape[0],
                                                      tables.fix_index.shape[0], dtype)

    # Terrain: the target's, which hazard detection may find unsafe at the gate and divert from.
    safe_quantile = jax.scipy.special.ndtr(jnp.log(p.max_slope_deg / p.slope_median_deg)
                                           / jnp.maximum(p.slope_sigma_log, 1e-9))
    target_quantile = uniform("slope_quantile_target")
    target_rock = uniform("rock_target") < p.rock_hazard_prob
    unsafe_target = target_rock | (target_quantile > safe_quantile)
    diverted = unsafe_target & (uniform("hazard_detected") < x.hazard_detection_prob)
    divert_angle = 2 * jnp.pi * uniform("divert_direction")
    divert_distance = jnp.where(diverted, p.hazard_divert_max_m * jnp.sqrt(uniform("divert_distance")), 0.0)
    divert = divert_distance * jnp.array([jnp.cos(divert_angle), jnp.sin(divert_angle), 0.0], dtype)

    def thrust_command(t, state, nav_r, nav_v):
        r, v, m = state
        r_est, v_est = r + nav_r, v + nav_v
        gate = target + p.gate_altitude_m * up
        land = target + divert
        leg1 = t < t_gate
        r_f = jnp.where(leg1, gate, land + p.final_hold_altitude_m * up)
        v_f = jnp.where(leg1, -p.gate_descent_rate_mps * up, -p.touchdown_speed_mps * up)
        tgo = jnp.maximum(jnp.where(leg1, t_gate - t, t_end - t), 2.0 * dt)
        accel = zem_zev(r_est, v_est, r_f, v_f, tgo)
        # Final metres (ZEM/ZEV is singular as tgo -> 0): hold the touchdown rate and null the horizontal velocity
        # (not the position: chasing each new navigation fix this close to the ground would tip the lander).
        hold = -gravity(r_est) + 1.0 * (-p.touchdown_speed_mps * up - v_est)
        accel = jnp.where(t < t_end, accel, hold)
        available = jnp.where(engine_out & (t >= t_engine_out), thrust_max * (p.engines - 1) / p.engines,
                              thrust_max)
        available = jnp.where(m > p.dry_mass_kg, available, 0.0)
        wanted = jnp.linalg.norm(accel) * m
        # Engines can be shut down one by one: the floor is one engine at its lowest throttle.
        thrust = jnp.clip(wanted, p.throttle_min * p.engine_thrust_n * x.thrust_factor, available)
        thrust = jnp.where(available > 0, thrust, 0.0)
        direction = accel / jnp.maximum(jnp.linalg.norm(accel), 1e-12)
        tilt = jnp.radians(x.misalignment_deg) + jnp.where(engine_out & (t >= t_engine_out), jnp.radians(2.0), 0.0)
        direction = direction + tilt * misalign_axis
        direction = direction / jnp.linalg.norm(direction)
        floor_n = jnp.where(available > 0, p.throttle_min * p.engine_thrust_n * x.thrust_factor, 0.0)
        return thrust * direction, thrust / jnp.maximum(thrust_max, 1e-9), available, floor_n

    def altitude(r):
        return jnp.linalg.norm(r) - R_MOON

    def body(carry, step):
        k, altimeter_normal = step
        state, nav_r, nav_v, landed, td, max_throttle = carry
        t = k * dt
        thrust, throttle, available, floor_n = thrust_command(t, state, nav_r, nav_v)
        new = rk4_step(state, thrust, exhaust, dt)
        new = (new[0], new[1], jnp.maximum(new[2], p.dry_mass_kg))
        # Navigation error: drift, then fixes from feature matching and the altimeter.
        h = altitude(new[0])
        local_up = new[0] / jnp.linalg.norm(new[0])
        nav_v = nav_v + bias * dt
        nav_r = nav_r + nav_v * dt
        fix = jnp.floor((t + dt) / p.fm_interval_s)  # a fix when a new period begins within the step
        fm_fix = p.map_relative_nav & (h < p.fm_max_altitude_m) & (jnp.floor(t / p.fm_interval_s) != fix)
        fm_sigma = x.fm_error_floor_m + p.fm_error_per_altitude * h
        fresh = fm_sigma * fix_normals[jnp.minimum(fix.astype(jnp.int32), fix_normals.shape[0] - 1)]
        nav_r = jnp.where(fm_fix, fresh, nav_r)
        nav_v = jnp.where(fm_fix, 0.1 * nav_v, nav_v)
        measured = h < p.altimeter_max_altitude_m
        vertical_error = (p.altimeter_error_frac * h * altimeter_normal
                          + jnp.where(alt_fault, x.altimeter_fault_bias_m, 0.0))
        nav_r = jnp.where(measured, nav_r + (vertical_error - jnp.dot(nav_r, local_up)) * local_up, nav_r)
        # Touchdown: the first step that ends at or below the ground; interpolate inside it.
        old_h = altitude(state[0])
        crosses = ~landed & (h <= 0.0)
        frac = jnp.clip(old_h / jnp.maximum(old_h - h, 1e-9), 0.0, 1.0)
        touch = tuple(a + frac * (b - a) for a, b in zip(state, new))
        td = jax.tree_util.tree_map(lambda old, cand: jnp.where(crosses, cand, old), td,
                                    (touch[0], touch[1], touch[2], t + frac * dt, thrust))
        flying = ~(landed & ~crosses)
        max_throttle = jnp.where(flying, jnp.maximum(max_throttle, throttle), max_throttle)
        landed = landed | crosses
        state = jax.tree_util.tree_map(lambda old, n: jnp.where(landed, old, n), state, new)
        record_k = (t + dt, state[0], state[1], state[2], thrust, available, floor_n, flying) if record else None
        return (state, nav_r, nav_v, landed, td, max_throttle), record_k

    start = initial_state(p, mass0)
    zero3 = jnp.zeros(3, dtype)
    td0 = (start[0], start[1], start[2], jnp.zeros((), dtype), zero3)
    carry0 = (start, nav_err_r0, zero3, jnp.array(False), td0, jnp.zeros((), dtype))
    (state, _, _, landed, td, max_throttle), recorded = jax.lax.scan(body, carry0, (tables.step_index,
                                                                                  altimeter_normals))
    r_td, v_td, m_td, t_td, thrust_td = td
    # Still airborne when the simulated window closes: it hovers down at the touchdown rate on what propellant is
    # left, and falls the rest of the way if that runs out first (completed analytically).
    h_end = altitude(state[0])
    hover_s = (state[2] - p.dry_mass_kg) * exhaust / (G_MOON * p.dry_mass_kg)
    fall_m = jnp.maximum(h_end - hover_s * p.touchdown_speed_mps, 0.0)
    fall_speed = jnp.sqrt(p.touchdown_speed_mps ** 2 + 2 * G_MOON * fall_m)
    airborne_up = state[0] / jnp.linalg.norm(state[0])
    r_td = jnp.where(landed, r_td, R_MOON * airborne_up)
    v_td = jnp.where(landed, v_td, -jnp.where(fall_m > 0, fall_speed, p.touchdown_speed_mps) * airborne_up)
    m_td = jnp.where(landed, m_td, jnp.where(fall_m > 0, p.dry_mass_kg, state[2] - h_end / p.touchdown_speed_mps * G_MOON * p.dry_mass_kg / exhaust))
    t_td = jnp.where(landed, t_td, tables.step_index.shape[0] * dt + jnp.where(
        fall_m > 0, hover_s, h_end / p.touchdown_speed_mps))
    thrust_td = jnp.where(landed, thrust_td, jnp.where(fall_m > 0, 0.0, 1.0) * airborne_up)

    local_up = r_td / jnp.linalg.norm(r_td)
    v_vertical = -jnp.dot(v_td, local_up)
    v_horizontal = jnp.linalg.norm(v_td + v_vertical * local_up)
    ground = R_MOON * local_up - target
    downrange, crossrange = ground[0], ground[1]
    propellant_left = m_td - p.dry_mass_kg
    tilt_deg = jnp.degrees(jnp.arccos(jnp.clip(jnp.dot(thrust_td, local_up) / jnp.maximum(
        jnp.linalg.norm(thrust_td), 1e-9), -1.0, 1.0)))
    tilt_deg = jnp.where(jnp.linalg.norm(thrust_td) > 0, tilt_deg, 0.0)

    # Terrain at the touchdown point: a safe spot where hazard avoidance diverted and the lander reached it; the
    # target's own terrain if it landed on the (undiverted) target; otherwise a fresh draw of the site's terrain.
    on_aim = jnp.hypot(downrange - divert[0], crossrange - divert[1]) < p.footpad_radius_m * 2
    landed_quantile = jnp.where(diverted, uniform("slope_quantile_safe") * safe_quantile,
                                jnp.where(on_aim, target_quantile, uniform("slope_quantile_landed")))
    landed_quantile = jnp.where(diverted & ~on_aim, uniform("slope_quantile_landed"), landed_quantile)
    slope = p.slope_median_deg * jnp.exp(p.slope_sigma_log * jax.scipy.special.ndtri(
        jnp.clip(landed_quantile, 1e-12, 1 - 1e-12)))
    rock = jnp.where(on_aim, jnp.where(diverted, False, target_rock), uniform("rock_landed") < p.rock_hazard_prob)

    # Tip-over: the horizontal kinetic energy lifts the centre of mass over the downhill footpad.
    s = jnp.radians(slope)
    lift = jnp.hypot(p.footpad_radius_m, p.cg_height_m) - (
        p.cg_height_m * jnp.cos(s) + p.footpad_radius_m * jnp.sin(s))
    tips = (v_horizontal**2 / (2 * G_MOON) > lift) | (slope >= jnp.degrees(jnp.arctan2(p.footpad_radius_m,
                                                                                         p.cg_height_m)))
    impact = jnp.hypot(v_vertical, v_horizontal)
    exhausted = propellant_left <= 1e-6
    outcome = jnp.where(slope > p.max_slope_deg, Outcome.LANDING_HAZARD, Outcome.SUCCESS)
    outcome = jnp.where(rock, Outcome.LANDING_HAZARD, outcome)
    outcome = jnp.where((v_vertical > p.max_vertical_speed_mps) | (v_horizontal > p.max_horizontal_speed_mps),
                        Outcome.LANDING_HARD, outcome)
    outcome = jnp.where(tips, Outcome.LANDING_TIP_OVER, outcome)
    outcome = jnp.where(impact > p.crash_speed_mps, Outcome.LANDING_CRASH, outcome)
    outcome = jnp.where(exhausted & (impact > p.max_vertical_speed_mps), Outcome.LANDING_PROPELLANT_EXHAUSTED,
                        outcome)
    outputs = {
        "outcome": outcome.astype(jnp.int16),
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
        "diverted": diverted,
        "divert_distance_m": divert_distance,
        "engine_out": engine_out & (t_engine_out < t_td),
        "altimeter_fault": alt_fault,
        "descent_time_s": t_td,
        "max_throttle": max_throttle,
    }
    if not record:
        return outputs, None
    names = ("t", "r", "v", "m", "thrust", "available", "floor", "flying")
    return outputs, dict(zip(names, recorded))


MODEL = MissionModel(
    name="landing",
    doc="Powered descent from PDI to touchdown",
    sections=(SECTION,),
    outputs=OUTPUTS,
    simulate=simulate,
    prepare=prepare,
)
