"""The survival curve P(operating on the surface at day t): Kaplan-Meier (Kaplan & Meier 1958) with Greenwood's
variance (Greenwood 1926) and a log-log band (Kalbfleisch & Prentice 1980); and the same failures on the
calendar (:func:`failure_dates`), where they line up with the site's nights whatever the landing date."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .headline import Headline
from .intervals import Z95, korn_graubard_bounds, wilson_bounds
from .loading import Results


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier estimate. Arrays have shape (m,), one entry per distinct observed time, increasing.

    ``survival[j]`` is S(t) for ``time[j] <= t < time[j+1]`` (right-continuous steps; S = 1 before ``time[0]``);
    ``at_risk[j]`` the units still under observation just before ``time[j]``, ``events[j]`` the failures and
    ``censored[j]`` the censorings at ``time[j]`` (events are taken to precede censorings at a tie);
    ``variance[j]`` Greenwood's variance of S; ``lower``/``upper`` the pointwise 95% band.
    """

    time: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    survival: np.ndarray
    variance: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(S, lower, upper) evaluated at times ``t`` (any shape) as right-continuous step functions."""
        j = np.searchsorted(self.time, np.asarray(t, dtype=float), side="right") - 1
        pick = lambda a: np.where(j >= 0, a[np.maximum(j, 0)] if a.size else 1.0, 1.0)  # noqa: E731
        return pick(self.survival), pick(self.lower), pick(self.upper)


def kaplan_meier(time: np.ndarray, event: np.ndarray, z: float = Z95) -> KaplanMeier:
    """Kaplan-Meier product-limit estimate of the survival function (Kaplan & Meier 1958).

    ``time`` (shape (n,), any unit, e.g. days on the surface) is when each unit failed (``event`` true) or was last
    seen operating (``event`` false: right-censored, e.g. a mission that reached its planned end).
    ``S(t) = prod_{t_j <= t} (1 - d_j / n_j)``; Greenwood's formula (Greenwood 1926)
    ``Var S(t) = S(t)^2 sum_{t_j <= t} d_j / (n_j (n_j - d_j))``. The 95% band uses the log-log transform
    (Kalbfleisch & Prentice 1980): ``S^exp(+-z sigma)``, ``sigma^2 = sum d_j / (n_j (n_j - d_j)) / log(S)^2``, which
    stays inside [0, 1] and behaves near S = 1 better than ``S +- z sqrt(Var)``.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    if time.shape != event.shape or time.ndim != 1:
        raise ValueError("time and event must be 1-d arrays of one length")
    if np.any(np.isnan(time)):
        raise ValueError("time holds NaN")
    t, inverse = np.unique(time, return_inverse=True)
    d = np.bincount(inverse, weights=event, minlength=t.size).astype(np.int64)
    c = np.bincount(inverse, weights=~event, minlength=t.size).astype(np.int64)
    n = time.size - np.concatenate([[0], np.cumsum(d + c)[:-1]]).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(1.0 - d / n)
        g = np.cumsum(np.where(d > 0, d / (n * (n - d)), 0.0))  # inf once n == d: S = 0 from there on
        var = s * s * g
        sigma = np.sqrt(g) / np.abs(np.log(s))
        lower = np.where(s >= 1, 1.0, np.where(s <= 0, 0.0, s ** np.exp(z * sigma)))
        upper = np.where(s >= 1, 1.0, np.where(s <= 0, 0.0, s ** np.exp(-z * sigma)))
    var = np.where(s <= 0, 0.0, var)
    return KaplanMeier(t, n, d, c, s, var, np.nan_to_num(lower), np.nan_to_num(upper, nan=1.0))


SURVIVAL_ROLE = "survival_days"  # days on the surface until lost, or the stay's end


