"""Intervals valid for the campaign's design: coverage by simulation of the headline interval when missions share
states of knowledge, the epistemic band, conditional (ratio) probabilities and the variance shares of epistemic
inputs against an analytic case.

The simulated design is the campaign's: K epistemic draws, each a true probability drawn from a beta distribution
of mean P and concentration 9 (that of Beta(6, 3), the H3 launch prior), then m missions per draw, each a
Bernoulli trial of the draw's probability. Seeds are fixed; tolerances are stated where used.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from campaign import analysis
from campaign.analysis import intervals
from tests import synthetic

CONCENTRATION = 9.0  # alpha + beta of the outer beta distribution (Beta(6, 3): the launch prior's)
REPEATS = 2000  # simulated campaigns per design (binomial SE of a 95% coverage: 0.005)


def simulate(k: int, m: int, p: float, repeats: int = REPEATS, seed: int = 0) -> np.ndarray:
    """Successes per draw of ``repeats`` campaigns of ``k`` draws of ``m`` missions: shape (repeats, k)."""
    rng = np.random.default_rng([seed, k, m, int(p * 1000)])
    theta = rng.beta(p * CONCENTRATION, (1 - p) * CONCENTRATION, (repeats, k))
    return rng.binomial(m, theta).astype(float)


@pytest.mark.parametrize("k", [20, 50, 200])
@pytest.mark.parametrize("m", [1, 10, 100])
@pytest.mark.parametrize("p", [0.05, 0.3, 0.7])
def test_the_headline_interval_covers_the_marginal_p_whatever_the_split_of_draws_and_missions(k, m, p):
    y = simulate(k, m, p)
    _, lo, hi, _ = intervals.korn_graubard_bounds(y, np.full_like(y, m))
    coverage = np.mean((lo <= p) & (p <= hi))
    assert coverage >= 0.93, coverage
    if m == 100:
        # Wilson's interval, which counts missions as independent, is far too narrow on the same campaigns.
        w_lo, w_hi = intervals.wilson_bounds(y.sum(axis=1), k * m)
        assert np.mean((w_lo <= p) & (p <= w_hi)) < 0.8


def test_fewer_draws_can_fall_short_at_a_small_p_and_the_summary_warns():
    """Where it falls short: 10 draws of 100 missions at P = 0.05 cover ~92.7% (20,000 simulated campaigns gave
    0.9265; here 4,000). A campaign with fewer than 50 draws prints a warning and writes it under
    ``summary.json`` ``design.warning``."""
    y = simulate(10, 100, 0.05, repeats=4000, seed=1)
    _, lo, hi, _ = intervals.korn_graubard_bounds(y, np.full_like(y, 100))
    coverage = np.mean((lo <= 0.05) & (0.05 <= hi))
    assert 0.90 < coverage < 0.94, coverage


def test_the_summary_warns_below_fifty_draws_and_names_the_interval(tmp_path):
    run = synthetic.write_run(tmp_path / "run", n=3000, seed=2, inner_samples=100)  # 30 draws
    summary = analysis.summarize(analysis.Results.load(run))
    assert summary["sample_design"]["interval"] == analysis.KORN_GRAUBARD
    assert summary["sample_design"]["draws"] == 30 and "30 epistemic draws" in summary["sample_design"]["warning"]
    for entry in [
        *summary["phases"].values(),
        *summary["goals"].values(),
        *summary["conditional"].values(),
        *summary["failures"],
    ]:
        assert entry["interval"] == analysis.KORN_GRAUBARD and entry["draws"] == 30
    assert "warning: the intervals rest on 30 epistemic draws" in analysis.format_summary(summary)


def test_without_epistemic_inputs_the_headline_stays_wilson(tmp_path):
    run = synthetic.write_run(tmp_path / "run", n=2000, seed=3, epistemic=False)
    summary = analysis.summarize(analysis.Results.load(run))
    assert summary["sample_design"]["interval"] == analysis.WILSON and "draws" not in summary["sample_design"]
    for name, entry in summary["phases"].items():
        assert entry["interval"] == analysis.WILSON and "epistemic" not in entry
        assert entry["ci95"] == list(analysis.wilson_interval(entry["successes"], entry["n"]))


def test_a_conditional_probability_is_the_ratio_over_the_missions_in_the_condition():
    rng = np.random.default_rng(4)
    clusters = np.repeat(np.arange(300), 20)
    theta = rng.beta(3, 3, 300)[clusters]
    reached = rng.random(clusters.size) < theta
    flag = reached & (rng.random(clusters.size) < 0.6)
    est = analysis.clustered_proportion(flag, clusters, among=reached)
    assert est["p"] == pytest.approx(flag[reached].mean(), abs=1e-12)
    assert est["successes"] == flag.sum() and est["n"] == reached.sum()
    assert est["ci95"][0] < est["p"] < est["ci95"][1]


def test_korn_graubard_reduces_to_clopper_pearson_for_independent_missions():
    """One mission per draw: the design effect is ~1 and the interval that of Clopper-Pearson on n (the t
    quantile of n - 1 degrees of freedom differs from z by < 0.1% at n = 2,000)."""
    rng = np.random.default_rng(5)
    y = (rng.random(2000) < 0.3).astype(float)
    kg = analysis.korn_graubard(y, np.ones_like(y))
    s, n = int(y.sum()), y.size
    cp = (stats.beta.ppf(0.025, s, n - s + 1), stats.beta.ppf(0.975, s + 1, n - s))
    assert kg["design_effect"] == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(kg["ci95"], cp, atol=2e-4)


def test_the_epistemic_band_removes_the_binomial_noise_of_each_draw():
    rng = np.random.default_rng(6)
    theta = rng.beta(6, 3, 400)
    y = rng.binomial(100, theta).astype(float)
    band = analysis.epistemic_band(y, np.full(400, 100.0))
    truth = stats.beta.ppf([0.05, 0.95], 6, 3)
    np.testing.assert_allclose(band["band"], truth, atol=0.03)  # 400 draws: sampling error ~0.01
    assert band["sd"] == pytest.approx(stats.beta.std(6, 3), rel=0.1)
    raw = np.quantile(y / 100, [0.05, 0.95])
    assert raw[1] - raw[0] > band["band"][1] - band["band"][0]  # the raw spread includes the noise
    # No epistemic spread at all: the band shrinks towards the mean, to what the sampling error of the draws'
    # variance leaves (~0.06 here, against a raw spread of ~0.16 that is all binomial noise).
    noise_only = rng.binomial(100, 0.4, 400) / 100
    flat = analysis.epistemic_band(noise_only * 100, np.full(400, 100.0))
    raw = np.quantile(noise_only, [0.05, 0.95])
    assert flat["band"][1] - flat["band"][0] < 0.4 * (raw[1] - raw[0])
    one = analysis.epistemic_band(y[:50] > 50, np.ones(50))
    assert one["band"] is None and "inner_samples" in one["note"]


def test_variance_shares_recover_a_product_of_two_independent_reliabilities():
    """P = R1 R2 with R1, R2 ~ U(0.5, 1) independent and a third input that does not act. Analytically
    Var(E[P|R1]) / Var(P) = E[R2]^2 Var(R1) / (E[R1^2] E[R2^2] - E[R1]^2 E[R2]^2) = 0.491 for each, the
    interaction 0.018, the idle input 0."""
    rng = np.random.default_rng(7)
    k, m = 3000, 50
    thetas = rng.uniform(0.5, 1.0, (k, 3))
    p = rng.binomial(m, thetas[:, 0] * thetas[:, 1]) / m
    mean, var = 0.75, 0.5**2 / 12
    total = (var + mean**2) ** 2 - mean**4
    expected = mean**2 * var / total
    v = analysis.variance_shares(p, float(m), thetas)
    assert v["epistemic_variance"] == pytest.approx(total, rel=0.1)
    for j in (0, 1):
        assert abs(v["share"][j] - expected) < max(3 * v["se"][j], 0.03), (v["share"][j], v["se"][j])
        assert 0 < v["se"][j] < 0.05
    assert abs(v["share"][2]) < max(3 * v["se"][2], 0.02)


def test_the_report_ranks_what_to_pin_down_first(tmp_path):
    run = synthetic.write_run(tmp_path / "run", n=20000, seed=8, inner_samples=50)
    res = analysis.Results.load(run)
    epi = analysis.epistemic(res)
    shares = epi["flags"]["launch_ok"]["variance_shares"]
    # launch_ok depends on the one epistemic input (the ascent reliability) alone: it explains all of P's spread.
    (only,) = shares
    assert shares[only]["share"] == pytest.approx(1.0, abs=max(3 * shares[only]["se"], 0.1))


@pytest.mark.parametrize("k", [3, 30])
def test_mean_interval_clustered_matches_the_sandwich_formula(k):
    rng = np.random.default_rng(9)
    clusters = rng.integers(0, k, 500)
    y = rng.normal(size=500) + clusters * 0.1
    est = analysis.mean_interval(y, clusters)
    labels = np.unique(clusters)
    sums = np.array([np.sum(y[clusters == c] - y.mean()) for c in labels])
    se = math.sqrt(labels.size / (labels.size - 1) * np.sum(sums**2)) / y.size
    assert est["se"] == pytest.approx(se, rel=1e-12) and est["clusters"] == labels.size
