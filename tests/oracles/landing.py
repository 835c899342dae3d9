"""The powered descent in plain NumPy (:func:`campaign.models.landing.simulate`), vectorised over landers: the
same point-mass dynamics and ZEM/ZEV guidance on a navigated state, integrated by its own Runge-Kutta steps in a
Python loop over time (arrays of shape (n,) and (n, 3)), every decision a boolean mask. Written apart from the JAX
model on purpose: the integrator, the navigation filter's state and the touchdown bookkeeping are what the
agreement tests compare. The touchdown's outcome rule and the record-based fault term are shared
(:func:`campaign.models.rules.touchdown_outcome`, :func:`campaign.models.rules.record_fault`).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from campaign.models import landing as landmod
from campaign.models import rules
from campaign.models.outcomes import Outcome
from tests.oracles import section_params


def norm(a: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis."""
    return np.linalg.norm(a, axis=-1)


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot product over the last axis."""
    return np.sum(a * b, axis=-1)


def gravity(r: np.ndarray) -> np.ndarray:
    """Lunar gravity (m/s2, (n, 3)) at positions ``r`` (m, (n, 3), Moon-centred)."""
    return -landmod.MU_MOON * r / norm(r)[:, None] ** 3


def rk4_step(r, v, m, thrust, exhaust, dt):
    """One classical Runge-Kutta step of the point-mass dynamics, the thrust vector (n, 3) held over the step."""

    def derivatives(r, v, m):
        return v, gravity(r) + thrust / m[:, None], -norm(thrust) / exhaust

    k1 = derivatives(r, v, m)
    k2 = derivatives(r + dt / 2 * k1[0], v + dt / 2 * k1[1], m + dt / 2 * k1[2])
    k3 = derivatives(r + dt / 2 * k2[0], v + dt / 2 * k2[1], m + dt / 2 * k2[2])
    k4 = derivatives(r + dt * k3[0], v + dt * k3[1], m + dt * k3[2])
    return tuple(y + dt / 6 * (a + 2 * b + 2 * c + e) for y, a, b, c, e in zip((r, v, m), k1, k2, k3, k4))


def landing(params, x, d, mass0, dry) -> dict[str, np.ndarray]:
    """Powered descent from PDI to touchdown (:func:`campaign.models.landing.simulate`) of landers of mass
    ``mass0`` (kg) at PDI and dry mass ``dry`` (kg; arrays (n,)); ``d`` the model's own draws (see
    :func:`tests.oracles.mission.draw_shapes`). Returns the landing's outputs (same names and units)."""
    p, x = section_params(params, "landing"), section_params(x, "landing")
    c = _constants(p, x)
    terrain = _target_terrain(p, x, d, mass0.shape[0])
    flight = _descend(params, p, x, d, c, terrain, mass0, dry)
    out = _touchdown(p, d, c, terrain, flight, dry, len(params["landing.step_index"]))
    return out | rules.record_fault(p, x, out["outcome"], d["landing.unmodelled_fault"], np)


def _constants(p, x) -> dict:
    """What the descent of every lander uses: step (s), exhaust speed (m/s), thrust bounds (N), the legs' end
    times (s), the local vertical and the target's position (m)."""
    up = np.array([0.0, 0.0, 1.0])
    t_gate = p["braking_time_s"]
    return {
        "dt": p["step_s"],
        "exhaust": p["isp_s"] * (1 + x["isp_dispersion_frac"]) * landmod.G0,
        "thrust_max": p["engines"] * p["engine_thrust_n"] * x["thrust_factor"],
        "thrust_min": p["throttle_min"] * p["engine_thrust_n"] * x["thrust_factor"],  # one engine at its lowest
        "t_gate": t_gate,
        "t_end": t_gate + p["terminal_time_s"],
        "up": up,
        "target": landmod.R_MOON * up,
    }


