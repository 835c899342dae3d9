"""Launch and transfer model: rocket equation, margins, reliabilities and outcome codes."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from campaign.models import MODELS, Outcome, rules
from campaign.models.rules import G0_MPS2
from tests.helpers import compose

MODEL = MODELS["launch"]
SECTION = MODEL.section("launch")


def propellant_for_dv(mass_kg, dv_mps, isp_s):
    return rules.propellant_for_dv(mass_kg, dv_mps, isp_s, jnp)


def first_engine_failure(u, p_fail):
    return rules.first_engine_failure(u, p_fail, jnp)


@pytest.fixture(scope="module")
def defaults() -> dict[str, float]:
    """Design values from conf/ (the defaults a user gets)."""
    return dict(compose("+experiment=launch").params)


def nominal_inputs(**overrides: float) -> dict[str, jax.Array]:
    """Every uncertain input at its no-dispersion value: sure launch, no engine failures, no errors."""
    x = {f"launch.{i.name}": 0.0 for i in SECTION.inputs}
    x["launch.ascent_reliability"] = 1.0
    x["launch.ascent_reliability_common"] = 1.0  # and the configuration prior's: r_common * (1 - 0)
    x.update({f"launch.{k}": v for k, v in overrides.items()})
    return {k: jnp.float64(v) for k, v in x.items()}


def simulate(params: dict, inputs: dict, n: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Run the model for ``n`` missions that differ only in their key."""
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(n))
    p = MODEL.params_of({k: jnp.float64(v) for k, v in params.items()})
    out = jax.jit(jax.vmap(MODEL.simulate, in_axes=(None, None, None, 0)))(p, MODEL.inputs_of(inputs), None, keys)
    return {k: np.asarray(v) for k, v in out.items()}


def test_propellant_matches_rocket_equation_for_realised_delta_v(defaults):
    out = simulate(
        defaults,
        nominal_inputs(
            injection_error_along_mps=4.0, tcm_cleanup_dv_mps=6.0, isp_dispersion_frac=-0.01, dry_mass_growth_frac=0.02
        ),
    )
    isp = defaults["launch.isp_s"] * 0.99
    dry = defaults["launch.dry_mass_kg"] * 1.02
    m0 = dry + defaults["launch.propellant_load_kg"]
    dv = out["dv_to_pdi_mps"][0]
    assert dv == pytest.approx(
        defaults["launch.tcm_gain"] * 4.0 + 6.0 + defaults["launch.loi_dv_mps"] + defaults["launch.doi_dv_mps"],
        rel=1e-12,
    )
    # One burn of the total delta-v uses exactly what the sequence of burns used (the exponential composes).
    assert m0 - out["mass_at_pdi_kg"][0] == pytest.approx(m0 * (1 - math.exp(-dv / (isp * G0_MPS2))), rel=1e-12)
    descent = out["mass_at_pdi_kg"][0] * (1 - math.exp(-defaults["launch.powered_descent_dv_mps"] / (isp * G0_MPS2)))
    assert out["descent_propellant_kg"][0] == pytest.approx(descent, rel=1e-12)
    usable = (
        out["mass_at_pdi_kg"][0]
        - dry
        - defaults["launch.unusable_propellant_frac"] * defaults["launch.propellant_load_kg"]
    )
    assert out["propellant_margin_kg"][0] == pytest.approx(usable - descent, rel=1e-12)


def test_propellant_for_dv_inverts_the_rocket_equation():
    mass, isp = 5000.0, 320.0
    for dv in (0.0, 10.0, 900.0, 3000.0):
        burned = float(propellant_for_dv(jnp.float64(mass), jnp.float64(dv), jnp.float64(isp)))
        assert isp * G0_MPS2 * math.log(mass / (mass - burned)) == pytest.approx(dv, abs=1e-9)


