"""The mission chain: phase gating, outcome codes, and what each phase hands to the next."""

from __future__ import annotations

import numpy as np
import pytest

from campaign import engine
from campaign.models import Outcome
from campaign.models.mission import site_offset_m
from tests.helpers import compose


@pytest.fixture(scope="module")
def columns():
    # A reliable launcher so that enough missions reach every phase.
    config = compose("+experiment=launch_to_surface", "run.samples=512", "run.batch_size=256",
                     "mission.launch.uncertain.ascent_reliability={dist:fixed,value:0.9}")
    return engine.evaluate_shard(config.spec(512), 0, 512)


def test_a_failed_phase_has_no_later_phase_activity(columns):
    no_landing = ~columns["transfer_ok"]
    no_surface = ~columns["landing_ok"]
    assert no_landing.any() and no_surface.any() and columns["surface_ok"].any()
    for flag in ("landing_ok", "diverted", "engine_out", "altimeter_fault", "rock_hazard"):
        assert not columns[flag][no_landing].any(), flag
    for flag in ("surface_ok", "reached_100_days", "had_night"):
        assert not columns[flag][no_surface].any(), flag


def test_outcome_codes_agree_with_the_phase_flags(columns):
    phase = columns["outcome"] // 10
    assert np.array_equal(columns["launch_ok"], phase != 1)
    assert np.array_equal(columns["transfer_ok"], ~np.isin(phase, [1, 2]))
    assert np.array_equal(columns["landing_ok"], ~np.isin(phase, [1, 2, 3]))
    assert np.array_equal(columns["surface_ok"], columns["outcome"] == Outcome.SUCCESS)


def test_the_touchdown_error_is_where_the_rover_starts_its_surface_mission(columns):
    landed = columns["landing_ok"]
    assert np.allclose(columns["landing_distance_m"][landed], columns["miss_distance_m"][landed], rtol=1e-9)


def test_site_offset_rotates_the_touchdown_error_with_the_approach():
    east, north = site_offset_m(10.0, 0.0, 90.0)  # 10 m long on an eastbound approach
    assert float(east) == pytest.approx(10.0) and float(north) == pytest.approx(0.0, abs=1e-12)
    east, north = site_offset_m(0.0, 5.0, 0.0)  # 5 m left of a northbound approach is west
    assert float(east) == pytest.approx(-5.0) and float(north) == pytest.approx(0.0, abs=1e-12)


def test_landing_starts_from_the_mass_the_transfer_delivered(columns):
    reached = columns["transfer_ok"]
    # Lighter arrivals leave more propellant margin at PDI and more propellant at touchdown on average.
    margin = columns["propellant_margin_kg"][reached]
    left = columns["propellant_left_kg"][reached]
    assert np.corrcoef(margin, left)[0, 1] > 0.5
