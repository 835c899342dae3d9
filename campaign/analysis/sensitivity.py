"""Sensitivity from the sample itself: given-data first-order Sobol indices by binning (Plischke, Borgonovo &
Smith 2013; Strong & Oakley 2013) with an ANOVA bias correction, Spearman rank correlations; and, for a campaign
sampled with ``sampler=saltelli``, first-order and total indices from its radial A/B/AB_i design by the
centred Saltelli (2010) / Jansen (1999) estimators, corrected for the binomial noise of each epistemic draw's
estimated probability (:func:`saltelli`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

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
    noise_var = (2 * (m - 1) * msw**2 + 4 * msw * max(0.0, signal)) / n**2
    sampling_var = float(np.sum(counts * (spread - ssb / n) ** 2)) / n**2
    return signal / n, math.sqrt(noise_var + sampling_var)


def first_order_given_data(
    x: np.ndarray,
    y: np.ndarray,
    bins: int | None = None,
    groups: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> tuple[float, float]:
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
    out: dict = {
        "method": "given-data first-order Sobol (equal-count bins, ANOVA-corrected) and Spearman",
        "inputs": {i: {"unit": res.unit(i), "level": res.meta(i, "level")} for i in inputs},
        "targets": {},
    }
    full_order = {i: np.argsort(res.column(i), kind="stable") for i in inputs}
    per_mask: dict[bytes, dict] = {}  # sort orders and ranks of the inputs over each set of defined rows
    for t in targets:
        y = res.column(t).astype(float)
        ok = ~np.isnan(y)
        if ok.sum() < 10 or np.ptp(y[ok]) == 0:
            out["targets"][t] = {"n": int(ok.sum()), "note": "constant or too few values", "indices": {}}
            continue
        entry: dict[str, Any] = {
            "n": int(ok.sum()),
            "unit": res.unit(t),
            "role": res.meta(t, "role"),
            "valid_when": res.meta(t, "valid_when") or None,
            "indices": {},
        }
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


MIN_SHARE = 0.01  # assumed: an input that explains under 1% of an output's variance is not worth a reader's line
RESTATES_RHO = 0.999  # |Spearman| at or above this: the output is a monotone function of that one input


def influential(entry: Mapping, min_share: float = MIN_SHARE) -> list[tuple[str, dict]]:
    """The inputs that matter to one target of :func:`sensitivity` (its ``targets[t]`` entry), most influential
    first: first-order index at least ``min_share`` *and* its 95% interval above zero (``S - 1.96 se > 0``), so
    that neither a negligible effect nor estimation noise (about ``bins / n`` before the ANOVA correction, and a
    2.5% chance per input of a lower bound above zero by luck) fills the list. Returns ``(input, indices)`` pairs."""
    z = 1.959963984540054
    keep = [
        (i, v)
        for i, v in entry.get("indices", {}).items()
        if v["first_order"] is not None
        and math.isfinite(v["first_order"])
        and v["first_order"] >= min_share
        and v["first_order"]
        - z
        * (v["first_order_se"] if v["first_order_se"] is not None and math.isfinite(v["first_order_se"]) else math.inf)
        > 0
    ]
    return sorted(keep, key=lambda kv: -kv[1]["first_order"])


def restated_input(entry: Mapping, rho: float = RESTATES_RHO) -> str | None:
    """The input that a target merely restates (a monotone function of it alone, ``|Spearman| >= rho``: e.g.
    the landing day is the landing-time draw times the window), or None. Such an output has a trivial
    sensitivity: listing it among the outcomes tells the reader nothing."""
    for i, v in entry.get("indices", {}).items():
        if v.get("spearman") is not None and math.isfinite(v["spearman"]) and abs(v["spearman"]) >= rho:
            return i
    return None


def saltelli_matrices(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The radial matrices of a Saltelli design: from base samples ``a`` and ``b`` (shape (n, d), independent
    draws of the d inputs) return ``ab`` of shape (d, n, d), where ``ab[i]`` is ``a`` with column i taken from
    ``b`` (Saltelli et al. 2010, "Variance based sensitivity analysis of model output", CPC 181)."""
    a, b = np.asarray(a), np.asarray(b)
    ab = np.repeat(a[None], a.shape[1], axis=0)
    idx = np.arange(a.shape[1])
    ab[idx, :, idx] = b.T
    return ab


