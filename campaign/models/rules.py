"""Decision rules and closed-form formulas of the mission models, written once for NumPy and for JAX.

A function here that computes with arrays takes the array namespace ``xp`` (``numpy`` or ``jax.numpy``) as its
last argument and uses only operations the two share, so that the same lines serve the JAX models (traced and
vmapped: scalars per mission) and the NumPy oracle of the tests and benchmarks (``tests/oracles``: arrays over
missions). Written once on purpose: a rule copied into the oracle would be compared with itself, and two copies
drift apart. What the agreement tests *do* check stays written twice, in the models and in the oracle: the
integrators, the state handling and the time loops.

Parameters ``p``, ``x`` and ``o`` are a section's values read as attributes (``p.isp_s``): the typed records
the engine hands the models (:meth:`campaign.models._spec.Section.params_of`), or the oracle's mappings
(:func:`tests.oracles.section_params`). No Ray, Hydra or pyarrow here, and no JAX import: ``xp`` brings
it, so that the NumPy oracle runs where JAX cannot start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .outcomes import Outcome

# A section's values read as attributes: the engine's typed record or the oracle's mapping (module docstring).
Values = Any

G0_MPS2 = 9.80665  # standard gravity, defines Isp in seconds

# The operations planner's modes (surface mission, campaign.models.surface).
HIBERNATE, IDLE, DRIVE, DRILL, ANALYSE = range(5)


# ----------------------------------------------------------------------------------------------- outcomes
def first_failure(cases: Sequence[tuple[object, int]], default: int, xp):
    """The outcome code (int16) of the first true condition of ``cases``, pairs ``(condition, code)`` in flight
    order whose conditions are boolean arrays that broadcast together; ``default`` where none is true.

    Built from the last case up, one ``where`` per case, so that an earlier case overrides every later one: the
    same operations as a model's chain of ``where`` read bottom-up, this list being that chain read top-down."""
    outcome = default
    for condition, code in reversed(cases):
        outcome = xp.where(condition, code, outcome)
    return xp.asarray(outcome).astype(xp.int16)


def chain_phases(phases: Sequence[tuple[Mapping[str, Any], str]], xp) -> dict:
    """The outputs of phases run one after another, ``phases`` the pairs ``(outputs, ok_name)`` in flight order
    (each ``outputs`` with an int16 ``outcome`` and a boolean success flag ``ok_name``).

    Every phase runs for every mission (``vmap`` does not branch); a later phase counts only where all before it
    succeeded: its boolean outputs are anded with that gate (so its own flag says "reached and succeeded"), its
    numbers pass unchanged (they become null through their ``valid_when``). The outcome is the first phase's
    failure, in flight order (int16)."""
    (first, first_ok), later = phases[0], phases[1:]
    out = dict(first)
    outcome, gate = first["outcome"], first[first_ok]
    for phase, ok in later:
        outcome = xp.where(outcome != Outcome.SUCCESS, outcome, phase["outcome"])
        for name, value in phase.items():
            out[name] = value & gate if value.dtype == xp.bool_ else value
        gate = gate & phase[ok]
        out[ok] = gate
    out["outcome"] = outcome.astype(xp.int16)
    return out


def exponential_first_event(rate, u, xp):
    """Where (in the unit of ``1 / rate``: km for a rate per km, h for a rate per hour) the first event of a
    Poisson process of rate ``rate`` happens, by inverse CDF from a uniform ``u`` in (0, 1); infinite where the
    rate is zero."""
    return xp.where(rate > 0, -xp.log(u) / xp.maximum(rate, 1e-30), xp.inf)


# ----------------------------------------------------------------------------------------------- launch
def propellant_for_dv(mass_kg, dv_mps, isp_s, xp):
    """Propellant (kg) burned to give ``mass_kg`` a delta-v ``dv_mps`` at ``isp_s`` (ideal rocket equation)."""
    return mass_kg * -xp.expm1(-dv_mps / (isp_s * G0_MPS2))


