"""Sensitivity from the sample itself: given-data first-order Sobol indices by binning (Plischke, Borgonovo &
Smith 2013; Strong & Oakley 2013) with an ANOVA bias correction, Spearman rank correlations, and the Saltelli
(2010) / Jansen (1999) estimators for A/B/AB designs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from .loading import Results


def default_bins(n: int) -> int:
    """Bins for the given-data estimator: about sqrt(n), at least 2 and at most 1000 (the ANOVA correction removes
    the noise bias that many small bins would add; many bins keep the discretisation bias small)."""
    return int(min(1000, max(2, round(math.sqrt(n)))))


def _bin_labels(x_sorted: np.ndarray, bins: int) -> np.ndarray:
    """Bin label (0..m-1) of each sorted value: one bin per distinct value when there are at most ``bins`` of
    them (an exact conditional expectation for discrete inputs), else ``bins`` bins of equal counts."""
    n = x_sorted.size
    change = np.concatenate([[False], x_sorted[1:] != x_sorted[:-1]])
    if change.sum() + 1 <= bins:
        return np.cumsum(change)
    return (np.arange(n) * bins) // n


def _anova_between(y_sorted: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The variance of the bin means of ``y`` about its mean, ``sum_m n_m / n (mu_m - mu)^2``, estimated without
    the noise of the sample bin means, and its normal-theory standard error.

    Fixed-effects one-way ANOVA (the bins are fixed by the data's quantiles, not a random sample of bins):
    ``E[SSB] = sum_m n_m (mu_m - mu)^2 + (m - 1) sigma_w^2``, so the estimate is ``(SSB - (m - 1) MSW) / n``
    (the omega-squared correction, Hays 1963); ``SSB / sigma_w^2`` is non-central chi-square with m - 1 degrees
    of freedom, whose variance gives the noise part of the standard error,
    ``(2 (m - 1) MSW^2 + 4 MSW max(0, SSB - (m - 1) MSW)) / n^2``. The bins' means also vary with the sample of
    the input itself (what a fixed-effects model ignores); the delta method on the mean of the rows' squared
    deviations ``(mu_bin(i) - mu)^2`` adds ``Var_rows((mu_bin(i) - mu)^2) / n``. ``se`` is the square root of the
    sum. ``labels`` (shape (n,)) are the bins of the rows.
    """
    n = y_sorted.size
    counts = np.bincount(labels)
    if np.any(counts == 0):
        _, labels = np.unique(labels, return_inverse=True)
        counts = np.bincount(labels)
    m = counts.size
    if m < 2 or n <= m:
        return math.nan, math.nan
    means = np.bincount(labels, weights=y_sorted) / counts
    spread = (means - y_sorted.mean()) ** 2
    ssb = float(np.sum(counts * spread))
    msw = float(np.sum((y_sorted - means[labels]) ** 2)) / (n - m)
    signal = ssb - (m - 1) * msw
    noise_var = (2 * (m - 1) * msw ** 2 + 4 * msw * max(0.0, signal)) / n ** 2
    sampling_var = float(np.sum(counts * (spread - ssb / n) ** 2)) / n ** 2
    return signal / n, math.sqrt(noise_var + sampling_var)


def first_order_given_data(x: np.ndarray, y: np.ndarray, bins: int | None = None,
                           groups: np.ndarray | None = None, order: np.ndarray | None = None) -> tuple[float, float]:
    """Given-data first-order Sobol index ``S = Var(E[Y|X]) / Var(Y)`` of one input, from any sample.

    ``x``, ``y``: shape (n,), the input and the output (a 0/1 flag or a metric) of the same missions, drawn
    however the sampler drew them (no special design needed). The missions are sorted by ``x`` and cut into
    ``bins`` classes of equal counts (default :func:`default_bins`; one class per distinct value for a discrete
    input); ``Var(E[Y|X])`` is the variance of the class means (Plischke, Borgonovo & Smith 2013, "Global
    sensitivity measures from given data", EJOR 226; Strong & Oakley 2013), here without the noise of the sample
    class means (:func:`_anova_between`), so that an input that does not act gets ~0 rather than a positive bias
    of about ``bins / n``. The discretisation leaves a small negative bias (the variation of E[Y|X] within a
    class), negligible with many classes.

    ``groups`` (shape (n,), optional) marks rows that share ``x`` by construction: the epistemic outer draws, in
    which an epistemic input is constant. The estimator then works on the groups (x of each group, mean y of each
    group, equal-sized groups assumed): binning the rows would put every draw in a class of its own, and the
    index would measure all the epistemic inputs together rather than this one. ``Var(Y)`` stays the rows' variance.

    ``order`` (optional, without ``groups``): ``argsort(x)``, when the caller has it already.

    Returns ``(S, se)``, ``se`` the normal-theory standard error (accurate near S = 0, conservative for large S).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    total_var = float(np.var(y)) if y.size > 1 else 0.0
    if groups is not None:
        _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
        y = np.bincount(inverse, weights=y) / np.bincount(inverse)
        x, order = x[first], None
    n = y.size
    if n < 4 or np.ptp(x) == 0 or total_var <= 0:
        return math.nan, math.nan
    if order is None:
        order = np.argsort(x, kind="stable")
    v, se = _anova_between(y[order], _bin_labels(x[order], bins or default_bins(n)))
    return float(v / total_var), float(se / total_var)


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (shape (n,)), ties ranked by their average (Spearman 1904);
    NaN when either is constant."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1])


def _average_ranks(x: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` (shape (n,)) with ties given their average rank, from ``order = argsort(x)``
    (what ``scipy.stats.rankdata`` returns, without sorting again)."""
    xs = x[order]
    start = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1]]))
    end = np.concatenate([start[1:], [xs.size]])
    ranks = np.empty(xs.size)
    ranks[order] = np.repeat((start + end + 1) / 2.0, end - start)
    return ranks


