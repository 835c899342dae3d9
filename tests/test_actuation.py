"""The descent's actuators and profile: the throttle's lag and rate limit and the thrust direction's slew over
whole descents, the hover at the approach gate, the limit in which the new physics is the old, and the
touchdown-speed spread that the lag causes."""

from __future__ import annotations

import numpy as np
import pytest

from campaign.models import landing
from campaign.models.outcomes import Outcome
from tests.test_landing import configured, fly, params_of, perfect_inputs, shard

DISPERSED = {
    "od_position_error_m": 300.0,
    "accel_bias_mps2": 5e-4,
    "fm_error_floor_m": 6.0,
    "misalignment_deg": 0.3,
    "thrust_factor": 1.01,
}

# Instant actuators, no hover, the old 100 m gate reached descending at 2 m/s, ZEM/ZEV down to two steps to go.
OLD_PROFILE = {
    "throttle_time_constant_s": 0.0,
    "throttle_rate_per_s": 1e9,
    "slew_rate_deg_s": 1e9,
    "hover_time_s": 0.0,
    "gate_altitude_m": 100.0,
    "gate_descent_rate_mps": 2.0,
    "min_time_to_go_s": 1.0,
    # and the navigation of before: no velocimeter, no IMU noise, no relief under the altimeter
    "velocimeter": False,
    "imu_velocity_random_walk_mps_per_sqrt_s": 0.0,
    "terrain_relief": False,
}


@pytest.fixture(scope="module")
def config():
    return configured()


@pytest.mark.parametrize("key", [1, 2, 3])
def test_rate_and_slew_limits_hold_over_whole_descents(config, key):
    """Per step, the thrust reached changes by at most ``throttle_rate_per_s`` of full thrust per second and its
    direction turns by at most ``slew_rate_deg_s``; both limits are reached somewhere (else this tests nothing:
    the default rate, 0.5 of full thrust per second, is not reached, so a slower engine is flown)."""
    params = params_of(config, rock_hazard_prob=0.0, throttle_rate_per_s=0.1)
    p = params[0].landing
    out, traj = fly(params, perfect_inputs(**DISPERSED), key=key)
    flying = traj["flying"]
    thrust_max = float(p.engines * p.engine_thrust_n * 1.01)
    change = np.abs(np.diff(traj["actuator_thrust"][flying]))
    limit_n = float(p.throttle_rate_per_s) * thrust_max * float(p.step_s)
    assert change.max() <= limit_n * (1 + 1e-9) and change.max() > 0.99 * limit_n
    d = traj["direction"][flying]
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
    turn = np.arctan2(np.linalg.norm(np.cross(d[1:], d[:-1]), axis=1), np.sum(d[1:] * d[:-1], axis=1))
    limit_rad = np.radians(float(p.slew_rate_deg_s)) * float(p.step_s)
    assert turn.max() <= limit_rad + 1e-9 and turn.max() > 0.99 * limit_rad
    # The thrust applied (the step's mean) stays within the bounds, the reached one too.
    applied = np.linalg.norm(traj["thrust"], axis=1)[flying]
    assert np.all(applied <= traj["available"][flying] * (1 + 1e-12))
    assert np.all(applied >= traj["floor"][flying] * (1 - 1e-12))
    assert out["outcome"] == Outcome.SUCCESS


def test_without_lag_slew_or_hover_the_touchdown_is_the_old_one(config):
    """The old limit: instant throttle and direction, no hover, the old gate: the commanded touchdown speed to a
    few mm/s and a tight miss, as the descent landed before the actuators and the hover were modelled."""
    params = params_of(config, rock_hazard_prob=0.0, slope_median_deg=1.0, **OLD_PROFILE)
    out, traj = fly(params, perfect_inputs())
    assert out["outcome"] == Outcome.SUCCESS
    assert out["touchdown_vertical_speed_mps"] == pytest.approx(1.0, abs=0.005)
    assert out["touchdown_horizontal_speed_mps"] < 1e-3 and out["miss_distance_m"] < 0.5
    # The actuators followed the command at once: every step's reached thrust is the applied one.
    flying = traj["flying"]
    np.testing.assert_allclose(
        traj["actuator_thrust"][flying], np.linalg.norm(traj["thrust"], axis=1)[flying], rtol=1e-12
    )
    # The planned time: 650 s of braking and 70 s of approach, then the last 10 m at 1 m/s.
    assert out["descent_time_s"] == pytest.approx(730.0, abs=3.0)


def test_the_hover_holds_the_gate(config):
    """Chandrayaan-3's profile: after the braking leg's transient has settled (10 s), the lander holds the gate
    150 m above the target, within 3 m in altitude and 20 m across, at under 1.5 m/s, until the hover ends; the
    descent takes the hover's 30 s longer than without it."""
    params = params_of(config, rock_hazard_prob=0.0)
    p = params[0].landing
    t_gate = float(p.braking_time_s)
    out, traj = fly(params, perfect_inputs(**DISPERSED), key=5)
    t = traj["t"]
    hover = (t > t_gate + 10.0) & (t <= t_gate + float(p.hover_time_s))
    height = np.linalg.norm(traj["r"][hover], axis=1) - landing.R_MOON
    assert np.all(np.abs(height - float(p.gate_altitude_m)) < 3.0), (height.min(), height.max())
    assert np.all(np.hypot(traj["r"][hover, 0], traj["r"][hover, 1]) < 20.0)
    assert np.all(np.linalg.norm(traj["v"][hover], axis=1) < 1.5)
    no_hover, _ = fly(params_of(config, rock_hazard_prob=0.0, hover_time_s=0.0), perfect_inputs(**DISPERSED), key=5)
    assert out["descent_time_s"] - no_hover["descent_time_s"] == pytest.approx(float(p.hover_time_s), abs=2.0)
    assert out["outcome"] == no_hover["outcome"] == Outcome.SUCCESS


def test_touchdown_speed_spread_grows_with_the_throttle_time_constant(config):
    """Same missions (common random numbers), slower engines: the spread of the touchdown speeds of the missions
    without an altimeter fault or an engine-out (those scatter by tens of m/s whatever the lag) grows."""
    spreads = []
    nominal = None
    for tau in (0.0, 0.5, 1.0, 1.5):
        columns = shard(config, throttle_time_constant_s=tau)
        if nominal is None:
            nominal = ~columns["altimeter_fault"] & ~columns["engine_out"]
        speed = np.hypot(columns["touchdown_vertical_speed_mps"], columns["touchdown_horizontal_speed_mps"])
        spreads.append(np.std(speed[nominal]))
    assert nominal.sum() > 200
    assert all(a < b for a, b in zip(spreads, spreads[1:])), spreads
