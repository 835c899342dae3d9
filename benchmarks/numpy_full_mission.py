"""The whole mission (launch -> transfer -> landing -> deployment -> surface) in plain NumPy, vectorised over
missions, one time step after another.

The same physics and rules as :mod:`campaign.models.mission` and the models it chains (launch, landing,
deployment, surface: power/thermal, mobility, drilling, water science under the operations planner), written the
way an analyst would write it for a peer tool: arrays of shape (n,) per quantity, the powered descent's
Runge-Kutta steps and the surface mission's hourly steps in Python loops, every decision a boolean mask. The
night-survival pieces are reused: the environment of :mod:`benchmarks.numpy_mission` (its site table and
interpolation), its power/thermal bookkeeping around :func:`campaign.reference.step`, and the host-side tables
of the models' ``prepare`` hooks (``params``).

Interface (for the benchmark's peers, like :mod:`benchmarks.numpy_mission`):

* ``draws(rng, params, n)``: every random number the JAX model draws inside itself from a mission's key (launch
  ascent and engine, the descent's events and navigation errors per step, the deployment, the surface plan's
  ground truth, drilling and measurement per (site, attempt) slot, mobility hazards, component failure and
  fatigue), drawn with NumPy from the same distributions: uniforms on (0, 1), standard normals. Arrays of shape
  (n, ...) named in :func:`draw_shapes`.
* ``simulate(params, inputs, draws)``: the outputs of :func:`campaign.models.mission.simulate` (same names,
  units and dtypes). ``params`` maps ``"<section>.<param>"`` to the design values and the ``prepare`` arrays
  (``dict(spec.params)``), ``inputs`` each sampled input's name to an array of shape (n,) (or a scalar: one
  mission), ``draws`` as ``draws`` returns them (for one mission the leading axis may be left out).

As in the JAX model, every phase runs for every mission; outputs of a phase never reached are returned as
computed (the engine writes them as null through the outputs' ``valid_when``), and its flags are false.

Only NumPy and SciPy run here (JAX is imported by the campaign modules but never used), so forked worker
processes are safe.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import special

from benchmarks import numpy_mission as nm
from campaign.models import landing as landmod
from campaign.models import mission as missionmod
from campaign.models import power_thermal as pt
from campaign.models._spec import Kind, section_params
from campaign.models.launch import G0_MPS2
from campaign.models.mobility import ENTRAPPED, WHEEL_FAILED
from campaign.models.outcomes import Outcome
from campaign.models.surface import ANALYSE, DRILL, DRIVE, HIBERNATE, IDLE

UNIFORM, NORMAL = "uniform", "normal"


def draw_shapes(params: Mapping[str, object]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``name -> (distribution, shape of one mission's draws)`` of every draw the model makes inside itself."""
    steps, fixes = len(params["landing.step_index"]), len(params["landing.fix_index"])
    sites = len(params["plan.legs_km"]) - 1
    slots = sites * len(params["plan.attempt_slots"])  # slot = site * attempts + attempt
    one = lambda kind: (kind, ())  # noqa: E731
    return {
        "launch.ascent": one(UNIFORM), "launch.engine": one(UNIFORM),
        **{f"landing.{name}": one(UNIFORM) for name in (
            "misalign", "engine_out", "engine_out_time", "altimeter_fault", "slope_quantile_target", "rock_target",
            "hazard_detected", "divert_direction", "divert_distance", "slope_quantile_safe", "slope_quantile_landed",
            "rock_landed")},
        "landing.od_position": (NORMAL, (3,)), "landing.accel_bias": (NORMAL, (3,)),
        "landing.feature_matching": (NORMAL, (fixes, 3)), "landing.altimeter": (NORMAL, (steps,)),
        "deployment.lowering": one(UNIFORM),
        "science.wet": (UNIFORM, (sites,)), "science.dry_layer": (UNIFORM, (sites,)),
        "science.content": (NORMAL, (sites,)),
        "drill.rock": (UNIFORM, (slots,)), "drill.jam": (UNIFORM, (slots,)), "drill.lose": (UNIFORM, (slots,)),
        "science.measure": (NORMAL, (slots,)),
        "mobility.entrapment": one(UNIFORM), "mobility.wheel": one(UNIFORM),
        "reliability.component": one(UNIFORM), "reliability.fatigue": one(NORMAL),
    }


def draws(rng: np.random.Generator, params: Mapping[str, object], n: int) -> dict[str, np.ndarray]:
    """The model's own random draws for ``n`` missions (see :func:`draw_shapes`)."""
    eps = np.finfo(np.float64).eps
    out = {}
    for name, (kind, shape) in draw_shapes(params).items():
        if kind == UNIFORM:
            out[name] = np.clip(rng.random((n, *shape)), eps / 2, 1 - eps / 2)
        else:
            out[name] = rng.standard_normal((n, *shape))
    return out


def first_failure(checks) -> np.ndarray:
    """The outcome code of the first true condition of ``checks`` (``(condition, code)`` in flight order)."""
    outcome = np.int16(Outcome.SUCCESS)
    for condition, code in reversed(checks):
        outcome = np.where(condition, np.int16(code), outcome)
    return outcome.astype(np.int16)


