"""Trade studies over a sweep: each design's probabilities and means, and paired differences between designs on
common random numbers (the same ``sample_index`` in every run), with McNemar's test for flags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from .headline import Headline
from .intervals import mean_interval
from .loading import Results, _flatten, swept_keys


def paired_difference(a: np.ndarray, b: np.ndarray, clusters: np.ndarray | None = None) -> dict:
    """``mean(b - a)`` over paired missions (shape (n,) each, the same sampled scenario in two designs, NaN where
    undefined in either) with a 95% interval (:func:`mean_interval`, cluster-robust over ``clusters``). For 0/1
    flags it adds the discordant counts (``a`` only, ``b`` only) and McNemar's exact two-sided p-value, the
    binomial test of the discordant pairs (McNemar 1947)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = ~(np.isnan(a) | np.isnan(b))
    d = b[ok] - a[ok]
    est = mean_interval(d, None if clusters is None else np.asarray(clusters)[ok])
    out = {"diff": est["mean"], "ci95": est["ci95"], "se": est["se"], "n": est["n"]}
    if np.all(np.isin(a[ok], (0.0, 1.0))) and np.all(np.isin(b[ok], (0.0, 1.0))):
        only_a, only_b = int(np.sum(d < 0)), int(np.sum(d > 0))
        out |= {
            "only_first": only_a,
            "only_second": only_b,
            "mcnemar_p": float(stats.binomtest(only_b, only_a + only_b).pvalue) if only_a + only_b else 1.0,
        }
    return out


def _design_label(values: Mapping[str, object]) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in values.items())


def _design_entry(res: Results, head: Headline, j: int, value: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """One design's entry of :func:`trade_study`: its job, run directory, swept values and label, P(flag) with
    its interval for every flag, each metric's mean with its unit, and the share of its missions lost first to
    each failure cause. ``j``: the design's job number; ``rows``: its missions."""
    job = res.job
    entry: dict[str, Any] = {
        "job": res.runs[j].name,
        "run_dir": str(res.runs[j]),
        "values": value,
        "label": _design_label(value) or res.runs[j].name,
        "flags": {},
        "metrics": {},
    }
    for name in res.flags:
        entry["flags"][name] = head.probability(res.column(name), among=job == j, band=False)
    for name in res.metrics:
        y = res.column(name)[rows]
        entry["metrics"][name] = mean_interval(y[~np.isnan(y)]) | {"unit": res.unit(name)}
    if res.has("outcome_name"):
        causes = res.column("outcome_name")
        entry["failures"] = {
            str(c): head.probability(causes == c, among=job == j, band=False)
            for c in np.unique(causes[rows])
            if c != "success"
        }
    return entry


def _paired(
    res: Results, index: np.ndarray, per_job: list[np.ndarray], outer: np.ndarray, j: int, k: int, metrics: bool
) -> dict:
    """Design ``k`` against design ``j`` on the missions both ran (the same ``sample_index``): the paired
    difference of every flag (and, with ``metrics``, of every metric), clustered by ``outer`` (the design's
    independent units)."""
    common, ia, ib = np.intersect1d(index[per_job[j]], index[per_job[k]], return_indices=True)
    ra, rb = per_job[j][ia], per_job[k][ib]
    clusters = outer[ra]
    return {
        "first": res.runs[j].name,
        "second": res.runs[k].name,
        "missions": int(common.size),
        "flags": {n: paired_difference(res.column(n)[ra], res.column(n)[rb], clusters) for n in res.flags},
        **(
            {
                "metrics": {
                    n: paired_difference(res.column(n)[ra], res.column(n)[rb], clusters) | {"unit": res.unit(n)}
                    for n in res.metrics
                }
            }
            if metrics
            else {}
        ),
    }


def trade_study(res: Results) -> dict | None:
    """A sweep's trade study: for each design (run), the swept values and P(flag) with its interval
    (:class:`.headline.Headline`: clustered by epistemic draw when epistemic inputs vary) and counts, and each
    floating metric's mean; then paired differences between neighbouring designs (ordered by
    the swept value when one numeric key was swept, else by job number) on the missions both share (the same
    ``sample_index``: common random numbers), clustered by epistemic outer draw (by block for a Saltelli design);
    each design's flags against the first design's on the same missions (``against_first``: the trade curve's
    paired band; the first design against itself is zero); and each design's failure causes (``failures``: the
    share of its missions lost first to each cause, with its interval). None for a single run."""
    if len(res.runs) < 2:
        return None
    configs = [i.get("config", {}) for i in res.run_info]
    keys = swept_keys(configs)
    values: list[dict[str, Any]] = [{k: _flatten(c).get(k) for k in keys} for c in configs]
    order = list(range(len(res.runs)))
    numeric = len(keys) == 1 and all(isinstance(v[keys[0]], (int, float)) for v in values)
    if numeric:
        order.sort(key=lambda j: values[j][keys[0]])
    index, job = res.column("sample_index").astype(np.int64), res.job
    per_job = [np.flatnonzero(job == j) for j in range(len(res.runs))]
    head = Headline(res)
    designs = [_design_entry(res, head, j, values[j], per_job[j]) for j in order]
    outer = res.clusters  # the design's independent units: epistemic draws, or a Saltelli design's blocks

    def paired(j: int, k: int, metrics: bool = True) -> dict:
        return _paired(res, index, per_job, outer, j, k, metrics)

    pairs = [paired(j, k) for j, k in zip(order[:-1], order[1:])]
    against_first = [paired(order[0], k, metrics=False) for k in order]
    return {
        "swept_keys": keys,
        "numeric": numeric,
        "designs": designs,
        "paired_differences": pairs,
        "against_first": against_first,
    }
