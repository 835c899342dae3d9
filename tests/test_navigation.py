"""The descent's navigation filter and the terrain relief under the trajectory: convergence, consistency of the
filter's covariance with the errors it makes, the velocimeter's effect on touchdown, and the relief's statistics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from campaign.models import landing, rules
from campaign.models.outcomes import Outcome
from tests.test_landing import configured, fly, params_of, perfect_inputs, shard


def test_with_perfect_sensors_the_estimate_converges_to_the_truth():
    config = configured()
    params = params_of(
        config, fm_error_per_altitude=0.0, velocimeter_noise_mps=1e-4, imu_velocity_random_walk_mps_per_sqrt_s=0.0,
        altimeter_error_frac=1e-6, altimeter_error_floor_m=1e-3, terrain_relief=False,
    )  # fmt: skip
    inputs = perfect_inputs(od_position_error_m=1.0, fm_error_floor_m=1e-3)
    _, traj = fly(params, inputs, key=1)
    t, err_r, err_v = traj["t"], np.abs(traj["nav_r"]), np.abs(traj["nav_v"])
    assert err_r[t < 300].max() > 0.1  # the OD error before any measurement
    late = (t > 650) & (t < 700)
    assert err_r[late].max() < 0.01 and err_v[late].max() < 1e-3
    assert np.all(traj["nav_sigma_r"][late] < 0.01)


def many(params, inputs, keys: int, times):
    """Navigation errors and the filter's 1-sigma (n, times, 3) at the steps ending at ``times`` (s)."""
    p, tables = params
    steps = np.searchsorted(np.asarray(p.landing.step_s) * (np.arange(len(tables.step_index)) + 1), times)
    run = jax.jit(jax.vmap(lambda k: landing.trajectory(p, inputs, tables, k)[1]))
    out = {name: [] for name in ("nav_r", "nav_v", "nav_sigma_r", "nav_sigma_v")}
    for start in range(0, keys, 250):
        traj = run(jax.vmap(jax.random.key)(jnp.arange(start, start + 250)))
        for name in out:
            out[name].append(np.asarray(traj[name])[:, steps])
    return {name: np.concatenate(v) for name, v in out.items()}


def test_the_filter_covariance_matches_its_errors():
    """The filter's model true (accelerometer bias drawn from exactly the filter's prior, no velocimeter bias,
    no relief, no fault): over 2,000 missions, the mean of (error / filter's sigma)^2 per axis at each time is
    a chi-square over 2,000 / 2,000, 1 +- 0.032 (1-sigma): within 4 sigma, i.e. the empirical standard deviation
    equals the filter's within 6.5%."""
    config = configured()
    bias = 5e-4
    params = params_of(config, filter_accel_bias_sigma_mps2=bias, terrain_relief=False)
    inputs = perfect_inputs(od_position_error_m=300.0, accel_bias_mps2=bias, fm_error_floor_m=4.0)
    n, times = 2000, np.array([100.0, 420.0, 520.0, 620.0, 700.0])  # IMU only, FM, + altimeter, + velocimeter
    got = many(params, inputs, n, times)
    tolerance = 4 * np.sqrt(2 / n)
    for what in ("r", "v"):
        ratio = np.mean((got[f"nav_{what}"] / got[f"nav_sigma_{what}"]) ** 2, axis=0)  # (times, 3)
        assert np.all(np.abs(ratio - 1) < tolerance), (what, ratio)


def test_touchdown_speed_spread_grows_with_velocimeter_noise():
    """Same scenarios (common random numbers), only the velocimeter's noise changes; its bias off. (With the
    default bias, 0.02 m/s, the order reverses: a filter that trusts a quieter velocimeter more takes in more of
    its unknown bias, and the vertical spread falls from 0.024 to 0.003 m/s as the noise grows from 0.01 to
    0.2 m/s.)"""
    config = configured("mission.landing.uncertain.velocimeter_bias_mps={dist:fixed,value:0.0}")
    spreads = []
    for noise in (0.01, 0.05, 0.2):
        out = shard(config, velocimeter_noise_mps=noise, terrain_relief=False)
        ok = np.isin(out["outcome"], [Outcome.SUCCESS, Outcome.LANDING_HAZARD]) & ~out["altimeter_fault"]
        vertical, horizontal = out["touchdown_vertical_speed_mps"][ok], out["touchdown_horizontal_speed_mps"][ok]
        spreads.append((np.std(vertical), np.sqrt(np.mean(horizontal**2))))
    spreads = np.array(spreads)
    assert np.all(np.diff(spreads, axis=0) > 0), spreads


# ----------------------------------------------------------------------------------------------- terrain
def relief_fields(spec, n, seed=0):
    """``n`` relief fields of the spectrum ``(wavelengths, amplitudes)``, in NumPy (the shared kernel)."""
    u = np.random.default_rng(seed).random((n, spec[0].size, 2))
    return rules.relief_waves(spec[1], spec[0], u, np)


