"""Environment at a lunar site: Sun and Earth directions from JPL DE421, the local horizon, illumination.

Host side (NumPy + jplephem, run once per campaign): :func:`site_directions` evaluates DE421 (positions and the
lunar physical librations shipped in the ``de421`` package) and returns unit vectors of the Sun and the Earth in
the site's local East-North-Up frame on a time grid. :func:`sun_elevation_azimuth` and
:func:`earth_elevation_azimuth` are the public per-time functions.

Model side (JAX, and NumPy on the host): :func:`horizon_elevation` and :func:`disk_fraction_visible` turn
elevations and azimuths into what the rover experiences; :mod:`campaign.models.site` tabulates them hourly and
interpolates the table per mission step.

Frames and conventions
----------------------
* DE421 positions are in the ICRF (km); the lunar principal-axis (PA) frame follows from the three libration
  Euler angles as ``v_PA = R3(psi) R1(theta) R3(phi) v_ICRF`` (frame rotations), and the mean-Earth/polar-axis
  (ME) frame, in which selenographic coordinates are defined, from the constant DE421 rotation of Williams et al.
  (2008, JPL IOM 335-JW,DB,WF-20080314-001): 67.92", 78.56", 0.30" about z, y, x.
* Time: UTC to TDB adds 69.184 s (37 leap seconds since 2017 + 32.184 s); the periodic TDB-TT terms (< 2 ms)
  are ignored.
* Elevation is measured from the local horizontal plane of a sphere of radius 1737.4 km (DATA.md); azimuth from
  north towards east. The Earth is topocentric (the site is 1737 km from the Moon's centre, 0.26 deg of parallax);
  for the Sun the parallax (< 0.001 deg) is ignored.
"""

from __future__ import annotations

from functools import lru_cache
from typing import overload

import jax
import jax.numpy as jnp
import numpy as np

from . import _math

MOON_RADIUS_KM = 1737.4  # DATA.md
AU_KM = 149597870.7  # astronomical unit (IAU 2012, exact)
SUN_RADIUS_KM = 695700.0  # IAU 2015 nominal solar radius
UTC_TO_TDB_S = 69.184  # 37 leap seconds (since 2017-01-01) + 32.184 s (TT - TAI)
J2000_JD = 2451545.0  # the J2000.0 epoch, Julian date (TDB)
ARCSEC = np.pi / 180 / 3600
_PA_TO_ME_ARCSEC = (67.92, 78.56, 0.30)  # DE421, about z, y, x (Williams et al. 2008)


def _r1(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, s], [0, -s, c]])


def _r2(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])


def _r3(a: np.ndarray) -> np.ndarray:
    """Frame rotation about z, vectorised over ``a`` (shape (...,)) -> (..., 3, 3)."""
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, s, z], -1), np.stack([-s, c, z], -1), np.stack([z, z, o], -1)], -2)


_PA_TO_ME = (
    _r1(-_PA_TO_ME_ARCSEC[2] * ARCSEC)
    @ _r2(-_PA_TO_ME_ARCSEC[1] * ARCSEC)
    @ _r3(np.array(-_PA_TO_ME_ARCSEC[0] * ARCSEC))
)


@lru_cache(maxsize=1)
def _ephemeris():
    import de421
    from jplephem.ephem import Ephemeris

    return Ephemeris(de421)


def utc_to_tdb_jd(utc: np.ndarray) -> np.ndarray:
    """Julian date (TDB) of UTC instants given as ``numpy.datetime64`` (any shape)."""
    seconds = np.asarray(utc, dtype="datetime64[ns]") - np.datetime64("2000-01-01T12:00:00", "ns")
    return J2000_JD + (seconds.astype(np.float64) * 1e-9 + UTC_TO_TDB_S) / 86400.0


