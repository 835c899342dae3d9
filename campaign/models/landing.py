"""Powered descent and landing: 3-DOF point-mass dynamics, ZEM/ZEV guidance on a navigated state, touchdown.

Dynamics (Moon-centred, non-rotating: the pole turns at < 5 m/s and is neglected) for position r, velocity v and
mass m: ``r' = v``, ``v' = -mu r/|r|^3 + T u/m``, ``m' = -T/(Isp g0)``, integrated with the classical fixed-step
Runge-Kutta scheme (4th order) inside ``lax.scan``; the target is on the sphere of radius R at (0, 0, R).

Guidance: zero-effort-miss / zero-effort-velocity feedback (Guo, Hawkins & Wie 2013, JGCD 36(3)), the
fuel-optimal unconstrained law for a fixed final time with gravity taken constant over the time to go:
``a = 6 ZEM/tgo^2 - 2 ZEV/tgo`` with ``ZEM = r_f - (r + v tgo + g tgo^2/2)`` and ``ZEV = v_f - (v + g tgo)``.
Legs: braking from powered-descent initiation (PDI) to an approach gate above the target; a hover there while
hazard detection assesses the site (Chandrayaan-3 hovered at ~150 m for ~30 s), ZEM/ZEV to the gate at rest with
a constant time to go; then the approach to a point a few metres above the (possibly re-targeted) landing point
at the touchdown speed; the last metres hold that speed with velocity feedback on the estimated velocity,
because ZEM/ZEV is singular as the time to go vanishes (its time to go is floored at ``min_time_to_go_s`` for the
same reason: its gains, 6/tgo^2, must stay within what the actuators can follow). Past the planned end the lander
descends at its touchdown speed.

Actuation: the commanded thrust is clipped between one engine at its lowest throttle (engines are shut down one
by one, as Chandrayaan-3 landed on two of its four) and the engines still working. The engines follow it with a
first-order lag and a rate limit, integrated exactly over each step (the step's mean thrust is applied, so the
impulse is right); the thrust direction, a 3-DOF surrogate of the attitude, turns towards the command at a
limited rate. With the lag tau, the final hold's loop (gain k) is ``tau s^2 + s + k``: stable for any k, and
without overshoot while k tau < 1/4 (1.0/s x 0.2 s = 0.2 by default).

Navigation: guidance acts on the estimated state ``true + error``, the error that of a stated filter simulated
alongside the truth (:func:`navigation`): one 3-state Kalman filter per axis of the landing-site frame
(position, velocity, accelerometer bias), propagated with the IMU's velocity random walk and the drawn bias,
updated by map-relative feature matching (SLIM-derived; position, error growing with altitude), a Doppler
velocimeter (velocity; its bias unknown to the filter) and the altimeter (vertical position) below their
operating altitudes; the filter starts at the orbit-determination error of PDI. The altimeter ranges to the
terrain below: a self-affine relief drawn per mission (:func:`relief_spectrum`, anchored at the target), which
the lander also touches down on. An altimeter fault adds a constant bias to the measured altitude, the failure
mode of three of the 13 landings of 2019-2025 (DATA.md).

Touchdown: position error, vertical and horizontal speed, attitude proxy (thrust tilt plus slope), propellant
left, and the terrain at the landed point (slope and rocks from the site's statistics). At the approach gate the
hazard detection finds the target unsafe with the site's hazard probability and, when it detects it, diverts to a
safe point nearby (re-targeting the approach). Success: speeds and slope within the Chandrayaan-3 specification
(DATA.md), no rock above the clearance, and no tip-over (:func:`campaign.models.rules.tips_over`: the kinetic
energy of the velocity along the ground, vertical speed's share on a slope included, must not lift the centre of
mass over the footpad ahead, the lander's lean at touchdown counted; the downhill direction is drawn uniform
about the horizontal velocity).

Code: what is fixed over a descent and drawn before it are small records (:class:`Mission`, :class:`Events`,
:class:`Terrain`, :class:`Legs`); ``lax.scan`` runs :func:`step` over a :class:`Carry`, a sequence of named
sub-steps (:func:`guidance`, :func:`actuation` with its :class:`Actuator` state, :func:`dynamics`,
:func:`navigation`, :func:`touchdown`); after the loop :func:`airborne_completion`, :func:`terrain_at_touchdown`
and :func:`outputs` (the outcome by :func:`campaign.models.rules.touchdown_outcome`).

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
from scipy import optimize, special

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
        Param(
            "throttle_time_constant_s",
            "s",
            "Time constant of the engines' first-order response to a throttle command (0: instantaneous)",
            ge=0,
        ),
        Param(
            "throttle_rate_per_s",
            "1/s",
            "Largest thrust change per second, as a fraction of all engines' full thrust",
            gt=0,
        ),
        Param("slew_rate_deg_s", "deg/s", "Largest turn rate of the thrust direction (attitude control)", gt=0),
        Param("braking_time_s", "s", "Planned duration of the braking leg (PDI to the approach gate)", gt=0),
        Param(
            "min_time_to_go_s",
            "s",
            "Shortest time to go the ZEM/ZEV law uses at a leg's end (its gains, 6/tgo^2, kept within the actuators')",
            gt=0,
        ),
        Param("hover_time_s", "s", "Hover at the approach gate for hazard assessment (0: no hover)", ge=0),
        Param(
            "hover_horizon_s",
            "s",
            "Constant time to go of the ZEM/ZEV law that holds the gate during the hover",
            gt=0,
        ),
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
        Param("altimeter_max_altitude_m", "m", "Altitude below which the altimeter measures", ge=0),
        Param("altimeter_error_frac", "1", "Altimeter error per metre of range (1-sigma)", ge=0),
        Param("altimeter_error_floor_m", "m", "Altimeter error at zero range (1-sigma, added in quadrature)", ge=0),
        Param("velocimeter", "", "Doppler velocimeter (velocity on three axes) on", kind="bool"),
        Param("velocimeter_max_altitude_m", "m", "Altitude below which the velocimeter measures", ge=0),
        Param("velocimeter_noise_mps", "m/s", "Velocimeter white noise per measurement and axis (1-sigma)", ge=0),
        Param(
            "imu_velocity_random_walk_mps_per_sqrt_s",
            "m/s/sqrt(s)",
            "Accelerometer velocity random walk (white acceleration noise; 1-sigma per axis)",
            ge=0,
        ),
        Param(
            "filter_accel_bias_sigma_mps2",
            "m/s2",
            "Accelerometer bias the navigation filter assumes at PDI (1-sigma per axis: its prior)",
            ge=0,
        ),
        Param("terrain_relief", "", "Terrain relief under the trajectory (off: the mean sphere)", kind="bool"),
        Param("relief_hurst", "1", "Hurst exponent of the terrain relief (self-affine)", gt=0, le=1),
        Param("relief_waves", "1", "Number of plane waves that make up the relief field", ge=2, integer=True),
        Param("relief_min_wavelength_m", "m", "Shortest wavelength of the relief field", gt=0),
        Param("relief_max_wavelength_m", "m", "Longest wavelength of the relief field", gt=0),
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
        Input(
            "velocimeter_bias_mps",
            "m/s",
            "Velocimeter bias (1-sigma per axis), unknown to the filter",
            (0.0, float("inf")),
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
    (their lengths are the loop's static sizes), and the terrain relief's spectrum (:func:`relief_spectrum`)."""

    step_index: TableArray  # (steps,) int32
    fix_index: TableArray  # (fixes,) int32
    relief_wavelength_m: TableArray  # (waves,) m
    relief_amplitude_m: TableArray  # (waves,) m


