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
    times (s: braking, hover, approach), the local vertical and the target's position (m)."""
    up = np.array([0.0, 0.0, 1.0])
    t_gate = p["braking_time_s"]
    return {
        "dt": p["step_s"],
        "exhaust": p["isp_s"] * (1 + x["isp_dispersion_frac"]) * landmod.G0,
        "thrust_max": p["engines"] * p["engine_thrust_n"] * x["thrust_factor"],
        "thrust_min": p["throttle_min"] * p["engine_thrust_n"] * x["thrust_factor"],  # one engine at its lowest
        "t_gate": t_gate,
        "t_hover": t_gate + p["hover_time_s"],
        "t_end": t_gate + p["hover_time_s"] + p["terminal_time_s"],
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
    """Commanded acceleration (m/s2, (n, 3)) at time ``t`` on the navigated state: ZEM/ZEV to the gate, a hover
    there (ZEM/ZEV to the gate at rest with the constant time to go ``hover_horizon_s``), then to the aim point,
    the time to go never below ``min_time_to_go_s``; past the planned end, hold the touchdown rate and null the
    horizontal velocity (gain ``hold_gain_per_s``)."""
    up = c["up"]
    if t >= c["t_end"]:
        return -gravity(r_est) + p["hold_gain_per_s"] * (-p["touchdown_speed_mps"] * up - v_est)
    gate = c["target"] + p["gate_altitude_m"] * up
    if t < c["t_gate"]:
        r_f, v_f, tgo = gate, -p["gate_descent_rate_mps"] * up, c["t_gate"] - t
    elif t < c["t_hover"]:
        r_f, v_f, tgo = gate, 0.0 * up, p["hover_horizon_s"]
    else:
        r_f, v_f, tgo = aim, -p["touchdown_speed_mps"] * up, c["t_end"] - t
    tgo = max(tgo, p["min_time_to_go_s"], 2.0 * c["dt"])
    g = gravity(r_est)
    zem = r_f - (r_est + v_est * tgo + 0.5 * g * tgo**2)
    zev = v_f - (v_est + g * tgo)
    return 6.0 * zem / tgo**2 - 2.0 * zev / tgo


def _command(p, c, accel, m, dry, out):
    """Commanded thrust (N, (n,)) and direction (unit, (n, 3)) for ``accel``, with the thrust bounds (N): the
    magnitude clipped between one engine at its lowest throttle and the engines still working, none once the
    propellant is gone."""
    thrust_max = c["thrust_max"]
    available = np.where(out, thrust_max * (p["engines"] - 1) / p["engines"], thrust_max)
    available = np.where(m > dry, available, 0.0)
    floor = np.where(available > 0, c["thrust_min"], 0.0)
    accel_norm = norm(accel)
    thrust = np.minimum(np.maximum(accel_norm * m, floor), available)
    return thrust, accel / np.maximum(accel_norm, 1e-12)[:, None], floor, available


def _thrust(p, x, c, accel, m, dry, out, misalign_axis, actuator):
    """Thrust vector (N, (n, 3)) and throttle (1) over the step for the commanded ``accel``, and the actuator
    (thrust in N, direction) at the step's end from ``actuator`` at its start: the direction slews towards the
    command (``slew_rate_deg_s``); the thrust follows the command's share along it with the engines' lag and
    rate limit (its mean over the step applied), kept within the bounds; then the misalignment tilts it (and
    ``engine_out_tilt_deg`` more after an engine-out)."""
    thrust_n, direction = actuator
    wanted, wanted_direction, floor, available = _command(p, c, accel, m, dry, out)
    direction = rules.slew_towards(direction, wanted_direction, np.radians(p["slew_rate_deg_s"]) * c["dt"], np)
    along = np.where(np.all(direction == wanted_direction, axis=1), 1.0, dot(direction, wanted_direction))
    wanted = np.minimum(np.maximum(wanted * along, floor), available)
    end, mean = rules.throttle_response(
        thrust_n, wanted, p["throttle_time_constant_s"], p["throttle_rate_per_s"] * c["thrust_max"], c["dt"], np
    )
    end, mean = np.minimum(np.maximum(end, floor), available), np.minimum(np.maximum(mean, floor), available)
    tilt = np.radians(x["misalignment_deg"]) + np.where(out, np.radians(p["engine_out_tilt_deg"]), 0.0)
    tilted = direction + tilt[:, None] * misalign_axis
    tilted = tilted / norm(tilted)[:, None]
    return mean[:, None] * tilted, mean / np.maximum(c["thrust_max"], 1e-9), (end, direction)


# The filter's state per lander and axis: (position, velocity, accelerometer-bias) errors, shape (n, 3 axes, 3),
# and its full covariance (n, 3 axes, 3, 3), in textbook matrix form (the model keeps six unique elements).
POSITION, VELOCITY = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])