def _target_terrain(p, x, d, n) -> dict:
    """Terrain at the target, which hazard detection may find unsafe at the gate and divert from: the target's
    slope quantile and rock, whether the lander diverts, how far (m) and to where (m, (n, 3))."""
    u = lambda name: d[f"landing.{name}"]  # noqa: E731
    safe_quantile = special.ndtr(np.log(p["max_slope_deg"] / p["slope_median_deg"]) / max(p["slope_sigma_log"], 1e-9))
    target_quantile = u("slope_quantile_target")
    target_rock = u("rock_target") < p["rock_hazard_prob"]
    unsafe_target = target_rock | (target_quantile > safe_quantile)
    diverted = unsafe_target & (u("hazard_detected") < x["hazard_detection_prob"])
    divert_angle = 2 * np.pi * u("divert_direction")
    divert_distance = np.where(diverted, p["hazard_divert_max_m"] * np.sqrt(u("divert_distance")), 0.0)
    divert = divert_distance[:, None] * np.stack([np.cos(divert_angle), np.sin(divert_angle), np.zeros(n)], axis=1)
    return {
        "safe_quantile": safe_quantile,
        "target_quantile": target_quantile,
        "target_rock": target_rock,
        "diverted": diverted,
        "divert_distance": divert_distance,
        "divert": divert,
    }


def _guidance_accel(p, c, t, r_est, v_est, aim):
    """Commanded acceleration (m/s2, (n, 3)) at time ``t`` on the navigated state: ZEM/ZEV to the gate, then to
    the aim point; past the planned end, hold the touchdown rate and null the horizontal velocity (gain
    ``hold_gain_per_s``)."""
    up = c["up"]
    if t >= c["t_end"]:
        return -gravity(r_est) + p["hold_gain_per_s"] * (-p["touchdown_speed_mps"] * up - v_est)
    leg1 = t < c["t_gate"]
    r_f = c["target"] + p["gate_altitude_m"] * up if leg1 else aim
    v_f = -(p["gate_descent_rate_mps"] if leg1 else p["touchdown_speed_mps"]) * up
    tgo = max(c["t_gate"] - t if leg1 else c["t_end"] - t, 2.0 * c["dt"])
    g = gravity(r_est)
    zem = r_f - (r_est + v_est * tgo + 0.5 * g * tgo**2)
    zev = v_f - (v_est + g * tgo)
    return 6.0 * zem / tgo**2 - 2.0 * zev / tgo


def _thrust(p, x, c, accel, m, dry, out, misalign_axis):
    """Thrust vector (N, (n, 3)) and throttle (1) for the commanded ``accel``: clipped between one engine at its
    lowest throttle and the engines still working, none once the propellant is gone, tilted by the
    misalignment (and ``engine_out_tilt_deg`` more after an engine-out)."""
    thrust_max = c["thrust_max"]
    available = np.where(out, thrust_max * (p["engines"] - 1) / p["engines"], thrust_max)
    available = np.where(m > dry, available, 0.0)
    accel_norm = norm(accel)
    thrust = np.minimum(np.maximum(accel_norm * m, c["thrust_min"]), available)
    thrust = np.where(available > 0, thrust, 0.0)
    direction = accel / np.maximum(accel_norm, 1e-12)[:, None]
    tilt = np.radians(x["misalignment_deg"]) + np.where(out, np.radians(p["engine_out_tilt_deg"]), 0.0)
    direction = direction + tilt[:, None] * misalign_axis
    direction = direction / norm(direction)[:, None]
    return thrust[:, None] * direction, thrust / np.maximum(thrust_max, 1e-9)


def _navigate(p, x, d, c, k, t, new_r, nav_r, nav_v, bias, alt_fault):
    """The navigation error (m, m/s) after step ``k``: drift with the accelerometer bias, then fixes from
    feature matching (a fresh error, growing with altitude; the velocity error cut to ``fm_velocity_error_kept``
    of itself) and the altimeter (vertical only)."""
    dt, fm_interval = c["dt"], p["fm_interval_s"]
    h = norm(new_r) - landmod.R_MOON
    local_up = new_r / norm(new_r)[:, None]
    nav_v = nav_v + bias * dt
    nav_r = nav_r + nav_v * dt
    fix = int(np.floor((t + dt) / fm_interval))  # a fix when a new period begins within the step
    fm_fix = (p["map_relative_nav"] > 0.5) & (h < p["fm_max_altitude_m"]) & (np.floor(t / fm_interval) != fix)
    fix_normals = d["landing.feature_matching"][:, min(fix, d["landing.feature_matching"].shape[1] - 1)]
    fresh = (x["fm_error_floor_m"] + p["fm_error_per_altitude"] * h)[:, None] * fix_normals
    nav_r = np.where(fm_fix[:, None], fresh, nav_r)
    nav_v = np.where(fm_fix[:, None], p["fm_velocity_error_kept"] * nav_v, nav_v)
    measured = h < p["altimeter_max_altitude_m"]
    vertical_error = p["altimeter_error_frac"] * h * d["landing.altimeter"][:, k] + np.where(
        alt_fault, x["altimeter_fault_bias_m"], 0.0
    )
    nav_r = np.where(measured[:, None], nav_r + (vertical_error - dot(nav_r, local_up))[:, None] * local_up, nav_r)
    return nav_r, nav_v