def survival(res: Results, grid_days: np.ndarray | None = None) -> dict | None:
    """P(operating on the surface at day t) with its 95% band, on a grid of days; None without the column of role
    ``survival_days`` (``days_survived`` in the models).

    The event is a failure (``outcome != 0``) at the days survived; a mission that succeeded is censored at its
    days survived (the mission end). Two curves: ``all`` counts every mission, a mission that never reached
    the surface (days survived null) as not operating from day 0; ``surface`` counts only the missions that
    reached the surface. Each is :func:`kaplan_meier` evaluated on ``grid_days`` (default: every day to the
    longest time).
    """
    column = res.column_for(SURVIVAL_ROLE)
    if not res.has(column, "outcome"):
        return None
    days = res.column(column)
    failed = res.column("outcome") != 0
    landed = ~np.isnan(days)
    if grid_days is None:
        grid_days = np.arange(0.0, math.ceil(np.nanmax(days, initial=0.0)) + 1)
    out: dict = {"unit": res.unit(column) or "d", "days": grid_days.tolist(), "curves": {}}
    for label, time, event in (("all", np.where(landed, days, 0.0), failed), ("surface", days[landed], failed[landed])):
        if label == "surface" and landed.all():
            continue
        km = kaplan_meier(time, event)
        s, lo, hi = km.at(grid_days)
        out["curves"][label] = {
            "n": int(time.size),
            "events": int(event.sum()),
            "censored": int((~event).sum()),
            "survival": s.tolist(),
            "lower": lo.tolist(),
            "upper": hi.tolist(),
            "band": "log-log, Greenwood",
        }
    return out


DATE_ROLE = "landing_date"  # landing time, days after the landing window opened


def failure_dates(res: Results, head: Headline | None = None) -> dict | None:
    """When on the calendar the rovers that reached the surface fail, for lining failures up with the site's
    darkness: None without the columns of roles ``landing_date`` (days after the landing window opened) and
    ``survival_days`` (``landing_day`` and ``days_survived`` in the models).

    A surface failure (a mission that reached the surface, ``outcome != 0``) happens on day
    ``landing date + days survived`` after the window opened. On a grid of whole days ``t`` it returns
    ``not_failed``: P(a rover that reached the surface has not failed by day t) with its 95% interval, valid for
    the design (Wilson, or Korn-Graubard over the epistemic draws when they vary; a campaign stopped at a target
    precision keeps the fixed-size interval here); ``landed``: the share of those rovers landed by day t; and
    ``failures``: per cause, the failures in each day ``[t, t + 1)``, as counts. Day 0 is the window's opening."""
    date, survived = res.column_for(DATE_ROLE), res.column_for(SURVIVAL_ROLE)
    if not res.has(date, survived, "outcome"):
        return None
    landing, days = res.column(date), res.column(survived)
    landed = ~np.isnan(landing) & ~np.isnan(days)
    if not landed.any():
        return None
    head = head or Headline(res)
    failed = landed & (res.column("outcome") != 0)
    when = np.where(failed, landing + days, np.inf)
    grid = np.arange(0.0, math.ceil(np.nanmax(np.where(landed, landing + days, 0.0))) + 1)
    when_l = when[landed]
    if head.clustered:  # one day at a time: memory O(missions), whatever the campaign's size
        _, inverse = np.unique(head.clusters[landed], return_inverse=True)
        m = np.bincount(inverse).astype(float)
        bounds = [korn_graubard_bounds(np.bincount(inverse, weights=when_l > t, minlength=m.size), m)[:3] for t in grid]
        p, lower, upper = (np.array([b[k] for b in bounds]) for k in range(3))
        method = head.interval
    else:
        alive = landed.sum() - np.searchsorted(np.sort(when_l), grid, side="right")
        p = alive / landed.sum()
        lower, upper = wilson_bounds(alive, landed.sum())
        method = "wilson"
    causes = res.column("outcome_name") if res.has("outcome_name") else np.where(failed, "failure", "success")
    bins = np.floor(np.where(failed, when, -1)).astype(int)
    failures = {
        str(c): np.bincount(bins[failed & (causes == c)], minlength=grid.size)[: grid.size].tolist()
        for c in np.unique(causes[failed])
    }
    return {
        "unit": "d",
        "origin": "opening of the landing window",
        "days": grid.tolist(),
        "landed": int(landed.sum()),
        "failed": int(failed.sum()),
        "interval": method,
        "not_failed": {
            "p": np.asarray(p).tolist(),
            "lower": np.asarray(lower).tolist(),
            "upper": np.asarray(upper).tolist(),
        },
        "landed_by": [float(np.mean(landing[landed] <= t)) for t in grid],
        "failures": failures,
    }