def radial_indices(f: np.ndarray, noise: np.ndarray | None = None) -> dict:
    """First-order and total Sobol indices, centred, from the whole blocks of a radial A/B/AB_i design.

    ``f`` (shape (n, d + 2)): the output on the rows of n blocks, in the sampler's roles
    (:func:`campaign.sampling.saltelli_uniforms`): column 0 ``f(A_b)``, 1 ``f(B_b)``, 2 + i ``f(AB_i,b)`` (``A_b``
    with input i taken from ``B_b``). ``noise`` (optional, same shape): an unbiased estimate of the variance of
    each value's noise about the function of the inputs, the noise independent between rows; for a probability
    estimated from m missions, ``p (1 - p) / (m - 1)`` (its expectation is ``P (1 - P) / m``).

    With ``mu`` the mean of f over the A and B rows (Sobol' 2001, Math. Comput. Simul. 55: shifting f by a
    constant near its mean lowers the Monte Carlo error of the products, which otherwise grows with ``mu^2``):

    * ``V = Var(f over A and B) - mean(noise over A and B)``: the variance of the function of the inputs;
    * first order ``S_i = mean((f_B - mu) (f_AB_i - f_A)) / V`` (Saltelli et al. 2010, CPC 181, Table 2 (b)):
      independent noise has mean zero in the numerator (the B row's noise multiplies a difference of the
      other rows), so it needs no correction;
    * total ``ST_i = mean((f_A - f_AB_i)^2 / 2 - (noise_A + noise_AB_i) / 2) / V`` (Jansen 1999; Saltelli et al.
      2010, Table 2 (f)): the noise of both rows adds its variance to the squared difference in expectation.

    So the corrected estimators are unbiased for the indices of the function of the inputs (up to the ratio's
    O(1/n) bias); without ``noise`` V and the ST numerators keep the noise, S_i is shrunk by ``V_f / (V_f +
    noise)`` and ST_i pulled towards 1. Standard errors: each index is a ratio of means of per-block terms over
    independent blocks; the delta method gives ``std_b(t_b - S v_b) / (sqrt(n) V)``, with ``t_b`` the block's
    numerator term and ``v_b`` its term of V, so the error of V counts too. Scrambled Sobol base points are
    usually more even than independent blocks, which makes these errors conservative.

    Returns ``first``, ``first_se``, ``total``, ``total_se`` (shape (d,)), ``variance`` (V), ``noise_variance``
    (the mean noise variance over A and B that was removed, 0 without ``noise``) and ``blocks`` (n); indices are
    NaN when V <= 0 (no variance beyond the noise).
    """
    f = np.asarray(f, dtype=float)
    n, d = f.shape[0], f.shape[1] - 2
    noise = np.zeros(f.shape) if noise is None else np.asarray(noise, dtype=float)
    f_a, f_b, f_ab = f[:, 0], f[:, 1], f[:, 2:]
    mu = float(np.mean(f[:, :2]))
    pooled = 2 * n / (2 * n - 1) if n > 1 else math.nan  # the unbiased variance over the 2n base rows
    v_terms = 0.5 * ((f_a - mu) ** 2 + (f_b - mu) ** 2) * pooled - 0.5 * (noise[:, 0] + noise[:, 1])
    v = float(np.mean(v_terms))
    first_terms = (f_b - mu)[:, None] * (f_ab - f_a[:, None])
    total_terms = 0.5 * (f_a[:, None] - f_ab) ** 2 - 0.5 * (noise[:, :1] + noise[:, 2:])
    out = {"variance": v, "noise_variance": float(np.mean(noise[:, :2])), "blocks": n}
    for key, terms in (("first", first_terms), ("total", total_terms)):
        if not v > 0:
            out[key], out[f"{key}_se"] = np.full(d, math.nan), np.full(d, math.nan)
            continue
        index = terms.mean(axis=0) / v
        linear = (terms - index[None, :] * v_terms[:, None]) / v
        out[key] = index
        out[f"{key}_se"] = linear.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.full(d, math.nan)
    return out


def saltelli_indices(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray) -> dict:
    """First-order and total Sobol indices from a Saltelli A/B/AB design given as separate matrices.

    ``f_a``, ``f_b``: model outputs on the base samples, shape (n,); ``f_ab``: outputs on
    :func:`saltelli_matrices`, shape (d, n). The centred estimators of :func:`radial_indices` (row b of A, B and
    every AB_i forms one block). Returns arrays of shape (d,): ``first``, ``first_se``, ``total``, ``total_se``,
    and ``variance``.
    """
    f = np.column_stack([np.asarray(f_a, dtype=float), np.asarray(f_b, dtype=float), np.asarray(f_ab, dtype=float).T])
    est = radial_indices(f)
    return {k: est[k] for k in ("first", "first_se", "total", "total_se", "variance")}