def test_margin_decreases_with_delta_v_and_grows_with_propellant(defaults):
    loi = np.linspace(700.0, 1100.0, 9)
    margins = [simulate({**defaults, "launch.loi_dv_mps": v}, nominal_inputs())["propellant_margin_kg"][0] for v in loi]
    assert np.all(np.diff(margins) < 0)
    loads = [3600.0, 3800.0, 4000.0]
    margins = [
        simulate({**defaults, "launch.propellant_load_kg": m}, nominal_inputs())["propellant_margin_kg"][0]
        for m in loads
    ]
    assert np.all(np.diff(margins) > 0)


@pytest.mark.parametrize("reliability", [0.3, 0.667, 0.95])
def test_launch_success_frequency_matches_reliability(defaults, reliability):
    n = 20000
    pooled = {**defaults, "launch.configuration_prior": False}  # the pooled prior draws against ascent_reliability
    out = simulate(pooled, nominal_inputs(ascent_reliability=reliability), n=n, seed=7)
    sigma = math.sqrt(reliability * (1 - reliability) / n)
    assert abs(out["launch_ok"].mean() - reliability) < 4.5 * sigma
    assert not out["reached_pdi"][~out["launch_ok"]].any()
    assert np.all(out["outcome"][~out["launch_ok"]] == Outcome.LAUNCH_VEHICLE_FAILURE)


def test_engine_failures_follow_the_per_burn_probability(defaults):
    n, q = 40000, 0.05
    burns_before_pdi = int(defaults["launch.tcm_burns"] + 1 + defaults["launch.doi_burns"])
    out = simulate(defaults, nominal_inputs(engine_failure_prob_per_burn=q), n=n, seed=3)
    expected = {
        Outcome.ENGINE_FAILURE_TCM: 1 - (1 - q) ** defaults["launch.tcm_burns"],
        Outcome.ENGINE_FAILURE_LOI: (1 - q) ** defaults["launch.tcm_burns"] * q,
        Outcome.SUCCESS: (1 - q) ** burns_before_pdi,
    }
    for code, p in expected.items():
        assert abs((out["outcome"] == code).mean() - p) < 4.5 * math.sqrt(p * (1 - p) / n), code
    assert np.all(out["burns_completed"][out["outcome"] == Outcome.SUCCESS] == burns_before_pdi)


def test_first_engine_failure_is_geometric():
    u = jnp.asarray(np.random.default_rng(0).uniform(size=200000))
    k = np.asarray(first_engine_failure(u, jnp.float64(0.1)))
    for j in range(5):
        assert (k >= j).mean() == pytest.approx(0.9**j, abs=4e-3)
    assert np.all(np.isinf(np.asarray(first_engine_failure(u, jnp.float64(0.0)))))
    assert np.all(np.asarray(first_engine_failure(u, jnp.float64(1.0))) == 0)


def test_propellant_outcomes(defaults):
    short = simulate({**defaults, "launch.propellant_load_kg": 2500.0}, nominal_inputs())
    assert short["outcome"][0] == Outcome.PROPELLANT_SHORT_FOR_DESCENT
    assert short["reached_pdi"][0] and not short["transfer_ok"][0] and short["propellant_margin_kg"][0] < 0
    starved = simulate({**defaults, "launch.propellant_load_kg": 500.0}, nominal_inputs())
    assert starved["outcome"][0] == Outcome.PROPELLANT_DEPLETED_BEFORE_PDI
    assert not starved["reached_pdi"][0]
    nominal = simulate(defaults, nominal_inputs())
    assert nominal["outcome"][0] == Outcome.SUCCESS and nominal["transfer_ok"][0]
    assert nominal["propellant_margin_kg"][0] > 0


def test_outcome_codes_agree_with_flags(defaults):
    x = nominal_inputs(ascent_reliability=0.7, engine_failure_prob_per_burn=0.03)
    out = simulate(defaults, x, n=5000, seed=11)
    assert np.array_equal(out["transfer_ok"], out["outcome"] == Outcome.SUCCESS)
    assert np.array_equal(out["launch_ok"], out["outcome"] != Outcome.LAUNCH_VEHICLE_FAILURE)
    assert not np.any(out["transfer_ok"] & ~out["reached_pdi"])
    assert {int(c) // 10 for c in np.unique(out["outcome"])} <= {0, 1, 2}
