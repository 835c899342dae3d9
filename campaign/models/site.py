"""The landing site's environment: what the Sun, the Earth, the horizon and the regolith do at the site, for
every model that puts a rover there (:mod:`campaign.models.night_survival`, :mod:`campaign.models.surface`).

Host-side preparation (once per campaign, :func:`prepare`): an hourly table covering the landing window plus the
mission of everything that depends on time only: the Sun's elevation, the nominal horizon under the Sun's azimuth,
the Sun's apparent radius and flux, the Earth's elevation above the nominal horizon under it (all from DE421), and
the regolith surface temperature from the 1-D model of :mod:`campaign.models.regolith` (spun up for 90 days before
the window), driven by the nominal horizon's insolation on level ground. A mission interpolates the table linearly
at its own times; what depends on the mission (the horizon's shift, the rover) is applied to the interpolated
values. Interpolating these angles rather than the direction vectors costs nothing in accuracy (second-order terms
of an hourly grid, < 0.001 deg at the pole; ``tests/test_night_survival.py``) and takes every inverse trigonometric
function off the per-step path.

The horizon has a height (:func:`horizon_at_height`): each site gives its horizon as seen from
``site.reference_height_m`` (the height of the published illumination figure it is calibrated to) and the distance
of the terrain that sets it, per azimuth; an observer raised by ``dh`` sees that terrain ``~dh / d`` radians lower.
The solar array sees the horizon from ``power.array_height_m`` (LUPEX's array is a thin-film solar-cell *tower*,
DATA.md): its power, and the site's light tallied below (darkness, sunlit fraction), are the array's. The rover
body keeps the reference height's horizon, whatever the tower: the Earth's visibility (the antenna is on the body,
which stands ~1.5 m tall stowed, DATA.md, close to the 2 m of the published figures) and the regolith's insolation,
hence the box's radiative sink (a tower shades or lights no more ground). Strictly, the ground sees its horizon
from 0 m, which is darker than from 2 m (Gläser et al. 2018: 69.5-82.9% at the surface against 77.1-88.0% at 2 m,
DATA.md), but the parametric terrain here has no metre-scale relief near the rover to say by how much, so the
calibrated profile is kept for it, as before (the defaults' outputs unchanged).

Time loop: the environment of a block of ``BLOCK_STEPS`` steps is computed at once (vectorised over the block, off
the sequential path), then the model's step (:func:`campaign.models.power_thermal.step`, or the surface
mission's) runs over the block in a ``lax.scan``. Beside
the rover's state, the loop tallies the landing site's light (:class:`SiteLight`) at every step of the planned
stay, whatever happens to the rover: the longest darkness and the sunlit and Earth-visible fractions are properties
of the site, the landing date and the array's height, and a tally that stopped with the rover would make them look
driven by how long the rover lives (a rover that freezes early "sees" a short darkness).

Assumptions (stated, not hidden): the landed position changes the site geometry negligibly (100 m is 0.003 deg of
selenographic arc) and acts through the horizon: the horizon rises by ``horizon_gradient_deg_per_km`` per km from
the surveyed point, plus an independent horizon error, alike for the array's horizon and the body's. The box sees
the regolith over ``ground_view_factor`` of its radiating hemisphere and 3 K sky over the rest. The array turns
towards the Sun's azimuth. The array's height acts through the host-side table (a sweep over it prepares one table
per value; no gradient flows through it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import environment as envmod
from . import power_thermal as pt
from . import regolith
from ._spec import Input, Param, Section, TableArray

SPIN_UP_DAYS = 90.0  # regolith model spin-up before the landing window (three lunations)
TABLE_STEP_HOURS = 1.0  # assumed: hourly table, its interpolation error bounded in tests/test_night_survival.py
HORIZON_SAMPLES = 72  # horizon profile resolution: every 5 degrees of azimuth
SKY_K = 3.0  # K, the cold sky's radiative sink (cosmic background 2.7 K, rounded: assumed)
BLOCK_STEPS = 48  # steps whose environment is computed at once (measured: benchmarks/README.md)
# Columns of the environment table (SiteTables.table), one row per TABLE_STEP_HOURS.
ENV_COLUMNS = (
    "sun_elevation_deg",  # the Sun's centre above the local horizontal plane
    "sun_horizon_deg",  # the nominal horizon's elevation at the Sun's azimuth, seen from the array's height
    "sun_radius_deg",  # apparent radius of the solar disk
    "solar_flux_w_m2",  # at the Moon's distance from the Sun, normal incidence
    "sun_sin_elevation",
    "sun_cos_elevation",
    "earth_clearance_deg",  # the Earth's centre above the nominal horizon at its azimuth, seen from the body
    "regolith_temp_k",  # surface temperature of level regolith under the body's nominal horizon
)
# Columns of site_table: what the rover's design sees, before the mission's own horizon shift.
SITE_COLUMNS = (
    "sun_elevation_deg",
    "sun_horizon_deg",
    "sun_radius_deg",
    "solar_flux_w_m2",
    "array_cos_incidence",
    "sink_temp_k",
    "earth_clearance_deg",
)

SITE = Section(
    name="site",
    params=(
        Param("latitude_deg", "deg", "Selenographic latitude of the surveyed site", ge=-90, le=90),
        Param("longitude_deg", "deg", "Selenographic longitude (east) of the surveyed site", ge=-360, le=360),
        Param(
            "reference_height_m",
            "m",
            "Height above the ground at which the horizon below is given (that of the "
            "published illumination figure it is calibrated to); also the height of the rover body's view "
            "(antenna, surrounding regolith)",
            ge=0,
        ),
        Param(
            "horizon_mean_deg",
            "deg",
            "Mean elevation of the local horizon seen from reference_height_m (calibrated, see campaign/sites.py)",
            ge=-10,
            le=30,
        ),
        Param(
            "horizon_amplitudes_deg",
            "deg",
            "Amplitudes of the horizon's azimuthal harmonics (k = 1, 2, ...)",
            ge=0,
            le=30,
            kind="floats",
        ),
        Param("horizon_phases_deg", "deg", "Azimuths of the harmonics' maxima", ge=-360, le=360, kind="floats"),
        Param(
            "horizon_distance_km",
            "km",
            "Distance of the terrain that sets the horizon (scale of its azimuthal "
            "profile): how much the horizon drops for an observer raised above reference_height_m",
            gt=0,
            le=500,
        ),
        Param(
            "horizon_distance_log_amplitudes",
            "1",
            "Harmonics of the natural log of that distance (k = 1, 2, ...; [0.0]: the same distance at every azimuth)",
            ge=0,
            le=5,
            kind="floats",
        ),
        Param(
            "horizon_distance_phases_deg",
            "deg",
            "Azimuths where those harmonics make the terrain farthest",
            ge=-360,
            le=360,
            kind="floats",
        ),
        Param("horizon_gradient_deg_per_km", "deg/km", "Rise of the horizon per km away from the surveyed point", ge=0),
    ),
    inputs=(
        Input("horizon_error_deg", "deg", "Error of the surveyed horizon elevation"),
        Input("landing_offset_east_m", "m", "Landed position east of the target"),
        Input("landing_offset_north_m", "m", "Landed position north of the target"),
    ),
)


def horizon_profile(mean_deg: float, amplitudes_deg, phases_deg, samples: int = HORIZON_SAMPLES) -> np.ndarray:
    """Parametric horizon: elevation (deg) at ``samples`` azimuths from north,
    ``mean + sum_k a_k cos(k (az - phase_k))``: shape (samples,)."""
    az = np.radians(np.arange(samples) * 360.0 / samples)
    h = np.full(samples, float(mean_deg))
    for k, (a, ph) in enumerate(zip(amplitudes_deg, phases_deg), start=1):
        h += a * np.cos(k * (az - np.radians(ph)))
    return h


def horizon_distance_profile(scale_km: float, log_amplitudes, phases_deg, samples: int = HORIZON_SAMPLES) -> np.ndarray:
    """Distance (km) of the terrain that sets the horizon, at ``samples`` azimuths from north:
    ``scale * exp(sum_k a_k cos(k (az - phase_k)))``, positive at every azimuth; shape (samples,)."""
    az = np.radians(np.arange(samples) * 360.0 / samples)
    log_d = np.zeros(samples)
    for k, (a, ph) in enumerate(zip(log_amplitudes, phases_deg), start=1):
        log_d += a * np.cos(k * (az - np.radians(ph)))
    return float(scale_km) * np.exp(log_d)


def curvature_drop_rad(distance_km):
    """Angle (rad) by which terrain at ``distance_km`` sits lower than on a flat Moon, seen from the site: the
    sphere falls ``d^2 / (2 R)`` below the tangent plane at distance ``d``, i.e. ``d / (2 R)`` radians."""
    return np.asarray(distance_km) / (2.0 * envmod.MOON_RADIUS_KM)


def terrain_height_m(reference_deg, distance_km, reference_height_m: float):
    """Height (m) above the site's ground of the terrain that sets the horizon, relative to a sphere through the
    site (any shape): the ``z`` for which ``atan((z - h_ref) / d) - d / (2 R)`` is the horizon ``reference_deg``
    seen from ``reference_height_m``."""
    d_m = np.asarray(distance_km) * 1000.0
    return reference_height_m + d_m * np.tan(np.radians(reference_deg) + curvature_drop_rad(distance_km))


def horizon_at_height(reference_deg, distance_km, reference_height_m: float, height_m: float) -> np.ndarray:
    """Horizon elevation (deg) seen from ``height_m`` above the ground, given the horizon ``reference_deg`` seen
    from ``reference_height_m`` and the distance of the terrain that sets it (any shapes that broadcast).

    The terrain stays where it is (:func:`terrain_height_m`, ``z``) and the observer rises, so the elevation is
    ``atan((z - h) / d) - d / (2 R)`` (the last term: the Moon's curvature, :func:`curvature_drop_rad`). Written as
    the reference plus the exact difference of two arctangents, ``atan(a) - atan(b) = atan2(a - b, 1 + a b)`` with
    ``b = (z - h_ref) / d`` and ``a = (z - h) / d``, so that at ``height_m == reference_height_m`` it returns the
    reference profile to the bit (the curvature term, the same at both heights, cancels). A terrain farther
    away moves less: by ``~(h - h_ref) / d`` radians. The terrain that sets the horizon is taken to stay the one
    that sets it (no farther ridge takes over as the observer rises): fair for an array raised by metres above
    terrain whose horizon lies hundreds of metres to kilometres away, an extrapolation for much taller towers."""
    reference = np.asarray(reference_deg, dtype=np.float64)
    d_m = np.asarray(distance_km, dtype=np.float64) * 1000.0
    b = np.tan(np.radians(reference) + curvature_drop_rad(distance_km))
    rise = (float(height_m) - float(reference_height_m)) / d_m
    return reference + np.degrees(np.arctan2(-rise, 1.0 + (b - rise) * b))


def site_horizons(params: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The site's nominal horizon profiles (deg, shape (HORIZON_SAMPLES,) each), host side: as the rover body sees
    it (from ``site.reference_height_m``: the calibrated profile itself) and as the solar array sees it (from
    ``power.array_height_m``). At the reference height the two are the same array of numbers."""
    body = horizon_profile(
        params["site.horizon_mean_deg"], params["site.horizon_amplitudes_deg"], params["site.horizon_phases_deg"]
    )
    distance = horizon_distance_profile(
        params["site.horizon_distance_km"],
        params["site.horizon_distance_log_amplitudes"],
        params["site.horizon_distance_phases_deg"],
    )
    array = horizon_at_height(
        body, distance, float(params["site.reference_height_m"]), float(params["power.array_height_m"])
    )
    return body, array


def check(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cross-field checks of the site: each list of harmonic phases as long as its list of amplitudes."""
    problems = []
    for amplitudes, phases in (
        ("horizon_amplitudes_deg", "horizon_phases_deg"),
        ("horizon_distance_log_amplitudes", "horizon_distance_phases_deg"),
    ):
        n, m = len(list(params[f"site.{amplitudes}"])), len(list(params[f"site.{phases}"]))
        if n != m:
            problems.append(
                (f"mission.site.{phases}", f"must have one entry per entry of mission.site.{amplitudes} ({n}), got {m}")
            )
    return problems


def visible_disk(sun_enu: np.ndarray, distance_au: np.ndarray, horizon_deg: np.ndarray) -> np.ndarray:
    """Visible fraction of the solar disk (host, NumPy) for Sun directions in ENU and a horizon profile."""
    elevation = np.degrees(np.arcsin(np.clip(sun_enu[:, 2], -1, 1)))
    azimuth = np.degrees(np.arctan2(sun_enu[:, 0], sun_enu[:, 1])) % 360
    h = envmod.horizon_elevation(horizon_deg, azimuth)
    return envmod.disk_fraction_visible(elevation, h, envmod.sun_radius_deg(distance_au))


def environment_table(
    sun_enu: np.ndarray,
    earth_enu: np.ndarray,
    distance_au: np.ndarray,
    array_horizon_deg: np.ndarray,
    body_horizon_deg: np.ndarray,
    regolith_k: np.ndarray,
) -> np.ndarray:
    """The time-only quantities of :data:`ENV_COLUMNS` (host, NumPy, float64) from Sun/Earth directions in ENU
    (n, 3), the Sun's distance (n,), the nominal horizon profiles seen from the array and from the rover body
    (:func:`site_horizons`) and the regolith temperature (n,): shape (n, len(ENV_COLUMNS)). The Sun's horizon is
    the array's; the Earth's is the body's (the antenna)."""
    sun_el, sun_az = envmod._elevation_azimuth_np(sun_enu)
    earth_el, earth_az = envmod._elevation_azimuth_np(earth_enu)
    columns = {
        "sun_elevation_deg": sun_el,
        "sun_horizon_deg": envmod.horizon_elevation(array_horizon_deg, sun_az),
        "sun_radius_deg": envmod.sun_radius_deg(distance_au),
        "solar_flux_w_m2": regolith.SOLAR_CONSTANT_W_M2 / distance_au**2,
        "sun_sin_elevation": sun_enu[:, 2],
        "sun_cos_elevation": np.hypot(sun_enu[:, 0], sun_enu[:, 1]),
        "earth_clearance_deg": earth_el - envmod.horizon_elevation(body_horizon_deg, earth_az),
        "regolith_temp_k": regolith_k,
    }
    return np.stack([columns[name] for name in ENV_COLUMNS], axis=1)


class SiteTables(NamedTuple):
    """What :func:`prepare` computes on the host, once per campaign: the landing site's environment."""

    table: TableArray  # (rows, len(ENV_COLUMNS)), one row every TABLE_STEP_HOURS
    window_offset_h: TableArray  # hours from the table's first row to the landing window's opening
    step_index: TableArray  # (steps,) int32: the surface mission's steps


def prepare(params: Mapping[str, Any]) -> SiteTables:
    """The landing site's environment table (see :data:`ENV_COLUMNS`) for a campaign (host side, once)."""
    start = np.datetime64(str(params["surface.landing_window_start_utc"]), "s")
    span_days = SPIN_UP_DAYS + float(params["surface.landing_window_days"]) + float(params["surface.mission_days"]) + 2
    hours = np.arange(0.0, span_days * 24 + TABLE_STEP_HOURS, TABLE_STEP_HOURS)
    utc = start - np.timedelta64(int(SPIN_UP_DAYS * 86400), "s") + (hours * 3600).astype("timedelta64[s]")
    d = envmod.site_directions(
        float(params["site.latitude_deg"]),
        float(params["site.longitude_deg"]),
        float(params["site.reference_height_m"]),
        envmod.utc_to_tdb_jd(utc),
    )
    body, array = site_horizons(params)
    disk = visible_disk(d["sun_enu"], d["sun_distance_au"], body)  # the ground's light: the body's horizon
    elevation = np.degrees(np.arcsin(np.clip(d["sun_enu"][:, 2], -1, 1)))
    regolith_k = regolith.surface_temperature(
        regolith.absorbed_flux(elevation, disk, d["sun_distance_au"]), TABLE_STEP_HOURS * 3600.0
    )
    steps = int(round(float(params["surface.mission_days"]) * 24 / float(params["surface.step_hours"])))
    return SiteTables(
        table=environment_table(d["sun_enu"], d["earth_enu"], d["sun_distance_au"], array, body, regolith_k),
        window_offset_h=np.asarray(SPIN_UP_DAYS * 24, np.float64),
        step_index=np.arange(steps, dtype=np.int32),
    )


def landing_position(params, inputs, tables) -> tuple[jax.Array, jax.Array]:
    """Where the landing falls in the environment table: ``(row, fraction)``, the row an int32 and the fraction
    in [0, 1). Whole rows and fractions are summed apart, so that in float32 the fraction keeps its own
    precision (a position near row 5,000 held as one float32 would be off by up to 5e-4 rows)."""
    a = tables.window_offset_h / TABLE_STEP_HOURS
    b = inputs.surface.landing_time_frac * params.surface.landing_window_days * (24.0 / TABLE_STEP_HOURS)
    whole_a, whole_b = jnp.floor(a), jnp.floor(b)
    frac = (a - whole_a) + (b - whole_b)
    carry = frac >= 1.0
    return (whole_a + whole_b).astype(jnp.int32) + carry.astype(jnp.int32), jnp.where(carry, frac - 1.0, frac)


def step_position(landing, step_index, rows_per_step, table_rows: int) -> tuple[jax.Array, jax.Array]:
    """Row and interpolation weight of the table at mission steps ``step_index`` (any shape) after a landing at
    ``landing`` (see :func:`landing_position`), again summing whole rows and fractions apart."""
    row, frac = landing
    u = step_index.astype(frac.dtype) * rows_per_step
    whole = jnp.floor(u)
    y = frac + (u - whole)
    carry = y >= 1.0
    index = row + whole.astype(jnp.int32) + carry.astype(jnp.int32)
    weight = jnp.where(carry, y - 1.0, y)
    beyond = index > table_rows - 2  # never inside a campaign (the table has 2 days to spare): hold the end
    return jnp.where(beyond, table_rows - 2, index), jnp.where(beyond, 1.0, weight)


def site_table(params, tables) -> jax.Array:
    """The environment table as the rover's design sees it, one row per table instant: :data:`SITE_COLUMNS`,
    shape (rows, len(SITE_COLUMNS)). The array's incidence (for its tilt) and the radiative sink (for the box's
    view factor) depend on design values only, so they are computed once per batch here and interpolated like
    the rest."""
    table = tables.table
    col = lambda name: table[:, ENV_COLUMNS.index(name)]  # noqa: E731
    tilt = jnp.radians(params.power.array_tilt_deg)
    f = params.thermal.ground_view_factor
    regolith_k2 = col("regolith_temp_k") ** 2
    derived = {
        "array_cos_incidence": jnp.maximum(
            col("sun_sin_elevation") * jnp.cos(tilt) + col("sun_cos_elevation") * jnp.sin(tilt), 0.0
        ),
        "sink_temp_k": jnp.sqrt(jnp.sqrt(f * regolith_k2 * regolith_k2 + (1 - f) * SKY_K**4)),  # 4th root
    }
    return jnp.stack([derived[name] if name in derived else col(name) for name in SITE_COLUMNS], axis=1)


def environment_at(table, shift_deg, index, weight) -> pt.Env:
    """What the rover experiences at position ``index + weight`` (any shape) of a :func:`site_table`, for a
    horizon raised by ``shift_deg`` (broadcast against it)."""
    pair = jnp.vectorize(lambda i: jax.lax.dynamic_slice_in_dim(table, i, 2), signature="()->(n,m)")(index)
    w = weight[..., None]
    row = (1 - w) * pair[..., 0, :] + w * pair[..., 1, :]
    c = {name: row[..., j] for j, name in enumerate(SITE_COLUMNS)}
    return pt.Env(
        solar_flux_w_m2=c["solar_flux_w_m2"],
        disk_fraction=envmod.disk_fraction_visible(
            c["sun_elevation_deg"], c["sun_horizon_deg"] + shift_deg, c["sun_radius_deg"]
        ),
        array_cos_incidence=c["array_cos_incidence"],
        sink_temp_k=c["sink_temp_k"],
        earth_visible=c["earth_clearance_deg"] > shift_deg,
    )


def horizon_shift_deg(params, inputs):
    """Horizon error plus the rise with distance from the surveyed point (deg)."""
    distance_km = jnp.hypot(inputs.site.landing_offset_east_m, inputs.site.landing_offset_north_m) / 1000.0
    return inputs.site.horizon_error_deg + params.site.horizon_gradient_deg_per_km * distance_km


class SiteLight(NamedTuple):
    """The landing site's light over the planned stay (scalars, hours), tallied at every step of it whatever
    happens to the rover: from the environment of the landed position (its horizon included; the Sun as seen from
    the array's height, the Earth from the body's), before anything the rover does changes its own light (a
    shadowed stretch of its route, :mod:`campaign.models.surface`)."""

    dark_h: jnp.ndarray  # length of the current darkness (0 in light)
    longest_dark_h: jnp.ndarray
    sunlit_h: jnp.ndarray
    earth_h: jnp.ndarray


def site_light_init(dtype) -> SiteLight:
    """No light tallied yet: at landing."""
    z = jnp.zeros((), dtype)
    return SiteLight(dark_h=z, longest_dark_h=z, sunlit_h=z, earth_h=z)


def site_light_step(light: SiteLight, env: pt.Env, dt_h, sunlit_disk_fraction) -> SiteLight:
    """``light`` after one step of ``dt_h`` hours in the site's environment ``env``. Darkness and sunlight are
    decided as the rover's power model decides them (less than :data:`~campaign.models.power_thermal.DARK_DISK_FRACTION`
    of the solar disk visible; more than ``sunlit_disk_fraction``, ``power.sunlit_disk_fraction``), so that for a
    rover alive throughout they are its own."""
    dark_h = jnp.where(env.disk_fraction < pt.DARK_DISK_FRACTION, light.dark_h + dt_h, 0.0)
    return SiteLight(
        dark_h=dark_h,
        longest_dark_h=jnp.maximum(light.longest_dark_h, dark_h),
        sunlit_h=light.sunlit_h + jnp.where(env.disk_fraction > sunlit_disk_fraction, dt_h, 0.0),
        earth_h=light.earth_h + jnp.where(env.earth_visible, dt_h, 0.0),
    )


def run_steps(params, inputs, tables, step_fn, carry, record: bool = False):
    """Run ``carry = step_fn(carry, env, step_index)`` over the surface mission's steps, the environment of a
    block of :data:`BLOCK_STEPS` steps computed at once (vectorised, off the sequential path) and the steps of
    the block then taken one after the other in a ``lax.scan``. ``env`` is the landing site's environment; the
    loop tallies its :class:`SiteLight` at every step, beside ``carry`` and whatever ``step_fn`` does with it.

    Returns ``(carry, light)``, the final carry and the site's :class:`SiteLight`. With ``record``,
    ``step_fn`` returns ``(carry, y)`` and the ``y`` of every step are returned too, ``(carry, light, ys)``,
    stacked along a leading axis of the mission's steps (for tests and diagnostics)."""
    dt_h = params.surface.step_hours
    sunlit = params.power.sunlit_disk_fraction
    shift = horizon_shift_deg(params, inputs)
    landing = landing_position(params, inputs, tables)
    table = site_table(params, tables)

    def one(c, xs):
        env, i = xs
        c, light = c
        light = site_light_step(light, env, dt_h, sunlit)
        c, y = step_fn(c, env, i) if record else (step_fn(c, env, i), None)
        return (c, light), y

    def advance(c, step_index):
        env = environment_at(table, shift, *step_position(landing, step_index, dt_h / TABLE_STEP_HOURS, table.shape[0]))
        return jax.lax.scan(one, c, (env, step_index))

    step_index = tables.step_index
    whole = step_index.shape[0] // BLOCK_STEPS * BLOCK_STEPS
    carry = (carry, site_light_init(inputs.surface.landing_time_frac.dtype))
    ys = []
    if whole:
        carry, y = jax.lax.scan(advance, carry, step_index[:whole].reshape(-1, BLOCK_STEPS))
        ys.append(jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), y))
    if whole < step_index.shape[0]:
        carry, y = advance(carry, step_index[whole:])
        ys.append(y)
    if not record:
        return carry
    return (*carry, jax.tree.map(lambda *a: jnp.concatenate(a), *ys))