def first_engine_failure(u, p_fail, xp):
    """Number of successful engine starts before the first failure, from one uniform ``u`` in (0, 1).

    Geometric by inverse CDF: ``P(K >= k) = (1 - p_fail)^k``; infinite where ``p_fail == 0``."""
    log_survive = xp.log1p(-p_fail)
    safe = xp.where(log_survive < 0, log_survive, -1.0)  # no log(u) / 0 in the branch not taken
    return xp.where(log_survive < 0, xp.floor(xp.log(u) / safe), xp.inf)


def loaded_mass_kg(p, x):
    """The lander's realised dry mass, loaded propellant, and the mass below which its engine starves (dry mass
    plus the unusable residual of the propellant), in kg, from the ``launch`` parameters ``p`` and inputs ``x``."""
    dry = p.dry_mass_kg * (1.0 + x.dry_mass_growth_frac)
    propellant = p.propellant_load_kg + x.propellant_load_error_kg
    return dry, propellant, dry + p.unusable_propellant_frac * propellant


def ascent_reliability(p: Values, x: Values, xp):
    """The H3 ascent's reliability a mission draws against (1), from the ``launch`` parameters ``p`` and inputs
    ``x``: with ``p.configuration_prior``, the configuration prior ``r_common * (1 - q_config)`` (what every H3
    configuration shares, times the H3-24L configuration's own survival: docs/priors.md); without it, the pooled
    prior ``ascent_reliability`` (the whole H3 record as one vehicle). Both inputs are drawn either way, so a sweep
    of the switch compares the two priors on common random numbers."""
    configured = x.ascent_reliability_common * (1.0 - x.configuration_failure_prob)
    return xp.where(xp.asarray(p.configuration_prior) != 0, configured, x.ascent_reliability)


def launch_outputs(p: Values, x: Values, u_ascent, u_engine, xp) -> dict:
    """Launch and transfer to powered-descent initiation (:mod:`campaign.models.launch`): the outputs (masses
    in kg, delta-v in m/s, ``burns_completed`` int32) and ``outcome`` (int16), from the ``launch`` parameters
    ``p``, its sampled inputs ``x`` and the two uniforms in (0, 1) of the ascent and of the engine's starts. The
    ascent draws against :func:`ascent_reliability` (the prior ``p.configuration_prior`` chooses)."""
    reliability = ascent_reliability(p, x, xp)
    launch_ok = u_ascent < reliability
    injection_error = xp.sqrt(
        x.injection_error_radial_mps**2 + x.injection_error_along_mps**2 + x.injection_error_cross_mps**2
    )
    tcm_dv = p.tcm_gain * injection_error + x.tcm_cleanup_dv_mps
    loi_dv = xp.maximum(p.loi_dv_mps + x.loi_dv_dispersion_mps, 0.0)
    doi_dv = p.doi_dv_mps
    isp = p.isp_s * (1.0 + x.isp_dispersion_frac)

    dry, propellant, floor_mass = loaded_mass_kg(p, x)
    m0 = dry + propellant
    m_tcm = m0 - propellant_for_dv(m0, tcm_dv, isp, xp)
    m_loi = m_tcm - propellant_for_dv(m_tcm, loi_dv, isp, xp)
    m_pdi = m_loi - propellant_for_dv(m_loi, doi_dv, isp, xp)

    good_starts = first_engine_failure(u_engine, x.engine_failure_prob_per_burn, xp)
    n_tcm, n_doi = p.tcm_burns, p.doi_burns
    planned_burns = n_tcm + 1 + n_doi
    descent_propellant = propellant_for_dv(m_pdi, p.powered_descent_dv_mps, isp, xp)
    margin = m_pdi - floor_mass - descent_propellant
    outcome = first_failure(
        [
            (~launch_ok, Outcome.LAUNCH_VEHICLE_FAILURE),
            (good_starts < n_tcm, Outcome.ENGINE_FAILURE_TCM),
            (m_tcm < floor_mass, Outcome.PROPELLANT_DEPLETED_BEFORE_PDI),
            (good_starts < n_tcm + 1, Outcome.ENGINE_FAILURE_LOI),
            (m_loi < floor_mass, Outcome.PROPELLANT_DEPLETED_BEFORE_PDI),
            (good_starts < planned_burns, Outcome.ENGINE_FAILURE_DOI),
            (m_pdi < floor_mass, Outcome.PROPELLANT_DEPLETED_BEFORE_PDI),
            (margin < 0, Outcome.PROPELLANT_SHORT_FOR_DESCENT),
        ],
        Outcome.SUCCESS,
        xp,
    )
    return {
        "outcome": outcome,
        "launch_ok": launch_ok,
        "ascent_reliability_used": reliability,
        "reached_pdi": launch_ok & ((outcome == Outcome.SUCCESS) | (outcome == Outcome.PROPELLANT_SHORT_FOR_DESCENT)),
        "transfer_ok": outcome == Outcome.SUCCESS,
        "injection_error_mps": injection_error,
        "tcm_dv_mps": tcm_dv,
        "loi_dv_mps": loi_dv,
        "dv_to_pdi_mps": tcm_dv + loi_dv + doi_dv,
        "burns_completed": xp.minimum(good_starts, planned_burns).astype(xp.int32),
        "mass_at_pdi_kg": m_pdi,
        "propellant_at_pdi_kg": m_pdi - dry,
        "descent_propellant_kg": descent_propellant,
        "propellant_margin_kg": margin,
    }


