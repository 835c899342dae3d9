"""The priors that follow the flight records (docs/priors.md): the launch's configuration prior against the analytic
moments of a product of independent Betas, the switch to the pooled prior on common random numbers, the landing's
record-based unmodelled-fault term (exactly the physics when off, a loss of its prior mean when on), and the
report's side-by-side block, its numbers recomputed from the Parquet columns."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pyarrow.dataset as ds
import pytest

from campaign import analysis, app, declarations, engine, report, sampling, store
from campaign.models import rules
from campaign.models._keys import open_uniform, subkey
from campaign.models.outcomes import Outcome
from campaign.report import plots
from tests.helpers import compose
from tests.oracles import Values

SEED = 20261121


def beta_theta(config, name: str) -> tuple[float, float]:
    """(alpha, beta) of the Beta input ``name`` in a composed config."""
    (v,) = [v for v in config.variables if v.name == name]
    return float(v.theta[0]), float(v.theta[1])


def beta_moments(a: float, b: float) -> tuple[float, float]:
    """E[X] and E[X^2] of X ~ Beta(a, b)."""
    return a / (a + b), a * (a + 1) / ((a + b) * (a + b + 1))


def launch_columns(n: int, *overrides: str) -> dict[str, np.ndarray]:
    """The launch campaign's columns for ``n`` missions, one epistemic draw per mission (``inner_samples=1``: the
    missions' reliabilities are independent draws of the prior)."""
    config = compose("+experiment=launch", f"run.samples={n}", "run.inner_samples=1", f"run.seed={SEED}", *overrides)
    spec = config.spec(n)
    return engine.evaluate_shard(spec, 0, n)


def ascent_uniforms(n: int) -> np.ndarray:
    """The uniform each launch mission's ascent draws against (its key as the engine makes it, then
    ``launch/ascent`` as :func:`campaign.models.launch.simulate` derives it)."""
    root = sampling.root_key(jnp.asarray(np.concatenate(sampling.split_words(np.array([SEED]))), jnp.uint32))
    words = jnp.asarray(np.stack(sampling.split_words(np.arange(n, dtype=np.int64)), axis=1))

    def one(w):
        key = sampling.index_key(root, sampling.PURPOSE_MODEL, w[0], w[1])
        return open_uniform(subkey(key, "launch/ascent"), jnp.float64)

    return np.asarray(jax.jit(jax.vmap(one))(words))


# ------------------------------------------------------------------------------------------------ launch
N_LAUNCH = 40960  # a multiple of the batch size


@pytest.fixture(scope="module")
def launches() -> dict[str, dict[str, np.ndarray]]:
    return {
        prior: launch_columns(N_LAUNCH, f"mission.launch.configuration_prior={flag}")
        for prior, flag in (("configuration", "true"), ("pooled", "false"))
    }


def test_configuration_prior_has_the_moments_of_the_product_of_its_betas(launches):
    """r = r_common * (1 - q_config) with independent Betas: E[r] = E[r_c] E[1-q], E[r^2] = E[r_c^2] E[(1-q)^2].
    The documented numbers (conf comments, docs/priors.md: mean 0.614, sd 0.146) follow from conf's Betas, and
    the sampled reliabilities match them within 4.5 Monte Carlo standard errors (mean: sd/sqrt(n); sd: the
    standard error of a sample sd, sd sqrt((kurtosis - 1) / 4n), with the sample's own kurtosis)."""
    config = compose("+experiment=launch")
    (ac, bc), (aq, bq) = (
        beta_theta(config, f"launch.{n}") for n in ("ascent_reliability_common", "configuration_failure_prob")
    )
    assert (ac, bc, aq, bq) == (6.0, 2.0, 2.0, 9.0)  # F1 failed, F2-F5, F7 ok; Beta(1,9) + F8's failure
    m1c, m2c = beta_moments(ac, bc)
    m1s, m2s = beta_moments(bq, aq)  # 1 - q ~ Beta(beta, alpha)
    mean, sd = m1c * m1s, math.sqrt(m2c * m2s - (m1c * m1s) ** 2)
    assert mean == pytest.approx(0.6136, abs=1e-4) and sd == pytest.approx(0.1455, abs=1e-4)
    r = launches["configuration"]["ascent_reliability_used"]
    kurtosis = np.mean((r - r.mean()) ** 4) / r.var() ** 2
    assert abs(r.mean() - mean) < 4.5 * sd / math.sqrt(N_LAUNCH)
    assert abs(r.std() - sd) < 4.5 * sd * math.sqrt((kurtosis - 1) / (4 * N_LAUNCH))
    x = launches["configuration"]
    np.testing.assert_array_equal(
        r, x["launch.ascent_reliability_common"] * (1 - x["launch.configuration_failure_prob"])
    )