def norm(a: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a, axis=-1)


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1)


# ----------------------------------------------------------------------------------------------- launch
def launch(params, x, d) -> dict[str, np.ndarray]:
    """Launch and transfer to PDI (:func:`campaign.models.launch.simulate`)."""
    p, x = section_params(params, "launch"), section_params(x, "launch")
    launch_ok = d["launch.ascent"] < x["ascent_reliability"]
    injection_error = np.sqrt(x["injection_error_radial_mps"] ** 2 + x["injection_error_along_mps"] ** 2
                              + x["injection_error_cross_mps"] ** 2)
    tcm_dv = p["tcm_gain"] * injection_error + x["tcm_cleanup_dv_mps"]
    loi_dv = np.maximum(p["loi_dv_mps"] + x["loi_dv_dispersion_mps"], 0.0)
    doi_dv = p["doi_dv_mps"]
    isp = p["isp_s"] * (1.0 + x["isp_dispersion_frac"])
    burned = lambda mass, dv: mass * -np.expm1(-dv / (isp * G0_MPS2))  # noqa: E731  (ideal rocket equation)

    dry = p["dry_mass_kg"] * (1.0 + x["dry_mass_growth_frac"])
    propellant = p["propellant_load_kg"] + x["propellant_load_error_kg"]
    floor_mass = dry + p["unusable_propellant_frac"] * propellant
    m0 = dry + propellant
    m_tcm = m0 - burned(m0, tcm_dv)
    m_loi = m_tcm - burned(m_tcm, loi_dv)
    m_pdi = m_loi - burned(m_loi, doi_dv)

    # Good engine starts before the first failure: geometric, by inverse CDF from one uniform.
    log_survive = np.log1p(-x["engine_failure_prob_per_burn"])
    good_starts = np.where(log_survive < 0, np.floor(np.log(d["launch.engine"])
                                                     / np.where(log_survive < 0, log_survive, -1.0)), np.inf)
    n_tcm, n_doi = p["tcm_burns"], p["doi_burns"]
    descent_propellant = burned(m_pdi, p["powered_descent_dv_mps"])
    margin = m_pdi - floor_mass - descent_propellant
    outcome = first_failure([
        (~launch_ok, Outcome.LAUNCH_VEHICLE_FAILURE),
        (good_starts < n_tcm, Outcome.ENGINE_FAILURE_TCM), (m_tcm < floor_mass, Outcome.PROPELLANT_DEPLETED_BEFORE_PDI),
        (good_starts < n_tcm + 1, Outcome.ENGINE_FAILURE_LOI),
        (m_loi < floor_mass, Outcome.PROPELLANT_DEPLETED_BEFORE_PDI),
        (good_starts < n_tcm + 1 + n_doi, Outcome.ENGINE_FAILURE_DOI),
        (m_pdi < floor_mass, Outcome.PROPELLANT_DEPLETED_BEFORE_PDI),
        (margin < 0, Outcome.PROPELLANT_SHORT_FOR_DESCENT),
    ])
    return {
        "outcome": outcome,
        "launch_ok": launch_ok,
        "reached_pdi": launch_ok & ((outcome == Outcome.SUCCESS) | (outcome == Outcome.PROPELLANT_SHORT_FOR_DESCENT)),
        "transfer_ok": outcome == Outcome.SUCCESS,
        "injection_error_mps": injection_error,
        "tcm_dv_mps": tcm_dv,
        "loi_dv_mps": loi_dv,
        "dv_to_pdi_mps": tcm_dv + loi_dv + doi_dv,
        "burns_completed": np.minimum(good_starts, n_tcm + 1 + n_doi),
        "mass_at_pdi_kg": m_pdi,
        "propellant_at_pdi_kg": m_pdi - dry,
        "descent_propellant_kg": descent_propellant,
        "propellant_margin_kg": margin,
    }