# ----------------------------------------------------------------------------------------------- landing
def throttle_response(thrust_n, command_n, time_constant_s, rate_n_per_s, dt, xp):
    """The engines' thrust (N) over one step of ``dt`` seconds with the command ``command_n`` (N) held: a
    first-order lag of time constant ``time_constant_s`` from ``thrust_n`` at the step's start, its change limited
    to ``rate_n_per_s * dt``. Returns the thrust at the step's end and its exact mean over the step (the impulse
    divided by ``dt``): lag, ``end = c + (T - c) e`` and ``mean = c + (T - c) tau/dt (1 - e)`` with
    ``e = exp(-dt/tau)``; rate-limited, the ramp ``T -> T +- rate dt`` and its mean, the midpoint. A time constant
    of zero follows the command at once (``e = 0``: no division by it)."""
    tau = xp.maximum(time_constant_s, 0.0)
    decay = xp.exp(-dt / xp.maximum(tau, 1e-30))  # 0 when tau == 0
    lag_end = command_n + (thrust_n - command_n) * decay
    lag_mean = command_n + (thrust_n - command_n) * (tau / dt) * -xp.expm1(-dt / xp.maximum(tau, 1e-30))
    limit = rate_n_per_s * dt
    limited = xp.abs(lag_end - thrust_n) > limit
    ramp_end = thrust_n + xp.clip(lag_end - thrust_n, -limit, limit)
    return xp.where(limited, ramp_end, lag_end), xp.where(limited, 0.5 * (thrust_n + ramp_end), lag_mean)


def slew_towards(direction, command, max_angle_rad, xp):
    """The unit vector (last axis of length 3) that turns ``direction`` towards ``command`` (both unit vectors)
    by at most ``max_angle_rad``, in the plane of the two; ``command`` itself where it is within that angle."""
    cos_angle = xp.sum(direction * command, axis=-1, keepdims=True)
    across = command - cos_angle * direction
    sin_angle = xp.sqrt(xp.sum(across * across, axis=-1, keepdims=True))
    angle = xp.arctan2(sin_angle, cos_angle)
    turn = xp.minimum(max_angle_rad, angle)
    # Opposite vectors define no plane: turn about any axis normal to the direction (a rare, transient case).
    normal = across / xp.maximum(sin_angle, 1e-12)
    turned = xp.cos(turn) * direction + xp.sin(turn) * normal
    return xp.where(angle <= max_angle_rad, command, turned / xp.sqrt(xp.sum(turned * turned, axis=-1, keepdims=True)))