def _descend(params, p, x, d, c, terrain, mass0, dry) -> dict:
    """The descent's time loop from PDI: the true state (m, m/s, kg) at the end of the window, the interpolated
    state, time (s) and thrust (N) at touchdown of those that landed, the largest throttle, and the random
    events (engine-out and its time, altimeter fault)."""
    u = lambda name: d[f"landing.{name}"]  # noqa: E731
    n, dt, up, R = mass0.shape[0], c["dt"], c["up"], landmod.R_MOON
    phase = 2 * np.pi * u("misalign")
    misalign_axis = np.cross(up, np.stack([np.cos(phase), np.sin(phase), np.zeros(n)], axis=1))
    engine_out = u("engine_out") < x["engine_out_prob"]
    t_engine_out = u("engine_out_time") * c["t_end"]
    alt_fault = u("altimeter_fault") < x["altimeter_fault_prob"]
    nav_r = x["od_position_error_m"][:, None] * u("od_position")
    bias = x["accel_bias_mps2"][:, None] * u("accel_bias")
    aim = c["target"] + terrain["divert"] + p["final_hold_altitude_m"] * up

    # PDI: pdi_downrange_m of arc behind the target, horizontal velocity towards it.
    angle = p["pdi_downrange_m"] / R
    r = np.tile((R + p["pdi_altitude_m"]) * np.array([-np.sin(angle), 0.0, np.cos(angle)]), (n, 1))
    v = np.tile(p["pdi_speed_mps"] * np.array([np.cos(angle), 0.0, np.sin(angle)]), (n, 1))
    m = mass0
    nav_v = np.zeros((n, 3))
    landed = np.zeros(n, bool)
    td_r, td_v, td_m, td_t, td_thrust = r, v, m, np.zeros(n), np.zeros((n, 3))
    max_throttle = np.zeros(n)

    for k in range(len(params["landing.step_index"])):
        t = k * dt
        accel = _guidance_accel(p, c, t, r + nav_r, v + nav_v, aim)
        thrust_vector, throttle = _thrust(p, x, c, accel, m, dry, engine_out & (t >= t_engine_out), misalign_axis)
        new_r, new_v, new_m = rk4_step(r, v, m, thrust_vector, c["exhaust"], dt)
        new_m = np.maximum(new_m, dry)
        nav_r, nav_v = _navigate(p, x, d, c, k, t, new_r, nav_r, nav_v, bias, alt_fault)

        # Touchdown: the first step that ends at or below the ground, interpolated inside the step.
        h = norm(new_r) - R
        old_h = norm(r) - R
        crosses = ~landed & (h <= 0.0)
        frac = np.clip(old_h / np.maximum(old_h - h, 1e-9), 0.0, 1.0)
        c3, f3 = crosses[:, None], frac[:, None]
        td_r = np.where(c3, r + f3 * (new_r - r), td_r)
        td_v = np.where(c3, v + f3 * (new_v - v), td_v)
        td_m = np.where(crosses, m + frac * (new_m - m), td_m)
        td_t = np.where(crosses, t + frac * dt, td_t)
        td_thrust = np.where(c3, thrust_vector, td_thrust)
        flying = ~(landed & ~crosses)
        max_throttle = np.where(flying, np.maximum(max_throttle, throttle), max_throttle)
        landed = landed | crosses
        r, v, m = np.where(landed[:, None], r, new_r), np.where(landed[:, None], v, new_v), np.where(landed, m, new_m)
    return {
        "r": r,
        "m": m,
        "landed": landed,
        "td_r": td_r,
        "td_v": td_v,
        "td_m": td_m,
        "td_t": td_t,
        "td_thrust": td_thrust,
        "max_throttle": max_throttle,
        "engine_out": engine_out,
        "t_engine_out": t_engine_out,
        "alt_fault": alt_fault,
    }