def test_pooled_prior_is_the_whole_record_as_one_beta(launches):
    """``configuration_prior=false``: the ascent draws against Beta(6,3) (5 successes, 2 failures, uniform prior):
    mean 2/3, sd sqrt(18 / 810); every mission's reliability is its pooled input."""
    x = launches["pooled"]
    r = x["ascent_reliability_used"]
    np.testing.assert_array_equal(r, x["launch.ascent_reliability"])
    mean, sd = 6 / 9, math.sqrt(6 * 3 / (9**2 * 10))
    kurtosis = np.mean((r - r.mean()) ** 4) / r.var() ** 2
    assert abs(r.mean() - mean) < 4.5 * sd / math.sqrt(N_LAUNCH)
    assert abs(r.std() - sd) < 4.5 * sd * math.sqrt((kurtosis - 1) / (4 * N_LAUNCH))


def test_each_mission_launches_on_the_chosen_prior_with_common_random_numbers(launches):
    """Both runs draw the same inputs and the same ascent uniform u (its own stream); each launches exactly
    where u falls below the reliability of its prior; so where one prior's reliability is the larger, its launch
    succeeds whenever the other's does."""
    cfg, pooled = launches["configuration"], launches["pooled"]
    for name in cfg:
        if name.startswith("launch."):
            np.testing.assert_array_equal(cfg[name], pooled[name], err_msg=name)
    u = ascent_uniforms(N_LAUNCH)
    np.testing.assert_array_equal(cfg["launch_ok"], u < cfg["ascent_reliability_used"])
    np.testing.assert_array_equal(pooled["launch_ok"], u < pooled["launch.ascent_reliability"])
    higher = cfg["ascent_reliability_used"] >= pooled["ascent_reliability_used"]
    assert np.all(cfg["launch_ok"][higher] >= pooled["launch_ok"][higher])
    assert np.all(pooled["launch_ok"][~higher] >= cfg["launch_ok"][~higher])
    assert (cfg["launch_ok"] != pooled["launch_ok"]).any()  # the two priors do disagree on some missions


# ------------------------------------------------------------------------------------------------ landing
def test_record_fault_kernel_loses_only_physical_landings_at_its_rate_in_numpy_and_jax():
    """The shared kernel: off, the physics exactly; on, a landing the physics made is lost where u < q (code 35),
    a physical loss keeps its cause; NumPy and JAX agree; the loss rate among physical landings is q within
    4.5 binomial standard errors."""
    rng = np.random.default_rng(3)
    n, q = 200000, 0.25
    physics = np.where(rng.random(n) < 0.8, Outcome.SUCCESS, rng.choice([30, 31, 32, 33, 34], n)).astype(np.int16)
    u = rng.random(n)
    x = Values(unmodelled_fault_prob=np.full(n, q))
    for on in (True, False):
        p = Values(unmodelled_fault_term=on)
        ours = rules.record_fault(p, x, physics, u, np)
        theirs = jax.jit(lambda o, uu: rules.record_fault(p, x, o, uu, jnp))(physics, u)  # noqa: B023
        for name in ours:
            np.testing.assert_array_equal(ours[name], np.asarray(theirs[name]), err_msg=name)
        np.testing.assert_array_equal(ours["landing_physics_ok"], physics == Outcome.SUCCESS)
        if not on:
            np.testing.assert_array_equal(ours["landing_ok"], ours["landing_physics_ok"])
            np.testing.assert_array_equal(ours["outcome"], physics)
            continue
        lost = ours["landing_physics_ok"] & ~ours["landing_ok"]
        np.testing.assert_array_equal(lost, (physics == Outcome.SUCCESS) & (u < q))
        np.testing.assert_array_equal(ours["outcome"], np.where(lost, Outcome.LANDING_UNMODELLED_FAULT, physics))
        m = int(ours["landing_physics_ok"].sum())
        assert abs(lost.sum() / m - q) < 4.5 * math.sqrt(q * (1 - q) / m)


N_LANDING = 1024


@pytest.fixture(scope="module")
def landings() -> dict[bool, dict[str, np.ndarray]]:
    """The landing campaign with the record-based term on and off, same seed, one epistemic draw per mission."""
    out = {}
    for on in (True, False):
        config = compose(
            "+experiment=landing_dispersion",
            f"run.samples={N_LANDING}",
            "run.batch_size=256",
            "run.inner_samples=1",
            f"mission.landing.unmodelled_fault_term={str(on).lower()}",
        )
        out[on] = engine.evaluate_shard(config.spec(N_LANDING), 0, N_LANDING)
    return out