def record_fault(p: Values, x: Values, physics_outcome, u, xp) -> dict:
    """The record-based unmodelled-fault term of a landing (docs/priors.md): a fault that no modelled dispersion
    represents (software or procedure, as Beresheet's IMU reset or Luna-25's burn duration) occurs where the
    uniform ``u`` in (0, 1) falls below ``x.unmodelled_fault_prob`` and ``p.unmodelled_fault_term`` is on.

    It only turns a landing the physics would have made (``physics_outcome`` is ``SUCCESS``) into a loss
    (``LANDING_UNMODELLED_FAULT``): a lander the physics already lost keeps its physical cause, so the physics
    outcomes are the same with the term on and off. Returns ``outcome`` (int16), ``landing_physics_ok`` (the
    physics alone) and ``landing_ok`` (the physics and no unmodelled fault; the physics alone when off)."""
    physics_ok = physics_outcome == Outcome.SUCCESS
    fault = (xp.asarray(p.unmodelled_fault_term) != 0) & (u < x.unmodelled_fault_prob)
    lost = physics_ok & fault
    outcome = xp.where(lost, Outcome.LANDING_UNMODELLED_FAULT, physics_outcome)
    return {
        "outcome": xp.asarray(outcome).astype(xp.int16),
        "landing_physics_ok": physics_ok,
        "landing_ok": physics_ok & ~lost,
    }


def tips_over(
    slope_deg,
    vertical_speed_mps,
    horizontal_speed_mps,
    downhill_azimuth_rad,
    lean_deg,
    lean_azimuth_rad,
    footpad_radius_m,
    cg_height_m,
    gravity_mps2,
    xp,
):
    """Whether a lander touching down tips over (arrays broadcast together; angles in the horizontal plane are
    measured from the horizontal velocity).

    Geometry: the footpads stand on a circle of radius ``footpad_radius_m`` a, the centre of mass ``cg_height_m``
    h above their plane, so the centre of mass is L = hypot(a, h) from a footpad, at beta = atan(a/h) from the
    lander's axis. On a slope s, touching down at ``vertical_speed_mps`` v_v (downwards positive) and
    ``horizontal_speed_mps`` v_h, the legs absorb the velocity normal to the ground and the velocity along it
    makes the lander pivot over the footpad ahead of it: that tangential velocity has v_h cos(phi) cos(s) +
    v_v sin(s) along the downhill line (the vertical speed's share along the slope, phi the downhill azimuth
    ``downhill_azimuth_rad``) and -v_h sin(phi) across it (to its left); u is its magnitude. In the direction
    psi of that motion (from the downhill line) the ground drops by s_m = asin(cos(psi) sin(s)) (s_m < 0 moving
    uphill), and the lander leans by the component along psi of its attitude at touchdown (the thrust's tilt
    ``lean_deg`` from the local vertical, towards ``lean_azimuth_rad``: the surrogate of attitude control, the
    lander's axis along its thrust). The centre of mass stands at m = beta - s_m - lean short of the vertical
    over that footpad; the lander tips if m <= 0 (statically; also checked downhill) or if the tangential
    kinetic energy lifts it over the footpad: u^2 / (2 g) > L (1 - cos m). On level ground with no lean, u = v_h
    and m = beta: the criterion of a lander moving sideways on flat ground."""
    s = xp.radians(slope_deg)
    beta = xp.arctan2(footpad_radius_m, cg_height_m)
    reach_m = xp.hypot(footpad_radius_m, cg_height_m)
    along = horizontal_speed_mps * xp.cos(downhill_azimuth_rad) * xp.cos(s) + vertical_speed_mps * xp.sin(s)
    across = -horizontal_speed_mps * xp.sin(downhill_azimuth_rad)  # towards the left of the downhill line
    speed = xp.hypot(along, across)
    cos_psi = xp.where(speed > 0, along / xp.maximum(speed, 1e-30), 1.0)
    sin_psi = xp.where(speed > 0, across / xp.maximum(speed, 1e-30), 0.0)
    lean = xp.radians(lean_deg)
    lean_down = lean * xp.cos(lean_azimuth_rad - downhill_azimuth_rad)
    lean_across = lean * xp.sin(lean_azimuth_rad - downhill_azimuth_rad)
    margin = beta - xp.arcsin(cos_psi * xp.sin(s)) - (cos_psi * lean_down + sin_psi * lean_across)
    lift_m = reach_m * (1.0 - xp.cos(margin))
    static = (margin <= 0) | (beta - s - lean_down <= 0)
    return static | (speed**2 / (2 * gravity_mps2) > lift_m)