# ----------------------------------------------------------------------------------------------- landing
def gravity(r: np.ndarray) -> np.ndarray:
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
    ``mass0`` at PDI and dry mass ``dry`` (arrays (n,))."""
    p, x = section_params(params, "landing"), section_params(x, "landing")
    u = lambda name: d[f"landing.{name}"]  # noqa: E731
    n = mass0.shape[0]
    R, G_MOON = landmod.R_MOON, landmod.G_MOON
    dt = p["step_s"]
    exhaust = p["isp_s"] * (1 + x["isp_dispersion_frac"]) * landmod.G0
    thrust_max = p["engines"] * p["engine_thrust_n"] * x["thrust_factor"]
    thrust_min = p["throttle_min"] * p["engine_thrust_n"] * x["thrust_factor"]  # one engine at its lowest throttle
    t_gate = p["braking_time_s"]
    t_end = t_gate + p["terminal_time_s"]
    up = np.array([0.0, 0.0, 1.0])
    target = R * up

    # Random events and error vectors of this mission.
    phase = 2 * np.pi * u("misalign")
    misalign_axis = np.cross(up, np.stack([np.cos(phase), np.sin(phase), np.zeros(n)], axis=1))
    engine_out = u("engine_out") < x["engine_out_prob"]
    t_engine_out = u("engine_out_time") * t_end
    alt_fault = u("altimeter_fault") < x["altimeter_fault_prob"]
    nav_r = x["od_position_error_m"][:, None] * u("od_position")
    bias = x["accel_bias_mps2"][:, None] * u("accel_bias")

    # Terrain at the target, which hazard detection may find unsafe at the gate and divert from.
    safe_quantile = special.ndtr(np.log(p["max_slope_deg"] / p["slope_median_deg"])
                                 / max(p["slope_sigma_log"], 1e-9))
    target_quantile = u("slope_quantile_target")
    target_rock = u("rock_target") < p["rock_hazard_prob"]
    unsafe_target = target_rock | (target_quantile > safe_quantile)
    diverted = unsafe_target & (u("hazard_detected") < x["hazard_detection_prob"])
    divert_angle = 2 * np.pi * u("divert_direction")
    divert_distance = np.where(diverted, p["hazard_divert_max_m"] * np.sqrt(u("divert_distance")), 0.0)
    divert = divert_distance[:, None] * np.stack([np.cos(divert_angle), np.sin(divert_angle), np.zeros(n)], axis=1)
    gate = target + p["gate_altitude_m"] * up
    aim = target + divert + p["final_hold_altitude_m"] * up

    # PDI: pdi_downrange_m of arc behind the target, horizontal velocity towards it.
    angle = p["pdi_downrange_m"] / R
    r = np.tile((R + p["pdi_altitude_m"]) * np.array([-np.sin(angle), 0.0, np.cos(angle)]), (n, 1))
    v = np.tile(p["pdi_speed_mps"] * np.array([np.cos(angle), 0.0, np.sin(angle)]), (n, 1))
    m = mass0
    nav_v = np.zeros((n, 3))
    landed = np.zeros(n, bool)
    td_r, td_v, td_m, td_t, td_thrust = r, v, m, np.zeros(n), np.zeros((n, 3))
    max_throttle = np.zeros(n)
    fm_interval = p["fm_interval_s"]
    steps = len(params["landing.step_index"])

    for k in range(steps):
        t = k * dt
        # Guidance on the navigated state: ZEM/ZEV to the gate, then to the aim point; the last metres hold the
        # touchdown rate and null the horizontal velocity.
        r_est, v_est = r + nav_r, v + nav_v
        if t < t_end:
            leg1 = t < t_gate
            r_f = gate if leg1 else aim
            v_f = -(p["gate_descent_rate_mps"] if leg1 else p["touchdown_speed_mps"]) * up
            tgo = max(t_gate - t if leg1 else t_end - t, 2.0 * dt)
            g = gravity(r_est)
            zem = r_f - (r_est + v_est * tgo + 0.5 * g * tgo**2)
            zev = v_f - (v_est + g * tgo)
            accel = 6.0 * zem / tgo**2 - 2.0 * zev / tgo
        else:
            accel = -gravity(r_est) + 1.0 * (-p["touchdown_speed_mps"] * up - v_est)
        out = engine_out & (t >= t_engine_out)
        available = np.where(out, thrust_max * (p["engines"] - 1) / p["engines"], thrust_max)
        available = np.where(m > dry, available, 0.0)
        accel_norm = norm(accel)
        thrust = np.minimum(np.maximum(accel_norm * m, thrust_min), available)
        thrust = np.where(available > 0, thrust, 0.0)
        direction = accel / np.maximum(accel_norm, 1e-12)[:, None]
        tilt = np.radians(x["misalignment_deg"]) + np.where(out, np.radians(2.0), 0.0)
        direction = direction + tilt[:, None] * misalign_axis
        direction = direction / norm(direction)[:, None]
        thrust_vector = thrust[:, None] * direction
        throttle = thrust / np.maximum(thrust_max, 1e-9)

        new_r, new_v, new_m = rk4_step(r, v, m, thrust_vector, exhaust, dt)
        new_m = np.maximum(new_m, dry)

        # Navigation error: drift, then fixes from feature matching and the altimeter.
        h = norm(new_r) - R
        local_up = new_r / norm(new_r)[:, None]
        nav_v = nav_v + bias * dt
        nav_r = nav_r + nav_v * dt
        fix = int(np.floor((t + dt) / fm_interval))  # a fix when a new period begins within the step
        fm_fix = (p["map_relative_nav"] > 0.5) & (h < p["fm_max_altitude_m"]) & (np.floor(t / fm_interval) != fix)
        fix_normals = d["landing.feature_matching"][:, min(fix, d["landing.feature_matching"].shape[1] - 1)]
        fresh = (x["fm_error_floor_m"] + p["fm_error_per_altitude"] * h)[:, None] * fix_normals
        nav_r = np.where(fm_fix[:, None], fresh, nav_r)
        nav_v = np.where(fm_fix[:, None], 0.1 * nav_v, nav_v)
        measured = h < p["altimeter_max_altitude_m"]
        vertical_error = (p["altimeter_error_frac"] * h * d["landing.altimeter"][:, k]
                          + np.where(alt_fault, x["altimeter_fault_bias_m"], 0.0))
        nav_r = np.where(measured[:, None], nav_r + (vertical_error - dot(nav_r, local_up))[:, None] * local_up, nav_r)

        # Touchdown: the first step that ends at or below the ground, interpolated inside the step.
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

    # Still airborne when the simulated window closes: it hovers down at the touchdown rate on what propellant is
    # left, and falls the rest of the way if that runs out first.
    speed = p["touchdown_speed_mps"]
    h_end = norm(r) - R
    hover_s = (m - dry) * exhaust / (G_MOON * dry)
    fall_m = np.maximum(h_end - hover_s * speed, 0.0)
    falls = fall_m > 0
    fall_speed = np.sqrt(speed**2 + 2 * G_MOON * fall_m)
    airborne_up = r / norm(r)[:, None]
    l3 = landed[:, None]
    r_td = np.where(l3, td_r, R * airborne_up)
    v_td = np.where(l3, td_v, -np.where(falls, fall_speed, speed)[:, None] * airborne_up)
    m_td = np.where(landed, td_m, np.where(falls, dry, m - h_end / speed * G_MOON * dry / exhaust))
    t_td = np.where(landed, td_t, steps * dt + np.where(falls, hover_s, h_end / speed))
    thrust_td = np.where(l3, td_thrust, np.where(falls, 0.0, 1.0)[:, None] * airborne_up)

    local_up = r_td / norm(r_td)[:, None]
    v_vertical = -dot(v_td, local_up)
    v_horizontal = norm(v_td + v_vertical[:, None] * local_up)
    ground = R * local_up - target
    downrange, crossrange = ground[:, 0], ground[:, 1]
    propellant_left = m_td - dry
    thrust_norm = norm(thrust_td)
    tilt_deg = np.degrees(np.arccos(np.clip(dot(thrust_td, local_up) / np.maximum(thrust_norm, 1e-9), -1.0, 1.0)))
    tilt_deg = np.where(thrust_norm > 0, tilt_deg, 0.0)

    # Terrain at the touchdown point: a safe spot where hazard avoidance diverted and the lander reached it; the
    # target's own terrain if it landed on the (undiverted) target; otherwise a fresh draw of the site's terrain.
    on_aim = np.hypot(downrange - divert[:, 0], crossrange - divert[:, 1]) < p["footpad_radius_m"] * 2
    quantile = np.where(diverted, u("slope_quantile_safe") * safe_quantile,
                        np.where(on_aim, target_quantile, u("slope_quantile_landed")))
    quantile = np.where(diverted & ~on_aim, u("slope_quantile_landed"), quantile)
    slope = p["slope_median_deg"] * np.exp(p["slope_sigma_log"] * special.ndtri(np.clip(quantile, 1e-12, 1 - 1e-12)))
    rock = np.where(on_aim, np.where(diverted, False, target_rock), u("rock_landed") < p["rock_hazard_prob"])

    # Tip-over: the horizontal kinetic energy lifts the centre of mass over the downhill footpad.
    s = np.radians(slope)
    lift = np.hypot(p["footpad_radius_m"], p["cg_height_m"]) - (
        p["cg_height_m"] * np.cos(s) + p["footpad_radius_m"] * np.sin(s))
    tips = (v_horizontal**2 / (2 * G_MOON) > lift) | (slope >= np.degrees(np.arctan2(p["footpad_radius_m"],
                                                                                      p["cg_height_m"])))
    impact = np.hypot(v_vertical, v_horizontal)
    outcome = first_failure([
        ((propellant_left <= 1e-6) & (impact > p["max_vertical_speed_mps"]), Outcome.LANDING_PROPELLANT_EXHAUSTED),
        (impact > p["crash_speed_mps"], Outcome.LANDING_CRASH),
        (tips, Outcome.LANDING_TIP_OVER),
        ((v_vertical > p["max_vertical_speed_mps"]) | (v_horizontal > p["max_horizontal_speed_mps"]),
         Outcome.LANDING_HARD),
        (rock, Outcome.LANDING_HAZARD),
        (slope > p["max_slope_deg"], Outcome.LANDING_HAZARD),
    ])
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
        "diverted": diverted,
        "divert_distance_m": divert_distance,
        "engine_out": engine_out & (t_engine_out < t_td),
        "altimeter_fault": alt_fault,
        "descent_time_s": t_td,
        "max_throttle": max_throttle,
    }


# ----------------------------------------------------------------------------------------------- deployment
def deployment(params, slope_deg, settling_deg, u) -> dict[str, np.ndarray]:
    """Lowering the rover from a lander tilted by the slope plus its legs' settling
    (:func:`campaign.models.deployment.deploy`): one uniform decides the mechanism, then the tilt."""
    p = section_params(params, "deployment")
    tilt = slope_deg + settling_deg
    mech = p["mechanism_failure_prob"]
    tilt_failure_prob = 1.0 / (1.0 + np.exp(-(tilt - p["tilt_limit_deg"]) / p["tilt_width_deg"]))
    mechanism_fails = u < mech
    tilt_fails = ~mechanism_fails & ((u - mech) < (1.0 - mech) * tilt_failure_prob)
    outcome = first_failure([(mechanism_fails, Outcome.DEPLOYMENT_MECHANISM), (tilt_fails, Outcome.DEPLOYMENT_TILT)])
    return {"deployment_ok": ~(mechanism_fails | tilt_fails), "lander_tilt_deg": tilt, "outcome": outcome}


# ----------------------------------------------------------------------------------------------- surface
def drill_attempts(p, water_wt, dry_layer_m, ice_critical_wt, rock_factor, u_rock, u_jam, u_lose) -> dict:
    """What each drilling attempt would do (:func:`campaign.models.drill.attempt`): the first of the target
    depth, a blocking rock, a jam and the time budget ends it."""
    target, dry_rate = p["target_depth_m"], p["dry_rate_m_per_h"]
    ice = (np.maximum(water_wt, 0.0) / ice_critical_wt) ** p["ice_transition_sharpness"]
    icy_rate = p["icy_rate_m_per_h"] + (dry_rate - p["icy_rate_m_per_h"]) / (1.0 + ice)
    dry_layer = np.minimum(dry_layer_m, target)
    t_dry = dry_layer / dry_rate

    def depth_after(hours):
        return np.where(hours <= t_dry, hours * dry_rate, dry_layer + (hours - t_dry) * icy_rate)

    rock_rate = p["rock_blocking_per_m"] * rock_factor
    rock_depth = np.where(rock_rate > 0, -np.log(u_rock) / np.maximum(rock_rate, 1e-30), np.inf)
    jam_h = -np.log(u_jam) / p["jam_per_h"] if p["jam_per_h"] > 0 else np.full(u_jam.shape, np.inf)
    budget_h = p["max_attempt_h"]
    limits = np.stack(np.broadcast_arrays(target, np.minimum(rock_depth, target * 2),
                                          depth_after(np.minimum(jam_h, budget_h * 2)), depth_after(budget_h)),
                      axis=-1)
    stopped_by = np.argmin(limits, axis=-1)  # 0 target, 1 rock, 2 jam, 3 time budget
    depth = np.min(limits, axis=-1)
    jammed = stopped_by == 2
    hours = np.minimum(depth, dry_layer) / dry_rate + np.maximum(depth - dry_layer, 0.0) / icy_rate
    return {"depth_m": depth, "drilling_h": np.where(jammed, jam_h, hours), "reached": stopped_by == 0,
            "drill_lost": jammed & (u_lose < p["jam_loses_drill_prob"]),
            "wear_m": np.minimum(depth, dry_layer) + p["icy_wear_factor"] * np.maximum(depth - dry_layer, 0.0)}


def surface_plan(params, x, d) -> dict[str, np.ndarray]:
    """Everything the surface loop needs that is fixed before it (:func:`campaign.models.surface.make_plan`):
    per (site, attempt) slot (n, slots) what the attempt would do and the water it would report; per mission the
    odometer readings of the mobility hazards, the hour of a component failure and the cycles to fatigue."""
    s, dr, mob = (section_params(params, name) for name in ("science", "drill", "mobility"))
    attempts = len(params["plan.attempt_slots"])
    shadowed = params["plan.shadowed"][:-1] > 0.5

    # Ground truth of each site: wet or dry, its water below a desiccated layer.
    wet = d["science.wet"] < np.where(shadowed, s["wet_fraction_shadowed"], s["wet_fraction_sunlit"])
    wet_mean = x["science.regional_mean_wt"] / max(s["wet_fraction_shadowed"], 1e-6)
    sigma = s["wet_sigma_log"]
    content = wet_mean[:, None] * np.exp(sigma * d["science.content"] - 0.5 * sigma**2)
    water = np.repeat(np.where(wet, content, s["dry_water_wt"]), attempts, axis=1)  # per slot
    layer = np.repeat(d["science.dry_layer"] * s["dry_layer_max_m"], attempts, axis=1)

    a = drill_attempts(dr, water, layer, x["drill.ice_critical_wt"][:, None], x["drill.rock_abundance_factor"][:, None],
                       d["drill.rock"], d["drill.jam"], d["drill.lose"])
    true_wt = np.where(a["depth_m"] > layer, water, s["dry_water_wt"])
    precision = np.sqrt(s["precision_abs_wt"] ** 2 + (s["precision_rel"] * true_wt) ** 2)

    def odometer_at(rate, u):
        rate = rate * x["mobility.hazard_factor"]
        return np.where(rate > 0, -np.log(u) / np.maximum(rate, 1e-30), np.inf)

    rate_per_h = params["reliability.component_failure_per_year"] / (365.25 * 24.0)
    return {
        "attempt_h": dr["setup_h"] + a["drilling_h"], "depth_m": a["depth_m"], "reached": a["reached"],
        "drill_lost": a["drill_lost"], "wear_m": a["wear_m"], "delivered": a["depth_m"] >= dr["min_sample_depth_m"],
        "reported_wt": true_wt + precision * d["science.measure"],
        "km_entrapment": odometer_at(mob["entrapment_per_km"], d["mobility.entrapment"]),
        "km_wheel": odometer_at(mob["wheel_failure_per_km"], d["mobility.wheel"]),
        "failure_hour": (-np.log(d["reliability.component"]) / max(rate_per_h, 1e-30) if rate_per_h > 0
                         else np.full(d["reliability.component"].shape, np.inf)),
        "fatigue_cycles": params["reliability.fatigue_cycles_median"] * np.exp(
            params["reliability.fatigue_sigma_log"] * d["reliability.fatigue"]),
    }


def surface(params, x, d, east_m, north_m) -> dict[str, np.ndarray]:
    """The surface mission of rovers landed ``east_m``, ``north_m`` from the surveyed site
    (:func:`campaign.models.surface.simulate`): the operations planner picks each hour's mode, the power/thermal
    step serves it, the activities advance where it was served."""
    plan = surface_plan(params, x, d)
    p = nm.rover_parameters(params, x)
    o, mob, sci = (section_params(params, name) for name in ("operations", "mobility", "science"))
    n = east_m.shape[0]
    at = np.arange(n)
    dt_h = float(params["surface.step_hours"])
    legs, shadowed = np.asarray(params["plan.legs_km"], np.float64), np.asarray(params["plan.shadowed"]) > 0.5
    last = legs.shape[0] - 1  # the leg out of the last site's shadow
    attempts_per_site = len(params["plan.attempt_slots"])
    reach = mob["shadow_reach_km"]
    step_km = mob["drive_speed_kmph"] * x["mobility.speed_factor"] * dt_h
    analysers_ok, spectrometers_ok = x["science.analysers_ok"] > 0.5, x["science.spectrometers_ok"] > 0.5
    forecast = params["plan.sun_hours_ahead"]
    # Energy to drive the whole shadowed stretch, heater at full power.
    drive_out_wh = (reach / (step_km / dt_h) * p["load_factor"]
                    * (p["idle_w"] + p["drive_w"] + p["duty_comm"] * p["comm_w"] + p["heater_max_w"]))

    table = nm.site_table(params)
    distance_m, shift = nm.horizon_shift(params, x, east_m, north_m)
    start, rows_per_step = nm.table_positions(params, x)
    ps, light = nm.initial_state(p, n), nm.initial_site_light(n)

    def in_shadow(leg, to_go):
        """Near the end of a leg into a shadowed site, or near the start of the leg out of one."""
        previous = np.where(leg > 0, shadowed[np.maximum(leg - 1, 0)], False)
        return (shadowed[leg] & (to_go <= reach)) | (previous & (legs[leg] - to_go < reach))

    def awake_at(alive, soc, cool, lit, shadow):
        """In sunlight above the operating reserve, or in shadow above the darkness margin (and cool enough)."""
        return alive & cool & ((lit & (soc >= p["soc_operate_min"])) | (shadow & (soc >= o["soc_dark_drive_min"])))

    zeros, izeros = np.zeros(n), np.zeros(n, np.int64)
    leg, to_go, site_open, attempt, drill_h = izeros, np.full(n, legs[0]), np.ones(n, bool), izeros, zeros
    drill_ok, wear, pending, analyse_left = np.ones(n, bool), zeros, izeros - 1, zeros
    mobile, mobility_loss, immobilised_step = np.ones(n, bool), izeros, izeros
    odometer, traverse, drive_h, shadow_h = zeros, zeros, zeros, zeros
    n_attempts, depth_max, depth_sum, sites_reached = izeros, zeros, zeros, izeros
    samples, target_samples, sites_quantified, shadow_sites_quantified = izeros, izeros, izeros, izeros
    best_reported = np.full(n, -np.inf)
    stop_km = np.minimum(plan["km_entrapment"], plan["km_wheel"])

    for k in range(len(params["surface.step_index"])):
        position = start + k * rows_per_step
        env = nm.environment(table, shift, position)
        nm.tally_site_light(light, env, dt_h)  # the landing site's light, before the rover's shadow darkens env
        alive = ps["alive"]
        capacity = p["battery_capacity_wh"] * (1.0 - p["battery_fade_per_year"] * (k * dt_h / 24.0) / 365.25)
        soc = ps["energy_wh"] / capacity
        # In shadow the rover leaves once the battery is down to its reserve plus the drive out.
        leave_below = o["soc_shadow_exit"] + drive_out_wh / capacity / p["discharge_efficiency"]
        cool = ps["temp_k"] <= o["max_operating_temp_k"]

        # Leave behind a site that is done with, or abandon the one whose shadow the battery cannot afford.
        shadow = in_shadow(leg, to_go)
        awake = awake_at(alive, soc, cool, (env["disk_fraction"] > 0.5) & ~shadow, shadow)
        leaving = awake & shadow & (soc < leave_below) & mobile
        done_here = (to_go <= 0.0) & (leg < last) & (~site_open | ~drill_ok)
        advance = done_here | (leaving & (leg < last) & shadowed[leg] & (to_go <= reach))
        nxt = np.minimum(leg + 1, last)
        leg, to_go = np.where(advance, nxt, leg), np.where(advance, legs[nxt], to_go)
        site_open = site_open | advance
        attempt, drill_h = np.where(advance, 0, attempt), np.where(advance, 0.0, drill_h)

        # The light where the rover is now, and the mode.
        shadow = in_shadow(leg, to_go)
        env["disk_fraction"] = np.where(shadow, 0.0, env["disk_fraction"])
        env["sink_temp_k"] = np.where(shadow, mob["shadow_sink_temp_k"], env["sink_temp_k"])
        lit = env["disk_fraction"] > 0.5
        dark = env["disk_fraction"] < pt.DARK_DISK_FRACTION
        at_end, site_leg = to_go <= 0.0, leg < last
        awake = awake_at(alive, soc, cool, lit, shadow)
        leaving = awake & shadow & (soc < leave_below) & mobile & ~at_end
        analyse = awake & ~leaving & (analyse_left > 0)
        drill = awake & ~leaving & ~analyse & at_end & site_leg & site_open & drill_ok
        entering = ~shadow & shadowed[leg] & (to_go - step_km <= reach)
        sun_ahead_h = forecast[np.minimum(np.floor(position).astype(np.int64), forecast.shape[0] - 2)]
        drive = (awake & ~analyse & ~drill & mobile & ~at_end
                 & (leaving | ((env["earth_visible"] | (o["needs_earth_to_drive"] < 0.5))
                               & (~entering | ((soc >= o["soc_shadow_entry"])
                                               & (sun_ahead_h >= o["shadow_min_sun_ahead_h"])))
                               & (~dark | (soc >= o["soc_dark_drive_min"])))))
        mode = np.where(~awake, HIBERNATE,
                        np.where(drive, DRIVE, np.where(analyse, ANALYSE, np.where(drill, DRILL, IDLE))))
        activity_w = np.where(mode == DRIVE, p["drive_w"],
                              np.where(mode == DRILL, p["drill_w"], np.where(mode == ANALYSE, p["analyse_w"], 0.0)))
        demand = np.where(awake, p["idle_w"] + activity_w + np.where(env["earth_visible"], p["duty_comm"] * p["comm_w"],
                                                                      0.0), p["hibernate_w"])
        served = nm.advance(ps, p, env, k, dt_h, demand)["powered"]
        worked = alive & served

        # Driving, up to the end of the leg or to the odometer reading of a mobility hazard.
        driving = worked & (mode == DRIVE)
        km = np.where(driving, np.minimum(np.maximum(np.minimum(step_km, to_go), 0.0), stop_km - odometer), 0.0)
        odometer = odometer + km
        stuck = driving & (odometer >= stop_km)
        to_go = to_go - km
        arrived = driving & (to_go <= 0.0) & site_leg

        # Drilling: an attempt completes once its hours are in.
        slot = leg * attempts_per_site + np.minimum(attempt, attempts_per_site - 1)
        here = at, np.minimum(slot, plan["depth_m"].shape[1] - 1)  # the leg out of the last site has no slots
        drilling = worked & (mode == DRILL)
        drill_h = drill_h + np.where(drilling, dt_h, 0.0)
        completes = drilling & (drill_h >= plan["attempt_h"][here])
        attempt = attempt + completes
        wear = wear + np.where(completes, plan["wear_m"][here], 0.0)
        drill_ok = drill_ok & ~(completes & plan["drill_lost"][here]) & (wear < params["drill.bit_life_m"])
        site_open = site_open & ~(completes & (plan["reached"][here] | (attempt >= attempts_per_site)))
        to_analyse = completes & plan["delivered"][here] & analysers_ok
        depth = plan["depth_m"][here]

        # Analysis: the sample's result counts once its hours are in.
        analysing = worked & (mode == ANALYSE)
        left = analyse_left - np.where(analysing, dt_h, 0.0)
        result = analysing & (left <= 0.0)
        q = np.maximum(pending, 0)
        reported = plan["reported_wt"][at, q]
        at_target = result & plan["reached"][at, q]
        found = at_target & (reported > sci["detection_limit_wt"])

        drill_h = np.where(completes, 0.0, drill_h)
        pending = np.where(to_analyse, slot, np.where(result, -1, pending))
        analyse_left = np.where(to_analyse, sci["analyse_h"], np.where(result, 0.0, left))
        lost_now = stuck & mobile
        mobility_loss = np.where(lost_now, np.where(odometer >= plan["km_entrapment"], ENTRAPPED, WHEEL_FAILED),
                                 mobility_loss)
        immobilised_step = np.where(lost_now, k + 1, immobilised_step)
        mobile = mobile & ~stuck
        traverse = traverse + np.where(spectrometers_ok, km, 0.0)
        drive_h = drive_h + np.where(driving, dt_h, 0.0)
        shadow_h = shadow_h + np.where(alive & shadow, dt_h, 0.0)
        n_attempts = n_attempts + completes
        depth_max = np.where(completes, np.maximum(depth_max, depth), depth_max)
        depth_sum = depth_sum + np.where(completes, depth, 0.0)
        sites_reached = sites_reached + arrived
        samples = samples + result
        target_samples = target_samples + at_target
        sites_quantified = sites_quantified + found
        shadow_sites_quantified = shadow_sites_quantified + (found & shadowed[q // attempts_per_site])
        best_reported = np.where(result, np.maximum(best_reported, reported), best_reported)

        # A random component failure and thermal fatigue end the mission like the cold does.
        component = ps["alive"] & ((k + 1) * dt_h >= plan["failure_hour"])
        fatigue = ps["alive"] & ~component & (ps["thermal_cycles"] >= plan["fatigue_cycles"])
        dies = component | fatigue
        ps["alive"] = ps["alive"] & ~dies
        ps["death_step"] = np.where(dies, k + 1, ps["death_step"])
        ps["cause"] = np.where(component, Outcome.SURFACE_COMPONENT_FAILURE,
                               np.where(fatigue, Outcome.SURFACE_THERMAL_FATIGUE, ps["cause"])).astype(np.int16)

    return {
        **nm.survival_outputs(params, x, ps, light, distance_m),
        "water_goal_met": ((sites_quantified >= sci["goal_sites"])
                           & (shadow_sites_quantified >= sci["goal_shadow_sites"])
                           & (traverse >= sci["goal_traverse_km"])),
        "sites_water_quantified": sites_quantified,
        "shadow_sites_water_quantified": shadow_sites_quantified,
        "samples_analysed": samples,
        "target_depth_samples": target_samples,
        "sample_analysed": samples > 0,
        "best_reported_water_wt": np.where(samples > 0, best_reported, 0.0),
        "sites_reached": sites_reached,
        "drill_attempts": n_attempts,
        "drilled": n_attempts > 0,
        "max_depth_m": depth_max,
        "mean_depth_m": depth_sum / np.maximum(n_attempts, 1),
        "drill_lost": ~drill_ok,
        "km_driven": odometer,
        "traverse_km": traverse,
        "drive_hours": drive_h,
        "shadow_hours": shadow_h,
        "plan_completed": (leg == last) & (to_go <= 0.0),
        "immobilised": ~mobile,
        "mobility_loss": mobility_loss,
        "immobilised_day": immobilised_step * dt_h / 24.0,
    }


# ----------------------------------------------------------------------------------------------- the chain
def site_offset_m(downrange_m, crossrange_m, approach_azimuth_deg):
    """East and north offsets (m) of a touchdown error along and across the approach track
    (:func:`campaign.models.mission.site_offset_m`)."""
    a = np.radians(approach_azimuth_deg)
    return (downrange_m * np.sin(a) - crossrange_m * np.cos(a), downrange_m * np.cos(a) + crossrange_m * np.sin(a))


DTYPES = {Kind.FLOAT: np.float64, Kind.INT: np.int32, Kind.BOOL: np.bool_}


def simulate(params: Mapping[str, object], inputs: Mapping[str, object],
             draws: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs of :func:`campaign.models.mission.simulate` for arrays of missions (see the module docstring)."""
    x = nm.as_arrays(inputs)
    d = {name: np.asarray(draws[name], np.float64).reshape((-1, *shape))
         for name, (_, shape) in draw_shapes(params).items()}
    first = launch(params, x, d)
    propellant = params["launch.propellant_load_kg"] + x["launch.propellant_load_error_kg"]
    dry = (params["launch.dry_mass_kg"] * (1 + x["launch.dry_mass_growth_frac"])
           + params["launch.unusable_propellant_frac"] * propellant)
    # The descent starts from the mass the transfer delivered (its dispersions replace the landing's own).
    second = landing(params, x, d, first["mass_at_pdi_kg"], dry)
    third = deployment(params, second["slope_deg"], x["deployment.leg_settling_deg"], d["deployment.lowering"])
    east, north = site_offset_m(second["landing_downrange_m"], second["landing_crossrange_m"],
                                params["landing.approach_azimuth_deg"])
    fourth = surface(params, x, d, east, north)

    reached = (first["transfer_ok"], first["transfer_ok"] & second["landing_ok"])
    reached += (reached[1] & third["deployment_ok"],)
    outcome = first["outcome"]
    for phase in (second, third, fourth):
        outcome = np.where(outcome != Outcome.SUCCESS, outcome, phase["outcome"])
    out = dict(first)
    for gate, phase in zip(reached, (second, third, fourth)):
        out.update({name: value & gate if value.dtype == bool else value for name, value in phase.items()})
    out["landing_ok"], out["deployment_ok"] = reached[1], reached[2]
    out = {o.name: np.asarray(out[o.name]).astype(DTYPES[o.kind]) for o in missionmod.OUTPUTS}
    return {"outcome": outcome.astype(np.int16), **out}
