"""Lunar geometry from DE421: known facts of the south pole, and agreement with a direct jplephem evaluation."""

from __future__ import annotations

import de421
import jax.numpy as jnp
import numpy as np
import pytest
from jplephem.ephem import Ephemeris

from campaign.models import environment as env


def hours(start: str, end: str, step_h: float) -> np.ndarray:
    return np.arange(np.datetime64(start), np.datetime64(end), np.timedelta64(int(step_h * 3600), "s"))


@pytest.fixture(scope="module")
def nineteen_years():
    """Every 3 h over a full nodal cycle (18.6 years)."""
    return hours("2017-01-01", "2036-01-01", 3)


def test_sun_never_rises_more_than_about_1_6_deg_at_the_pole(nineteen_years):
    elevation, _ = env.sun_elevation_azimuth(-90.0, 0.0, nineteen_years)
    assert 1.50 < elevation.max() < 1.62 and -1.62 < elevation.min() < -1.50


def test_subsolar_latitude_swings_1_54_deg_over_the_eclipse_year():
    t = hours("2028-01-01", "2030-01-01", 6)
    sun, _ = env.moon_fixed_vectors(env.utc_to_tdb_jd(t))
    latitude = np.degrees(np.arcsin(sun[:, 2] / np.linalg.norm(sun, axis=1)))
    assert latitude.max() == pytest.approx(1.543, abs=0.06) and latitude.min() == pytest.approx(-1.543, abs=0.06)
    # Zero crossings of the sub-solar latitude are half an eclipse year (346.62 d, DATA.md) apart.
    crossings = np.nonzero(np.diff(np.sign(latitude)) != 0)[0] * 0.25
    assert np.mean(np.diff(crossings)) == pytest.approx(346.62 / 2, abs=3.0)


def test_illumination_cycles_with_the_synodic_month():
    t = hours("2028-01-01", "2029-01-01", 1)
    _, azimuth = env.sun_elevation_azimuth(-89.5, 0.0, t)
    turns = np.abs(np.unwrap(np.radians(azimuth))[-1] - np.radians(azimuth[0])) / (2 * np.pi)
    assert len(t) / 24.0 / turns == pytest.approx(29.530589, abs=0.02)
    # A horizon with one high side lights the site once per turn: the visible fraction repeats every 29.53 d.
    d = env.site_directions(-89.5, 0.0, 0.0, env.utc_to_tdb_jd(t))
    elevation, az = env._elevation_azimuth_np(d["sun_enu"])
    horizon = 3.0 * np.cos(np.radians(az))  # 3 deg high towards north, low towards south: lit once a turn
    lit = env.disk_fraction_visible(elevation, horizon, 0.27) - 0.5
    lit = lit - lit.mean()
    spectrum = np.fft.rfft(lit, 2 * lit.size)
    autocorrelation = np.fft.irfft(spectrum * np.conj(spectrum))[: lit.size]
    lags = np.arange(20 * 24, 40 * 24)  # hourly lags between 20 and 40 days
    assert lags[np.argmax(autocorrelation[lags])] / 24.0 == pytest.approx(29.53, abs=0.3)


def test_earth_elevation_at_the_pole_follows_the_libration_in_latitude(nineteen_years):
    _, earth = env.moon_fixed_vectors(env.utc_to_tdb_jd(nineteen_years))
    sub_earth_lat = np.degrees(np.arcsin(earth[:, 2] / np.linalg.norm(earth, axis=1)))
    assert 6.5 < sub_earth_lat.max() < 6.95 and -6.95 < sub_earth_lat.min() < -6.5
    elevation, _ = env.earth_elevation_azimuth(-90.0, 0.0, nineteen_years)
    # At the south pole the Earth stands at minus the sub-Earth latitude, lowered by the ~0.26 deg parallax.
    parallax = np.degrees(env.MOON_RADIUS_KM / np.linalg.norm(earth, axis=1))
    assert np.allclose(elevation, -sub_earth_lat - parallax * np.cos(np.radians(sub_earth_lat)), atol=0.01)


def test_agrees_with_a_direct_jplephem_evaluation():
    """Independent construction: the Moon's spin axis from the libration angles in closed form, and the Sun's
    direction from raw DE421 positions; the sub-solar latitude must match the module's to the size of the
    principal-axis/mean-Earth frame offset (< 0.03 deg)."""
    e = Ephemeris(de421)
    jd = env.utc_to_tdb_jd(hours("2028-06-01", "2028-07-01", 7))
    phi, theta, _ = e.position("librations", jd)
    pole = np.stack([np.sin(theta) * np.sin(phi), -np.sin(theta) * np.cos(phi), np.cos(theta)], axis=1)
    emb, moon_geo, sun = e.position("earthmoon", jd).T, e.position("moon", jd).T, e.position("sun", jd).T
    moon = emb - moon_geo / (1 + e.EMRAT) + moon_geo
    to_sun = (sun - moon) / np.linalg.norm(sun - moon, axis=1, keepdims=True)
    direct = np.degrees(np.arcsin(np.sum(to_sun * pole, axis=1)))
    sun_me, _ = env.moon_fixed_vectors(jd)
    module = np.degrees(np.arcsin(sun_me[:, 2] / np.linalg.norm(sun_me, axis=1)))
    assert np.max(np.abs(direct - module)) < 0.03


@pytest.mark.parametrize(
    "centre, horizon, expected", [(0.0, 0.0, 0.5), (1.0, 0.0, 1.0), (-1.0, 0.0, 0.0), (0.27, 0.0, 1.0), (0.1, 0.1, 0.5)]
)
def test_disk_fraction_analytic_cases(centre, horizon, expected):
    assert env.disk_fraction_visible(np.float64(centre), np.float64(horizon), 0.27) == pytest.approx(expected)


def test_disk_fraction_is_the_circular_segment_area():
    # Horizon half a radius above the centre: segment of height r/2 has area r^2 (pi/3 - sqrt(3)/4).
    assert env.disk_fraction_visible(np.float64(0.0), np.float64(0.135), 0.27) == pytest.approx(
        (np.pi / 3 - np.sqrt(3) / 4) / np.pi
    )
    centres = np.linspace(-0.5, 0.5, 101)
    assert np.all(np.diff(env.disk_fraction_visible(centres, 0.0, 0.27)) >= 0)


def test_horizon_profile_interpolates_periodically():
    profile = np.arange(72, dtype=float)
    assert env.horizon_elevation(profile, np.array(2.5)) == pytest.approx(0.5)
    assert env.horizon_elevation(profile, np.array(357.5)) == pytest.approx(35.5)  # between 71 and 0
    assert env.horizon_elevation(jnp.asarray(profile), jnp.array(365.0)) == pytest.approx(1.0)


def test_sun_radius_at_one_au():
    assert env.sun_radius_deg(1.0) == pytest.approx(0.2666, abs=1e-3)