def touchdown_outcome(
    p: Values,
    slope_deg,
    rock,
    vertical_speed_mps,
    horizontal_speed_mps,
    downhill_azimuth_rad,
    lean_deg,
    lean_azimuth_rad,
    propellant_left_kg,
    gravity_mps2,
    xp,
):
    """The landing's outcome code (int16) at touchdown, from the ``landing`` parameters ``p``, the terrain (local
    slope in degrees, a rock above the clearance, the downhill azimuth from the horizontal velocity in rad) and
    the touchdown state (speeds in m/s, downwards positive for the vertical one; the thrust's tilt in degrees
    and its azimuth from the horizontal velocity in rad; usable propellant left in kg): the first of running dry
    before touchdown, a crash, a tip-over (:func:`tips_over`), a hard landing (a leg overloaded: IM-1 broke one
    at ~2.7 m/s) and a hazard (rock, then slope), else success."""
    impact_mps = xp.hypot(vertical_speed_mps, horizontal_speed_mps)
    exhausted = propellant_left_kg <= 1e-6
    tips = tips_over(
        slope_deg,
        vertical_speed_mps,
        horizontal_speed_mps,
        downhill_azimuth_rad,
        lean_deg,
        lean_azimuth_rad,
        p.footpad_radius_m,
        p.cg_height_m,
        gravity_mps2,
        xp,
    )
    return first_failure(
        [
            (exhausted & (impact_mps > p.max_vertical_speed_mps), Outcome.LANDING_PROPELLANT_EXHAUSTED),
            (impact_mps > p.crash_speed_mps, Outcome.LANDING_CRASH),
            (tips, Outcome.LANDING_TIP_OVER),
            (
                (vertical_speed_mps > p.max_vertical_speed_mps) | (horizontal_speed_mps > p.max_horizontal_speed_mps),
                Outcome.LANDING_HARD,
            ),
            (rock, Outcome.LANDING_HAZARD),
            (slope_deg > p.max_slope_deg, Outcome.LANDING_HAZARD),
        ],
        Outcome.SUCCESS,
        xp,
    )


def relief_waves(amplitude_m, wavelength_m, u, xp):
    """The plane waves of one terrain-relief field (:func:`terrain_height_m`) from the spectrum's amplitudes and
    wavelengths (m, (waves,)) and two uniforms in (0, 1) per wave ``u`` (..., waves, 2): a direction uniform over
    the circle (the field is isotropic) and a phase uniform over the cycle. Returns the amplitudes (m), the
    wavenumbers along x and y (rad/m) and the phases (rad), each of shape (..., waves)."""
    direction, phase = 2 * xp.pi * u[..., 0], 2 * xp.pi * u[..., 1]
    k = 2 * xp.pi / wavelength_m
    return xp.broadcast_to(amplitude_m, phase.shape), k * xp.cos(direction), k * xp.sin(direction), phase