SALTELLI_METHOD = (
    "radial A/B/AB_i design (Saltelli et al. 2010), centred estimators: first order Saltelli 2010 "
    "Table 2 (b), total Jansen 1999; delta-method standard errors over whole blocks"
)
DESIGN_RTOL = 1e-5  # assumed: an input recomputed from the same uniform in another batch differs in its last bits
MIN_BLOCKS = 2  # a standard error needs a spread of per-block terms (the config refuses fewer, likewise)


def _blocks(res: Results, design: Mapping) -> tuple[np.ndarray, ...]:
    """The R rows of the design present in a dataset (an outer draw at the epistemic level, a mission at the
    aleatory level) and where each sits in the whole blocks.

    Returns ``inverse`` (shape (n,): each mission's row), ``first`` (shape (R,): each row's first mission, whose
    inputs are the row's), ``missions`` (shape (R,): missions per row), ``keep`` (shape (R,), bool: the row belongs
    to a whole block, every row present with all its missions) and ``slot`` (shape (R,), int: ``block position *
    (d + 2) + role`` among the kept rows).
    """
    rows = int(design["rows_per_block"])
    per_row = res.inner_samples if design["level"] == "epistemic" else 1
    unit = res.column("sample_index").astype(np.int64) // per_row
    labels, first, inverse, missions = np.unique(unit, return_index=True, return_inverse=True, return_counts=True)
    block, role = labels // rows, labels % rows
    full_rows = np.bincount(block[missions == per_row], minlength=int(block.max(initial=0)) + 1)
    whole = np.flatnonzero(full_rows == rows)
    keep = np.isin(block, whole)
    slot = np.full(labels.shape, -1, dtype=np.int64)
    slot[keep] = np.searchsorted(whole, block[keep]) * rows + role[keep]
    return inverse, first, missions, keep, slot


def _arrange(values: np.ndarray, keep: np.ndarray, slot: np.ndarray, rows: int) -> np.ndarray:
    """Per-row ``values`` (shape (R,)) of the kept rows as shape (blocks, d + 2), in the design's roles."""
    out = np.empty(int(keep.sum()))
    out[slot[keep]] = values[keep]
    return out.reshape(-1, rows)


def _follows_design(x: np.ndarray) -> np.ndarray:
    """Whether each block's inputs (shape (blocks, d + 2, d)) are radial: row 2 + i equals row 0 (A) but in
    column i, which equals row 1's (B). Shape (blocks,), bool."""
    d = x.shape[2]
    expected = np.repeat(x[:, :1, :], d, axis=1)
    idx = np.arange(d)
    expected[:, idx, idx] = x[:, 1, :]
    close = np.isclose(x[:, 2:, :], expected, rtol=DESIGN_RTOL, atol=0.0)
    return close.all(axis=(1, 2))


def _saltelli_header(res: Results, design: Mapping) -> dict:
    """The result of :func:`saltelli` before any block is used: the design's method, level, inputs and sizes, no
    block, every mission left out, no note and no target."""
    return {
        "method": SALTELLI_METHOD,
        "level": design["level"],
        "inputs": list(design["inputs"]),
        "d": int(design["d"]),
        "rows_per_block": int(design["rows_per_block"]),
        "missions_per_block": int(design["missions_per_block"]),
        "blocks": 0,
        "missions_used": 0,
        "missions_left_out": res.n,
        "noise_corrected": design["level"] == "epistemic",
        "notes": [],
        "targets": {},
    }


def _saltelli_target(res: Results, t: str, f: np.ndarray, m: np.ndarray | None, inputs: list[str], blocks: int) -> dict:
    """One target's entry of :func:`saltelli`: its role, the blocks where it is defined and, where it varies, its
    variance, noise variance and per-input first-order and total indices (:func:`radial_indices`) with their sums.
    ``f``: the target per row of each whole block, shape (blocks, rows); ``m``: the missions behind each row at
    the epistemic level (their binomial noise is removed), None at the aleatory level."""
    noise = f * (1 - f) / (m - 1) if m is not None else None
    defined = np.isfinite(f).all(axis=1)
    entry: dict = {"role": res.meta(t, "role"), "blocks": int(defined.sum())}
    if defined.sum() < MIN_BLOCKS or np.ptp(f[defined]) == 0:
        return entry | {"note": "constant, or defined in fewer than 2 whole blocks"}
    est = radial_indices(f[defined], None if noise is None else noise[defined])
    entry |= {
        "variance": est["variance"],
        "noise_variance": est["noise_variance"],
        "indices": {
            i: {
                "first_order": float(est["first"][j]),
                "first_order_se": float(est["first_se"][j]),
                "total": float(est["total"][j]),
                "total_se": float(est["total_se"][j]),
            }
            for j, i in enumerate(inputs)
        },
        "sum_first_order": float(np.nansum(est["first"])),
        "sum_total": float(np.nansum(est["total"])),
    }
    if defined.sum() < blocks:
        entry["note"] = f"defined (every row not null) in {int(defined.sum())} of {blocks} blocks"
    if not est["variance"] > 0:
        entry["note"] = "no variance beyond the binomial noise of the draws: indices undefined"
    return entry


