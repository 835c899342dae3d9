"""Statistics of a campaign's results, computed from the Parquet dataset (the source of truth).

Knows Parquet and statistics, not models: it reads column roles from the schema's field metadata
(``role=phase|goal|metric|input``), so it works on any run directory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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
    return max(0.0, centre - half), min(1.0, centre + half)


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


def dataset(run_dir: str | Path) -> ds.Dataset:
    """The run's Parquet dataset (``samples/*.parquet``; hidden temporary files are ignored). ``run_dir`` may
    be a URI (``s3://...``): pyarrow picks the filesystem."""
    samples = f"{str(run_dir).rstrip('/')}/samples" if "://" in str(run_dir) else Path(run_dir) / "samples"
    return ds.dataset(samples, format="parquet")


def roles(schema: pa.Schema) -> dict[str, str]:
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
    phase_of = dict(zip(table.column("outcome_name").to_pylist(), table.column("failed_phase").to_pylist()))
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
    if summary["metrics"]:
        lines.append(f"{'Metric (where defined)':<46} {'p05':>10} {'median':>10} {'p95':>10}   unit")
        for name, m in summary["metrics"].items():
            lines.append(f"  {name:<44} {m['p05']:10.4g} {m['p50']:10.4g} {m['p95']:10.4g}   {m['unit']}")
    return "\n".join(lines)