def terrain_height_m(x_m, y_m, amplitude_m, wavenumber_x, wavenumber_y, phase, xp, anchor_m=None):
    """Height (m) of the terrain relief at the horizontal position (``x_m``, ``y_m``) (m from the target, any
    shape ``s``) above the reference sphere: a sum of plane waves (:func:`relief_waves`, arrays (s..., waves)),
    anchored so that the height at the target (0, 0) is exactly zero (its elevation is known from the map): the
    anchor ``anchor_m``, the waves' sum there, is computed when not given. Each wave's phase is reduced to
    [-pi, pi] by whole turns before its cosine: the phases reach 10^4 rad kilometres from the target, and a
    cosine of a reduced argument costs a fraction of one that must reduce it itself (in XLA on a CPU)."""
    turns = (x_m[..., None] * wavenumber_x + y_m[..., None] * wavenumber_y + phase) / (2 * xp.pi)
    waves = xp.sum(amplitude_m * _cos_turns(turns, xp), axis=-1)
    return waves - (relief_anchor_m(amplitude_m, phase, xp) if anchor_m is None else anchor_m)


def relief_anchor_m(amplitude_m, phase, xp):
    """The sum of a relief's plane waves at the target (m; :func:`terrain_height_m` subtracts it), computed as
    the waves are there, so that the height at the target is exactly zero."""
    return xp.sum(amplitude_m * _cos_turns(phase / (2 * xp.pi), xp), axis=-1)


def _cos_turns(turns, xp):
    """The cosine of an angle given in turns, reduced to [-1/2, 1/2] turn first."""
    return xp.cos(2 * xp.pi * (turns - xp.round(turns)))


# ----------------------------------------------------------------------------------------------- deployment
def tilt_failure_prob(p: Values, tilt_deg, xp):
    """Probability that lowering the rover from a lander tilted by ``tilt_deg`` fails because of the tilt: a
    logistic curve, 1/2 at ``p.tilt_limit_deg``, of width ``p.tilt_width_deg``."""
    return 1.0 / (1.0 + xp.exp(-(tilt_deg - p.tilt_limit_deg) / p.tilt_width_deg))


def deploy(p: Values, slope_deg, settling_deg, u, xp) -> dict:
    """Deployment of the rover (:mod:`campaign.models.deployment`) from the ``deployment`` parameters ``p``, the
    local slope at touchdown and the legs' settling (deg) and one uniform ``u`` in (0, 1): the draw below the
    mechanism's failure probability is a mechanism failure, the rest of the unit interval is split by the tilt's
    failure probability (so that a steeper landing can only turn a success into a failure). Returns
    ``deployment_ok``, ``lander_tilt_deg`` and ``outcome`` (int16)."""
    tilt = slope_deg + settling_deg
    mech = p.mechanism_failure_prob
    mechanism_fails = u < mech
    tilt_fails = ~mechanism_fails & ((u - mech) < (1.0 - mech) * tilt_failure_prob(p, tilt, xp))
    outcome = first_failure(
        [(mechanism_fails, Outcome.DEPLOYMENT_MECHANISM), (tilt_fails, Outcome.DEPLOYMENT_TILT)], Outcome.SUCCESS, xp
    )
    return {"deployment_ok": ~(mechanism_fails | tilt_fails), "lander_tilt_deg": tilt, "outcome": outcome}


# ----------------------------------------------------------------------------------------------- the chain
def site_offset_m(downrange_m, crossrange_m, approach_azimuth_deg, xp):
    """East and north offsets (m) of a touchdown error given along and across an approach flown towards
    ``approach_azimuth_deg`` (from north through east); crossrange is positive to the left of the track."""
    a = xp.radians(approach_azimuth_deg)
    east = downrange_m * xp.sin(a) - crossrange_m * xp.cos(a)
    north = downrange_m * xp.cos(a) + crossrange_m * xp.sin(a)
    return east, north