def test_relief_structure_function_follows_the_power_law_and_is_anchored_at_the_target():
    slope, hurst = 6.0, 0.95
    spec = landing.relief_spectrum(14, 20.0, 5000.0, slope, hurst)
    n = 4000
    waves = relief_fields(spec, n)
    rng = np.random.default_rng(1)
    at_target = rules.terrain_height_m(np.zeros(n), np.zeros(n), *waves, np)
    assert np.all(at_target == 0.0)
    for baseline in (30.0, 100.0, 300.0, 1250.0):  # the fit holds to a quarter of the longest wavelength
        x0, y0 = rng.uniform(-3000, 3000, (2, n))
        angle = rng.uniform(0, 2 * np.pi, n)
        h0 = rules.terrain_height_m(x0, y0, *waves, np)
        h1 = rules.terrain_height_m(x0 + baseline * np.cos(angle), y0 + baseline * np.sin(angle), *waves, np)
        rms = np.sqrt(np.mean((h1 - h0) ** 2))
        expected = float(landing.relief_rms_height_difference_m(baseline, slope, hurst))
        # 4,000 fields: the mean square within ~5% (1-sigma ~2-3% for these non-Gaussian sums), the fit within 3%.
        assert rms == pytest.approx(expected, rel=0.1), (baseline, rms, expected)


def test_without_relief_the_terrain_is_the_mean_sphere():
    config = configured()
    inputs = perfect_inputs(od_position_error_m=300.0, accel_bias_mps2=5e-4, fm_error_floor_m=4.0)
    flat, traj = fly(params_of(config, terrain_relief=False), inputs, key=2)
    assert np.all(traj["terrain_m"] == 0.0)
    rough, traj_rough = fly(params_of(config), inputs, key=2)
    assert np.abs(traj_rough["terrain_m"]).max() > 10.0
    assert flat["miss_distance_m"] != rough["miss_distance_m"]
    # The loop hands the altimeter and the touchdown test the relief under the lander at each step's end.
    p, tables = params_of(config)
    ms = landing.mission(p.landing, inputs.landing, jnp.float64)
    ev = landing.events(p.landing, inputs.landing, ms, tables, jax.random.key(2), jnp.float64)
    under = np.asarray(jax.vmap(lambda r: landing.terrain_height(ev.relief, r))(jnp.asarray(traj_rough["r"])))
    flying = traj_rough["flying"]
    np.testing.assert_allclose(traj_rough["terrain_m"][flying], under[flying], rtol=0, atol=1e-9)


def test_the_altimeter_reads_the_height_above_the_terrain_under_the_lander():
    config = configured()
    p, tables = params_of(config, altimeter_error_frac=0.0, altimeter_error_floor_m=0.0)
    x = perfect_inputs()
    ms = landing.mission(p.landing, x.landing, jnp.float64)
    ev = landing.events(p.landing, x.landing, ms, tables, jax.random.key(5), jnp.float64)
    for ground, height in ((2000.0, 3000.0), (-300.0, 150.0), (40.0, 12.0)):
        r = jnp.array([ground, -0.5 * ground, landing.R_MOON + height])
        error, noise, _ = landing.altimeter(
            p.landing, x.landing, ev, r, landing.terrain_height(ev.relief, r), jnp.float64(1.7)
        )
        h_terrain = float(landing.terrain_height(ev.relief, r))
        measured_range = float(landing.altitude(r)) + float(error)
        assert abs(h_terrain) > 0.1 and float(noise) == 0.0
        assert measured_range == pytest.approx(float(landing.altitude(r)) - h_terrain, abs=1e-9)


def test_touchdown_is_on_the_terrain():
    """The step that crosses the relief is interpolated to the relief's height (linear within a 0.5 s step)."""
    config = configured()
    p, tables = params_of(config)
    x = perfect_inputs()
    ms = landing.mission(p.landing, x.landing, jnp.float64)
    ev = landing.events(p.landing, x.landing, ms, tables, jax.random.key(5), jnp.float64)
    ground = jnp.array([700.0, 300.0, 0.0])
    top = float(landing.terrain_height(ev.relief, ground + jnp.array([0.0, 0.0, landing.R_MOON])))
    old_r = ground + jnp.array([0.0, 0.0, landing.R_MOON + top + 0.4])
    new_r = old_r + jnp.array([0.2, 0.1, -0.8])
    old = landing.State(old_r, jnp.array([0.4, 0.2, -1.6]), jnp.float64(3000.0))
    new = landing.State(new_r, jnp.array([0.4, 0.2, -1.6]), jnp.float64(2999.0))
    td0 = landing.Touchdown(old_r, old.v, old.m, jnp.float64(0.0), jnp.zeros(3))
    heights = (landing.terrain_height(ev.relief, old_r), landing.terrain_height(ev.relief, new_r))
    crosses, td = landing.touchdown(jnp.array(False), td0, old, new, 10.0, 0.5, jnp.zeros(3), *heights)
    assert bool(crosses)
    gap = float(landing.altitude(td.r) - landing.terrain_height(ev.relief, td.r))
    assert abs(gap) < 1e-3
    assert abs(top) > 1.0  # the relief is not the sphere there
