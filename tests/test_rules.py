"""The shared kernels of campaign/models/rules.py, which the JAX models call with ``xp = jax.numpy`` and the NumPy
oracle with ``xp = numpy``: under NumPy they give the JAX models' decisions exactly and their numbers to the last
few ulp (NumPy's and XLA's sine, cosine and exponential may differ in the last bit); and they obey their analytic
cases."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from campaign.models import deployment, launch, mobility, rules
from campaign.models._keys import open_uniform, subkey
from campaign.models.outcomes import Outcome
from tests.oracles import Values

N = 4096


def same(ours, model, xp, name=""):
    """Equal to the bit under JAX; under NumPy, equal for integers and flags, within 1e-12 for floats."""
    ours, model = np.asarray(ours), np.asarray(model)
    if xp is jnp or not np.issubdtype(model.dtype, np.floating):
        np.testing.assert_array_equal(ours, model, err_msg=name)
    else:
        np.testing.assert_allclose(ours, model, rtol=1e-12, atol=1e-12, err_msg=name)


def test_first_failure_is_the_first_true_case_in_order_for_numpy_and_jax():
    rng = np.random.default_rng(0)
    conditions = rng.random((4, N)) < 0.3
    codes = (21, 23, 21, 24)  # a code repeated, as the launch's propellant depletions are
    expected = np.full(N, Outcome.SUCCESS, np.int16)
    for i in range(N):
        for c, code in zip(conditions[:, i], codes):
            if c:
                expected[i] = code
                break
    cases = list(zip(conditions, codes))
    for xp in (np, jnp):
        got = np.asarray(rules.first_failure([(xp.asarray(c), code) for c, code in cases], Outcome.SUCCESS, xp))
        assert got.dtype == np.int16
        np.testing.assert_array_equal(got, expected)


def launch_sample(n: int):
    """Launch parameters (jnp scalars, with the ``launch.`` prefix) and ``n`` missions' inputs, dispersed widely
    enough to reach every outcome (no engine failures, no ascent failure, depletion, short margins)."""
    rng = np.random.default_rng(1)
    params = {
        "launch.dry_mass_kg": 1800.0,
        "launch.propellant_load_kg": 3800.0,
        "launch.isp_s": 320.0,
        "launch.unusable_propellant_frac": 0.02,
        "launch.tcm_gain": 1.5,
        "launch.tcm_burns": 3.0,
        "launch.loi_dv_mps": 900.0,
        "launch.doi_burns": 2.0,
        "launch.doi_dv_mps": 40.0,
        "launch.powered_descent_dv_mps": 2000.0,
        "launch.configuration_prior": 1.0,
    }
    inputs = {
        "launch.ascent_reliability": rng.uniform(0.8, 1.0, n),
        "launch.ascent_reliability_common": rng.uniform(0.8, 1.0, n),
        "launch.configuration_failure_prob": rng.uniform(0.0, 0.2, n),
        "launch.engine_failure_prob_per_burn": np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 0.3, n)),
        **{f"launch.injection_error_{c}_mps": rng.normal(0, 20, n) for c in ("radial", "along", "cross")},
        "launch.tcm_cleanup_dv_mps": rng.uniform(0, 30, n),
        "launch.loi_dv_dispersion_mps": rng.normal(0, 300, n),
        "launch.isp_dispersion_frac": rng.normal(0, 0.05, n),
        "launch.dry_mass_growth_frac": rng.normal(0, 0.1, n),
        "launch.propellant_load_error_kg": rng.normal(0, 300, n),
    }
    return (
        {k: jnp.float64(v) for k, v in params.items()},
        {k: jnp.asarray(v, jnp.float64) for k, v in inputs.items()},
        jax.random.split(jax.random.key(2), n),
    )


def test_launch_outputs_under_numpy_are_the_launch_models():
    params, inputs, keys = launch_sample(N)
    prefix = lambda d: Values({k.removeprefix("launch."): np.asarray(v) for k, v in d.items()})  # noqa: E731
    uniforms = jax.vmap(
        lambda key: (
            open_uniform(subkey(key, "launch/ascent"), jnp.float64),
            open_uniform(subkey(key, "launch/engine"), jnp.float64),
        )
    )(keys)
    p, x = launch.MODEL.params_of(params), launch.MODEL.inputs_of(inputs)
    model = jax.jit(jax.vmap(lambda x, key: launch.simulate(p, x, None, key), in_axes=(0, 0)))(x, keys)
    ours = rules.launch_outputs(prefix(params), prefix(inputs), *(np.asarray(u) for u in uniforms), np)
    assert set(ours) == set(model)
    assert len(np.unique(model["outcome"])) >= 5, np.unique(model["outcome"])
    for name in model:
        assert np.asarray(ours[name]).dtype == model[name].dtype, name
        same(ours[name], model[name], np, name)


def call(xp, f, *arrays):
    """``f`` on arrays of missions: under JAX as the engine runs a model (``jit`` of ``vmap``: XLA fuses the
    kernel as it fuses the model), under NumPy on the arrays directly."""
    if xp is jnp:
        return jax.jit(jax.vmap(f))(*arrays)
    return f(*arrays)


def test_deploy_site_offset_shadow_and_hazards_under_numpy_are_the_models():
    xp = np
    rng = np.random.default_rng(3)
    model_of = lambda f, *arrays: jax.jit(jax.vmap(f))(*arrays)  # noqa: E731
    p = Values({"mechanism_failure_prob": 0.02, "tilt_limit_deg": 15.0, "tilt_width_deg": 2.0})
    slope, settling, u = rng.uniform(0, 25, N), rng.uniform(0, 3, N), rng.random(N)
    model = model_of(lambda s, t, v: deployment.deploy(p, s, t, v), slope, settling, u)
    ours = call(xp, lambda s, t, v: rules.deploy(p, s, t, v, xp), slope, settling, u)
    for name in model:
        same(ours[name], model[name], xp, name)

    down, cross, azimuth = rng.normal(0, 500, N), rng.normal(0, 500, N), 137.0
    model = model_of(lambda a, b: rules.site_offset_m(a, b, azimuth, jnp), down, cross)
    ours = call(xp, lambda a, b: rules.site_offset_m(a, b, azimuth, xp), down, cross)
    for a, b in zip(ours, model):
        same(a, b, xp)

    legs, shadowed = np.array([3.0, 2.0, 4.0, 1.5]), np.array([True, False, True, True])
    leg, to_go = rng.integers(0, 4, N), rng.uniform(0, 4, N)
    m = Values({"shadow_reach_km": 0.8, "entrapment_per_km": 0.05, "wheel_failure_per_km": 0.0})
    model = model_of(lambda i, g: mobility.in_shadow(m, jnp.asarray(legs), jnp.asarray(shadowed), i, g), leg, to_go)
    ours = call(
        xp,
        lambda i, g: rules.in_shadow(m["shadow_reach_km"], xp.asarray(legs), xp.asarray(shadowed), i, g, xp),
        leg,
        to_go,
    )
    same(ours, model, xp)

    factor, u1, u2 = rng.uniform(0.5, 2, N), rng.random(N), rng.random(N)
    model = model_of(lambda f, a, b: mobility.km_to_hazards(m, f, a, b), factor, u1, u2)
    ours = call(
        xp,
        lambda f, a, b: (
            rules.exponential_first_event(m["entrapment_per_km"] * f, a, xp),
            rules.exponential_first_event(m["wheel_failure_per_km"] * f, b, xp),
        ),
        factor,
        u1,
        u2,
    )
    for a, b in zip(ours, model):
        same(a, b, xp)


def test_tip_over_is_the_energy_over_the_downhill_footpad():
    """Level ground tips at the speed whose height v^2/2g is the lift over the footpad; a slope past the footpad
    tips at rest."""
    r, h, g = 2.0, 1.5, 1.62
    v_tip = np.sqrt(2 * g * (np.hypot(r, h) - h))
    for xp in (np, jnp):
        assert not bool(rules.tips_over(0.0, 0.99 * v_tip, r, h, g, xp))
        assert bool(rules.tips_over(0.0, 1.01 * v_tip, r, h, g, xp))
        assert bool(rules.tips_over(np.degrees(np.arctan2(r, h)), 0.0, r, h, g, xp))