def prepare(params: Mapping[str, Any]) -> Tables:
    """Static sizes of the descent: its steps (the planned legs and the hover, plus ``window_margin_s``) and the
    feature-matching fixes they can hold (one every ``fm_interval_s``), so that the navigation errors are drawn
    before the loop."""
    total = (
        float(params["landing.braking_time_s"])
        + float(params["landing.hover_time_s"])
        + float(params["landing.terminal_time_s"])
        + float(params["landing.window_margin_s"])
    )
    steps = int(np.ceil(total / float(params["landing.step_s"])))
    fixes = int(np.floor(steps * float(params["landing.step_s"]) / float(params["landing.fm_interval_s"]))) + 1
    wavelengths, amplitudes = relief_spectrum(
        int(params["landing.relief_waves"]),
        float(params["landing.relief_min_wavelength_m"]),
        float(params["landing.relief_max_wavelength_m"]),
        float(params["landing.slope_median_deg"]),
        float(params["landing.relief_hurst"]),
    )
    return Tables(np.arange(steps, dtype=np.int32), np.arange(fixes, dtype=np.int32), wavelengths, amplitudes)


RELIEF_SCALE_M = 1.0  # m, the baseline of the site's slope statistics (slope_median_deg is a metre-scale slope)


def relief_rms_height_difference_m(baseline_m, slope_deg, hurst):
    """The relief's target RMS height difference (m) over ``baseline_m`` (m): ``L tan(s) (L / L0)^(H - 1)``, a
    self-affine surface of Hurst exponent ``H`` whose RMS slope over ``L0 = RELIEF_SCALE_M`` is ``tan(s)``
    (Shepard et al. 2001, JGR 106(E12), the deviogram; Rosenburg et al. 2011, JGR 116, E02001, for the Moon)."""
    baseline_m = np.asarray(baseline_m, float)
    return baseline_m * np.tan(np.radians(slope_deg)) * (baseline_m / RELIEF_SCALE_M) ** (hurst - 1)


def isotropic_structure(baseline_m, wavelength_m):
    """``1 - J0(2 pi L / lambda)`` for baselines ``L`` (m, (b,)) and wavelengths (m, (w,)), shape (b, w): the mean
    of ``(cos(a + k.L) - cos(a))^2`` over a uniform phase ``a`` and a direction of ``k`` uniform over the circle,
    i.e. one plane wave's share of the structure function per unit squared amplitude."""
    return 1.0 - special.j0(2 * np.pi * np.outer(baseline_m, 1.0 / np.asarray(wavelength_m, float)))


def relief_spectrum(waves: int, min_wavelength_m, max_wavelength_m, slope_deg, hurst):
    """Wavelengths (m, (waves,), log-spaced from ``min_wavelength_m`` to ``max_wavelength_m``) and amplitudes (m)
    of the plane waves of the terrain relief, such that its structure function (the mean squared height
    difference over a baseline ``L``, ``sum a^2 (1 - J0(2 pi L / lambda))`` for random directions and phases)
    follows :func:`relief_rms_height_difference_m` squared between the shortest wavelength and a quarter of the
    longest (it falls to 0.8 of it at half the longest, and saturates beyond).

    The amplitudes are the non-negative least-squares fit, in relative terms, at 40 log-spaced baselines: a pure
    power law ``a^2 ~ lambda^(2H)`` on a truncated band misses the target by a factor 5 at the band's long end for
    H near 1 (the longest waves carry most of the slope and the band cuts them off); the fit holds it within a few
    per cent (``tests/test_navigation.py``). Host-side (SciPy), once per campaign."""
    wavelength_m = min_wavelength_m * (max_wavelength_m / min_wavelength_m) ** (np.arange(waves) / (waves - 1))
    baselines = np.geomspace(min_wavelength_m, max_wavelength_m / 2, 40)
    target = relief_rms_height_difference_m(baselines, slope_deg, hurst) ** 2
    squared, _ = optimize.nnls(isotropic_structure(baselines, wavelength_m) / target[:, None], np.ones(baselines.size))
    return wavelength_m, np.sqrt(squared)


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