def _relief(params, p, d, n) -> tuple:
    """Each lander's terrain relief: the spectrum ``prepare`` computed, a direction and a phase per wave."""
    amplitude = params["landing.relief_amplitude_m"] * (1.0 if p["terrain_relief"] else 0.0)
    return rules.relief_waves(
        np.asarray(amplitude), np.asarray(params["landing.relief_wavelength_m"]), d["landing.relief"], np
    )


def _terrain(relief, r):
    """Terrain height (m) under Moon-centred positions ``r`` (n, 3): the relief at the nadir point."""
    ground = landmod.R_MOON * r / norm(r)[:, None]
    return rules.terrain_height_m(ground[:, 0], ground[:, 1], *relief, np)


def _update(e, P, h, innovation, variance, mask):
    """Scalar Kalman update of each lander's and axis's filter measuring ``h . state`` (``h`` (3,)) with
    ``innovation`` (n, 3) and error variance ``variance`` (n, 1) or scalar, where ``mask`` (n, 3) holds."""
    Ph = P @ h  # (n, 3, 3)
    S = np.maximum(Ph @ h + variance, 1e-30)
    K = np.where(mask[..., None], Ph / S[..., None], 0.0)
    e = e + K * innovation[..., None]
    P = P - np.einsum("nai,j,najk->naik", K, h, P)
    return e, P