def _level_note(m: np.ndarray | None) -> str:
    """The note of :func:`saltelli` on what its level means for the indices: at the epistemic level (``m``, the
    missions behind each row) the binomial noise removed, at the aleatory level (``m`` None) the model's own draws
    counted in the total effects."""
    if m is not None:
        return (
            f"each epistemic draw's probability is estimated from {int(m.min()):,} missions: its "
            "binomial noise is removed from the variance and from the total-effect numerators"
        )
    return (
        "aleatory level: the model's own random draws change between a block's rows, so each "
        "total-effect index includes their share of the variance (first-order ones do not)"
    )


def saltelli(res: Results) -> dict | None:
    """First-order and total Sobol indices of a campaign sampled with ``sampler=saltelli``; None for any other
    sampler (and for a sweep: each run's own summary holds its indices).

    The design (:attr:`.loading.Results.saltelli_design`) is rebuilt from ``sample_index``: at the epistemic level
    row ``o = sample_index // inner_samples`` is an outer draw and its output is the draw's estimated probability
    ``p_o`` (the mean of a flag over its m missions, binomial noise ``p (1 - p) / (m - 1)`` removed by
    :func:`radial_indices`): the indices split the variance of ``P(theta)`` across the epistemic inputs, i.e.
    which state of knowledge matters for the probability. At the aleatory level each mission is a row and its
    outputs (every flag, and every numeric metric over the blocks where it is defined) are the function of the
    inputs; the model's own random draws (keyed by sample index) then change between a block's rows, so each
    ST_i also holds their share (Jansen's numerator counts any input that changed) and S_i does not.

    Only whole blocks are used: missions of a partial last block (or of missing shards) are left out, with a
    note. The inputs are checked against the radial pattern (AB_i is A but for column i, taken from B).

    Returns ``method``, ``level``, ``inputs``, ``d``, ``rows_per_block``, ``missions_per_block``, ``blocks``,
    ``missions_used``, ``missions_left_out``, ``noise_corrected``, ``notes`` and ``targets``: per flag (and metric)
    ``role``, ``blocks``, ``variance``, ``noise_variance``, ``indices`` (per input ``first_order``,
    ``first_order_se``, ``total``, ``total_se``), ``sum_first_order``, ``sum_total`` (or a ``note``).
    """
    design = res.saltelli_design
    if design is None or len(res.runs) > 1:
        return None
    inputs, rows = list(design["inputs"]), int(design["rows_per_block"])
    epistemic = design["level"] == "epistemic"
    out = _saltelli_header(res, design)
    absent = [i for i in inputs if not res.has(i)]
    if absent:
        out["notes"].append(f"the design's inputs {', '.join(absent)} are not columns of the dataset")
        return out
    inverse, first, missions, keep, slot = _blocks(res, design)
    blocks = int(keep.sum()) // rows
    used = int(missions[keep].sum())
    out |= {"blocks": blocks, "missions_used": used, "missions_left_out": res.n - used}
    if res.n > used:
        out["notes"].append(
            f"{res.n - used:,} missions outside whole blocks of {out['missions_per_block']:,} (a "
            "partial last block, or missing shards) are left out of the indices; they count in "
            "every probability"
        )
    if blocks < MIN_BLOCKS:
        out["notes"].append(f"{blocks} whole block(s): at least {MIN_BLOCKS} are needed")
        return out
    x = np.stack([_arrange(res.column(i)[first], keep, slot, rows) for i in inputs], axis=2)
    radial = _follows_design(x)
    if not radial.all():
        out["notes"].append(
            f"the inputs of {int((~radial).sum())} of {blocks} blocks do not follow the radial "
            "design (AB_i = A but for input i, taken from B): indices not computed"
        )
        return out
    m = _arrange(missions.astype(float), keep, slot, rows) if epistemic else None
    out["notes"].append(_level_note(m))
    for t in res.flags + ([] if epistemic else res.metrics):
        per_row = np.bincount(inverse, weights=res.column(t).astype(float), minlength=missions.size) / missions
        out["targets"][t] = _saltelli_target(res, t, _arrange(per_row, keep, slot, rows), m, inputs, blocks)
    return out
