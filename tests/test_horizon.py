"""The horizon seen from a height: analytic cases of the geometry, the identity at the reference height (the old
outputs), a taller array never seeing less light, and the same missions surviving at least as long on a tower."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from campaign import engine, sites
from campaign.models import environment as envmod
from campaign.models import site as sitemod
from tests.helpers import compose

R_M = envmod.MOON_RADIUS_KM * 1000.0
SAMPLE = 2048  # missions per design in the common-random-numbers test (one batch, as tests/test_night_survival.py)


def site_values(name: str, array_height_m: float | None = None) -> dict:
    """The ``params`` keys :func:`campaign.models.site.site_horizons` reads, from the site file (array at the
    reference height unless given)."""
    site = sites.load_site(name)
    values = {f"site.{k}": v for k, v in site.items()}
    values["power.array_height_m"] = site["reference_height_m"] if array_height_m is None else array_height_m
    return values


def test_terrain_at_the_sites_level_far_away_sits_below_by_the_curvature_and_barely_moves_with_height():
    """A level plain (terrain at the site's own height on the sphere) 100 km off stands ``d / (2 R)`` = 1.65 deg
    below the horizontal, less ``atan(h / d)``; raising the observer from 2 to 20 m lowers it by
    ``atan(20 / d) - atan(2 / d)`` = 0.0103 deg only, and 1,000 km off by a tenth of that."""
    for d_km in (100.0, 1000.0):
        d_m = d_km * 1000.0
        reference = np.degrees(np.arctan(-2.0 / d_m) - d_m / (2 * R_M))
        assert sitemod.terrain_height_m(reference, d_km, 2.0) == pytest.approx(0.0, abs=1e-6)
        seen = sitemod.horizon_at_height(reference, d_km, 2.0, 20.0)
        assert seen == pytest.approx(np.degrees(np.arctan(-20.0 / d_m) - d_m / (2 * R_M)), abs=1e-12)
        assert reference - seen == pytest.approx(np.degrees(np.arctan(20.0 / d_m) - np.arctan(2.0 / d_m)), rel=1e-9)
        assert reference - seen < 0.011 * 100.0 / d_km
    assert np.degrees(100e3 / (2 * R_M)) == pytest.approx(1.649, abs=1e-3)


def test_a_near_ridge_drops_by_the_analytic_arctangent_difference():
    """A ridge 30 m above the site's ground, 200 m away: seen from 2 m at ``atan(28 / 200) - c``, from 10 m at
    ``atan(20 / 200) - c`` (c the curvature drop, the same at both heights): 2.26 deg lower; from 50 m, above the
    ridge, below the horizontal. Vectorised over azimuths (distances and elevations of any shape)."""
    c = 200.0 / (2 * R_M)
    reference = np.degrees(np.arctan(28.0 / 200.0) - c)
    assert sitemod.terrain_height_m(reference, 0.2, 2.0) == pytest.approx(30.0, abs=1e-9)
    for h, above in ((10.0, 20.0), (50.0, -20.0), (2.0, 28.0), (0.0, 30.0)):
        assert sitemod.horizon_at_height(reference, 0.2, 2.0, h) == pytest.approx(
            np.degrees(np.arctan(above / 200.0) - c), abs=1e-12
        ), h
    assert reference - sitemod.horizon_at_height(reference, 0.2, 2.0, 10.0) == pytest.approx(2.2590, abs=1e-4)
    profile = np.array([reference, 0.0, -1.0, 3.0])
    distance = np.array([0.2, 1.0, 5.0, 0.05])
    z = sitemod.terrain_height_m(profile, distance, 2.0)
    direct = np.degrees(np.arctan((z - 10.0) / (distance * 1000.0)) - sitemod.curvature_drop_rad(distance))
    np.testing.assert_allclose(sitemod.horizon_at_height(profile, distance, 2.0, 10.0), direct, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(sites.TARGETS))
def test_at_the_reference_height_the_array_sees_the_calibrated_profile_to_the_bit(name):
    body, array = sitemod.site_horizons(site_values(name))
    np.testing.assert_array_equal(array, body)
    np.testing.assert_array_equal(body, sites.horizon(sites.load_site(name)))
    assert sites.load_site(name)["reference_height_m"] == sites.TARGETS[name].height_m


def test_the_default_environment_table_is_the_one_before_the_tower():
    """Connecting Ridge with the default array (2 m, the reference height): column sums and one row of the hourly
    environment table as the code before the array's height existed computed them (commit 3b7ffb9)."""
    config = compose("+experiment=night_survival")
    table = config.tables().table
    before = {  # column: (sum over the 5,329 rows, row 1,000)
        "sun_elevation_deg": (908.3749022019956, 2.041348508547988),
        "sun_horizon_deg": (-10092.40534782448, -2.2474205869555592),
        "sun_radius_deg": (1431.2475317463227, 0.2674165375287029),
        "solar_flux_w_m2": (7369305.4832209395, 1370.8598183616818),
        "earth_clearance_deg": (10425.649169931381, -1.8102183169404698),
        "regolith_temp_k": (413091.30383892654, 117.70771909882846),
    }
    assert table.shape == (5329, len(sitemod.ENV_COLUMNS))
    for name, (total, row) in before.items():
        column = table[:, sitemod.ENV_COLUMNS.index(name)]
        assert column.sum() == pytest.approx(total, rel=1e-13, abs=1e-9), name
        assert column[1000] == pytest.approx(row, rel=1e-14), name


def test_distance_profile_is_positive_with_its_harmonics():
    """psr_edge: 1 km scaled by exp(0.7 cos(az - 270)): 2x farther at azimuth 270, 2x nearer at 90."""
    d = sitemod.horizon_distance_profile(1.0, [0.7], [270.0])
    assert np.all(d > 0)
    assert d[18] == pytest.approx(np.exp(-0.7)) and d[54] == pytest.approx(np.exp(0.7))  # every 5 deg of azimuth
    np.testing.assert_array_equal(
        sitemod.horizon_distance_profile(3.0, [0.0], [0.0]), np.full(sitemod.HORIZON_SAMPLES, 3.0)
    )


@pytest.mark.parametrize("name", sorted(sites.TARGETS))
def test_a_taller_array_never_sees_a_higher_horizon_nor_less_light(name):
    """At every azimuth the horizon falls as the array rises (0 to 50 m), and so the illumination over a year
    never falls; on the near wall of psr_edge it gains most."""
    site = sites.load_site(name)
    heights = (0.0, 2.0, 5.0, 10.0, 20.0, 50.0)
    profiles = np.array([sites.horizon(site, h) for h in heights])
    assert np.all(np.diff(profiles, axis=0) < 0)
    table = sites.sun_table(site, "2028-01-01", "2029-01-01", step_hours=4.0)
    lit = [sites.illumination_percent(site, table, height_m=h) for h in heights]
    assert all(b >= a for a, b in itertools.pairwise(lit)), lit
    assert lit[-1] > lit[0]


def test_a_taller_array_keeps_every_mission_alive_at_least_as_long():
    """Common random numbers: the same 2,048 missions at Connecting Ridge with the array at 2 m and at 10 m. No
    mission lives fewer days, sees a longer darkness or less sunlight on the tower; many live longer; the Earth's
    visibility (antenna on the body) does not change."""

    def run(height_m: float) -> dict[str, np.ndarray]:
        config = compose(
            "+experiment=night_survival",
            f"run.batch_size={SAMPLE}",
            "run.seed=8",
            "run.precision=float64",
            f"mission.power.array_height_m={height_m}",
        )
        return engine.evaluate_shard(config.spec(SAMPLE), 0, SAMPLE)

    low, high = run(2.0), run(10.0)
    np.testing.assert_array_equal(low["sample_index"], high["sample_index"])
    np.testing.assert_array_equal(low["surface.landing_time_frac"], high["surface.landing_time_frac"])
    assert np.all(high["days_survived"] >= low["days_survived"])
    assert np.all(high["longest_darkness_h"] <= low["longest_darkness_h"])
    assert np.all(high["sunlit_fraction"] >= low["sunlit_fraction"])
    assert (high["days_survived"] > low["days_survived"]).mean() > 0.2
    assert high["surface_ok"].mean() > low["surface_ok"].mean() + 0.15
    np.testing.assert_array_equal(high["earth_visible_fraction"], low["earth_visible_fraction"])


def test_the_array_height_reaches_the_surface_mission_too():
    """+experiment=full_mission: the array's horizon (the Sun's column, the operators' forecast of sunshine) drops
    on a 10 m tower, the body's (the Earth's column, the regolith) stays; a misspelt harmonic list fails at load."""
    default = compose("+experiment=full_mission").tables().surface
    tower = compose("+experiment=full_mission", "mission.power.array_height_m=10").tables().surface
    col = sitemod.ENV_COLUMNS.index
    assert np.all(tower.site.table[:, col("sun_horizon_deg")] < default.site.table[:, col("sun_horizon_deg")])
    for name in ("earth_clearance_deg", "regolith_temp_k", "sun_elevation_deg"):
        np.testing.assert_array_equal(tower.site.table[:, col(name)], default.site.table[:, col(name)])
    assert np.all(tower.sun_hours_ahead >= default.sun_hours_ahead)
    assert tower.sun_hours_ahead.sum() > default.sun_hours_ahead.sum()

    from campaign.config import ConfigError

    with pytest.raises(ConfigError, match="horizon_distance_phases_deg"):
        compose("+experiment=full_mission", "mission.site.horizon_distance_phases_deg=[0.0,90.0]")
