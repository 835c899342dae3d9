"""Statistics of a campaign's results, computed from the Parquet dataset (the source of truth).

Knows Parquet and statistics, not models: it reads column roles from the schema's field metadata
(``role=phase|goal|metric|input``, ``unit``, ``level=aleatory|epistemic`` on inputs, ``valid_when`` on metrics that
are null where a phase was not reached), so it works on any run directory, and on the union of a sweep's runs.

What it computes, each with its method and paper:

* probabilities of every phase and goal with 95% Wilson intervals (Wilson 1927) and counts, conditional phase
  probabilities, the failure-cause Pareto (:func:`summarize`, :func:`pareto`);
* the survival curve P(operating at day t), Kaplan-Meier (Kaplan & Meier 1958) with Greenwood's variance
  (Greenwood 1926) and a log-log band (Kalbfleisch & Prentice 1980) (:func:`kaplan_meier`);
* convergence of each estimate with the number of missions (:func:`convergence`);
* sensitivity from the sample itself: given-data first-order Sobol indices by binning (Plischke, Borgonovo &
  Smith 2013; Strong & Oakley 2013) with an ANOVA bias correction, Spearman rank correlations, and the
  Saltelli (2010) / Jansen (1999) estimators for A/B/AB designs (:func:`first_order_given_data`,
  :func:`rank_correlation`, :func:`saltelli_indices`);
* the epistemic spread of every probability across the outer draws (:func:`epistemic_spread`);
* trade studies over a sweep with paired differences on common random numbers (:func:`trade_study`).

:func:`analyse` runs them all on a :class:`Results` and returns the JSON-ready sections of ``summary.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from scipy import stats

Z95 = 1.959963984540054  # standard-normal quantile at 0.975


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927); (0, 1) when ``n == 0``."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # centre -/+ half is exactly 0 / 1 at 0 / n successes; rounding would leave ~1e-17
    return (0.0 if successes == 0 else max(0.0, centre - half)), (1.0 if successes == n else min(1.0, centre + half))


def exact_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval (exact, conservative); (0, 1) when ``n == 0``."""
    if n == 0:
        return 0.0, 1.0
    alpha = 1 - confidence
    lo = 0.0 if successes == 0 else float(stats.beta.ppf(alpha / 2, successes, n - successes + 1))
    hi = 1.0 if successes == n else float(stats.beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return lo, hi


def proportion(successes: int, n: int) -> dict:
    """A probability estimate with its 95% Wilson interval and counts."""
    lo, hi = wilson_interval(successes, n)
    return {"p": successes / n if n else float("nan"), "ci95": [lo, hi], "successes": int(successes),
            "n": int(n), "interval": "wilson"}


def run_dirs(path: str | Path) -> list[Path]:
    """The run directories under ``path``: ``[path]`` for a run directory (it holds ``samples/``), else the runs
    of a sweep (``<sweep>/<job number>/``, each holding ``samples/``), ordered by job number."""
    path = Path(path)
    if (path / "samples").is_dir():
        return [path]
    runs = [p for p in path.iterdir() if p.is_dir() and (p / "samples").is_dir()] if path.is_dir() else []
    if not runs:
        raise FileNotFoundError(f"{path} holds no results: neither samples/ nor run directories with samples/")
    return sorted(runs, key=lambda p: (int(p.name) if p.name.isdigit() else math.inf, p.name))


def dataset(path: str | Path) -> ds.Dataset:
    """The Parquet dataset of a run directory (``samples/*.parquet``; hidden temporary files are ignored), or the
    union of a sweep's runs when ``path`` is a sweep directory (their schemas must agree). A run directory may be
    a URI (``s3://...``): pyarrow picks the filesystem."""
    if "://" in str(path):
        return ds.dataset(f"{str(path).rstrip('/')}/samples", format="parquet")
    runs = run_dirs(path)
    parts = [ds.dataset(r / "samples", format="parquet") for r in runs]
    return parts[0] if len(parts) == 1 else ds.dataset(parts)


def roles(schema: pa.Schema) -> dict[str, str]:
    """Column name -> role (``input``, ``phase``, ``goal``, ``metric``, or ``""``) from the field metadata."""
    return {f.name: (f.metadata or {}).get(b"role", b"").decode() for f in schema}


def summarize(run_dir: str | Path) -> dict:
    """Probabilities of every phase and goal flag (95% intervals, counts), conditional phase probabilities,
    the failure-cause breakdown, and quantiles of every metric over the missions where it is defined."""
    data = dataset(run_dir)
    role = roles(data.schema)
    flags = [n for n, r in role.items() if r in ("phase", "goal")]
    metrics = [f.name for f in data.schema if role[f.name] == "metric" and pa.types.is_floating(f.type)]
    table = data.to_table(columns=["outcome_name", "failed_phase", *flags, *metrics])
    n = table.num_rows

    out: dict = {"missions": n, "phases": {}, "goals": {}, "conditional": {}, "failures": [], "metrics": {}}
    before, reached = "start", np.ones(n, dtype=bool)  # phases are stored in flight order
    for name in flags:
        values = table.column(name).to_numpy(zero_copy_only=False).astype(bool)
        out["phases" if role[name] == "phase" else "goals"][name] = proportion(int(values.sum()), n)
        if role[name] == "phase":
            out["conditional"][f"{name} | {before}"] = proportion(int((values & reached).sum()), int(reached.sum()))
            before, reached = name, values

    counts = pc.value_counts(table.column("outcome_name").combine_chunks().dictionary_decode())
    pairs = pa.table({"o": table.column("outcome_name").cast(pa.string()),
                      "p": table.column("failed_phase").cast(pa.string())}).group_by(["o", "p"]).aggregate([])
    phase_of = dict(zip(pairs.column("o").to_pylist(), pairs.column("p").to_pylist()))
    for item in sorted(counts.to_pylist(), key=lambda c: -c["counts"]):
        if item["values"] == "success":
            continue
        out["failures"].append({"outcome": item["values"], "phase": phase_of[item["values"]],
                                **proportion(item["counts"], n)})

    for name in metrics:
        col = table.column(name)
        values = col.drop_null().to_numpy()
        if values.size:
            q = np.quantile(values, [0.05, 0.5, 0.95])
            out["metrics"][name] = {"n": int(values.size), "mean": float(values.mean()),
                                    "p05": float(q[0]), "p50": float(q[1]), "p95": float(q[2]),
                                    "unit": _unit(data.schema, name)}
    if {"landing_downrange_m", "landing_crossrange_m", "miss_distance_m"} <= set(metrics):
        out["landing"] = landing_dispersion(table)
    return out


CHI2_2DOF_99 = 9.210340371976182  # 99% quantile of the chi-square distribution with 2 degrees of freedom


def landing_dispersion(table: pa.Table) -> dict:
    """Touchdown dispersion: miss-distance percentiles (50/90/99%, empirical, every touchdown), the 99% dispersion
    ellipse of a bivariate normal fitted to the (downrange, crossrange) of the safe landings (centre, semi-axes in metres, orientation of the major axis
    in degrees from downrange towards crossrange), and touchdown-speed percentiles."""
    col = lambda name: table.column(name).to_numpy(zero_copy_only=False).astype(float)  # noqa: E731
    reached = ~np.isnan(col("miss_distance_m"))  # in a chained mission, null where no landing was attempted
    miss = col("miss_distance_m")[reached]
    # The ellipse describes where landings that went to plan scatter: crashed and faulted flights (kilometres off
    # after an altimeter fault) would stretch a normal fit; the percentiles cover every touchdown.
    safe = reached & (table.column("landing_ok").to_numpy(zero_copy_only=False).astype(bool)
                      if "landing_ok" in table.column_names else True)
    x, y = col("landing_downrange_m")[safe], col("landing_crossrange_m")[safe]
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(np.stack([x, y])))
    major = eigenvectors[:, 1]
    out = {
        "miss_distance_m": dict(zip(("p50", "p90", "p99"), map(float, np.percentile(miss, [50, 90, 99])))),
        "ellipse99": {"centre_m": [float(x.mean()), float(y.mean())],
                      "semi_major_m": float(np.sqrt(CHI2_2DOF_99 * eigenvalues[1])),
                      "semi_minor_m": float(np.sqrt(CHI2_2DOF_99 * max(eigenvalues[0], 0.0))),
                      "orientation_deg": float(np.degrees(np.arctan2(major[1], major[0])) % 180.0),
                      "fraction_inside": None, "of": "safe landings" if not safe[reached].all() else "all touchdowns",
                      "n": int(safe.sum())},
    }
    d = np.stack([x - x.mean(), y - y.mean()])
    inside = np.einsum("in,ij,jn->n", d, np.linalg.pinv(np.cov(np.stack([x, y]))), d) <= CHI2_2DOF_99
    out["ellipse99"]["fraction_inside"] = float(inside.mean())
    for name in ("touchdown_vertical_speed_mps", "touchdown_horizontal_speed_mps"):
        if name in table.column_names:
            out[name] = dict(zip(("p50", "p90", "p99"), map(float, np.percentile(col(name)[reached], [50, 90, 99]))))
    return out


