"""The epistemic spread: how uncertain each probability itself is across states of knowledge, and which epistemic
input explains that uncertainty (what to pin down first).

Missions of one outer draw share the draw's epistemic inputs ``theta_k``; the draw's true probability is
``P(theta_k)``, estimated by the mean ``p_k`` of the draw's ``m_k`` missions. Across draws ``P(theta)`` has a
mean (the marginal probability), a spread (:func:`.intervals.epistemic_band`: how uncertain P is, given what we
know), and a variance that each epistemic input explains in part (:func:`variance_shares`).
"""

from __future__ import annotations

import math

import numpy as np

from .intervals import cluster_sums, clustered_proportion, epistemic_band, epistemic_variance
from .loading import Results
from .sensitivity import _anova_between, _bin_labels, default_bins

BOOTSTRAP = 200  # resamples of the draws for the standard errors of the variance shares (assumed: SE to ~5%)


def epistemic_spread(flag: np.ndarray, outer: np.ndarray, clusters: np.ndarray | None = None) -> dict:
    """The distribution of a probability across epistemic outer draws.

    ``flag`` (shape (n,), bool) and ``outer`` (shape (n,), int: the outer index ``sample_index // inner_samples``);
    ``clusters`` (shape (n,), int, default ``outer``): the design's independent units, for the marginal's interval
    (the blocks of a Saltelli design, :attr:`.loading.Results.clusters`).
    For each draw k the estimate ``p_k`` is the flag's mean over its missions. Returned: the median and the
    empirical 5-95% of the ``p_k`` (which include each draw's binomial noise), the band of the true P with that
    noise removed (:func:`.intervals.epistemic_band`), the standard deviations (observed, expected from binomial
    noise alone ``sqrt(mean p_k (1 - p_k) / (m_k - 1))``, and epistemic), and the marginal probability with its
    Korn-Graubard interval over the draws (:func:`.intervals.clustered_proportion`).
    """
    y, m = cluster_sums(flag, outer)
    p = y / m
    q05, q50, q95 = np.quantile(p, [0.05, 0.5, 0.95])
    noise = float(np.sqrt(np.mean(p * (1 - p) / np.maximum(m - 1, 1))))
    var = float(np.var(p, ddof=1)) if p.size > 1 else math.nan
    band = epistemic_band(y, m)
    marginal = clustered_proportion(np.asarray(flag, dtype=bool), outer if clusters is None else clusters)
    return {
        "draws": int(p.size),
        "missions_per_draw": band["missions_per_draw"],
        "median": float(q50),
        "p05": float(q05),
        "p95": float(q95),
        "mean": float(p.mean()),
        "sd": math.sqrt(var) if p.size > 1 else math.nan,
        "sd_binomial_noise": noise,
        "sd_epistemic": band["sd"],
        "band": band,
        "marginal": {k: marginal[k] for k in ("p", "ci95", "interval", "n_effective", "design_effect")},
        "per_draw": p.tolist(),
    }


def _shares(p: np.ndarray, m: float, thetas: np.ndarray, bins: int) -> tuple[np.ndarray, float]:
    """Point estimates of :func:`variance_shares` (shape (J,)) and the epistemic variance they divide."""
    total = epistemic_variance(p, m) if m > 1 else float(np.var(p, ddof=1))
    out = np.full(thetas.shape[1], math.nan)
    if total <= 0:
        return out, total
    for j in range(thetas.shape[1]):
        order = np.argsort(thetas[:, j], kind="stable")
        x = thetas[order, j]
        if np.ptp(x) > 0:
            out[j] = _anova_between(p[order], _bin_labels(x, bins))[0] / total
    return out, total


def variance_shares(p: np.ndarray, m: float, thetas: np.ndarray, seed: int = 0) -> dict:
    """The share of the variance of P across states of knowledge that each epistemic input explains alone.

    ``p`` (shape (K,)): each draw's estimated probability from ``m`` missions; ``thetas`` (shape (K, J)): the
    draw's epistemic inputs. ``share_j = Var(E[P | theta_j]) / Var(P)``, a first-order Sobol index of the outer
    function ``P(theta)``: the numerator is the given-data estimator over the draws (equal-count bins, ANOVA
    corrected, so the binomial noise of ``p_k`` and the other inputs' effect, both within-bin variance, add no
    bias; Plischke, Borgonovo & Smith 2013), the denominator the epistemic variance with the binomial noise
    removed (:func:`.intervals.epistemic_band`). An input with a large share is the one whose knowledge, once
    pinned down, narrows P most. Standard errors: bootstrap over the draws (:data:`BOOTSTRAP` resamples, seeded).
    Returns ``{"share": (J,), "se": (J,), "epistemic_variance", "draws"}``.
    """
    p, thetas = np.asarray(p, dtype=float), np.asarray(thetas, dtype=float)
    k = p.size
    bins = default_bins(k)
    share, total = _shares(p, m, thetas, bins)
    rng = np.random.default_rng(seed)
    boot = np.array([_shares(p[i], m, thetas[i], bins)[0] for i in rng.integers(0, k, (BOOTSTRAP, k))])
    finite = np.isfinite(boot).sum(axis=0)
    se = np.full(share.shape, math.nan)
    for j in np.flatnonzero(finite >= 2):
        se[j] = float(np.nanstd(boot[:, j], ddof=1))
    return {"share": share, "se": se, "epistemic_variance": total, "draws": k}


def epistemic(res: Results) -> dict:
    """:func:`epistemic_spread` and :func:`variance_shares` of every flag, when the dataset has epistemic inputs
    and at least two draws."""
    inputs = res.epistemic_inputs
    outer = res.outer
    out: dict = {"inner_samples": res.inner_samples, "epistemic_inputs": inputs, "flags": {}}
    if not inputs:
        out["note"] = "no epistemic input varies: every mission shares one state of knowledge"
        return out
    labels, first = np.unique(outer, return_index=True)
    if labels.size < 2:
        out["note"] = "a single epistemic draw: raise run.samples above run.inner_samples"
        return out
    thetas = np.stack([res.column(i)[first] for i in inputs], axis=1)
    for name in res.flags:
        spread = epistemic_spread(res.column(name), outer, res.clusters)
        y, m = cluster_sums(res.column(name), outer)
        full = m == np.max(m)  # a last, partial draw would weigh as much as a whole one
        if spread["missions_per_draw"] >= 2 and full.sum() >= 4:
            v = variance_shares(y[full] / m[full], float(np.max(m)), thetas[full])
            spread["variance_shares"] = {
                i: {"share": float(s), "se": float(e)} for i, s, e in zip(inputs, v["share"], v["se"])
            }
            spread["variance_shares_sum"] = float(np.nansum(v["share"]))
        out["flags"][name] = spread
    return out
