"""The shared kernels of campaign/models/rules.py, which the JAX models call with ``xp = jax.numpy`` and the NumPy
oracle with ``xp = numpy``: under NumPy they give the JAX models' decisions exactly and their numbers to the last
few ulp (NumPy's and XLA's sine, cosine and exponential may differ in the last bit); and they obey their analytic
cases."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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


def tips(slope, v_v, v_h, downhill=0.0, lean=0.0, lean_azimuth=0.0, r=2.0, h=1.5, g=1.62, xp=np):
    return bool(rules.tips_over(slope, v_v, v_h, downhill, lean, lean_azimuth, r, h, g, xp))


def test_tip_over_is_the_energy_over_the_downhill_footpad():
    """Level ground, no lean (the old criterion): tips at the horizontal speed whose height v^2/2g is the lift
    over the footpad, whatever the vertical speed and the (meaningless) downhill azimuth; a slope past the
    footpad tips at rest."""
    r, h, g = 2.0, 1.5, 1.62
    v_tip = np.sqrt(2 * g * (np.hypot(r, h) - h))
    for xp in (np, jnp):
        for downhill in (0.0, 1.0, np.pi):
            assert not tips(0.0, 1.9, 0.99 * v_tip, downhill, xp=xp)
            assert tips(0.0, 1.9, 1.01 * v_tip, downhill, xp=xp)
        assert tips(np.degrees(np.arctan2(r, h)), 0.0, 0.0, xp=xp)
        assert not tips(0.99 * np.degrees(np.arctan2(r, h)), 0.0, 0.0, xp=xp)


def test_vertical_touchdown_on_a_slope_tips_at_the_energy_balance_speed():
    """Straight down on a slope s: the velocity along the ground, v sin(s), pivots the lander over the downhill
    footpad, with the centre of mass beta - s short of it: it tips at v sin(s) = sqrt(2 g L (1 - cos(beta - s)))."""
    r, h, g, slope = 2.0, 1.5, 1.62, 20.0
    s, beta, reach = np.radians(slope), np.arctan2(r, h), np.hypot(r, h)
    v_tip = np.sqrt(2 * g * reach * (1 - np.cos(beta - s))) / np.sin(s)
    for xp in (np, jnp):
        assert not tips(slope, 0.99 * v_tip, 0.0, xp=xp) and tips(slope, 1.01 * v_tip, 0.0, xp=xp)


def test_uphill_motion_is_safer_than_downhill_and_a_downhill_lean_tips_sooner():
    """On a 10 deg slope at 1 m/s down: moving downhill (azimuth 0) tips at a lower horizontal speed than moving
    across or uphill (pi); leaning downhill by 10 deg tips at a lower one still, leaning uphill at a higher."""

    def tipping_speed(downhill, lean=0.0, lean_azimuth=0.0):
        speeds = np.linspace(0.0, 6.0, 6001)
        tipped = rules.tips_over(10.0, 1.0, speeds, downhill, lean, lean_azimuth, 2.0, 1.5, 1.62, np)
        return speeds[np.argmax(tipped)] if tipped.any() else np.inf

    down, across, up = tipping_speed(0.0), tipping_speed(np.pi / 2), tipping_speed(np.pi)
    assert down < across < up, (down, across, up)
    assert tipping_speed(0.0, 10.0, 0.0) < down < tipping_speed(0.0, 10.0, np.pi)


def test_throttle_response_follows_the_first_order_lag_and_its_exact_mean():
    """A step command held over many steps: the step ends are the analytic response c + (T0 - c) exp(-t/tau) to
    rounding, each step's mean is the integral of that response over the step (Simpson on a fine grid) divided
    by the step, and tau = 0 follows the command at once."""
    tau, dt, t0, c = 0.2, 0.5, 3000.0, 9000.0
    for xp in (np, jnp):
        thrust, t = t0, 0.0
        for _ in range(6):
            end, mean = rules.throttle_response(thrust, c, tau, 1e12, dt, xp)
            fine = np.linspace(t, t + dt, 2001)
            response = c + (t0 - c) * np.exp(-fine / tau)
            weights = np.ones(2001)
            weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
            integral = (fine[1] - fine[0]) / 3 * np.sum(weights * response)
            t += dt
            assert float(end) == pytest.approx(c + (t0 - c) * np.exp(-t / tau), rel=1e-14)
            assert float(mean) == pytest.approx(integral / dt, rel=1e-12)
            thrust = end
        assert rules.throttle_response(t0, c, 0.0, 1e12, dt, xp) == (c, c)


def test_throttle_rate_limit_ramps_and_slew_turns_at_most_its_limit():
    for xp in (np, jnp):
        end, mean = rules.throttle_response(3000.0, 9000.0, 0.2, 1000.0, 0.5, xp)
        assert (float(end), float(mean)) == pytest.approx((3500.0, 3250.0))
        end, mean = rules.throttle_response(3000.0, 1000.0, 0.0, 1000.0, 0.5, xp)
        assert (float(end), float(mean)) == pytest.approx((2500.0, 2750.0))
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(N, 3)), rng.normal(size=(N, 3))
    a, b = a / np.linalg.norm(a, axis=1)[:, None], b / np.linalg.norm(b, axis=1)[:, None]
    limit = np.radians(10.0)
    turned = rules.slew_towards(a, b, limit, np)
    angle = lambda u, v: np.arccos(np.clip(np.sum(u * v, axis=1), -1, 1))  # noqa: E731
    np.testing.assert_allclose(np.linalg.norm(turned, axis=1), 1.0, atol=1e-12)
    assert np.all(angle(a, turned) <= limit + 1e-9)
    close = angle(a, b) <= limit
    assert np.all(turned[close] == b[close]) and close.any() and not close.all()
    # Turned in the plane of the two, towards the command: the remaining angle is what was left.
    np.testing.assert_allclose(angle(turned, b)[~close], angle(a, b)[~close] - limit, atol=1e-9)
    same(rules.slew_towards(a, b, limit, np), call(jnp, lambda u, v: rules.slew_towards(u, v, limit, jnp), a, b), np)
