"""Night survival: the tabulated environment against the exact ephemeris, float32 against float64 on the same
missions, and one compilation per campaign structure."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from campaign import engine
from campaign.models import environment as envmod
from campaign.models import night_survival as ns
from tests.helpers import compose

SAMPLE = 2048  # missions of the fixed sample (one batch)


@pytest.fixture(scope="module")
def config():
    # The experiment's default precision is float32, the one this file checks against float64.
    return compose("+experiment=night_survival", f"run.batch_size={SAMPLE}", "run.seed=8", "run.precision=float64")


@pytest.fixture(scope="module")
def sample(config) -> dict[str, np.ndarray]:
    """Inputs and float64 outputs of a fixed sample of missions, drawn and run by the engine."""
    return engine.evaluate_shard(config.spec(SAMPLE), 0, SAMPLE)


def run_model(config, columns: dict, dtype) -> dict[str, np.ndarray]:
    """The model on given inputs, every value in ``dtype``."""
    spec = config.spec(SAMPLE)
    params = {k: engine._as_param(v, dtype) for k, v in spec.params}
    inputs = {v.name: jnp.asarray(columns[v.name], dtype) for v in spec.variables}
    simulate = jax.jit(jax.vmap(lambda i, p: ns.simulate(p, i, None), in_axes=(0, None)))
    return jax.device_get(simulate(inputs, params))


@pytest.mark.parametrize("site", ["connecting_ridge", "psr_edge"])
def test_interpolated_environment_matches_the_ephemeris_between_table_rows(site):
    """Angles interpolated from the hourly table agree with DE421 evaluated at the very instant, a quarter and
    three quarters of an hour off the grid, over a 100-day stay: the visible solar disk to 0.2%, darkness and
    Earth visibility decided the same way."""
    config = compose("+experiment=night_survival", f"site={site}")
    values = dict(config.params)
    table = ns.site_table({k: jnp.asarray(v) for k, v in config.numeric_params()})
    start = (np.datetime64(str(values["surface.landing_window_start_utc"]), "s")
             - np.timedelta64(int(ns.SPIN_UP_DAYS * 86400), "s"))
    hours = np.arange(ns.SPIN_UP_DAYS * 24, (ns.SPIN_UP_DAYS + 100) * 24, 0.5) + 0.25
    d = envmod.site_directions(values["site.latitude_deg"], values["site.longitude_deg"], values["site.height_m"],
                               envmod.utc_to_tdb_jd(start + (hours * 3600).astype("timedelta64[s]")))
    horizon = ns.horizon_profile(values["site.horizon_mean_deg"], values["site.horizon_amplitudes_deg"],
                                 values["site.horizon_phases_deg"])
    sun_el, sun_az = envmod._elevation_azimuth_np(d["sun_enu"])
    earth_el, earth_az = envmod._elevation_azimuth_np(d["earth_enu"])
    index, weight = np.floor(hours).astype(np.int32), hours - np.floor(hours)
    for shift in (0.0, 0.6):
        exact_disk = envmod.disk_fraction_visible(sun_el, envmod.horizon_elevation(horizon, sun_az) + shift,
                                                  envmod.sun_radius_deg(d["sun_distance_au"]))
        exact_earth = earth_el - envmod.horizon_elevation(horizon, earth_az) > shift
        env = ns.environment_at(table, jnp.asarray(shift), jnp.asarray(index), jnp.asarray(weight))
        disk = np.asarray(env.disk_fraction)
        assert 0.02 < np.mean((disk > 0) & (disk < 1)) < 0.5, "the check must see the Sun crossing the horizon"
        assert np.max(np.abs(disk - exact_disk)) < 2e-3
        assert np.array_equal(disk < 0.01, exact_disk < 0.01)
        assert np.array_equal(np.asarray(env.earth_visible), exact_earth)


def test_float32_agrees_with_float64_on_the_same_missions(config, sample):
    """Tolerances for run.precision=float32 (observed on this sample in brackets): every outcome, night and
    thermal cycle the same [identical]; temperatures within 0.05 K [0.011 K]; state of charge within 1e-4
    [2e-6]; days within one hourly step [5e-6 d]; energies within 0.2% or 0.05 kWh [0.003%]; darkness and the
    worst night's margin within one step of the night, 1 h and 30 Wh [one mission whose darkness began an hour
    apart: 1 h and 19 Wh; 0.01 Wh for the others]; fractions of time within 3 steps [3e-8]. A float32 campaign
    draws its Monte Carlo inputs from 32 random bits, so it is another sample of the same campaign: this test
    runs both precisions on the same inputs."""
    wide, narrow = run_model(config, sample, jnp.float64), run_model(config, sample, jnp.float32)
    assert narrow["min_soc"].dtype == np.float32 and wide["min_soc"].dtype == np.float64
    np.testing.assert_array_equal(wide["outcome"], sample["outcome"])  # the float64 run is the engine's
    assert 0.1 < wide["surface_ok"].mean() < 0.9, "the sample must hold both outcomes"
    for name in ("outcome", "surface_ok", "nights_survived", "had_night", "thermal_cycles"):
        np.testing.assert_array_equal(narrow[name], wide[name], err_msg=name)
    close = {"min_box_temp_k": (0.0, 0.05), "max_box_temp_k": (0.0, 0.05), "min_soc": (0.0, 1e-4),
             "days_survived": (0.0, 1 / 24), "longest_darkness_h": (0.0, 1.0),
             "energy_generated_kwh": (2e-3, 0.05), "heater_energy_kwh": (2e-3, 0.05),
             "worst_night_energy_margin_wh": (0.0, 30.0), "sunlit_fraction": (0.0, 3 / 2400),
             "earth_visible_fraction": (0.0, 3 / 2400)}
    for name, (rtol, atol) in close.items():
        np.testing.assert_allclose(narrow[name], wide[name], rtol=rtol, atol=atol, err_msg=name)


def test_a_second_call_with_the_same_shapes_does_not_recompile(config):
    """Another sample range, seed or design value reuses the compiled batch function."""
    spec = config.spec(SAMPLE)
    structure = tuple((v.name, v.kind, v.level) for v in spec.variables)
    fn = engine.compiled(spec.model, structure, False, spec.precision)
    before = fn._cache_size()  # other tests may have compiled other batch sizes of this structure
    engine.evaluate_batch(spec, 0)
    compiled_once = fn._cache_size()
    params = tuple((k, v * 1.1 if k == "power.battery_capacity_wh" else v) for k, v in spec.params)
    for changed in (spec, dataclasses.replace(spec, seed=3), dataclasses.replace(spec, params=params)):
        engine.evaluate_batch(changed, SAMPLE)
    assert compiled_once == fn._cache_size() <= before + 1