def sensitivity(res: Results, targets: Sequence[str] | None = None) -> dict:
    """For every target (each flag, each metric) and every sampled input: the given-data first-order index
    (:func:`first_order_given_data`) with its standard error and Spearman's rank correlation. A metric with
    ``valid_when`` is analysed over the missions where it is defined (its sensitivity given that phase was
    reached). Epistemic inputs are analysed over their outer draws (``groups`` of :func:`first_order_given_data`).
    Inputs that did not vary (``fixed``) are left out."""
    inputs = [i for i in res.inputs if np.ptp(res.column(i)) > 0]
    outer = res.outer
    targets = list(targets) if targets is not None else res.flags + res.metrics
    out: dict = {"method": "given-data first-order Sobol (equal-count bins, ANOVA-corrected) and Spearman",
                 "inputs": {i: {"unit": res.unit(i), "level": res.meta(i, "level")} for i in inputs},
                 "targets": {}}
    full_order = {i: np.argsort(res.column(i), kind="stable") for i in inputs}
    per_mask: dict[bytes, dict] = {}  # sort orders and ranks of the inputs over each set of defined rows
    for t in targets:
        y = res.column(t).astype(float)
        ok = ~np.isnan(y)
        if ok.sum() < 10 or np.ptp(y[ok]) == 0:
            out["targets"][t] = {"n": int(ok.sum()), "note": "constant or too few values", "indices": {}}
            continue
        entry = {"n": int(ok.sum()), "unit": res.unit(t), "role": res.meta(t, "role"),
                 "valid_when": res.meta(t, "valid_when") or None, "indices": {}}
        cache = per_mask.setdefault(np.packbits(ok).tobytes(), {})
        position = np.cumsum(ok) - 1
        y_ranks = stats.rankdata(y[ok])
        for i in inputs:
            x = res.column(i)[ok]
            if i not in cache:
                order = position[full_order[i][ok[full_order[i]]]]
                cache[i] = (order, _average_ranks(x, order))
            order, x_ranks = cache[i]
            if res.meta(i, "level") == "epistemic":
                s, se = first_order_given_data(x, y[ok], groups=outer[ok])
            else:
                s, se = first_order_given_data(x, y[ok], order=order)
            rho = float(np.corrcoef(x_ranks, y_ranks)[0, 1]) if np.ptp(x) > 0 else math.nan
            entry["indices"][i] = {"first_order": s, "first_order_se": se, "spearman": rho}
        entry["sum_first_order"] = float(np.nansum([v["first_order"] for v in entry["indices"].values()]))
        out["targets"][t] = entry
    return out


def saltelli_matrices(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The radial matrices of a Saltelli design: from base samples ``a`` and ``b`` (shape (n, d), independent
    draws of the d inputs) return ``ab`` of shape (d, n, d), where ``ab[i]`` is ``a`` with column i taken from
    ``b`` (Saltelli et al. 2010, "Variance based sensitivity analysis of model output", CPC 181)."""
    a, b = np.asarray(a), np.asarray(b)
    ab = np.repeat(a[None], a.shape[1], axis=0)
    idx = np.arange(a.shape[1])
    ab[idx, :, idx] = b.T
    return ab


def saltelli_indices(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray) -> dict:
    """First-order and total Sobol indices from a Saltelli A/B/AB design.

    ``f_a``, ``f_b``: model outputs on the base samples, shape (n,); ``f_ab``: outputs on
    :func:`saltelli_matrices`, shape (d, n). With ``V = Var([f_a, f_b])``:
    first order ``S_i = mean(f_b * (f_ab_i - f_a)) / V`` (Saltelli et al. 2010, Table 2 (b)),
    total ``ST_i = mean((f_a - f_ab_i)^2) / (2 V)`` (Jansen 1999; Saltelli et al. 2010, Table 2 (f)).
    Each is a mean of per-row terms, so its standard error is ``std(terms) / (sqrt(n) V)`` (ignoring the error
    of V). Returns arrays of shape (d,): ``first``, ``first_se``, ``total``, ``total_se``, and ``variance``.
    """
    f_a, f_b, f_ab = (np.asarray(v, dtype=float) for v in (f_a, f_b, f_ab))
    n = f_a.size
    v = float(np.var(np.concatenate([f_a, f_b]), ddof=1))
    first_terms = f_b[None, :] * (f_ab - f_a[None, :])
    total_terms = 0.5 * (f_a[None, :] - f_ab) ** 2
    return {"first": first_terms.mean(axis=1) / v, "first_se": first_terms.std(axis=1, ddof=1) / math.sqrt(n) / v,
            "total": total_terms.mean(axis=1) / v, "total_se": total_terms.std(axis=1, ddof=1) / math.sqrt(n) / v,
            "variance": v}


