"""The campaign report: ``summary.json`` (machine-readable), ``report.md`` (for people) and PNG plots.

Usage::

    python -m campaign.report RUN_DIR            # a run directory (holds samples/)
    python -m campaign.report SWEEP_DIR          # a sweep (<sweep>/<job>/samples/): adds the trade study
    python -m campaign.report RUN_DIR --out DIR  # write the report elsewhere (default: into RUN_DIR)

A campaign writes its report at its end (:func:`campaign.app.run_campaign`), and a sweep at the end of its last
job (:class:`SweepReport`, a Hydra callback). Plots whose columns are absent (today's launch-only model has no
landing, night or surface columns) are skipped, and the report says which and why. Statistics come from
:mod:`campaign.analysis`; this module only lays them out.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from . import analysis
from .analysis import Location, Results

PLOTS_DIR = "plots"
LANDING_COLUMNS = ("landing_downrange_m", "landing_crossrange_m")
NIGHT_COLUMN = "worst_night_energy_margin_wh"
MAX_SCATTER_POINTS = 5000  # enough to see the dispersion; the ellipse uses every mission
MAX_TORNADO_INPUTS = 12
MAX_TORNADO_TARGETS = 4
PHASE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")


# ============================================================================================== entry
def write_report(path: str | Path, summary: Mapping | None = None, out_dir: str | Path | None = None,
                 plots: bool = True, log: Callable[[str], None] = print) -> dict:
    """Analyse the dataset at ``path`` (a run or a sweep directory, as a local path or a URI), then write
    ``summary.json``, ``report.md`` and ``plots/*.png`` into ``out_dir`` (default ``path``). ``summary`` is the
    base summary a campaign has just computed (``run`` plus :func:`campaign.analysis.summarize`); it is computed
    here when not given. Returns the full summary: the base keys unchanged, plus the sections of
    :func:`campaign.analysis.analyse` and ``report`` (the plots written and those skipped, with the reason)."""
    started = time.perf_counter()
    res = Results.load(path)
    root = Location.of(path)
    out = Location.of(out_dir) if out_dir else root if root.is_dir() else root.parent
    base = dict(summary) if summary is not None else {"run": _run_section(res, root), **analysis.summarize(res)}
    full = {**base, **analysis.analyse(res)}
    written, skipped = {}, {}
    if plots:
        import matplotlib

        matplotlib.use("Agg", force=True)  # files only: no display, no GUI toolkit
        with tempfile.TemporaryDirectory(prefix="lupex-plots-") as scratch:
            # Drawn locally, then copied: the output may be on object storage, where matplotlib cannot write.
            for name, plot in PLOTS.items():
                file = Path(scratch) / f"{name}.png"
                reason = plot(res, full, file)
                target = out / PLOTS_DIR / f"{name}.png"
                if reason:
                    skipped[name] = reason
                    if target.is_file():  # no stale plot from an earlier report
                        target.fs.delete_file(target.path)
                else:
                    target.write_bytes(file.read_bytes())
                    written[name] = f"{PLOTS_DIR}/{name}.png"
    full["report"] = {"plots": written, "skipped": skipped, "markdown": "report.md",
                      "incomplete_runs": [str(r) for j, r in enumerate(res.runs) if not res.complete(j)],
                      "seconds": round(time.perf_counter() - started, 3)}
    full = analysis.json_safe(full)
    (out / "summary.json").write_bytes(
        (json.dumps(full, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())
    (out / "report.md").write_bytes(markdown(full).encode())
    log(f"Report: {out / 'report.md'} ({len(written)} plots, {len(skipped)} skipped, "
        f"{time.perf_counter() - started:.1f} s)")
    return full


def _run_section(res: Results, path: Location) -> dict:
    """The ``run`` section from run.json (what a campaign records at its end), or the sweep's runs."""
    keys = ("model", "samples", "seed", "sampler", "precision", "code_revision")
    if len(res.runs) == 1:
        info = res.run_info[0]
        return {k: info.get(k) for k in keys} | {"name": info.get("config", {}).get("run", {}).get("name")}
    return {"sweep": str(path), "jobs": [r.name for r in res.runs],
            "name": res.run_info[0].get("config", {}).get("run", {}).get("name")} | {
        k: res.run_info[0].get(k) for k in keys if k != "code_revision"}


# ============================================================================================== plots
def _figure(width: float = 8.0, height: float = 5.0, ncols: int = 1, nrows: int = 1, **kw):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), dpi=110, squeeze=False, **kw)
    return fig, axes


def _save(fig, file: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(file)
    plt.close(fig)


def _label(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit and unit != "1" else name


def plot_survival(res: Results, summary: Mapping, file: Path) -> str | None:
    """P(operating at day t): Kaplan-Meier with its 95% log-log band, for all missions and given landing."""
    surv = summary.get("survival")
    if not surv:
        return f"needs column `{analysis.SURVIVAL_COLUMN}` (days on the surface)"
    fig, axes = _figure()
    ax = axes[0, 0]
    days = np.asarray(surv["days"])
    for (label, curve), colour in zip(surv["curves"].items(), PHASE_COLOURS):
        text = ("all missions (not operating if the surface was never reached)" if label == "all"
                else "missions that reached the surface")
        ax.step(days, curve["survival"], where="post", color=colour, label=f"{text}, n={curve['n']:,}")
        ax.fill_between(days, curve["lower"], curve["upper"], step="post", color=colour, alpha=0.25,
                        label="95% band (Greenwood, log-log)" if label == "all" else None)
    ax.set_xlabel(f"Time on the surface ({surv['unit']})")
    ax.set_ylabel("P(operating at day t)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(days[0], days[-1])
    ax.set_title("Survival on the surface (Kaplan-Meier, censored at the mission end)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=9)
    _save(fig, file)
    return None


def plot_failure_pareto(res: Results, summary: Mapping, file: Path) -> str | None:
    """Failure causes as horizontal bars (share of all missions, 95% Wilson interval), largest first, coloured by
    phase, with the cumulative share of failures."""
    causes = summary["pareto"]["by_cause"]
    if not causes:
        return "no mission failed"
    causes = causes[:15]
    phases = list(dict.fromkeys(c["phase"] for c in causes))
    colour = {p: PHASE_COLOURS[i % len(PHASE_COLOURS)] for i, p in enumerate(phases)}
    fig, axes = _figure(9.0, max(3.0, 1.2 + 0.45 * len(causes)))
    ax = axes[0, 0]
    y = np.arange(len(causes))[::-1]
    share = np.array([c["p"] for c in causes]) * 100
    lo = share - np.array([c["ci95"][0] for c in causes]) * 100
    hi = np.array([c["ci95"][1] for c in causes]) * 100 - share
    ax.barh(y, share, color=[colour[c["phase"]] for c in causes], xerr=[lo, hi], capsize=3)
    ax.set_yticks(y, [c["outcome"].replace("_", " ") for c in causes])
    for yi, s, c in zip(y, share, causes):
        ax.annotate(f" {c['successes']:,}  (cum. {100 * c['cumulative_share_of_failures']:.0f}% of failures)",
                    (s, yi), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(0, share.max() * 1.6)
    ax.set_xlabel("Share of all missions that fail first by this cause (%)")
    ax.set_title(f"Failure causes (Pareto): {summary['pareto']['failures']:,} of "
                 f"{summary['pareto']['missions']:,} missions failed")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=colour[p], label=f"phase: {p}") for p in phases], loc="lower right", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    _save(fig, file)
    return None


def error_ellipse(x: np.ndarray, y: np.ndarray, coverage: float = 0.95, points: int = 200) -> np.ndarray:
    """The ``coverage`` ellipse of a bivariate normal fitted to ``x``, ``y`` (shape (n,)): the boundary of
    ``{v: (v - mean)' C^-1 (v - mean) <= chi2_2(coverage)}``, as an array of shape (points, 2)."""
    from scipy import stats

    c = np.cov(x, y)
    vals, vecs = np.linalg.eigh(c)
    r = math.sqrt(stats.chi2.ppf(coverage, 2))
    a = np.linspace(0, 2 * np.pi, points)
    circle = np.stack([np.cos(a), np.sin(a)], axis=1) * np.sqrt(np.maximum(vals, 0)) * r
    return circle @ vecs.T + [x.mean(), y.mean()]


def plot_landing_dispersion(res: Results, summary: Mapping, file: Path) -> str | None:
    """Touchdown position errors (downrange, crossrange) with the 95% normal ellipse of all defined points."""
    if not res.has(*LANDING_COLUMNS):
        return f"needs columns `{LANDING_COLUMNS[0]}` and `{LANDING_COLUMNS[1]}`"
    x, y = res.column(LANDING_COLUMNS[0]), res.column(LANDING_COLUMNS[1])
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3:
        return "fewer than 3 missions reached touchdown"
    x, y = x[ok], y[ok]
    rng = np.random.default_rng(0)
    show = rng.choice(x.size, MAX_SCATTER_POINTS, replace=False) if x.size > MAX_SCATTER_POINTS else slice(None)
    fig, axes = _figure(7.0, 6.5)
    ax = axes[0, 0]
    ax.scatter(x[show], y[show], s=4, alpha=0.35, color=PHASE_COLOURS[0], linewidths=0,
               label=f"touchdowns ({min(x.size, MAX_SCATTER_POINTS):,} of {x.size:,} shown)")
    e = error_ellipse(x, y, coverage=0.99)
    ax.plot(e[:, 0], e[:, 1], color=PHASE_COLOURS[3], lw=2, label="99% ellipse (normal fit, all touchdowns; summary.json: landing)")
    ax.plot([x.mean()], [y.mean()], "k+", ms=12, mew=2, label="mean")
    ax.plot([0], [0], "x", color="k", ms=8, label="target")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(_label("Downrange error", res.unit(LANDING_COLUMNS[0]) or "m"))
    ax.set_ylabel(_label("Crossrange error", res.unit(LANDING_COLUMNS[1]) or "m"))
    ax.set_title("Landing dispersion about the target")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    _save(fig, file)
    return None


def plot_night_energy(res: Results, summary: Mapping, file: Path) -> str | None:
    """Histogram of the worst-night energy margin, the zero line and P(margin < 0) with its Wilson interval."""
    if not res.has(NIGHT_COLUMN):
        return f"needs column `{NIGHT_COLUMN}`"
    m = res.column(NIGHT_COLUMN)
    m = m[~np.isnan(m)]
    if m.size < 2:
        return "fewer than 2 missions reached a lunar night"
    unit = res.unit(NIGHT_COLUMN) or "Wh"
    short = int((m < 0).sum())
    p = analysis.proportion(short, m.size)
    fig, axes = _figure()
    ax = axes[0, 0]
    bins = np.histogram_bin_edges(m, bins=min(80, max(10, int(math.sqrt(m.size)))))
    ax.hist(m[m >= 0], bins=bins, color=PHASE_COLOURS[2], alpha=0.8, label="margin >= 0")
    ax.hist(m[m < 0], bins=bins, color=PHASE_COLOURS[3], alpha=0.8,
            label=f"margin < 0: P = {p['p']:.3f} [{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}]")
    ax.axvline(0, color="k", lw=1)
    ax.set_xlabel(_label("Worst-night energy margin", unit))
    ax.set_ylabel("Missions")
    ax.set_title(f"Night energy margin ({m.size:,} missions that reached a night)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    _save(fig, file)
    return None


def tornado_targets(res: Results, summary: Mapping) -> list[str]:
    """Targets worth a tornado: every goal, then the last phase (the mission's overall success), at most four."""
    targets = list(res.goals) + res.phases[-1:]
    sens = summary["sensitivity"]["targets"]
    return [t for t in targets if sens.get(t, {}).get("indices")][:MAX_TORNADO_TARGETS]


def plot_sensitivity(res: Results, summary: Mapping, file: Path) -> str | None:
    """Tornado per target: Spearman rank correlation (signed) and the given-data first-order index (with its 95%
    interval) of the most influential inputs, sorted by first-order index."""
    sens = summary["sensitivity"]
    targets = tornado_targets(res, summary)
    if not sens["inputs"]:
        return "no sampled input varies"
    if not targets:
        return "no goal or phase flag varies"
    from matplotlib.ticker import MaxNLocator

    shown = []
    for t in targets:
        idx = sens["targets"][t]["indices"]
        ranked = sorted(idx, key=lambda i: -np.nan_to_num(idx[i]["first_order"], nan=-1))[:MAX_TORNADO_INPUTS]
        shown.append(ranked)
    rows = max(len(r) for r in shown)
    fig, axes = _figure(11.0, len(targets) * (1.0 + 0.38 * rows), ncols=2, nrows=len(targets))
    for k, (t, ranked) in enumerate(zip(targets, shown)):
        idx = sens["targets"][t]["indices"]
        y = np.arange(len(ranked))[::-1]
        labels = [i + (" (epistemic)" if sens["inputs"][i]["level"] == "epistemic" else "") for i in ranked]
        rho = np.array([np.nan_to_num(idx[i]["spearman"]) for i in ranked])
        s1 = np.array([np.nan_to_num(idx[i]["first_order"]) for i in ranked])
        se = np.array([np.nan_to_num(idx[i]["first_order_se"]) for i in ranked])
        ax = axes[k, 0]
        ax.barh(y, rho, color=np.where(rho >= 0, PHASE_COLOURS[0], PHASE_COLOURS[3]))
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlim(-1, 1)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlabel(f"Spearman rank correlation with {t} (-1 to 1)")
        ax.set_title(f"{t}: rank correlation", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax = axes[k, 1]
        ax.barh(y, s1, xerr=analysis.Z95 * se, color=PHASE_COLOURS[2], capsize=3)
        ax.set_yticks(y, [""] * len(y))
        ax.set_xlim(min(0.0, float(np.min(s1 - 2 * se))), max(0.05, float(np.max(s1 + 2 * se)) * 1.1))
        ax.axvline(0, color="k", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.set_xlabel(f"First-order Sobol index of {t} (share of variance)")
        ax.set_title(f"{t}: first-order index (n={sens['targets'][t]['n']:,}, 95% interval)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    _save(fig, file)
    return None


def plot_convergence(res: Results, summary: Mapping, file: Path) -> str | None:
    """Running estimate of every flag's probability with its valid 95% interval (Wilson, or Korn-Graubard over
    the epistemic draws when they vary) against the number of missions."""
    conv = summary["convergence"]
    flags = list(conv["flags"])[:9]
    if not flags or len(conv["n"]) < 2:
        return "no phase or goal flag, or too few missions"
    ncols = min(3, len(flags))
    nrows = math.ceil(len(flags) / ncols)
    fig, axes = _figure(4.2 * ncols, 3.4 * nrows, ncols=ncols, nrows=nrows, sharex=True)
    n = np.asarray(conv["n"])
    for ax, name in zip(axes.flat, flags):
        f = conv["flags"][name]
        if "lower_clustered" in f:  # the valid interval when missions share states of knowledge
            ax.fill_between(n, f["lower_clustered"], f["upper_clustered"], color=PHASE_COLOURS[1], alpha=0.3,
                            label="95% (Korn-Graubard over epistemic draws)")
        else:
            ax.fill_between(n, f["lower"], f["upper"], color=PHASE_COLOURS[0], alpha=0.3,
                            label="95% Wilson (independent missions)")
        ax.plot(n, f["p"], color=PHASE_COLOURS[0], label="running estimate")
        ax.axhline(f["p"][-1], color="k", lw=0.8, ls="--", label=f"final {f['p'][-1]:.4f}")
        ax.set_xscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("Missions N (first N by sample index)")
        ax.set_ylabel(f"P({name})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(flags):]:
        ax.set_visible(False)
    fig.suptitle("Convergence of each probability with the number of missions")
    _save(fig, file)
    return None


def plot_epistemic(res: Results, summary: Mapping, file: Path) -> str | None:
    """Histogram of each draw's estimate of P(target) across epistemic outer draws, with the marginal P and the
    5-95% band of P across states of knowledge (binomial noise removed)."""
    epi = summary["epistemic"]
    targets = [t for t in tornado_targets(res, summary) if t in epi["flags"]] or list(epi["flags"])[-1:]
    if not targets:
        return epi.get("note", "no epistemic spread")
    fig, axes = _figure(4.8 * len(targets[:3]), 4.2, ncols=len(targets[:3]))
    for ax, t in zip(axes.flat, targets[:3]):
        e = epi["flags"][t]
        ax.hist(e["per_draw"], bins=min(40, max(8, e["draws"] // 3)), color=PHASE_COLOURS[4], alpha=0.8)
        ax.axvline(e["marginal"]["p"], color="k", lw=1.5, label=f"marginal P {e['marginal']['p']:.3f}")
        band = e["band"].get("band")
        if band:
            for q in band:
                ax.axvline(q, color="k", lw=1, ls="--")
            ax.plot([], [], "k--", label=f"5-95% of P, noise removed: [{band[0]:.3f}, {band[1]:.3f}]")
        ax.set_xlabel(f"P({t}) within one epistemic draw")
        ax.set_ylabel("Epistemic draws")
        ax.set_title(f"{t}: {e['draws']} draws of {e['missions_per_draw']:,} missions", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Epistemic spread: how uncertain the probability itself is")
    _save(fig, file)
    return None


def plot_trade(res: Results, summary: Mapping, file: Path) -> str | None:
    """P(flag) against the swept design value (95% Wilson intervals), and the paired differences between
    neighbouring designs on common random numbers (95% clustered intervals)."""
    trade = summary.get("trade")
    if not trade:
        return "not a sweep (needs a directory of runs from `python -m campaign -m ...`)"
    flags = (list(res.goals) + res.phases)[:6]
    designs = trade["designs"]
    key = trade["swept_keys"][0] if trade["numeric"] else None
    x = np.array([d["values"][key] for d in designs], dtype=float) if key else np.arange(len(designs))
    fig, axes = _figure(12.0, 4.8, ncols=2)
    ax = axes[0, 0]
    for k, name in enumerate(flags):
        p = np.array([d["flags"][name]["p"] for d in designs])
        lo = p - np.array([d["flags"][name]["ci95"][0] for d in designs])
        hi = np.array([d["flags"][name]["ci95"][1] for d in designs]) - p
        ax.errorbar(x, p, yerr=[lo, hi], marker="o", capsize=3, color=PHASE_COLOURS[k], label=name)
    xlabel = key if key else "design"
    ax.set_xlabel(xlabel if not key else f"{key} (swept)")
    if not key:
        ax.set_xticks(x, [d["label"] for d in designs], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("P (95% Wilson interval)")
    ax.set_title("Probability against the swept design value")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    pairs = trade["paired_differences"]
    slot = np.arange(len(pairs))
    step = 0.7 / max(len(flags), 1)
    for k, name in enumerate(flags):
        d = np.array([pr["flags"][name]["diff"] for pr in pairs], dtype=float)
        lo = d - np.array([pr["flags"][name]["ci95"][0] for pr in pairs], dtype=float)
        hi = np.array([pr["flags"][name]["ci95"][1] for pr in pairs], dtype=float) - d
        ax.errorbar(slot + (k - (len(flags) - 1) / 2) * step, d, yerr=[np.nan_to_num(lo), np.nan_to_num(hi)],
                    fmt="o", capsize=3, color=PHASE_COLOURS[k], label=name)
    ax.axhline(0, color="k", lw=0.8)
    short = [f"{d['values'][key]:g}" if key else d["job"] for d in designs]
    ax.set_xticks(slot, [f"{short[i]} -> {short[i + 1]}" for i in range(len(pairs))])
    ax.set_xlim(-0.6, len(pairs) - 0.4)
    ax.set_xlabel(f"{key} (swept): previous -> next design" if key else "neighbouring designs (job numbers)")
    ax.set_ylabel("Paired difference in P (next - previous)")
    ax.set_title("Paired differences on common random numbers (95%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, file)
    return None


PLOTS: dict[str, Callable[[Results, Mapping, Path], str | None]] = {
    "survival": plot_survival,
    "failure_pareto": plot_failure_pareto,
    "landing_dispersion": plot_landing_dispersion,
    "night_energy": plot_night_energy,
    "sensitivity": plot_sensitivity,
    "convergence": plot_convergence,
    "epistemic": plot_epistemic,
    "trade": plot_trade,
}


# =========================================================================================== markdown
def _p(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.4f}" if x == 0 or abs(x) >= 1e-3 else f"{x:.1e}"


def _interval_label(s: Mapping) -> str:
    name = s.get("interval", "")
    return {"wilson": "Wilson", analysis.KORN_GRAUBARD: "Korn-Graubard",
            analysis.KORN_GRAUBARD_BLOCKS: "Korn-Graubard over blocks"}.get(name, name)


def _prob_rows(items: Mapping[str, Mapping]) -> list[str]:
    """A table of probabilities: P, the valid 95% interval and its method, the epistemic band (where there is one)
    and the counts."""
    band = any("epistemic" in s for s in items.values())
    rows = ["| | P | 95% interval | method |" + (" P across states of knowledge, 5-95% |" if band else "")
            + " successes / n |", "| --- | ---: | --- | --- |" + (" --- |" if band else "") + " ---: |"]
    for name, s in items.items():
        cells = [name.replace("|", "&#124;"), _p(s["p"]), f"[{_p(s['ci95'][0])}, {_p(s['ci95'][1])}]",
                 _interval_label(s)]
        if band:
            e = s.get("epistemic") or {}
            cells.append(f"[{_p(e['band'][0])}, {_p(e['band'][1])}] ({e['draws']:,} draws)" if e.get("band")
                         else e.get("note", ""))
        cells.append(f"{s['successes']:,} / {s['n']:,}")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _finite(x: float | None) -> float:
    return 0.0 if x is None or not math.isfinite(x) else float(x)


def _saltelli_markdown(salt: Mapping | None) -> list[str]:
    """The section of a ``sampler=saltelli`` campaign (:func:`campaign.analysis.saltelli`): a table of first-order
    and total indices for every goal and the last phase (the mission's success); none for other samplers."""
    if not salt:
        return []
    rows = salt["rows_per_block"]
    output = ("each epistemic draw's probability (its binomial noise removed)" if salt["level"] == "epistemic"
              else "each mission's outcome")
    intro = (f"Sampled with `sampler=saltelli`: {salt['blocks']:,} whole blocks of {rows} rows (A, B and one AB_i "
             f"per input, {salt['missions_per_block']:,} missions) over the {salt['d']} {salt['level']} inputs; the "
             f"output is {output}. S1 is the share of the output's variance an input explains alone, ST the share "
             "it explains with all its interactions (ST - S1: through interactions only); an input with ST ~ 0 can "
             "be fixed anywhere in its range. +- one standard error; every flag and metric is in summary.json "
             "(`saltelli`).")
    lines = ["## Total-effect indices (Saltelli design)", "", intro, ""]
    lines += [f"* {note}" for note in salt["notes"]] + ([""] if salt["notes"] else [])
    entries = salt["targets"]
    phases = [t for t, e in entries.items() if e["role"] == "phase"]
    shown = [t for t, e in entries.items() if e["role"] == "goal"] + phases[-1:]
    for t in shown:
        e = entries[t]
        if not e.get("indices"):
            lines += [f"**{t}**: {e.get('note', 'no indices')}.", ""]
            continue
        lines += [f"**{t}** ({e['blocks']:,} blocks, sum of S1 {e['sum_first_order']:.3f}"
                  + (f"; {e['note']}" if e.get("note") else "") + ")", "",
                  "| input | S1 | ST | ST - S1 |", "| --- | ---: | ---: | ---: |"]
        ranked = sorted(e["indices"].items(), key=lambda kv: -_finite(kv[1]["total"]))
        for i, v in ranked:
            lines.append(f"| `{i}` | {_finite(v['first_order']):.3f} +- {_finite(v['first_order_se']):.3f} | "
                         f"{_finite(v['total']):.3f} +- {_finite(v['total_se']):.3f} | "
                         f"{_finite(v['total']) - _finite(v['first_order']):+.3f} |")
        lines.append("")
    return lines


def markdown(summary: Mapping) -> str:
    """The human-readable report of a full summary (see :func:`write_report`)."""
    run = summary["run"]
    lines = [f"# Campaign report: {run.get('name') or 'campaign'}", ""]
    if "sweep" in run:
        lines += [f"Sweep `{run['sweep']}`: {len(run['jobs'])} runs (jobs {', '.join(run['jobs'])}), "
                  f"{summary['missions']:,} missions in all.", ""]
    else:
        lines += [f"{summary['missions']:,} missions of model `{run.get('model')}`, sampler `{run.get('sampler')}`, "
                  f"seed {run.get('seed')}, precision {run.get('precision')}, code revision "
                  f"`{run.get('code_revision')}`.", ""]
    if summary["report"].get("incomplete_runs"):
        lines += ["**Incomplete: no manifest.json in " + ", ".join(f"`{r}`" for r in summary["report"][
            "incomplete_runs"]) + "; these statistics cover only the shards written so far.**", ""]
    design = summary.get("design", {})
    if design.get("blocks"):
        band = (" (the band beside it is the 5-95% range of P across the epistemic draws, each draw's binomial noise "
                "removed)." if design.get("draws") else ".")
        lines += [(f"Intervals are 95%. The missions follow a Saltelli design of {design['blocks']:,} blocks of "
                   f"{design['missions_per_block']:,} missions: rows of one block share its base points, so each "
                   f"probability's interval is the Korn-Graubard interval over the blocks{band}"), ""]
    elif design.get("draws"):
        lines += [f"Intervals are 95%. {len(design['epistemic_inputs'])} epistemic inputs are drawn once per "
                  f"{design['missions_per_draw']:,} missions ({design['draws']:,} draws): missions of one draw share a "
                  "state of knowledge, so each probability's interval is the Korn-Graubard interval over the draws, "
                  "and the band beside it is how uncertain the probability itself is (the 5-95% range of P across "
                  "states of knowledge, each draw's binomial noise removed).", ""]
    else:
        lines += ["Intervals are 95%. Every input is aleatory: missions are independent and probabilities carry "
                  "Wilson's interval.", ""]
    if design.get("warning"):
        lines += [f"**Warning: {design['warning']}.**", ""]
    if summary.get("stop"):
        lines += [analysis.summary.format_stop(summary["stop"]) + ". The intervals are those of the confidence "
                  "sequence, valid although the campaign's length depended on its results.", ""]
    for title, key in (("Phases", "phases"), ("Goals", "goals"), ("Conditional on the previous phase",
                                                                  "conditional")):
        if summary[key]:
            lines += [f"## {title}", "", *_prob_rows(summary[key]), ""]
    plots, skipped = summary["report"]["plots"], summary["report"]["skipped"]

    def figure(name: str, caption: str) -> list[str]:
        if name in plots:
            return [f"![{caption}]({plots[name]})", ""]
        if name in skipped:
            return [f"*{caption}: not drawn ({skipped[name]}).*", ""]
        return []

    lines += ["## Failure causes (first failure of each mission)", ""]
    if summary["pareto"]["by_cause"]:
        lines += ["| phase | cause | share of missions | 95% interval | count | cumulative share of failures |",
                  "| --- | --- | ---: | --- | ---: | ---: |"]
        for c in summary["pareto"]["by_cause"]:
            lines.append(f"| {c['phase']} | {c['outcome']} | {_p(c['p'])} | [{_p(c['ci95'][0])}, "
                         f"{_p(c['ci95'][1])}] | {c['successes']:,} | {100 * c['cumulative_share_of_failures']:.1f}% |")
        lines += ["", "By phase: " + ", ".join(f"{b['phase']} {_p(b['p'])}" for b in summary["pareto"]["by_phase"]),
                  ""]
    else:
        lines += ["No mission failed.", ""]
    lines += figure("failure_pareto", "Failure Pareto")

    lines += ["## Survival on the surface", ""]
    surv = summary.get("survival")
    if surv:
        days = surv["days"]
        marks = sorted({days[round(f * (len(days) - 1))] for f in (0.25, 0.5, 0.75, 1.0)})
        lines += ["| curve | n | failures | censored | " + " | ".join(f"S({d:g} {surv['unit']})" for d in marks)
                  + " |", "| --- | ---: | ---: | ---: |" + " --- |" * len(marks)]
        for label, c in surv["curves"].items():
            cells = [f"{_p(c['survival'][days.index(d)])} [{_p(c['lower'][days.index(d)])}, "
                     f"{_p(c['upper'][days.index(d)])}]" for d in marks]
            lines.append(f"| {label} | {c['n']:,} | {c['events']:,} | {c['censored']:,} | " + " | ".join(cells)
                         + " |")
        lines.append("")
    lines += figure("survival", "Survival curve")

    lines += ["## Metrics (over the missions where each is defined)", ""]
    if summary["metrics"]:
        lines += ["| metric | unit | n | mean | p05 | median | p95 |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for name, m in summary["metrics"].items():
            lines.append(f"| {name} | {m['unit']} | {m['n']:,} | {m['mean']:.4g} | {m['p05']:.4g} | {m['p50']:.4g} "
                         f"| {m['p95']:.4g} |")
        lines.append("")
    lines += figure("landing_dispersion", "Landing dispersion") + figure("night_energy", "Night energy margin")

    lines += ["## Sensitivity", "",
              "First-order index: the share of the variance of the output explained by the input alone, estimated",
              "from the sample itself (given-data, equal-count bins with an ANOVA bias correction); rho: Spearman",
              "rank correlation. Metrics with a phase condition are analysed where defined.", ""]
    sens = summary["sensitivity"]
    for t, entry in sens["targets"].items():
        if not entry["indices"]:
            continue
        top = sorted(entry["indices"].items(), key=lambda kv: -(kv[1]["first_order"] or -1))[:5]
        cells = ", ".join(f"`{i}` {_p(v['first_order'])} (rho {v['spearman']:+.2f})"
                          if v["spearman"] is not None else f"`{i}` {_p(v['first_order'])}" for i, v in top)
        lines.append(f"* **{t}** (n={entry['n']:,}, sum of first-order {entry['sum_first_order']:.3f}): {cells}")
    lines += ["", *figure("sensitivity", "Sensitivity tornado")]
    lines += _saltelli_markdown(summary.get("saltelli"))

    lines += ["## Epistemic spread", ""]
    epi = summary["epistemic"]
    if epi["flags"]:
        lines += [f"Inputs drawn once per {epi['inner_samples']:,} missions: "
                  + ", ".join(f"`{i}`" for i in epi["epistemic_inputs"]) + ". Each draw is a state of knowledge; "
                  "its missions estimate P in that state. The band is the 5-95% range of P across states with each "
                  "draw's binomial noise removed (a beta fitted by moments); the raw range of the per-draw "
                  "estimates includes that noise.", "",
                  "| | draws | marginal P [95%, Korn-Graubard] | band of P, 5-95% | raw 5-95% of draws "
                  "| sd (epistemic) | sd (binomial noise) |", "| --- | ---: | --- | --- | --- | ---: | ---: |"]
        for name, e in epi["flags"].items():
            band = e["band"].get("band")
            lines.append(f"| {name} | {e['draws']} | {_p(e['marginal']['p'])} [{_p(e['marginal']['ci95'][0])}, "
                         f"{_p(e['marginal']['ci95'][1])}] | "
                         + (f"[{_p(band[0])}, {_p(band[1])}]" if band else e["band"].get("note", "n/a"))
                         + f" | [{_p(e['p05'])}, {_p(e['p95'])}] | {_p(e['sd_epistemic'])} | "
                         f"{_p(e['sd_binomial_noise'])} |")
        lines.append("")
        shared = [(name, e) for name, e in epi["flags"].items() if e.get("variance_shares")]
        if shared:
            lines += ["### What to pin down first", "",
                      "Share of the variance of P across states of knowledge that each epistemic input explains on "
                      "its own (first-order index of P(theta) over the draws, +- one bootstrap standard error). "
                      "Learning the input with the largest share narrows P most.", ""]
            inputs = epi["epistemic_inputs"]
            lines += ["| input | " + " | ".join(name for name, _ in shared) + " |",
                      "| --- |" + " ---: |" * len(shared)]
            for i in sorted(inputs, key=lambda i: -max(_finite(e["variance_shares"][i]["share"]) for _, e in shared)):
                lines.append(f"| `{i}` | " + " | ".join(
                    f"{_finite(e['variance_shares'][i]['share']):.3f} +- {_finite(e['variance_shares'][i]['se']):.3f}"
                    for _, e in shared) + " |")
            lines += ["| sum | " + " | ".join(f"{e['variance_shares_sum']:.3f}" for _, e in shared) + " |", ""]
    else:
        lines += [f"{epi.get('note', '')}.", ""]
    lines += figure("epistemic", "Epistemic spread")

    lines += ["## Convergence", ""]
    conv = summary["convergence"]
    if conv["flags"]:
        if any("final_half_width_clustered" in v for v in conv["flags"].values()):
            lines += ["Half-width of the 95% interval at the full sample, clustered by epistemic draw (the valid "
                      "one; it shrinks with the number of draws): " + ", ".join(
                          f"{k} {_p(v['final_half_width_clustered'])}" for k, v in conv["flags"].items())
                      + ". Counting missions as independent (Wilson) would claim: " + ", ".join(
                          f"{k} {_p(v['final_half_width'])}" for k, v in conv["flags"].items()) + "."]
        else:
            lines += ["Half-width of the 95% Wilson interval at the full sample: " + ", ".join(
                f"{k} {_p(v['final_half_width'])}" for k, v in conv["flags"].items()) + "."]
        lines.append("")
    lines += figure("convergence", "Convergence")

    trade = summary.get("trade")
    lines += ["## Trade study", ""]
    if trade:
        lines += [f"Swept: {', '.join(f'`{k}`' for k in trade['swept_keys']) or '(no config difference)'}. "
                  "Every design ran the same sampled missions (common random numbers), so neighbouring designs are "
                  "compared mission by mission.", ""]
        flags = list(trade["designs"][0]["flags"])
        lines += ["| design | " + " | ".join(flags) + " |", "| --- |" + " --- |" * len(flags)]
        for d in trade["designs"]:
            lines.append(f"| {d['label']} | " + " | ".join(
                f"{_p(d['flags'][f]['p'])} [{_p(d['flags'][f]['ci95'][0])}, {_p(d['flags'][f]['ci95'][1])}]"
                for f in flags) + " |")
        lines += ["", "| pair (jobs) | " + " | ".join(f"diff {f}" for f in flags) + " |",
                  "| --- |" + " --- |" * len(flags)]
        for pr in trade["paired_differences"]:
            lines.append(f"| {pr['first']} -> {pr['second']} | " + " | ".join(
                f"{pr['flags'][f]['diff']:+.4f} [{pr['flags'][f]['ci95'][0] or 0:+.4f}, "
                f"{pr['flags'][f]['ci95'][1] or 0:+.4f}]" for f in flags) + " |")
        lines.append("")
    lines += figure("trade", "Trade curve")

    lines += ["## Plots", ""]
    lines += [f"* `{p}`" for p in plots.values()]
    lines += [f"* {name}: not drawn ({why})" for name, why in skipped.items()]
    lines += ["", f"Report written in {summary['report']['seconds']:.1f} s. The Parquet dataset is the source of "
              "truth; see docs/results.md to analyse it with pandas, polars or duckdb.", ""]
    return "\n".join(lines)


# ====================================================================================== command, hooks
try:
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover - hydra is a dependency; the report command works without it
    _HydraCallback = object


class SweepReport(_HydraCallback):
    """Hydra callback (``hydra.callbacks`` in conf/config.yaml): after the last job of a sweep, write the sweep's
    report (the trade study) into the sweep directory. Each job has already written its own report."""

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep = Path(str(config.hydra.sweep.dir))
        try:
            if len(analysis.run_dirs(sweep)) > 1:
                write_report(sweep)
        except Exception as e:  # the runs are complete and valid: say how to retry rather than fail the sweep
            print(f"error: the sweep report failed ({type(e).__name__}: {e}); "
                  f"retry with: python -m campaign.report {sweep}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m campaign.report", description=(
        "Write summary.json, report.md and plots/*.png for a campaign run directory, or for a sweep directory "
        "(the union of its runs plus the trade study)."))
    parser.add_argument("path", help="run directory (holds samples/), sweep directory, or a Parquet file or directory "
                                     "with the campaign's column metadata; a path or a URI")
    parser.add_argument("--out", default=None, help="where to write, a path or a URI (default: PATH, or the folder "
                                                    "of a Parquet file)")
    parser.add_argument("--no-plots", action="store_true", help="statistics and report.md only")
    args = parser.parse_args(argv)
    try:
        analysis.Results.load(args.path)  # fails early, with the reason, on a missing or role-less dataset
    except (FileNotFoundError, analysis.MetadataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_report(args.path, out_dir=args.out, plots=not args.no_plots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