# ----------------------------------------------------------------------------------------------- surface planner
def in_shadow(reach_km, legs_km, shadowed, leg, to_go_km, xp):
    """Whether the rover on ``leg`` (index into ``legs_km``, the route's legs in km), ``to_go_km`` before its
    end, is in shadow: within ``reach_km`` of the end of a leg into a shadowed site, or of the start of the leg
    out of one. ``shadowed`` holds the flag of the site each leg ends at."""
    n = legs_km.shape[0]
    here = shadowed[xp.minimum(leg, n - 1)]
    previous = xp.where(leg > 0, shadowed[xp.maximum(leg - 1, 0)], False)
    driven_km = legs_km[xp.minimum(leg, n - 1)] - to_go_km
    return (here & (to_go_km <= reach_km)) | (previous & (driven_km < reach_km))


def shadow_drive_out_wh(p: Values, reach_km, step_km, dt_h):
    """Energy (Wh, drawn from the bus) to drive ``reach_km`` of shadowed route at ``step_km`` per ``dt_h``-hour
    step, with the rover's idle, drive and communication loads and its heater at full power (``p`` the rover's
    power/thermal parameters, :func:`campaign.models.night_survival.rover_parameters`)."""
    return (
        reach_km / (step_km / dt_h) * p.load_factor * (p.idle_w + p.drive_w + p.duty_comm * p.comm_w + p.heater_max_w)
    )


def rover_awake(alive, cool, lit, shadow, soc, soc_operate_min, soc_dark_drive_min):
    """Whether the planner wakes the rover: alive and cool enough, and either in sunlight with the state of
    charge (fraction of capacity) at ``soc_operate_min`` or more, or in shadow with ``soc_dark_drive_min``."""
    return alive & cool & ((lit & (soc >= soc_operate_min)) | (shadow & (soc >= soc_dark_drive_min)))


def planner_mode(
    o: Values,
    awake,
    leaving,
    analyse_waiting,
    can_drill,
    mobile,
    at_end,
    entering,
    earth_visible,
    dark,
    soc,
    sun_ahead_h,
    xp,
):
    """The operations planner's mode this step (:data:`HIBERNATE` ... :data:`ANALYSE`, see
    :mod:`campaign.models.surface`), from the ``operations`` parameters ``o`` and the rover's situation:
    ``leaving`` a shadow the battery cannot afford, a sample ``analyse_waiting``, ``can_drill`` (at the end of a
    leg to a site still open, the drill working), ``mobile``, ``at_end`` of its leg, ``entering`` a shadowed
    stretch with this step's drive, the Earth in view, the array ``dark``, the state of charge ``soc`` (fraction)
    and the forecast sunshine after the shadow ``sun_ahead_h`` (h). Priorities: hibernate unless awake, then
    drive out of a shadow, analyse, drill, drive along the plan where allowed, idle."""
    analyse = awake & ~leaving & analyse_waiting
    drill = awake & ~leaving & ~analyse & can_drill
    drive = (
        awake
        & ~analyse
        & ~drill
        & mobile
        & ~at_end
        & (
            leaving
            | (
                (earth_visible | xp.logical_not(o.needs_earth_to_drive))
                & (~entering | ((soc >= o.soc_shadow_entry) & (sun_ahead_h >= o.shadow_min_sun_ahead_h)))
                & (~dark | (soc >= o.soc_dark_drive_min))
            )
        )
    )
    return xp.where(~awake, HIBERNATE, xp.where(drive, DRIVE, xp.where(analyse, ANALYSE, xp.where(drill, DRILL, IDLE))))


def mode_demand_w(p: Values, mode, awake, earth_visible, xp):
    """Electrical demand (W, before the load factor) of the planner's ``mode``: awake, the idle load plus the
    activity's plus communication with the Earth in view; asleep, the hibernation load (``p`` the rover's
    power/thermal parameters)."""
    activity_w = xp.where(
        mode == DRIVE, p.drive_w, xp.where(mode == DRILL, p.drill_w, xp.where(mode == ANALYSE, p.analyse_w, 0.0))
    )
    return xp.where(awake, p.idle_w + activity_w + xp.where(earth_visible, p.duty_comm * p.comm_w, 0.0), p.hibernate_w)