def _touchdown_state(p, c, flight, dry, steps):
    """Position (m), velocity (m/s), mass (kg), time (s) and thrust vector (N) at touchdown: interpolated in the
    step that reached the ground; for a lander still airborne when the simulated window closes, it hovers down
    at the touchdown rate on what propellant is left, and falls the rest of the way if that runs out first."""
    R, G_MOON, exhaust = landmod.R_MOON, landmod.G_MOON, c["exhaust"]
    r, m, landed = flight["r"], flight["m"], flight["landed"]
    speed = p["touchdown_speed_mps"]
    h_end = norm(r) - R
    hover_s = (m - dry) * exhaust / (G_MOON * dry)
    fall_m = np.maximum(h_end - hover_s * speed, 0.0)
    falls = fall_m > 0
    fall_speed = np.sqrt(speed**2 + 2 * G_MOON * fall_m)
    airborne_up = r / norm(r)[:, None]
    l3 = landed[:, None]
    r_td = np.where(l3, flight["td_r"], R * airborne_up)
    v_td = np.where(l3, flight["td_v"], -np.where(falls, fall_speed, speed)[:, None] * airborne_up)
    m_td = np.where(landed, flight["td_m"], np.where(falls, dry, m - h_end / speed * G_MOON * dry / exhaust))
    t_td = np.where(landed, flight["td_t"], steps * c["dt"] + np.where(falls, hover_s, h_end / speed))
    thrust_td = np.where(l3, flight["td_thrust"], np.where(falls, 0.0, 1.0)[:, None] * airborne_up)
    return r_td, v_td, m_td, t_td, thrust_td


def _landed_terrain(p, d, terrain, downrange, crossrange):
    """Slope (deg) and rock at the touchdown point: a safe spot where hazard avoidance diverted and the lander
    reached it; the target's own terrain if it landed on the (undiverted) target; otherwise a fresh draw of the
    site's terrain."""
    u = lambda name: d[f"landing.{name}"]  # noqa: E731
    diverted, divert = terrain["diverted"], terrain["divert"]
    on_aim = np.hypot(downrange - divert[:, 0], crossrange - divert[:, 1]) < p["footpad_radius_m"] * 2
    quantile = np.where(
        diverted,
        u("slope_quantile_safe") * terrain["safe_quantile"],
        np.where(on_aim, terrain["target_quantile"], u("slope_quantile_landed")),
    )
    quantile = np.where(diverted & ~on_aim, u("slope_quantile_landed"), quantile)
    slope = p["slope_median_deg"] * np.exp(p["slope_sigma_log"] * special.ndtri(np.clip(quantile, 1e-12, 1 - 1e-12)))
    rock = np.where(on_aim, np.where(diverted, False, terrain["target_rock"]), u("rock_landed") < p["rock_hazard_prob"])
    return slope, rock


def _touchdown(p, d, c, terrain, flight, dry, steps) -> dict[str, np.ndarray]:
    """The landing's outputs from the descent's ``flight`` (:func:`_descend`)."""
    r_td, v_td, m_td, t_td, thrust_td = _touchdown_state(p, c, flight, dry, steps)
    local_up = r_td / norm(r_td)[:, None]
    v_vertical = -dot(v_td, local_up)
    v_horizontal = norm(v_td + v_vertical[:, None] * local_up)
    ground = landmod.R_MOON * local_up - c["target"]
    downrange, crossrange = ground[:, 0], ground[:, 1]
    propellant_left = m_td - dry
    thrust_norm = norm(thrust_td)
    tilt_deg = np.degrees(np.arccos(np.clip(dot(thrust_td, local_up) / np.maximum(thrust_norm, 1e-9), -1.0, 1.0)))
    tilt_deg = np.where(thrust_norm > 0, tilt_deg, 0.0)
    slope, rock = _landed_terrain(p, d, terrain, downrange, crossrange)
    outcome = rules.touchdown_outcome(p, slope, rock, v_vertical, v_horizontal, propellant_left, landmod.G_MOON, np)
    return {
        "outcome": outcome,
        "landing_ok": outcome == Outcome.SUCCESS,
        "landing_downrange_m": downrange,
        "landing_crossrange_m": crossrange,
        "miss_distance_m": np.hypot(downrange, crossrange),
        "touchdown_vertical_speed_mps": v_vertical,
        "touchdown_horizontal_speed_mps": v_horizontal,
        "attitude_deg": tilt_deg + slope,
        "propellant_left_kg": np.maximum(propellant_left, 0.0),
        "slope_deg": slope,
        "rock_hazard": rock,
        "diverted": terrain["diverted"],
        "divert_distance_m": terrain["divert_distance"],
        "engine_out": flight["engine_out"] & (flight["t_engine_out"] < t_td),
        "altimeter_fault": flight["alt_fault"],
        "descent_time_s": t_td,
        "max_throttle": flight["max_throttle"],
    }