class Covariance(NamedTuple):
    """The navigation filter's covariance: the six unique elements of the 3 x 3 covariance of the (position,
    velocity, accelerometer-bias) errors of one axis, each of shape (3,) over the axes x, y, z of the landing-site
    frame, so that the three axes' filters update in one vector operation."""

    pp: jax.Array  # m2
    pv: jax.Array  # m2/s
    pb: jax.Array  # m2/s2
    vv: jax.Array  # m2/s2
    vb: jax.Array  # m2/s3
    bb: jax.Array  # m2/s4


class NavError(NamedTuple):
    """The navigation filter's estimation error, estimated minus true, in the landing-site frame: position ``r``
    (m, (3,)), velocity ``v`` (m/s, (3,)) and accelerometer bias ``b`` (m/s2, (3,)); and the filter's own
    covariance of it, ``cov``."""

    r: jax.Array
    v: jax.Array
    b: jax.Array
    cov: Covariance


class Touchdown(NamedTuple):
    """The lander at touchdown: position ``r`` (m, (3,)), velocity ``v`` (m/s, (3,)), mass ``m`` (kg), time ``t``
    from PDI (s) and the thrust vector ``thrust`` (N, (3,)) of the step that reached the ground."""

    r: jax.Array
    v: jax.Array
    m: jax.Array
    t: jax.Array
    thrust: jax.Array


class Actuator(NamedTuple):
    """What the engines and the attitude control have reached at the end of a step: the thrust ``thrust_n`` (N)
    and its ``direction`` (a unit vector, (3,), before the misalignment)."""

    thrust_n: jax.Array
    direction: jax.Array


class Carry(NamedTuple):
    """What the descent's loop carries from one step to the next: the true ``state`` (frozen once landed), the
    navigation error ``nav``, whether the lander has ``landed``, its ``touchdown`` (valid once landed), the
    largest throttle used while flying (1 = all engines at full thrust), the :class:`Actuator` and the terrain's
    height under the lander ``terrain_m`` (m above the sphere, :func:`terrain_height` of ``state.r``)."""

    state: State
    nav: NavError
    landed: jax.Array
    touchdown: Touchdown
    max_throttle: jax.Array
    actuator: Actuator
    terrain_m: jax.Array


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
    t_hover: jax.Array  # s from PDI, planned end of the hover at the gate (t_gate without one)
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
        t_hover=t_gate + p.hover_time_s,
        t_end=t_gate + p.hover_time_s + p.terminal_time_s,
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


class StepNoise(NamedTuple):
    """Standard normals of the sensors at one step (in :class:`Events`, each with a leading (steps,) axis)."""

    altimeter: jax.Array  # ()
    imu: jax.Array  # (3,), the accelerometers' white noise over the step
    velocimeter: jax.Array  # (3,)


class Relief(NamedTuple):
    """One mission's terrain relief: plane waves (:func:`campaign.models.rules.relief_waves`), each (waves,)."""

    amplitude_m: jax.Array
    wavenumber_x: jax.Array  # rad/m
    wavenumber_y: jax.Array  # rad/m
    phase: jax.Array  # rad
    anchor_m: jax.Array  # (), the sum of the waves at the target, which the height subtracts (0 there)


class Events(NamedTuple):
    """The mission's random events and error vectors, drawn before the loop (each from its own stream)."""

    misalign_axis: jax.Array  # (3,), horizontal unit vector the thrust tilts towards
    engine_out: jax.Array  # bool, one engine fails during the descent
    t_engine_out: jax.Array  # s from PDI, when it fails (uniform over the planned legs)
    altimeter_fault: jax.Array  # bool, the altimeter measures with a constant bias
    od_error: jax.Array  # (3,) m, orbit-determination position error at PDI (the first navigation error)
    accel_bias: jax.Array  # (3,) m/s2, accelerometer bias (drives the navigation drift)
    velocimeter_bias: jax.Array  # (3,) m/s, the velocimeter's bias (the filter does not know it)
    fix_normals: jax.Array  # (fixes, 3), standard normals of the feature-matching fixes
    noise: StepNoise  # (steps, ...), standard normals of the sensors at each step
    relief: Relief  # the terrain relief under the trajectory


def navigation_draws(key, steps: int, fixes: int, dtype) -> tuple[jax.Array, StepNoise]:
    """Standard normals of the navigation errors of one descent, drawn at once: three per feature-matching fix
    (numbered by the ``fm_interval_s`` periods from PDI), and per step one altimeter error, three accelerometer
    noises and three velocimeter errors (:class:`StepNoise`, each with a leading (steps,) axis). Drawing them in
    bulk before the loop rather than step by step in it makes the descent 3x faster (fewer key derivations and
    counter-hash calls). The per-step normals, seven per step, are drawn in float32 whatever the descent's
    precision (half the random bits and a cheaper inverse error function; they were a quarter of the descent's
    time in float64): a sensor's noise needs no more than float32's resolution, and its tails reach about 5 sigma."""
    nav = subkey(key, "navigation")
    per_step = lambda name, shape: jax.random.normal(subkey(nav, name), shape, jnp.float32).astype(dtype)  # noqa: E731
    return (
        jax.random.normal(subkey(nav, "feature_matching"), (fixes, 3), dtype),
        StepNoise(per_step("altimeter", (steps,)), per_step("imu", (steps, 3)), per_step("velocimeter", (steps, 3))),
    )


