"""Convergence of each estimate with the number of missions, in the order a campaign draws them."""

from __future__ import annotations

import math

import numpy as np

from .intervals import Z95, clustered_proportion, wilson_bounds
from .loading import Results


def sample_counts(n: int, points: int = 40, first: int = 100) -> np.ndarray:
    """About ``points`` geometrically spaced sample counts from ``min(first, n)`` to ``n`` (int64, increasing)."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    grid = np.geomspace(min(first, n), n, points)
    return np.unique(np.concatenate([np.round(grid), [n]]).astype(np.int64))


def convergence(res: Results, points: int = 40) -> dict:
    """Running estimates over the first N missions (in ``sample_index`` order, so N missions are exactly what a
    campaign of N samples would have drawn) for N on a geometric grid: each flag's probability with its Wilson
    interval, and each floating metric's mean (where defined) with its normal interval. These intervals treat
    missions as independent (Wilson 1927). When epistemic inputs vary, missions of one outer draw are dependent
    and each flag also gets the Korn-Graubard interval over the outer draws (:func:`.intervals.clustered_proportion`,
    the headline's interval; over the blocks of a Saltelli design, :attr:`.loading.Results.clusters`)."""
    counts = sample_counts(res.n, points)
    out: dict = {"n": counts.tolist(), "flags": {}, "metrics": {}}
    clustered = bool(res.epistemic_inputs) or res.saltelli_design is not None
    outer = res.clusters
    for name in res.flags:
        y = res.column(name)
        s = np.concatenate([[0], np.cumsum(y)])[counts]
        lo, hi = wilson_bounds(s, counts)
        out["flags"][name] = {
            "p": (s / counts).tolist(),
            "lower": lo.tolist(),
            "upper": hi.tolist(),
            "final_half_width": float((hi[-1] - lo[-1]) / 2) if counts.size else math.nan,
        }
        if clustered:
            ci = np.array([clustered_proportion(y[:k], outer[:k])["ci95"] for k in counts])
            out["flags"][name] |= {
                "lower_clustered": ci[:, 0].tolist(),
                "upper_clustered": ci[:, 1].tolist(),
                "final_half_width_clustered": float((ci[-1, 1] - ci[-1, 0]) / 2),
            }
    for name in res.metrics:
        y = res.column(name)
        ok = ~np.isnan(y)
        y0 = np.where(ok, y, 0.0)
        k = np.concatenate([[0], np.cumsum(ok)])[counts]
        s1 = np.concatenate([[0.0], np.cumsum(y0)])[counts]
        s2 = np.concatenate([[0.0], np.cumsum(y0 * y0)])[counts]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = s1 / k
            var = np.maximum(s2 - k * mean * mean, 0.0) / (k - 1)
            half = Z95 * np.sqrt(var / k)
        out["metrics"][name] = {
            "unit": res.unit(name),
            "n_defined": k.tolist(),
            "mean": mean.tolist(),
            "lower": (mean - half).tolist(),
            "upper": (mean + half).tolist(),
        }
    return out