def _unit(schema: pa.Schema, name: str) -> str:
    return (schema.field(name).metadata or {}).get(b"unit", b"").decode()


def format_summary(summary: Mapping) -> str:
    """A readable table of a summary (what a run prints at its end)."""
    n = summary["missions"]
    lines = [f"{n:,} missions"]

    def prob(x: float) -> str:
        return f"{x:.4f}" if x == 0 or x >= 1e-3 else f"{x:.1e}"

    def row(label: str, s: Mapping) -> str:
        lo, hi = s["ci95"]
        return (f"  {label:<44} {prob(s['p']):>8}   [{prob(lo)}, {prob(hi)}]".ljust(84)
                + f"{s['successes']:>10,} / {s['n']:,}")

    for title, key in (("Phase success", "phases"), ("Goals", "goals"), ("Conditional on the previous phase",
                                                                        "conditional")):
        if summary[key]:
            lines.append(f"{title:<46} {'P':>8}   95% interval (Wilson)".ljust(84) + f"{'successes':>10} / n")
            lines += [row(name, s) for name, s in summary[key].items()]
    if summary["failures"]:
        lines.append("Failure causes (first failure)")
        lines += [row(f"{f['phase']}: {f['outcome']}", f) for f in summary["failures"]]
    if summary.get("landing"):
        d = summary["landing"]
        e = d["ellipse99"]
        lines.append(f"{'Landing dispersion':<46} {'p50':>10} {'p90':>10} {'p99':>10}")
        for name in ("miss_distance_m", "touchdown_vertical_speed_mps", "touchdown_horizontal_speed_mps"):
            if name in d:
                lines.append(f"  {name:<44} {d[name]['p50']:10.4g} {d[name]['p90']:10.4g} {d[name]['p99']:10.4g}")
        lines.append(f"  99% ellipse: {e['semi_major_m']:.1f} m x {e['semi_minor_m']:.1f} m, major axis at "
                     f"{e['orientation_deg']:.0f} deg from downrange, centre ({e['centre_m'][0]:.1f}, "
                     f"{e['centre_m'][1]:.1f}) m, holds {100 * e['fraction_inside']:.1f}% of the {e['of']}")
    if summary["metrics"]:
        lines.append(f"{'Metric (where defined)':<46} {'p05':>10} {'median':>10} {'p95':>10}   unit")
        for name, m in summary["metrics"].items():
            lines.append(f"  {name:<44} {m['p05']:10.4g} {m['p50']:10.4g} {m['p95']:10.4g}   {m['unit']}")
    return "\n".join(lines)


