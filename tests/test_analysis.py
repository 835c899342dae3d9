"""Statistics of campaign results: interval coverage, Kaplan-Meier against a hand computation, sensitivity
estimators against analytic indices, the epistemic spread and the paired trade study on synthetic datasets.

Statistical tests use fixed seeds and tolerances of a few standard errors (stated where used).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pyarrow.dataset as ds
import pytest

from campaign import analysis
from campaign.analysis import Results
from tests import synthetic

Z = analysis.Z95


# ============================================================================================ intervals
def test_wilson_interval_covers_the_true_p_in_95_percent_of_datasets():
    # 4000 Bernoulli datasets, each with its own true p and size; Wilson's coverage oscillates with (n, p), so p
    # is drawn over a range and the average coverage is compared with 0.95 within 3.5 binomial standard errors.
    rng = np.random.default_rng(2027)
    k = 4000
    p = rng.uniform(0.05, 0.95, k)
    n = rng.choice([30, 100, 300, 1000], k)
    successes = rng.binomial(n, p)
    bounds = np.array([analysis.wilson_interval(int(s), int(m)) for s, m in zip(successes, n)])
    covered = (bounds[:, 0] <= p) & (p <= bounds[:, 1])
    tol = 3.5 * math.sqrt(0.95 * 0.05 / k)
    assert abs(covered.mean() - 0.95) < tol, covered.mean()
    lo, hi = analysis.wilson_bounds(successes, n)  # the vectorised form used by the convergence curves
    np.testing.assert_allclose(np.stack([lo, hi], 1), bounds, rtol=0, atol=1e-12)


def test_wilson_interval_at_the_edges():
    assert analysis.wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = analysis.wilson_interval(0, 50)
    assert lo == 0.0 and hi == pytest.approx(Z * Z / (50 + Z * Z), rel=1e-12)
    lo, hi = analysis.wilson_interval(50, 50)
    assert hi == 1.0 and lo == pytest.approx(50 / (50 + Z * Z), rel=1e-12)
    lo, hi = analysis.wilson_bounds(np.array([0, 50, 0]), np.array([50, 50, 0]))
    np.testing.assert_array_equal([lo[0], hi[1], lo[2], hi[2]], [0.0, 1.0, 0.0, 1.0])


def _epistemic_datasets(rng, k: int, draws: int = 40, inner: int = 100):
    """``k`` datasets of ``draws`` epistemic draws of ``inner`` missions: p_d ~ Beta(6, 3), true marginal 2/3."""
    p_draw = rng.beta(6.0, 3.0, (k, draws))
    flags = rng.random((k, draws, inner)) < p_draw[..., None]
    return flags.reshape(k, draws * inner), np.repeat(np.arange(draws), inner)


def test_clustered_interval_covers_the_marginal_probability_where_wilson_does_not():
    # Missions of one epistemic draw share their success probability: the Wilson interval, which assumes
    # independent missions, is far too narrow; the cluster-robust interval over the 40 draws covers ~95% (a
    # normal interval from 40 clusters is slightly anti-conservative, hence the lower tolerance of 0.03).
    rng = np.random.default_rng(5)
    flags, outer = _epistemic_datasets(rng, 1500)
    truth = 6.0 / 9.0
    cover_cluster = np.mean(
        [
            analysis.mean_interval(f, outer)["ci95"][0] <= truth <= analysis.mean_interval(f, outer)["ci95"][1]
            for f in flags
        ]
    )
    lo, hi = analysis.wilson_bounds(flags.sum(1), flags.shape[1])
    cover_wilson = np.mean((lo <= truth) & (truth <= hi))
    se = math.sqrt(0.95 * 0.05 / len(flags))
    assert 0.95 - 0.03 - 3 * se < cover_cluster < 0.95 + 3 * se, cover_cluster
    assert cover_wilson < 0.6, cover_wilson


# ========================================================================================= Kaplan-Meier
def test_kaplan_meier_matches_a_hand_computation_with_censoring():
    time = np.array([6.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0])
    event = np.array([0, 1, 1, 0, 1, 0, 1, 1], dtype=bool)
    km = analysis.kaplan_meier(time, event)
    # t  n at risk  d  c   S                               Greenwood sum d / (n (n - d))
    # 1      8      1  0   7/8                             1/56
    # 2      7      1  1   7/8 * 6/7 = 3/4                 + 1/42
    # 3      5      1  0   3/4 * 4/5 = 3/5                 + 1/20
    # 4      4      1  1   3/5 * 3/4 = 9/20                + 1/12
    # 5      2      1  0   9/20 * 1/2 = 9/40               + 1/2
    # 6      1      0  1   9/40 (censored: no step)        + 0
    f = Fraction
    s = [f(7, 8), f(3, 4), f(3, 5), f(9, 20), f(9, 40), f(9, 40)]
    g = np.cumsum([f(1, 56), f(1, 42), f(1, 20), f(1, 12), f(1, 2), f(0)])
    np.testing.assert_array_equal(km.time, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(km.at_risk, [8, 7, 5, 4, 2, 1])
    np.testing.assert_array_equal(km.events, [1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(km.censored, [0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose(km.survival, [float(x) for x in s], rtol=1e-15)
    np.testing.assert_allclose(km.variance, [float(x * x * y) for x, y in zip(s, g)], rtol=1e-13)
    # log-log band at t = 3: S^exp(+-z sqrt(g) / |log S|)
    sigma = math.sqrt(float(g[2])) / abs(math.log(0.6))
    assert km.lower[2] == pytest.approx(0.6 ** math.exp(Z * sigma), rel=1e-12)
    assert km.upper[2] == pytest.approx(0.6 ** math.exp(-Z * sigma), rel=1e-12)
    # right-continuous steps, S = 1 before the first time
    surv, lo, hi = km.at(np.array([0.5, 1.0, 2.5, 5.0, 100.0]))
    np.testing.assert_allclose(surv, [1.0, 7 / 8, 3 / 4, 9 / 40, 9 / 40])
    assert np.all(lo <= surv) and np.all(surv <= hi) and lo[0] == hi[0] == 1.0


def test_kaplan_meier_without_censoring_is_the_empirical_survival_function():
    rng = np.random.default_rng(1)
    t = rng.exponential(10.0, 500)
    km = analysis.kaplan_meier(t, np.ones(500, dtype=bool))
    grid = np.linspace(0, 40, 50)
    np.testing.assert_allclose(km.at(grid)[0], [(t > g).mean() for g in grid], atol=1e-12)


def test_survival_counts_missions_that_never_landed_as_failures_at_day_zero(tmp_path):
    run = synthetic.write_run(tmp_path / "run", n=3000, seed=1)
    res = Results.load(run)
    surv = analysis.survival(res)
    landed = ~np.isnan(res.column("days_survived"))
    succeeded = res.column("outcome") == 0
    curves = surv["curves"]
    assert curves["all"]["survival"][0] == pytest.approx(landed.mean(), abs=1e-12)
    assert curves["surface"]["survival"][0] == pytest.approx(
        1.0 - np.mean(res.column("days_survived")[landed] == 0), abs=1e-12
    )
    # Successes are censored at the mission end, so S(100 d) is the fraction that operated the whole mission.
    assert curves["all"]["survival"][-1] == pytest.approx(succeeded.mean(), abs=1e-12)
    assert curves["all"]["censored"] == int(succeeded.sum())


# ========================================================================================== sensitivity
def test_given_data_first_order_indices_recover_a_linear_model():
    # Y = sum b_i X_i + noise with independent inputs: S_i = b_i^2 Var(X_i) / Var(Y) exactly; X4 does not act.
    rng = np.random.default_rng(11)
    n = 20000
    x = np.column_stack(
        [rng.normal(0, 1, n), rng.uniform(-math.sqrt(3), math.sqrt(3), n), rng.normal(0, 1, n), rng.normal(0, 1, n)]
    )
    b = np.array([1.0, 2.0, 0.5, 0.0])
    y = x @ b + rng.normal(0, 1, n)
    truth = b**2 / (b @ b + 1.0)
    for i in range(4):
        s, se = analysis.first_order_given_data(x[:, i], y)
        assert 0 < se < 0.01
        assert abs(s - truth[i]) < 4 * se, (i, s, truth[i], se)
    # Spearman's rho of jointly normal variables: (6 / pi) asin(rho / 2), rho = b_i sd_i / sd_Y (X2 is uniform:
    # skipped); its standard error is about 1 / sqrt(n).
    for i in (0, 2, 3):
        rho = b[i] / math.sqrt(b @ b + 1.0)
        expected = 6 / math.pi * math.asin(rho / 2)
        assert abs(analysis.rank_correlation(x[:, i], y) - expected) < 4 / math.sqrt(n)


def test_given_data_index_of_a_discrete_input_uses_its_values_as_classes():
    rng = np.random.default_rng(3)
    n = 10000
    switch = rng.integers(0, 2, n).astype(float)  # e.g. a bernoulli input
    y = 3.0 * switch + rng.normal(0, 1, n)
    s, se = analysis.first_order_given_data(switch, y)
    truth = 9 * 0.25 / (9 * 0.25 + 1)
    assert abs(s - truth) < 4 * se


def test_epistemic_inputs_are_told_apart_over_their_outer_draws():
    # Two epistemic inputs constant over blocks of 50 missions; only theta1 acts. Binned row by row, both would
    # split the missions into the same blocks and get the same index; over the draws they are told apart.
    rng = np.random.default_rng(8)
    draws, inner = 400, 50
    outer = np.repeat(np.arange(draws), inner)
    theta1, theta2 = rng.normal(0, 1, draws)[outer], rng.normal(0, 1, draws)[outer]
    y = theta1 + rng.normal(0, 2, draws * inner)
    truth = 1.0 / (1.0 + 4.0)
    s1, se1 = analysis.first_order_given_data(theta1, y, groups=outer)
    s2, se2 = analysis.first_order_given_data(theta2, y, groups=outer)
    assert abs(s1 - truth) < 4 * se1 and se1 < 0.05
    assert abs(s2) < 4 * se2 and se2 < 0.02


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[..., 0]) + a * np.sin(x[..., 1]) ** 2 + b * x[..., 2] ** 4 * np.sin(x[..., 0])


def test_saltelli_estimators_recover_the_ishigami_indices():
    # Ishigami & Homma (1990), inputs uniform on [-pi, pi]; analytic variances (Sobol' & Levitan 1999):
    a, b = 7.0, 0.1
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    first, total = np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v  # 0.314 0.442 0 / 0.558 0.442 0.244
    rng = np.random.default_rng(17)
    n = 2**14
    A, B = rng.uniform(-math.pi, math.pi, (2, n, 3))
    AB = analysis.saltelli_matrices(A, B)
    assert AB.shape == (3, n, 3) and np.array_equal(AB[1][:, 1], B[:, 1]) and np.array_equal(AB[1][:, 0], A[:, 0])
    est = analysis.saltelli_indices(ishigami(A), ishigami(B), ishigami(AB))
    for key, truth in (("first", first), ("total", total)):
        err = np.abs(est[key] - truth)
        assert np.all(err < 4 * est[f"{key}_se"]), (key, est[key], truth, est[f"{key}_se"])
        assert np.all(est[f"{key}_se"] < 0.03)


def test_sensitivity_on_a_dataset_skips_fixed_inputs_and_conditions_metrics(tmp_path):
    res = Results.load(synthetic.write_run(tmp_path / "run", n=6000, seed=4))
    sens = analysis.sensitivity(res)
    assert "surface.battery_fade_frac" not in sens["inputs"]  # fixed
    night = sens["targets"]["worst_night_energy_margin_wh"]
    assert night["n"] == int((~np.isnan(res.column("worst_night_energy_margin_wh"))).sum()) < res.n
    idx = night["indices"]
    # margin = capacity - 1000 - 600 insulation + noise(80): insulation explains 600^2 0.15^2 / (that + 80^2)
    truth = 600**2 * 0.15**2 / (600**2 * 0.15**2 + 80**2)
    ins = idx["surface.insulation_error_frac"]
    assert abs(ins["first_order"] - truth) < 4 * ins["first_order_se"] and ins["spearman"] < -0.7
    dust = idx["surface.dust_frac"]  # does not act
    assert abs(dust["first_order"]) < 4 * dust["first_order_se"]


# ============================================================================== epistemic, pareto, trades
def test_epistemic_spread_separates_knowledge_from_binomial_noise():
    rng = np.random.default_rng(9)
    draws, inner = 300, 400
    p = rng.beta(6.0, 3.0, draws)
    flag = (rng.random((draws, inner)) < p[:, None]).ravel()
    e = analysis.epistemic_spread(flag, np.repeat(np.arange(draws), inner))
    sd_true = math.sqrt(6 * 3 / (9**2 * 10))  # Beta(6, 3): 0.157
    # the spread of a sample sd from 300 draws: about sd / sqrt(2 * 300)
    assert abs(e["sd_epistemic"] - sd_true) < 4 * sd_true / math.sqrt(2 * draws)
    assert e["sd_binomial_noise"] == pytest.approx(math.sqrt(np.mean(p * (1 - p)) / inner), rel=0.1)
    assert e["p05"] < e["median"] < e["p95"] and e["draws"] == draws and e["missions_per_draw"] == inner


def test_pareto_sorts_causes_and_accumulates_to_every_failure(tmp_path):
    res = Results.load(synthetic.write_run(tmp_path / "run", n=3000, seed=2))
    par = analysis.pareto(res)
    counts = [c["successes"] for c in par["by_cause"]]
    assert counts == sorted(counts, reverse=True) and sum(counts) == par["failures"] == int(
        (res.column("outcome") != 0).sum()
    )
    assert par["by_cause"][-1]["cumulative_share_of_failures"] == pytest.approx(1.0)
    assert {c["phase"] for c in par["by_cause"]} == {"launch", "landing", "surface"}
    assert sum(b["successes"] for b in par["by_phase"]) == par["failures"]


def test_trade_study_pairs_missions_across_a_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    for job, capacity in enumerate((1200.0, 1000.0, 1100.0)):  # job order is not the value order
        synthetic.write_run(sweep / str(job), n=4000, seed=6, battery_capacity_wh=capacity)
    res = Results.load(sweep)
    assert res.n == 12000 and sum(ds.dataset(sweep / str(j) / "samples").count_rows() for j in range(3)) == 12000
    trade = analysis.trade_study(res)
    assert trade["swept_keys"] == ["mission.surface.battery_capacity_wh"] and trade["numeric"]
    assert [d["values"]["mission.surface.battery_capacity_wh"] for d in trade["designs"]] == [1000, 1100, 1200]
    pair = trade["paired_differences"][0]
    diff = pair["flags"]["surface_ok"]
    low, mid = trade["designs"][0]["flags"]["surface_ok"], trade["designs"][1]["flags"]["surface_ok"]
    # Same missions in both designs: the paired difference is the difference of the estimates ...
    assert pair["missions"] == 4000 and diff["diff"] == pytest.approx(mid["p"] - low["p"], abs=1e-12)
    # ... and a bigger battery never loses a mission in this model (no discordant pair the other way), so the
    # paired interval is far narrower than two independent intervals would give.
    assert diff["only_first"] == 0 and diff["only_second"] > 0 and diff["mcnemar_p"] < 1e-6
    unpaired_half = Z * math.sqrt(low["p"] * (1 - low["p"]) / 4000 + mid["p"] * (1 - mid["p"]) / 4000)
    assert (diff["ci95"][1] - diff["ci95"][0]) / 2 < 0.7 * unpaired_half
    assert pair["flags"]["launch_ok"]["diff"] == 0 and pair["flags"]["launch_ok"]["only_second"] == 0


def test_convergence_ends_at_the_full_sample_estimate(tmp_path):
    res = Results.load(synthetic.write_run(tmp_path / "run", n=5000, seed=3))
    conv = analysis.convergence(res)
    assert conv["n"][0] == 100 and conv["n"][-1] == 5000 and conv["n"] == sorted(set(conv["n"]))
    for name in res.flags:
        f = conv["flags"][name]
        assert f["p"][-1] == pytest.approx(res.column(name).mean())
        assert np.all(np.array(f["lower"]) <= f["p"]) and np.all(np.array(f["p"]) <= f["upper"])
        # epistemic inputs vary in the toy model: the clustered interval is there and at least as wide at the end
        assert f["final_half_width_clustered"] >= 0.9 * f["final_half_width"]
    m = conv["metrics"]["landing_downrange_m"]
    assert m["mean"][-1] == pytest.approx(np.nanmean(res.column("landing_downrange_m")))