def _navigate(p, x, d, c, k, t, new_r, e, P, bias_v, alt_fault, relief):
    """The navigation filter after step ``k`` (:func:`campaign.models.landing.navigation`): propagation with the
    IMU's noise and the bias error, then feature matching (position), the velocimeter (velocity) and the
    altimeter (the z axis, measuring along the true local vertical, over the relief)."""
    dt, fm_interval, n = c["dt"], p["fm_interval_s"], new_r.shape[0]
    h = norm(new_r) - landmod.R_MOON
    local_up = new_r / norm(new_r)[:, None]
    vrw = p["imu_velocity_random_walk_mps_per_sqrt_s"]
    F = np.array([[1.0, dt, -(dt**2) / 2], [0.0, 1.0, -dt], [0.0, 0.0, 1.0]])
    G = np.array([dt**2 / 2, dt, 0.0])
    w = vrw / np.sqrt(dt) * d["landing.imu"][:, k]  # (n, 3)
    e = e @ F.T + w[..., None] * G
    P = F @ P @ F.T + vrw**2 / dt * np.outer(G, G)
    ones = np.ones((n, 3), bool)

    fix = int(np.floor((t + dt) / fm_interval))  # a fix when a new period begins within the step
    fm_fix = (p["map_relative_nav"] > 0.5) & (h < p["fm_max_altitude_m"]) & (np.floor(t / fm_interval) != fix)
    fm_sigma = x["fm_error_floor_m"] + p["fm_error_per_altitude"] * h
    fm_error = (
        fm_sigma[:, None] * d["landing.feature_matching"][:, min(fix, d["landing.feature_matching"].shape[1] - 1)]
    )
    e, P = _update(e, P, POSITION, fm_error - e[..., 0], (fm_sigma**2)[:, None], ones & fm_fix[:, None])

    vm_sigma = p["velocimeter_noise_mps"]
    on = (p["velocimeter"] > 0.5) & (h < p["velocimeter_max_altitude_m"])
    vm_error = bias_v + vm_sigma * d["landing.velocimeter"][:, k]
    e, P = _update(e, P, VELOCITY, vm_error - e[..., 1], vm_sigma**2, ones & on[:, None])

    h_terrain = _terrain(relief, new_r)
    noise = (p["altimeter_error_frac"] * (h - h_terrain)) ** 2 + p["altimeter_error_floor_m"] ** 2
    ground = landmod.R_MOON * local_up
    distance = np.maximum(np.hypot(ground[:, 0], ground[:, 1]), 1e-3)
    relief_var = np.minimum(
        np.tan(np.radians(p["slope_median_deg"])) ** 2 * distance ** (2 * p["relief_hurst"]), np.sum(relief[0] ** 2, -1)
    )
    alt_error = (
        -h_terrain
        + np.sqrt(noise) * d["landing.altimeter"][:, k]
        + np.where(alt_fault, x["altimeter_fault_bias_m"], 0.0)
    )
    innovation = np.repeat((alt_error - dot(e[..., 0], local_up))[:, None], 3, axis=1)
    z_only = np.broadcast_to(np.array([False, False, True]), (n, 3)) & (h < p["altimeter_max_altitude_m"])[:, None]
    return _update(e, P, POSITION, innovation, (noise + relief_var)[:, None], z_only)


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
    relief = _relief(params, p, d, n)
    # The filter at PDI: the OD error and its variance, no velocity error, the bias unestimated (its prior).
    e = np.stack(
        [
            x["od_position_error_m"][:, None] * u("od_position"),
            np.zeros((n, 3)),
            -x["accel_bias_mps2"][:, None] * u("accel_bias"),
        ],
        axis=-1,
    )
    P = np.zeros((n, 3, 3, 3))
    P[..., 0, 0] = (x["od_position_error_m"] ** 2)[:, None]
    P[..., 2, 2] = p["filter_accel_bias_sigma_mps2"] ** 2
    bias_v = x["velocimeter_bias_mps"][:, None] * u("velocimeter_bias")
    aim = c["target"] + terrain["divert"] + p["final_hold_altitude_m"] * up

    # PDI: pdi_downrange_m of arc behind the target, horizontal velocity towards it.
    angle = p["pdi_downrange_m"] / R
    r = np.tile((R + p["pdi_altitude_m"]) * np.array([-np.sin(angle), 0.0, np.cos(angle)]), (n, 1))
    v = np.tile(p["pdi_speed_mps"] * np.array([np.cos(angle), 0.0, np.sin(angle)]), (n, 1))
    m = mass0
    landed = np.zeros(n, bool)
    td_r, td_v, td_m, td_t, td_thrust = r, v, m, np.zeros(n), np.zeros((n, 3))
    max_throttle = np.zeros(n)
    # The engines ignite pointed and throttled as guidance first commands.
    first = _command(p, c, _guidance_accel(p, c, 0.0, r + e[..., 0], v, aim), m, dry, engine_out & (t_engine_out <= 0))
    actuator = first[:2]

    for k in range(len(params["landing.step_index"])):
        t = k * dt
        accel = _guidance_accel(p, c, t, r + e[..., 0], v + e[..., 1], aim)
        out = engine_out & (t >= t_engine_out)
        thrust_vector, throttle, actuator = _thrust(p, x, c, accel, m, dry, out, misalign_axis, actuator)
        new_r, new_v, new_m = rk4_step(r, v, m, thrust_vector, c["exhaust"], dt)
        new_m = np.maximum(new_m, dry)
        e, P = _navigate(p, x, d, c, k, t, new_r, e, P, bias_v, alt_fault, relief)

        # Touchdown: the first step that ends at or below the terrain, interpolated inside the step.
        h = norm(new_r) - R - _terrain(relief, new_r)
        old_h = norm(r) - R - _terrain(relief, r)
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
    # Where the lander leans (its thrust's horizontal part) from its horizontal velocity, counter-clockwise.
    heading = v_td - dot(v_td, local_up)[:, None] * local_up
    lean = thrust_td - dot(thrust_td, local_up)[:, None] * local_up
    lean_azimuth = np.arctan2(dot(np.cross(heading, lean), local_up), dot(heading, lean))
    outcome = rules.touchdown_outcome(
        p,
        slope,
        rock,
        v_vertical,
        v_horizontal,
        2 * np.pi * d["landing.slope_azimuth"],
        tilt_deg,
        lean_azimuth,
        propellant_left,
        landmod.G_MOON,
        np,
    )
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