def relief(p, tables: Tables, key, dtype) -> Relief:
    """The mission's terrain :class:`Relief`: the spectrum of :func:`prepare` (zero amplitudes where
    ``terrain_relief`` is off, which leaves exactly the mean sphere) with a direction and a phase per wave drawn
    from the stream ``terrain/relief``."""
    u = jax.random.uniform(subkey(key, "terrain/relief"), (tables.relief_wavelength_m.shape[0], 2), dtype)
    amplitude = jnp.where(p.terrain_relief, jnp.asarray(tables.relief_amplitude_m, dtype), 0.0)
    amplitude, wavenumber_x, wavenumber_y, phase = rules.relief_waves(
        amplitude, jnp.asarray(tables.relief_wavelength_m, dtype), u, jnp
    )
    return Relief(amplitude, wavenumber_x, wavenumber_y, phase, rules.relief_anchor_m(amplitude, phase, jnp))


def terrain_height(rl: Relief, r):
    """Height (m) of the terrain above the reference sphere under the Moon-centred position ``r`` (m, (3,)): the
    relief at the nadir point, whose x and y (m from the target, on the sphere) are those of the outputs'
    downrange and crossrange. The anchor is summed once per mission (:class:`Relief`), and the loop evaluates the
    height once per step (the :class:`Carry` holds the last one): the waves' cosines are the descent's costliest
    arithmetic."""
    ground = R_MOON * r / jnp.linalg.norm(r)
    return rules.terrain_height_m(
        ground[0], ground[1], rl.amplitude_m, rl.wavenumber_x, rl.wavenumber_y, rl.phase, jnp, rl.anchor_m
    )