def moon_fixed_vectors(tdb_jd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Selenocentric Sun and Earth position vectors (km) in the lunar ME frame: two arrays of shape (n, 3)."""
    e = _ephemeris()
    jd = np.atleast_1d(np.asarray(tdb_jd, dtype=np.float64))
    emb, moon_geo, sun = (np.asarray(e.position(name, jd)).reshape(3, -1).T for name in ("earthmoon", "moon", "sun"))
    earth = emb - moon_geo / (1.0 + e.EMRAT)  # the Earth-Moon barycentre splits by the mass ratio
    moon = earth + moon_geo
    phi, theta, psi = np.asarray(e.position("librations", jd)).reshape(3, -1)
    icrf_to_pa = _r3(psi) @ _r1_batch(theta) @ _r3(phi)
    icrf_to_me = np.einsum("ij,njk->nik", _PA_TO_ME, icrf_to_pa)
    to_me = lambda v: np.einsum("nij,nj->ni", icrf_to_me, v)  # noqa: E731
    return to_me(sun - moon), to_me(-moon_geo)


def _r1_batch(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, s], -1), np.stack([z, -s, c], -1)], -2)


def enu_basis(lat_deg: float, lon_deg: float) -> np.ndarray:
    """Rows: East, North, Up unit vectors (ME frame) at a selenographic latitude/longitude (deg)."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    return np.stack([east, np.cross(up, east), up])


def site_directions(lat_deg: float, lon_deg: float, height_m: float, tdb_jd: np.ndarray) -> dict[str, np.ndarray]:
    """Unit vectors of the Sun and the Earth in the site's ENU frame, shape (n, 3), and the Sun's distance (AU).

    ``height_m`` is the observer's height above the mean sphere plus terrain (it moves the Earth's parallax only).
    """
    sun, earth = moon_fixed_vectors(tdb_jd)
    basis = enu_basis(lat_deg, lon_deg)
    site = basis[2] * (MOON_RADIUS_KM + height_m / 1000.0)
    earth_topo = earth - site
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    return {
        "sun_enu": unit(sun) @ basis.T,
        "earth_enu": unit(earth_topo) @ basis.T,
        "sun_distance_au": np.linalg.norm(sun, axis=-1) / AU_KM,
    }


def _elevation_azimuth_np(enu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    elevation = np.degrees(np.arcsin(np.clip(enu[..., 2], -1, 1)))
    azimuth = np.degrees(np.arctan2(enu[..., 0], enu[..., 1])) % 360.0
    return elevation, azimuth


def sun_elevation_azimuth(lat_deg: float, lon_deg: float, utc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elevation and azimuth (deg, azimuth from north through east) of the Sun's centre at a site, for UTC
    instants given as ``numpy.datetime64`` (shape (n,))."""
    d = site_directions(lat_deg, lon_deg, 0.0, utc_to_tdb_jd(utc))
    return _elevation_azimuth_np(d["sun_enu"])


def earth_elevation_azimuth(lat_deg: float, lon_deg: float, utc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elevation and azimuth (deg) of the Earth's centre seen from a site (topocentric), for UTC instants."""
    d = site_directions(lat_deg, lon_deg, 0.0, utc_to_tdb_jd(utc))
    return _elevation_azimuth_np(d["earth_enu"])


# ------------------------------------------------------------------------------------------ JAX (per mission)
@overload
def horizon_elevation(profile_deg: jax.Array, azimuth_deg: jax.Array | np.ndarray) -> jax.Array: ...
@overload
def horizon_elevation(profile_deg: np.ndarray, azimuth_deg: jax.Array | np.ndarray) -> np.ndarray: ...
def horizon_elevation(
    profile_deg: jax.Array | np.ndarray, azimuth_deg: jax.Array | np.ndarray
) -> jax.Array | np.ndarray:
    """Local horizon elevation (deg) at ``azimuth_deg`` from a profile sampled at equal azimuth steps starting
    at north (periodic linear interpolation). Works in NumPy or JAX."""
    xp = jnp if isinstance(profile_deg, jax.Array) else np
    n = profile_deg.shape[-1]
    x = xp.mod(azimuth_deg, 360.0) / (360.0 / n)
    i0 = xp.floor(x).astype(np.int32) % n
    w = x - xp.floor(x)
    return (1 - w) * profile_deg[i0] + w * profile_deg[(i0 + 1) % n]


def disk_fraction_visible(elevation_deg, horizon_deg, radius_deg):
    """Fraction of a uniform disk of angular radius ``radius_deg`` centred at ``elevation_deg`` that lies above
    a locally straight horizon at ``horizon_deg`` (circular-segment area). Works in NumPy or JAX.

    A disk wholly above (``y <= -1``) or below (``y >= 1``) the horizon gives exactly 1 or 0, as the segment
    formula does there; the formula itself only sees ``|y| < 1`` (the "double where"): at ``|y| = 1`` the
    derivatives of ``sqrt(1 - y^2)`` and ``arccos`` are infinite and, times the clip's zero derivative, would
    make every derivative through this function NaN (:mod:`campaign.gradients`). Values are bit-identical to
    the formula applied to the clipped ``y`` (``tests/test_gradients.py``)."""
    xp = jnp if isinstance(elevation_deg, jax.Array) else np
    arccos = _math.arccos if xp is jnp else np.arccos  # XLA's own arccos is scalar code on the CPU (see _math)
    y = xp.clip((horizon_deg - elevation_deg) / radius_deg, -1.0, 1.0)  # horizon height over the disk radius
    partial = xp.abs(y) < 1.0
    inside = xp.where(partial, y, 0.0)
    return xp.where(
        partial, (arccos(inside) - inside * xp.sqrt(1 - inside * inside)) / np.pi, xp.where(y > 0, 0.0, 1.0)
    )


def sun_radius_deg(distance_au):
    """Apparent angular radius (deg) of the Sun at ``distance_au`` (0.2666 deg at 1 AU)."""
    xp = jnp if isinstance(distance_au, jax.Array) else np
    return xp.degrees(xp.arcsin(SUN_RADIUS_KM / (distance_au * AU_KM)))