# =========================================================================================== intervals
def wilson_bounds(successes: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`wilson_interval` (Wilson 1927): lower and upper bounds, arrays of the broadcast shape of
    ``successes`` and ``n``; (0, 1) where ``n == 0``."""
    s, n = np.broadcast_arrays(np.asarray(successes, dtype=float), np.asarray(n, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (np.where(s == 0, 0.0, np.clip(centre - half, 0.0, 1.0)),
            np.where(s == n, 1.0, np.clip(centre + half, 0.0, 1.0)))


def mean_interval(values: np.ndarray, clusters: np.ndarray | None = None, z: float = Z95) -> dict:
    """Mean of ``values`` (shape (n,)) with a 95% normal interval.

    Without ``clusters`` the rows are taken as independent: ``Var(mean) = s^2 / n``. With ``clusters`` (shape (n,),
    any integer labels: rows that share a label are dependent, e.g. missions of one epistemic outer draw) the
    variance is the cluster-robust (sandwich) one, ``Var(mean) = K / (K - 1) * sum_k (sum_{i in k} (y_i - mean))^2
    / n^2`` over the K clusters (Liang & Zeger 1986; the ratio estimator of cluster sampling, Cochran 1977),
    which reduces to ``s^2 / n`` (up to ``(n-1)/n``) when every row is its own cluster.

    Returns ``{"mean", "ci95": [lo, hi], "se", "n", "clusters"}``; the interval is NaN when it cannot be estimated.
    """
    y = np.asarray(values, dtype=float)
    n = y.size
    if n == 0:
        return {"mean": math.nan, "ci95": [math.nan, math.nan], "se": math.nan, "n": 0, "clusters": 0}
    mean = float(y.mean())
    if clusters is None:
        k = n
        se = float(y.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    else:
        _, inverse = np.unique(np.asarray(clusters), return_inverse=True)
        sums = np.bincount(inverse, weights=y - mean)
        k = sums.size
        se = float(math.sqrt(k / (k - 1) * np.sum(sums ** 2)) / n) if k > 1 else math.nan
    return {"mean": mean, "ci95": [mean - z * se, mean + z * se], "se": se, "n": int(n), "clusters": int(k)}


# ============================================================================================= loading
def _flatten(d: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# Config leaves that say where or how a run was executed, not what was simulated.
_NOT_DESIGN = ("run.output_dir", "run.resume", "run.progress", "run.shard_size", "cluster")


def swept_keys(configs: Sequence[Mapping]) -> list[str]:
    """The config leaves (dotted keys) whose values differ between the composed configs of a sweep's runs, less
    those that only say where or how a run was executed (output directory, progress, cluster, shard size)."""
    flat = [_flatten(c) for c in configs]
    keys = sorted(set().union(*flat)) if flat else []
    return [k for k in keys
            if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1
            and not any(k == p or k.startswith(p + ".") for p in _NOT_DESIGN)]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


@dataclass
class Results:
    """A results dataset (one run, or the union of a sweep's runs) read column by column on demand.

    Rows are ordered by (run, ``sample_index``). ``job`` (shape (n,), int) is the position of each row's run in
    ``runs``; ``outer`` (shape (n,), int) is its epistemic outer index ``sample_index // inner_samples``. Column
    metadata (role, unit, level, valid_when) comes from the Parquet field metadata.
    """

    runs: list[Path]
    schema: pa.Schema
    run_info: list[dict]
    _parts: list[ds.Dataset] = field(repr=False)
    _order: np.ndarray | None = field(repr=False, default=None)
    _cache: dict = field(repr=False, default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> Results:
        """Open a run directory or a sweep directory (see :func:`run_dirs`)."""
        runs = run_dirs(path)
        parts = [ds.dataset(r / "samples", format="parquet") for r in runs]
        res = cls(runs=runs, schema=parts[0].schema, run_info=[_read_json(r / "run.json") for r in runs],
                  _parts=parts)
        index = np.concatenate([p.to_table(columns=["sample_index"]).column(0).to_numpy() for p in parts])
        job = np.concatenate([np.full(p.count_rows(), j, dtype=np.int64) for j, p in enumerate(parts)])
        key = job * (int(index.max(initial=0)) + 1) + index
        if np.any(np.diff(key) < 0):
            res._order = np.argsort(key, kind="stable")
            index, job = index[res._order], job[res._order]
        res._cache["sample_index"], res._cache["__job"] = index, job
        return res

    # ------------------------------------------------------------------ metadata
    def meta(self, name: str, key: str) -> str:
        """Field metadata ``key`` of column ``name`` (``""`` when absent)."""
        return (self.schema.field(name).metadata or {}).get(key.encode(), b"").decode()

    def unit(self, name: str) -> str:
        return self.meta(name, "unit")

    def has(self, *names: str) -> bool:
        return all(n in self.schema.names for n in names)

    def _role(self, role: str) -> list[str]:
        return [f.name for f in self.schema if self.meta(f.name, "role") == role]

    @property
    def inputs(self) -> list[str]:
        return self._role("input")

    @property
    def phases(self) -> list[str]:
        return self._role("phase")

    @property
    def goals(self) -> list[str]:
        return self._role("goal")

    @property
    def flags(self) -> list[str]:
        """Phase flags (in flight order) then goal flags."""
        return self.phases + self.goals

    @property
    def metrics(self) -> list[str]:
        """Numeric (integer or floating) metric columns."""
        return [f.name for f in self.schema if self.meta(f.name, "role") == "metric"
                and (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))]

    @property
    def n(self) -> int:
        return int(self._cache["sample_index"].size)

    @property
    def job(self) -> np.ndarray:
        return self._cache["__job"]

    @property
    def inner_samples(self) -> int:
        """Missions per epistemic outer draw (``config.run.inner_samples`` of run.json; all missions when absent)."""
        values = {int(i["config"]["run"]["inner_samples"]) for i in self.run_info
                  if "inner_samples" in i.get("config", {}).get("run", {})}
        return values.pop() if len(values) == 1 else max(self.n, 1)

    @property
    def outer(self) -> np.ndarray:
        """Epistemic outer index of every row, unique across the runs of a sweep: shape (n,), int64."""
        index = self._cache["sample_index"]
        per_run = int(index.max(initial=0)) // self.inner_samples + 1
        return self.job * per_run + index // self.inner_samples

    # ------------------------------------------------------------------ columns
    def column(self, name: str) -> np.ndarray:
        """Column ``name`` as a NumPy array of shape (n,), in row order: flags as bool (null as False), strings and
        dictionaries as str objects, numbers as float64 with NaN for null (a phase never reached)."""
        if name not in self._cache:
            typ = self.schema.field(name).type
            chunks = pa.chunked_array([c for p in self._parts for c in p.to_table(columns=[name]).column(0).chunks],
                                      type=typ)
            if pa.types.is_boolean(typ):
                values = pc.fill_null(chunks, False).to_numpy(zero_copy_only=False).astype(bool)
            elif pa.types.is_dictionary(typ) or pa.types.is_string(typ):
                values = pc.cast(chunks, pa.string()).to_numpy(zero_copy_only=False).astype(object)
            else:
                values = pc.cast(chunks, pa.float64()).to_numpy(zero_copy_only=False).astype(float)
            if self._order is not None:
                values = values[self._order]
            self._cache[name] = values
        return self._cache[name]

    def valid(self, name: str) -> np.ndarray:
        """Where column ``name`` is defined (not null): bool, shape (n,)."""
        v = self.column(name)
        return ~np.isnan(v) if v.dtype.kind == "f" else np.ones(v.shape, dtype=bool)


# ============================================================================================ survival
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


SURVIVAL_COLUMN = "days_survived"


def survival(res: Results, grid_days: np.ndarray | None = None) -> dict | None:
    """P(operating on the surface at day t) with its 95% band, on a grid of days; None without ``days_survived``.

    The event is a failure (``outcome != 0``) at ``days_survived``; a mission that succeeded is censored at its
    ``days_survived`` (the mission end). Two curves: ``all`` counts every mission, a mission that never reached
    the surface (``days_survived`` null) as not operating from day 0; ``surface`` counts only the missions that
    reached the surface. Each is :func:`kaplan_meier` evaluated on ``grid_days`` (default: every day to the
    longest time).
    """
    if not res.has(SURVIVAL_COLUMN, "outcome"):
        return None
    days = res.column(SURVIVAL_COLUMN)
    failed = res.column("outcome") != 0
    landed = ~np.isnan(days)
    if grid_days is None:
        grid_days = np.arange(0.0, math.ceil(np.nanmax(days, initial=0.0)) + 1)
    out: dict = {"unit": res.unit(SURVIVAL_COLUMN) or "d", "days": grid_days.tolist(), "curves": {}}
    for label, time, event in (("all", np.where(landed, days, 0.0), failed),
                               ("surface", days[landed], failed[landed])):
        if label == "surface" and landed.all():
            continue
        km = kaplan_meier(time, event)
        s, lo, hi = km.at(grid_days)
        out["curves"][label] = {"n": int(time.size), "events": int(event.sum()), "censored": int((~event).sum()),
                                "survival": s.tolist(), "lower": lo.tolist(), "upper": hi.tolist(),
                                "band": "log-log, Greenwood"}
    return out


# ============================================================================================== pareto
def pareto(res: Results) -> dict:
    """Failure causes (first failure of each mission) sorted by frequency: per cause its phase, count, share of
    all missions with its Wilson interval, and the cumulative share of failures; and the totals per phase."""
    names, phases = res.column("outcome_name"), res.column("failed_phase")
    failed = names != "success"
    n, total = res.n, int(failed.sum())
    causes, counts = np.unique(names[failed].astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    phase_of = {str(a): str(b) for a, b in zip(names[failed], phases[failed])}
    by_cause, cumulative = [], 0
    for i in order:
        cumulative += int(counts[i])
        by_cause.append({"outcome": str(causes[i]), "phase": phase_of[str(causes[i])],
                         **proportion(int(counts[i]), n), "cumulative_share_of_failures": cumulative / total})
    ph, ph_counts = np.unique(phases[failed].astype(str), return_counts=True)
    by_phase = [{"phase": str(ph[i]), **proportion(int(ph_counts[i]), n)} for i in np.argsort(-ph_counts)]
    return {"missions": n, "failures": total, "by_cause": by_cause, "by_phase": by_phase}


# ========================================================================================= convergence
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
    and each flag also gets the cluster-robust interval over the outer draws (:func:`mean_interval`; NaN below two
    draws)."""
    counts = sample_counts(res.n, points)
    out: dict = {"n": counts.tolist(), "flags": {}, "metrics": {}}
    clustered = any(res.meta(i, "level") == "epistemic" and np.ptp(res.column(i)) > 0 for i in res.inputs)
    outer = res.outer
    for name in res.flags:
        y = res.column(name)
        s = np.concatenate([[0], np.cumsum(y)])[counts]
        lo, hi = wilson_bounds(s, counts)
        out["flags"][name] = {"p": (s / counts).tolist(), "lower": lo.tolist(), "upper": hi.tolist(),
                              "final_half_width": float((hi[-1] - lo[-1]) / 2) if counts.size else math.nan}
        if clustered:
            ci = np.array([mean_interval(y[:k], outer[:k])["ci95"] for k in counts])
            out["flags"][name] |= {"lower_clustered": np.clip(ci[:, 0], 0, 1).tolist(),
                                   "upper_clustered": np.clip(ci[:, 1], 0, 1).tolist(),
                                   "final_half_width_clustered": float((ci[-1, 1] - ci[-1, 0]) / 2)}
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
        out["metrics"][name] = {"unit": res.unit(name), "n_defined": k.tolist(), "mean": mean.tolist(),
                                "lower": (mean - half).tolist(), "upper": (mean + half).tolist()}
    return out


# ========================================================================================= sensitivity
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


# =========================================================================================== epistemic
def epistemic_spread(flag: np.ndarray, outer: np.ndarray) -> dict:
    """The distribution of a probability across epistemic outer draws.

    ``flag`` (shape (n,), bool) and ``outer`` (shape (n,), int: the outer index ``sample_index // inner_samples``).
    For each outer draw k the estimate ``p_k`` is the flag's mean over its missions; returned: their median and
    5-95% band, mean and standard deviation, the part of that deviation expected from binomial noise alone
    (``sqrt(mean p_k (1 - p_k) / (m_k - 1))``), the epistemic deviation with the noise removed
    (``sqrt(max(0, var p_k - noise^2))``, the method-of-moments estimator), and the marginal probability with a
    cluster-robust interval (:func:`mean_interval` over the outer draws), which is honest when the missions of one
    draw share their epistemic inputs, unlike the Wilson interval that assumes independent missions.
    """
    y = np.asarray(flag, dtype=float)
    _, inverse = np.unique(outer, return_inverse=True)
    m = np.bincount(inverse)
    p = np.bincount(inverse, weights=y) / m
    q05, q50, q95 = np.quantile(p, [0.05, 0.5, 0.95])
    noise = float(np.sqrt(np.mean(p * (1 - p) / np.maximum(m - 1, 1))))
    var = float(np.var(p, ddof=1)) if p.size > 1 else math.nan
    marginal = mean_interval(y, inverse)
    return {"draws": int(p.size), "missions_per_draw": int(np.median(m)), "median": float(q50), "p05": float(q05),
            "p95": float(q95), "mean": float(p.mean()), "sd": math.sqrt(var) if p.size > 1 else math.nan,
            "sd_binomial_noise": noise, "sd_epistemic": math.sqrt(max(0.0, var - noise ** 2)) if p.size > 1
            else math.nan, "marginal": {"p": marginal["mean"], "ci95": marginal["ci95"], "interval": "cluster-robust"},
            "per_draw": p.tolist()}


def epistemic(res: Results) -> dict:
    """:func:`epistemic_spread` of every flag, when the dataset has epistemic inputs and at least two draws."""
    levels = [i for i in res.inputs if res.meta(i, "level") == "epistemic" and np.ptp(res.column(i)) > 0]
    outer = res.outer
    out: dict = {"inner_samples": res.inner_samples, "epistemic_inputs": levels, "flags": {}}
    if not levels:
        out["note"] = "no epistemic input varies: every mission shares one state of knowledge"
        return out
    if np.unique(outer).size < 2:
        out["note"] = "a single epistemic draw: raise run.samples above run.inner_samples"
        return out
    out["flags"] = {name: epistemic_spread(res.column(name), outer) for name in res.flags}
    return out


# ============================================================================================== trades
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
        out |= {"only_first": only_a, "only_second": only_b,
                "mcnemar_p": float(stats.binomtest(only_b, only_a + only_b).pvalue) if only_a + only_b else 1.0}
    return out


def _design_label(values: Mapping[str, object]) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in values.items())


def trade_study(res: Results) -> dict | None:
    """A sweep's trade study: for each design (run), the swept values and P(flag) with its Wilson interval and
    counts, and each floating metric's mean; then paired differences between neighbouring designs (ordered by
    the swept value when one numeric key was swept, else by job number) on the missions both share (the same
    ``sample_index``: common random numbers), clustered by epistemic outer draw. None for a single run."""
    if len(res.runs) < 2:
        return None
    configs = [i.get("config", {}) for i in res.run_info]
    keys = swept_keys(configs)
    values = [{k: _flatten(c).get(k) for k in keys} for c in configs]
    order = list(range(len(res.runs)))
    numeric = len(keys) == 1 and all(isinstance(v[keys[0]], (int, float)) for v in values)
    if numeric:
        order.sort(key=lambda j: values[j][keys[0]])
    index, job = res.column("sample_index").astype(np.int64), res.job
    per_job = [np.flatnonzero(job == j) for j in range(len(res.runs))]
    designs = []
    for j in order:
        rows = per_job[j]
        entry = {"job": res.runs[j].name, "run_dir": str(res.runs[j]), "values": values[j],
                 "label": _design_label(values[j]) or res.runs[j].name, "flags": {}, "metrics": {}}
        for name in res.flags:
            entry["flags"][name] = proportion(int(res.column(name)[rows].sum()), rows.size)
        for name in res.metrics:
            y = res.column(name)[rows]
            entry["metrics"][name] = mean_interval(y[~np.isnan(y)]) | {"unit": res.unit(name)}
        designs.append(entry)
    pairs = []
    outer = res.outer
    for j, k in zip(order[:-1], order[1:]):
        common, ia, ib = np.intersect1d(index[per_job[j]], index[per_job[k]], return_indices=True)
        ra, rb = per_job[j][ia], per_job[k][ib]
        clusters = outer[ra]
        pair = {"first": res.runs[j].name, "second": res.runs[k].name, "missions": int(common.size),
                "flags": {n: paired_difference(res.column(n)[ra], res.column(n)[rb], clusters) for n in res.flags},
                "metrics": {n: paired_difference(res.column(n)[ra], res.column(n)[rb], clusters)
                            | {"unit": res.unit(n)} for n in res.metrics}}
        pairs.append(pair)
    return {"swept_keys": keys, "numeric": numeric, "designs": designs, "paired_differences": pairs}


# ============================================================================================= analyse
def analyse(res: Results) -> dict:
    """Every analysis this module offers on one dataset, as JSON-ready ``summary.json`` sections:
    ``survival`` (null without ``days_survived``), ``pareto``, ``convergence``, ``sensitivity``, ``epistemic`` and,
    for a sweep, ``trade``."""
    out = {"survival": survival(res), "pareto": pareto(res), "convergence": convergence(res),
           "sensitivity": sensitivity(res), "epistemic": epistemic(res)}
    trade = trade_study(res)
    if trade is not None:
        out["trade"] = trade
    return out


def json_safe(obj: object) -> object:
    """``obj`` with NaN and infinities replaced by None and NumPy scalars by Python ones (strict JSON)."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