def events(p, x, ms: Mission, tables: Tables, key, dtype) -> Events:
    """Draw the mission's :class:`Events` from ``key`` for the ``landing`` parameters ``p`` and inputs ``x``."""
    u = lambda name: _uniform(key, name, dtype)  # noqa: E731
    misalign_axis = jnp.cross(
        ms.up, jnp.array([jnp.cos(2 * jnp.pi * u("misalign")), jnp.sin(2 * jnp.pi * u("misalign")), 0.0], dtype)
    )
    fix_normals, noise = navigation_draws(key, tables.step_index.shape[0], tables.fix_index.shape[0], dtype)
    return Events(
        misalign_axis=misalign_axis,
        engine_out=u("engine_out") < x.engine_out_prob,
        t_engine_out=u("engine_out_time") * ms.t_end,
        altimeter_fault=u("altimeter_fault") < x.altimeter_fault_prob,
        od_error=x.od_position_error_m * _normal3(key, "od_position", dtype),
        accel_bias=x.accel_bias_mps2 * _normal3(key, "accel_bias", dtype),
        velocimeter_bias=x.velocimeter_bias_mps * _normal3(key, "velocimeter_bias", dtype),
        fix_normals=fix_normals,
        noise=noise,
        relief=relief(p, tables, key, dtype),
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
    """The guidance's legs: the approach gate and the aim point (m, (3,)) with their velocities (m/s, (3,)),
    and the planned times at which the gate is reached, the hover there ends and the aim point is reached (s from
    PDI)."""

    gate_r: jax.Array  # gate_altitude_m above the target
    gate_v: jax.Array  # descending at gate_descent_rate_mps
    aim_r: jax.Array  # final_hold_altitude_m above the (possibly diverted) landing point
    aim_v: jax.Array  # descending at touchdown_speed_mps (also the final hold's velocity)
    t_gate: jax.Array
    t_hover: jax.Array
    t_end: jax.Array


def legs(p, ms: Mission, divert) -> Legs:
    """The guidance's :class:`Legs` for the ``landing`` parameters ``p`` and the divert (m, (3,))."""
    return Legs(
        gate_r=ms.target + p.gate_altitude_m * ms.up,
        gate_v=-p.gate_descent_rate_mps * ms.up,
        aim_r=(ms.target + divert) + p.final_hold_altitude_m * ms.up,
        aim_v=-p.touchdown_speed_mps * ms.up,
        t_gate=ms.t_gate,
        t_hover=ms.t_hover,
        t_end=ms.t_end,
    )


# ----------------------------------------------------------------------------------------------- one step
def guidance(p, lg: Legs, dt, t, r_est, v_est):
    """Commanded acceleration (m/s2, (3,)) at time ``t`` (s from PDI) on the navigated state (m, m/s): ZEM/ZEV to
    the gate; there, while hazard detection assesses the site (``hover_time_s``, as Chandrayaan-3 hovered ~150 m
    for ~30 s), hold the gate at rest; then ZEM/ZEV to the aim point, the time to go kept at two steps or more.
    The hover is ZEM/ZEV to the gate with the constant time to go ``hover_horizon_s`` T: with gravity compensated,
    a PD law ``6 e/T^2 - 4 v/T`` of natural frequency sqrt(6)/T and damping ratio 2/sqrt(6) = 0.82 whatever T.
    Past the planned end, hold the touchdown rate and null the horizontal velocity with the gain
    ``hold_gain_per_s`` (1/s). ZEM/ZEV is singular as the time to go vanishes, and chasing each new navigation
    fix this close to the ground would tip the lander, so the hold nulls the velocity, not the position."""
    leg1 = t < lg.t_gate
    hover = ~leg1 & (t < lg.t_hover)
    r_f = jnp.where(leg1 | hover, lg.gate_r, lg.aim_r)
    v_f = jnp.where(leg1, lg.gate_v, jnp.where(hover, 0.0 * lg.gate_v, lg.aim_v))
    tgo = jnp.where(leg1, lg.t_gate - t, jnp.where(hover, p.hover_horizon_s, lg.t_end - t))
    tgo = jnp.maximum(tgo, jnp.maximum(p.min_time_to_go_s, 2.0 * dt))
    accel = zem_zev(r_est, v_est, r_f, v_f, tgo)
    hold = -gravity(r_est) + p.hold_gain_per_s * (lg.aim_v - v_est)
    return jnp.where(t < lg.t_end, accel, hold)


def command(p, ms: Mission, ev: Events, t, mass, accel):
    """The commanded thrust (N) and direction (unit vector, (3,)) for the commanded ``accel`` (m/s2, (3,)) of a
    lander of ``mass`` (kg) at time ``t`` (s), with the thrust available and the lowest allowed (N) and whether an
    engine is out: the magnitude clipped between one engine at its lowest throttle and the engines still working
    (one fewer after an engine-out), none once the propellant is gone."""
    out = ev.engine_out & (t >= ev.t_engine_out)
    available = jnp.where(out, ms.thrust_max * (p.engines - 1) / p.engines, ms.thrust_max)
    available = jnp.where(mass > p.dry_mass_kg, available, 0.0)
    floor_n = jnp.where(available > 0, ms.thrust_floor, 0.0)
    wanted = jnp.clip(jnp.linalg.norm(accel) * mass, floor_n, available)
    return wanted, accel / jnp.maximum(jnp.linalg.norm(accel), 1e-12), available, floor_n, out


def actuation(p, x, ms: Mission, ev: Events, t, mass, accel, act: Actuator) -> tuple[Thrust, Actuator]:
    """The :class:`Thrust` over the step from ``t`` (s) for the commanded ``accel`` (m/s2, (3,)) of a lander of
    ``mass`` (kg), and the :class:`Actuator` at the step's end, from ``act`` at its start. The direction turns
    towards the command by ``slew_rate_deg_s`` at most (:func:`campaign.models.rules.slew_towards`, a 3-DOF
    surrogate of attitude control). The thrust follows its :func:`command`, reduced to its share along the
    achieved direction, with a first-order lag (``throttle_time_constant_s``) and a rate limit
    (``throttle_rate_per_s`` of all engines' full thrust per second), applied as its exact mean over the step
    (:func:`campaign.models.rules.throttle_response`), always within the thrust available and above the floor
    while engines run. The direction then tilts by the misalignment, and by ``engine_out_tilt_deg`` more after
    an engine-out."""
    wanted, wanted_direction, available, floor_n, out = command(p, ms, ev, t, mass, accel)
    direction = rules.slew_towards(act.direction, wanted_direction, jnp.radians(p.slew_rate_deg_s) * ms.dt, jnp)
    # The engines give the command's share along where they point: still turning, less (the floor if the command
    # points away), as an attitude-and-throttle controller does; the command itself once the turn is done.
    along = jnp.where(jnp.all(direction == wanted_direction), 1.0, jnp.dot(direction, wanted_direction))
    wanted = jnp.clip(wanted * along, floor_n, available)
    end_n, mean_n = rules.throttle_response(
        act.thrust_n, wanted, p.throttle_time_constant_s, p.throttle_rate_per_s * ms.thrust_max, ms.dt, jnp
    )
    end_n, mean_n = jnp.clip(end_n, floor_n, available), jnp.clip(mean_n, floor_n, available)
    tilt = jnp.radians(x.misalignment_deg) + jnp.where(out, jnp.radians(p.engine_out_tilt_deg), 0.0)
    tilted = direction + tilt * ev.misalign_axis
    tilted = tilted / jnp.linalg.norm(tilted)
    thrust = Thrust(mean_n * tilted, mean_n / jnp.maximum(ms.thrust_max, 1e-9), available, floor_n)
    return thrust, Actuator(end_n, direction)


def dynamics(p, ms: Mission, state: State, thrust_vector) -> State:
    """The true state after one step of ``ms.dt`` seconds under ``thrust_vector`` (N): one RK4 step, the mass
    kept at the dry mass or above (kg)."""
    r, v, m = rk4_step(state, thrust_vector, ms.exhaust, ms.dt)
    return State(r, v, jnp.maximum(m, p.dry_mass_kg))


def initial_navigation(p, x, ev: Events, dtype) -> NavError:
    """The filter at PDI: the position error is the orbit determination's (whose covariance the OD process
    reports: ``od_position_error_m`` squared per axis), the velocity error zero (as the former model; PDI's
    velocity error is folded into the position error the OD gives), the bias estimate zero (so the bias error is
    minus the true bias) with the prior ``filter_accel_bias_sigma_mps2`` squared per axis; no cross terms."""
    zero3, ones3 = jnp.zeros(3, dtype), jnp.ones(3, dtype)
    cov = Covariance(
        pp=x.od_position_error_m**2 * ones3,
        pv=zero3,
        pb=zero3,
        vv=zero3,
        vb=zero3,
        bb=p.filter_accel_bias_sigma_mps2**2 * ones3,
    )
    return NavError(ev.od_error, zero3, -ev.accel_bias, cov)


def propagate(nav: NavError, dt, vrw, imu_normal) -> NavError:
    """The filter over one step of ``dt`` seconds without measurements, per axis: the navigator integrates the
    accelerometers' output less its bias estimate, so its acceleration error is the white noise less the bias
    error, ``a = w - b`` (``w`` of standard deviation ``vrw / sqrt(dt)``, m/s2, held over the step: the velocity
    random walk ``vrw`` in m/s/sqrt(s) gives a velocity error of ``vrw sqrt(dt)`` per step); the truth and the
    covariance follow ``F = [[1, dt, -dt^2/2], [0, 1, -dt], [0, 0, 1]]`` with ``Q = vrw^2 dt [[dt^2/4, dt/2, 0],
    [dt/2, 1, 0], [0, 0, 0]]`` (the noise enters as ``G = [dt^2/2, dt, 0]``). The gravity-gradient coupling of a
    position error (``2 g / R ~ 2e-6 /s^2``, a few millimetres per second over a descent) is neglected."""
    a = vrw / jnp.sqrt(dt) * imu_normal - nav.b
    c = nav.cov
    # M = F P, then P' = M F^T (the six unique elements), then + Q.
    m00 = c.pp + dt * c.pv - dt**2 / 2 * c.pb
    m01 = c.pv + dt * c.vv - dt**2 / 2 * c.vb
    m02 = c.pb + dt * c.vb - dt**2 / 2 * c.bb
    m11 = c.vv - dt * c.vb
    m12 = c.vb - dt * c.bb
    q = vrw**2 * dt
    cov = Covariance(
        pp=m00 + dt * m01 - dt**2 / 2 * m02 + q * dt**2 / 4,
        pv=m01 - dt * m02 + q * dt / 2,
        pb=m02,
        vv=m11 - dt * m12 + q,
        vb=m12,
        bb=c.bb,
    )
    return NavError(nav.r + nav.v * dt + a * dt**2 / 2, nav.v + a * dt, nav.b, cov)


def kalman_update(nav: NavError, velocity: bool, innovation, variance, mask) -> NavError:
    """One scalar Kalman update of each axis's filter, the three axes at once: a measurement of the position
    (or, where ``velocity``, the velocity) with error variance ``variance`` and ``innovation`` (measured minus
    predicted, (3,)), applied on the axes where ``mask`` ((3,) or a scalar) holds. The gain is ``K = P h / S`` with
    ``S = h' P h + R``; the error becomes ``e + K y`` and the covariance ``P - K (P h)'``, with the diagonal kept
    non-negative (round-off in a low-precision loop). An axis left out gets a zero gain: unchanged exactly."""
    c = nav.cov
    column = (c.pv, c.vv, c.vb) if velocity else (c.pp, c.pv, c.pb)
    s = jnp.maximum(column[1 if velocity else 0] + variance, 1e-30)
    k0, k1, k2 = (jnp.where(mask, ci / s, 0.0) for ci in column)
    cov = Covariance(
        pp=jnp.maximum(c.pp - k0 * column[0], 0.0),
        pv=c.pv - k0 * column[1],
        pb=c.pb - k0 * column[2],
        vv=jnp.maximum(c.vv - k1 * column[1], 0.0),
        vb=c.vb - k1 * column[2],
        bb=jnp.maximum(c.bb - k2 * column[2], 0.0),
    )
    return NavError(nav.r + k0 * innovation, nav.v + k1 * innovation, nav.b + k2 * innovation, cov)


def altimeter(p, x, ev: Events, r, h_terrain, normal):
    """The altimeter's measurement error (m), the variance (m2) of its noise, and the variance (m2) the filter
    assigns to it, at the true position ``r`` (m, (3,)) over the terrain ``h_terrain`` (m above the sphere,
    :func:`terrain_height` there) with the standard normal ``normal``.

    It ranges along the local vertical to the terrain below (the nadir, :func:`terrain_height`), with a noise of
    ``altimeter_error_frac`` of the range and the floor ``altimeter_error_floor_m`` in quadrature (plus the bias
    of a fault). The navigator reads the range as the height above the target's level (the sphere through it:
    the target's elevation is known, the relief under the lander is not), so the relief is an error of the
    measurement: ``range - h = -h_T + noise + fault``. The filter knows the relief's statistics, not its shape:
    it adds the relief's variance at the nadir's distance ``d`` from the target to the noise's,
    ``min(tan(s)^2 d^(2H), sum a^2)`` (the power law of :func:`relief_rms_height_difference_m`, saturating at the
    field's variance). A deviation from a noise-only variance, on purpose: with it, the filter takes a 200 m
    relief a few km from the target, measured to 5 m, for its altitude, and through the correlations for its
    vertical velocity (touchdowns at ~2 m/s instead of 1 m/s in trials)."""
    noise = (p.altimeter_error_frac * (altitude(r) - h_terrain)) ** 2 + p.altimeter_error_floor_m**2
    ground = R_MOON * r / jnp.linalg.norm(r)
    distance = jnp.maximum(jnp.hypot(ground[0], ground[1]), 1e-3)
    relief = jnp.minimum(
        jnp.tan(jnp.radians(p.slope_median_deg)) ** 2
        * (distance / RELIEF_SCALE_M) ** (2 * p.relief_hurst)
        * RELIEF_SCALE_M**2,
        jnp.sum(ev.relief.amplitude_m**2),
    )
    fault = jnp.where(ev.altimeter_fault, x.altimeter_fault_bias_m, 0.0)
    return -h_terrain + jnp.sqrt(noise) * normal + fault, noise, noise + relief


def navigation(p, x, ev: Events, nav: NavError, t, dt, r, h_terrain, noise: StepNoise) -> NavError:
    """The navigation filter after the step from ``t`` to ``t + dt`` (s) that ended at the true position ``r``
    (m): one 3-state Kalman filter per axis of the landing-site frame (position, velocity and accelerometer-bias
    errors; :func:`propagate`), then its measurements as scalar updates (:func:`kalman_update`), each made with
    an error drawn from the sensor's stated noise (the filter's model is true, but for the velocimeter's bias, the
    relief under the altimeter and the altimeter's fault):

    - feature matching when a new ``fm_interval_s`` period begins within the step below ``fm_max_altitude_m``:
      position on x, y, z, of standard deviation ``fm_error_floor_m + fm_error_per_altitude * h`` (the filter
      knows the realised floor); the velocity and the bias are corrected through the covariance only;
    - the velocimeter (Doppler lidar, as Chandrayaan-3's laser Doppler velocimeter) every step below
      ``velocimeter_max_altitude_m``: velocity on x, y, z with noise ``velocimeter_noise_mps`` (the variance the
      filter uses) plus the mission's bias, which the filter does not know;
    - the altimeter below ``altimeter_max_altitude_m`` (:func:`altimeter`): the z axis's position, the filter's
      variance that of the noise plus the relief's (the relief is the measurement's error). It measures
      along the true local vertical ``u`` (the innovation holds ``e . u``) while the filter updates its z axis,
      a small-angle approximation: below 10 km the lander is within ~55 km of the target, ``u`` within 1.8 deg
      of z (0.1 deg below 1 km), so at most ``sin(1.8 deg)``, 3 % of the horizontal error (tens of metres there,
      against an altimeter error of 50 m plus the relief's), leaks into the vertical update."""
    h = altitude(r)
    local_up = r / jnp.linalg.norm(r)
    nav = propagate(nav, dt, p.imu_velocity_random_walk_mps_per_sqrt_s, noise.imu)
    fix = jnp.floor((t + dt) / p.fm_interval_s)  # a fix when a new period begins within the step
    fm_fix = p.map_relative_nav & (h < p.fm_max_altitude_m) & (jnp.floor(t / p.fm_interval_s) != fix)
    fm_sigma = x.fm_error_floor_m + p.fm_error_per_altitude * h
    fm_error = fm_sigma * ev.fix_normals[jnp.minimum(fix.astype(jnp.int32), ev.fix_normals.shape[0] - 1)]
    nav = kalman_update(nav, False, fm_error - nav.r, fm_sigma**2, fm_fix)
    measured = p.velocimeter & (h < p.velocimeter_max_altitude_m)
    vm_error = ev.velocimeter_bias + p.velocimeter_noise_mps * noise.velocimeter
    nav = kalman_update(nav, True, vm_error - nav.v, p.velocimeter_noise_mps**2, measured)
    alt_error, _, alt_variance = altimeter(p, x, ev, r, h_terrain, noise.altimeter)
    z_axis = jnp.arange(3) == 2
    measured = z_axis & (h < p.altimeter_max_altitude_m)
    return kalman_update(nav, False, alt_error - jnp.dot(nav.r, local_up), alt_variance, measured)


def touchdown(landed, td: Touchdown, old: State, new: State, t, dt, thrust_vector, old_terrain_m, new_terrain_m):
    """Whether the step from ``old`` to ``new`` (at time ``t``, ``dt`` long, s) is the first to end at or below
    the ground (the terrain under the lander, ``old_terrain_m`` and ``new_terrain_m`` m above the sphere at the
    step's ends), and the :class:`Touchdown`, linearly interpolated inside that step (in the height above the
    terrain) where it is (else ``td``)."""
    h, old_h = altitude(new.r) - new_terrain_m, altitude(old.r) - old_terrain_m
    crosses = ~landed & (h <= 0.0)
    frac = jnp.clip(old_h / jnp.maximum(old_h - h, 1e-9), 0.0, 1.0)
    touch = tuple(a + frac * (b - a) for a, b in zip(old, new))
    candidate = Touchdown(touch[0], touch[1], touch[2], t + frac * dt, thrust_vector)
    return crosses, jax.tree_util.tree_map(lambda was, cand: jnp.where(crosses, cand, was), td, candidate)


def step(p, x, ms: Mission, lg: Legs, ev: Events, carry: Carry, k, noise: StepNoise):
    """One step of the descent (``k`` from PDI): guidance on the navigated state, actuation, dynamics, navigation,
    touchdown. Returns the next :class:`Carry` (its actuator at the step's end), the :class:`Thrust` and whether
    the lander flew in the step."""
    t = k * ms.dt
    state, nav = carry.state, carry.nav
    accel = guidance(p, lg, ms.dt, t, state.r + nav.r, state.v + nav.v)
    thrust, actuator = actuation(p, x, ms, ev, t, state.m, accel, carry.actuator)
    new = dynamics(p, ms, state, thrust.vector)
    new_terrain = terrain_height(ev.relief, new.r)
    nav = navigation(p, x, ev, nav, t, ms.dt, new.r, new_terrain, noise)
    crosses, td = touchdown(
        carry.landed, carry.touchdown, state, new, t, ms.dt, thrust.vector, carry.terrain_m, new_terrain
    )
    flying = ~(carry.landed & ~crosses)
    max_throttle = jnp.where(flying, jnp.maximum(carry.max_throttle, thrust.throttle), carry.max_throttle)
    landed = carry.landed | crosses
    state = jax.tree_util.tree_map(lambda was, n: jnp.where(landed, was, n), state, new)
    terrain = jnp.where(landed, carry.terrain_m, new_terrain)
    return Carry(state, nav, landed, td, max_throttle, actuator, terrain), thrust, flying


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


def lean_azimuth(td: Touchdown, local_up):
    """Azimuth (rad) of the thrust's tilt at touchdown (where the lander leans) from its horizontal velocity,
    counter-clockwise about ``local_up``; 0 where either is zero."""
    heading = td.v - jnp.dot(td.v, local_up) * local_up
    lean = td.thrust - jnp.dot(td.thrust, local_up) * local_up
    return jnp.arctan2(jnp.dot(jnp.cross(heading, lean), local_up), jnp.dot(heading, lean))


def outputs(p, ms: Mission, terrain: Terrain, ev: Events, td: Touchdown, max_throttle, key, dtype) -> dict:
    """The landing's outputs (see ``OUTPUTS``) from the :class:`Touchdown` ``td``: speeds in the local frame, the
    touchdown point along and across the track (on the sphere, from the target), the thrust's tilt, the terrain
    there and the outcome (:func:`campaign.models.rules.touchdown_outcome`; the downhill direction drawn uniform
    about the horizontal velocity)."""
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
    downhill = 2 * jnp.pi * _uniform(key, "slope_azimuth", dtype)
    outcome = rules.touchdown_outcome(
        p,
        slope,
        rock,
        v_vertical,
        v_horizontal,
        downhill,
        tilt_deg,
        lean_azimuth(td, local_up),
        propellant_left,
        G_MOON,
        jnp,
    )
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
    and the lowest thrust allowed (N), whether the lander was still flying, the actuator at the step's end (the
    thrust reached ``actuator_thrust``, N, and its ``direction`` before the misalignment, a unit vector), the
    navigation error ``nav_r`` (m, (3,)) and ``nav_v`` (m/s, (3,)) and the filter's 1-sigma of it per axis
    ``nav_sigma_r`` and ``nav_sigma_v`` (landing-site frame), and the terrain's height under the lander
    ``terrain_m`` (m above the sphere). For tests and plots."""
    return _descend(params.landing, inputs.landing, tables, key, record=True)


def _descend(p, x, tables: Tables, key, record: bool):
    """The descent of the ``landing`` parameters ``p`` and inputs ``x``: the mission's draws, the loop of
    :func:`step` over ``tables.step_index`` inside ``lax.scan``, the completion of a lander still airborne, and
    the outputs (with the per-step record of :func:`trajectory` where ``record``)."""
    dtype = x.thrust_factor.dtype
    ms = mission(p, x, dtype)
    ev = events(p, x, ms, tables, key, dtype)
    terrain = target_terrain(p, x, key, dtype)
    lg = legs(p, ms, terrain.divert)

    def body(carry: Carry, xs):
        k, noise = xs
        carry, thrust, flying = step(p, x, ms, lg, ev, carry, k, noise)
        s, nav, a = carry.state, carry.nav, carry.actuator
        return carry, (
            (
                (k * ms.dt + ms.dt, s.r, s.v, s.m, thrust.vector, thrust.available, thrust.floor, flying)
                + (a.thrust_n, a.direction)
                + (nav.r, nav.v, jnp.sqrt(nav.cov.pp), jnp.sqrt(nav.cov.vv), carry.terrain_m)
            )
            if record
            else None
        )

    start = State(*initial_state(p, p.mass_at_pdi_kg + x.propellant_error_kg))
    zero3 = jnp.zeros(3, dtype)
    td0 = Touchdown(start.r, start.v, start.m, jnp.zeros((), dtype), zero3)
    nav0 = initial_navigation(p, x, ev, dtype)
    # The engines ignite at PDI already pointed and throttled as guidance first commands (no ignition transient).
    wanted, direction, *_ = command(p, ms, ev, 0.0, start.m, guidance(p, lg, ms.dt, 0.0, start.r + nav0.r, start.v))
    actuator0 = Actuator(wanted, direction)
    carry0 = Carry(
        start, nav0, jnp.array(False), td0, jnp.zeros((), dtype), actuator0, terrain_height(ev.relief, start.r)
    )
    last, recorded = jax.lax.scan(body, carry0, (tables.step_index, ev.noise))
    td = airborne_completion(p, ms.exhaust, last.state, last.landed, last.touchdown, tables.step_index.shape[0] * ms.dt)
    out = outputs(p, ms, terrain, ev, td, last.max_throttle, key, dtype)
    out |= rules.record_fault(p, x, out["outcome"], _uniform(key, "unmodelled_fault", dtype), jnp)
    if not record:
        return out, None
    names = ("t", "r", "v", "m", "thrust", "available", "floor", "flying", "actuator_thrust", "direction") + (
        "nav_r",
        "nav_v",
        "nav_sigma_r",
        "nav_sigma_v",
        "terrain_m",
    )
    return out, dict(zip(names, recorded))


MODEL = MissionModel(
    name="landing",
    doc="Powered descent from PDI to touchdown",
    sections=(SECTION,),
    outputs=OUTPUTS,
    simulate=simulate,
    prepare=prepare,
)