def test_fault_term_off_is_the_physics_and_on_loses_its_prior_mean(landings):
    """Off: landing_ok is landing_physics_ok on every mission. On (same missions): the physics is unchanged,
    every landing with the term is a landing without it, and P(landing) / P(physics) = 1 - E[q] (Jeffreys
    Beta(3.5, 10.5) from 3 unmodelled faults in 13 attempts: E[q] = 0.25) within 4.5 binomial standard errors
    of the M physical landings (one epistemic draw per mission: each fault is Bernoulli(E[q]) on its own)."""
    on, off = landings[True], landings[False]
    np.testing.assert_array_equal(off["landing_ok"], off["landing_physics_ok"])
    np.testing.assert_array_equal(on["landing_physics_ok"], off["landing_physics_ok"])
    np.testing.assert_array_equal(on["miss_distance_m"], off["miss_distance_m"])
    assert not np.any(on["landing_ok"] & ~off["landing_ok"])
    assert set(np.unique(on["outcome"][on["outcome"] != off["outcome"]])) == {Outcome.LANDING_UNMODELLED_FAULT}
    assert not np.any(off["outcome"] == Outcome.LANDING_UNMODELLED_FAULT)
    a, b = beta_theta(compose("+experiment=landing_dispersion"), "landing.unmodelled_fault_prob")
    assert (a, b) == (3.5, 10.5)
    q = a / (a + b)
    m = int(off["landing_ok"].sum())
    assert m > 0.7 * N_LANDING
    ratio = on["landing_ok"].sum() / m
    assert abs(ratio - (1 - q)) < 4.5 * math.sqrt(q * (1 - q) / m), (ratio, 1 - q, m)


# ------------------------------------------------------------------------------------------------ report
def write_run(root: Path, *overrides: str) -> Path:
    """A run directory as ``python -m campaign`` writes it (run.json, Parquet shards, manifest), evaluated here."""
    config = compose(*overrides)
    shard_size = config.run.samples
    spec = config.spec(shard_size)
    rs = store.RunStore(root)
    plan = store.plan_shards(config.run.samples, shard_size)
    info = app._provenance(config, shard_size, len(plan))
    rs.create(info)
    layout = store.Layout(declarations.dataset_columns(config.model, config.variables), config.run.precision)
    for shard in plan:
        rs.write_shard(shard, layout.table(engine.evaluate_shard(spec, shard.first, shard.count), info))
    rs.write_manifest(plan)
    return root


def test_report_shows_the_physics_beside_the_record(tmp_path):
    """A small landing run: summary.json's block holds P(landing) by the physics and with the term as the
    Parquet columns give them, the losses split by source; report.md and report.html show the block, the
    numbers and the sentence that names the driver."""
    run = write_run(tmp_path / "run", "+experiment=landing_dispersion", "run.samples=256", "run.batch_size=256")
    full = report.write_report(run, plots=False, log=lambda _: None)
    table = ds.dataset(run / "samples", format="parquet").to_table().to_pydict()
    physics, ok = np.array(table["landing_physics_ok"]), np.array(table["landing_ok"])
    d = full["landing_record"]
    assert d["given"] is None and d["reached"] == 256
    assert d["physics"]["p"] == pytest.approx(physics.mean()) and d["with_record"]["p"] == pytest.approx(ok.mean())
    assert d["physics"]["successes"] == physics.sum() and d["with_record"]["successes"] == ok.sum()
    assert d["losses_by_source"] == {"physics": int((~physics).sum()), "record": int((physics & ~ok).sum())}
    assert d["losses"] == int((~ok).sum()) and sum(c["missions"] for c in d["causes"]) == d["losses"]
    names = np.array(table["outcome_name"])
    for c in d["causes"]:
        expected = (physics & ~ok) if c["source"] == "record" else (~physics & (names == c["cause"]))
        assert c["missions"] == expected.sum(), c
    driver = max(d["losses_by_source"], key=d["losses_by_source"].get)
    assert d["driver"] == driver
    summary = json.loads((run / "summary.json").read_text())
    assert summary["landing_record"]["with_record"]["p"] == pytest.approx(ok.mean())
    md = (run / "report.md").read_text()
    html = (run / "report.html").read_text()
    lead = {"physics": "The physics", "record": "The record-based unmodelled-fault term"}[driver]
    for text in (md, html):
        assert "Landing: physics and the record" in text
        assert f"{physics.mean():.4f}" in text and f"{ok.mean():.4f}" in text
        assert f"{lead} drives the landing loss" in text
    assert 'id="landing-record"' in html and html.count("<section") == html.count("</section>")
    assert analysis.format_landing_record(d)[0].startswith("P(safe landing | reaching PDI)")
    # The touchdown plot's rows: a landing the physics made and the record-based term lost has a row of its own
    # (unless a fault flag names it first), so "no fault flagged" is the physics alone.
    res = analysis.Results.load(run)
    col = lambda name: np.asarray(res.column(name), bool)  # noqa: E731
    groups = plots.touchdown_groups(res, np.ones(256, bool))
    flagged = col("altimeter_fault") | col("engine_out") | col("diverted")
    lost_to_record = col("landing_physics_ok") & ~col("landing_ok")
    assert lost_to_record.any() and np.array_equal(groups == plots.RECORD_FAULT, lost_to_record & ~flagged)
