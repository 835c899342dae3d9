"""The report's figures, drawn with matplotlib from a dataset (:class:`campaign.analysis.Results`) and its full
summary. Each ``plot_*`` function writes one PNG and returns None, or returns why it drew nothing (a column the
model does not write, no failure, not a sweep); :data:`PLOTS` lists them in the order the report shows them."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from .. import analysis
from ..analysis import Results

NIGHT_ROLE = "night_energy_margin"  # roles of columns (campaign.columns.COLUMN_ROLES), found with Results.column_for
MAX_SCATTER_POINTS = 5000  # enough to see the dispersion; the ellipse uses every mission
MAX_TORNADO_INPUTS = 12
MAX_TORNADO_TARGETS = 4
MONOTONE_RHO = 0.05  # |Spearman| below this: the input acts, but not in one direction (assumed)
PHASE_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


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


def distinct_flags(summary: Mapping) -> list[str]:
    """The goals, then the phases, of a summary, leaving out a flag that duplicates one already listed
    (``summary["report"]["same_as"]``: e.g. night survival's goal ``reached_100_days`` is its phase
    ``surface_ok``)."""
    same = summary.get("report", {}).get("same_as", {})
    return [f for f in [*summary["goals"], *summary["phases"]] if f not in same]


def plot_headline(res: Results, summary: Mapping, file: Path) -> str | None:
    """Each goal and phase probability (duplicates left out, :func:`distinct_flags`): the estimate, its valid 95%
    interval (thick) and, where epistemic inputs vary, the 5-95% band of P across states of knowledge (thin)."""
    flags = distinct_flags(summary)
    if not flags:
        return "no phase or goal flag"
    entries = {**summary["phases"], **summary["goals"]}
    fig, axes = _figure(9.0, max(3.0, 1.5 + 0.5 * len(flags)))
    ax = axes[0, 0]
    y = np.arange(len(flags))[::-1]
    banded = False
    for yi, name in zip(y, flags):
        s = entries[name]
        colour = PHASE_COLOURS[2] if name in summary["goals"] else PHASE_COLOURS[0]
        band = (s.get("epistemic") or {}).get("band")
        if band:
            banded = True
            ax.plot(band, [yi, yi], color=PHASE_COLOURS[7], lw=1.5, marker="|", ms=12, zorder=1)
        ax.plot(s["ci95"], [yi, yi], color=colour, lw=7, alpha=0.55, solid_capstyle="butt", zorder=2)
        ax.plot([s["p"]], [yi], "o", color="k", ms=5, zorder=3)
        ax.annotate(
            f"{s['p']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]",
            (1.01, yi),
            xycoords=("axes fraction", "data"),
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, [f"{n} (goal)" if n in summary["goals"] else n for n in flags], fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.7, len(flags) - 0.3)
    ax.set_xlabel("Probability")
    ax.grid(axis="x", alpha=0.3)
    handles = [ax.plot([], [], color=PHASE_COLOURS[0], lw=7, alpha=0.55)[0], ax.plot([], [], "o", color="k", ms=5)[0]]
    labels = ["95% interval (valid for the design)", "estimate"]
    if banded:
        handles.append(ax.plot([], [], color=PHASE_COLOURS[7], lw=1.5, marker="|", ms=12)[0])
        labels.append("P across states of knowledge, 5-95%")
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    ax.set_title("How likely each phase and goal is")
    fig.tight_layout(rect=(0, 0.55 / fig.get_figheight(), 0.84, 1))
    import matplotlib.pyplot as plt

    fig.savefig(file)
    plt.close(fig)
    return None


def _shade_darkness(ax, start: np.datetime64, periods, label: bool) -> None:
    for k, (a, b) in enumerate(periods):
        ax.axvspan(
            start + np.timedelta64(int(a * 86400), "s"),
            start + np.timedelta64(int(b * 86400), "s"),
            color="0.25",
            alpha=0.22,
            lw=0,
            label="darkness at the site" if label and k == 0 else None,
        )


def _failures_per_day_panel(ax, dates: Mapping, t: np.ndarray, start, periods) -> None:
    """Draw the lower panel of :func:`plot_failure_dates` on ``ax``: surface failures per day (at ``t``: dates
    from ``start``, or days when there is no darkness), stacked by cause, largest first, with the darkness
    ``periods`` shaded."""
    bottom = np.zeros(len(dates["days"]))
    for k, (cause, counts) in enumerate(sorted(dates["failures"].items(), key=lambda kv: -sum(kv[1]))):
        c = np.asarray(counts, dtype=float)
        ax.bar(
            t,
            c,
            width=np.timedelta64(86400, "s") if start is not None else 1.0,
            bottom=bottom,
            align="edge",
            color=PHASE_COLOURS[(k + 3) % len(PHASE_COLOURS)],
            label=f"{cause.replace('_', ' ')} ({int(c.sum()):,})",
        )
        bottom += c
    if start is not None:
        _shade_darkness(ax, start, periods, label=False)
    ax.set_ylabel("Failures per day")
    ax.set_xlabel(
        f"Date (UTC; the landing window opens {str(start)[:10]})"
        if start is not None
        else "Days after the landing window opened"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)


def plot_failure_dates(res: Results, summary: Mapping, file: Path) -> str | None:
    """When rovers fail, on the calendar, with the site's darkness shaded: above, P(a rover that reached the
    surface has not failed by that date) with its 95% interval, and the share of them landed by then; below,
    surface failures per day by cause."""
    dates = summary.get("failure_dates")
    if not dates:
        date, survived = res.column_for(analysis.DATE_ROLE), res.column_for(analysis.SURVIVAL_ROLE)
        return f"needs columns `{date}` and `{survived}` (a model with a surface stay)"
    dark = summary.get("darkness")
    start, periods = (
        (np.datetime64(dark["window_start_utc"], "s"), dark["periods"]) if isinstance(dark, Mapping) else (None, None)
    )
    days = np.asarray(dates["days"])
    t = (start + (days * 86400).astype("timedelta64[s]")) if start is not None else days
    fig, axes = _figure(10.0, 6.4, nrows=2, sharex=True, gridspec_kw={"height_ratios": [1.6, 1]})
    ax = axes[0, 0]
    nf = dates["not_failed"]
    ax.step(
        t,
        nf["p"],
        where="post",
        color=PHASE_COLOURS[0],
        label=f"not failed by this date ({dates['landed']:,} rovers on the surface)",
    )
    ax.fill_between(t, nf["lower"], nf["upper"], step="post", color=PHASE_COLOURS[0], alpha=0.25, label="95% interval")
    ax.step(t, dates["landed_by"], where="post", color=PHASE_COLOURS[7], ls="--", lw=1, label="landed by this date")
    if start is not None:
        _shade_darkness(ax, start, periods, label=True)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("Share of rovers that reached the surface")
    ax.set_title("When rovers fail: the calendar, with the site's darkness shaded")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    _failures_per_day_panel(axes[1, 0], dates, t, start, periods)
    ax = axes[1, 0]
    if start is not None:
        import matplotlib.dates as mdates

        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        fig.autofmt_xdate()
    _save(fig, file)
    return None


def plot_survival(res: Results, summary: Mapping, file: Path) -> str | None:
    """P(operating at day t): Kaplan-Meier with its 95% log-log band, for all missions and given landing."""
    surv = summary.get("survival")
    if not surv:
        return f"needs column `{res.column_for(analysis.SURVIVAL_ROLE)}` (days on the surface)"
    fig, axes = _figure()
    ax = axes[0, 0]
    days = np.asarray(surv["days"])
    for (label, curve), colour in zip(surv["curves"].items(), PHASE_COLOURS):
        text = (
            "all missions (not operating if the surface was never reached)"
            if label == "all"
            else "missions that reached the surface"
        )
        ax.step(days, curve["survival"], where="post", color=colour, label=f"{text}, n={curve['n']:,}")
        ax.fill_between(
            days,
            curve["lower"],
            curve["upper"],
            step="post",
            color=colour,
            alpha=0.25,
            label="95% band (Greenwood, log-log)" if label == "all" else None,
        )
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
        ax.annotate(
            f" {c['successes']:,}  (cum. {100 * c['cumulative_share_of_failures']:.0f}% of failures)",
            (s, yi),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(0, share.max() * 1.6)
    ax.set_xlabel("Share of all missions that fail first by this cause (%)")
    ax.set_title(
        f"Failure causes (Pareto): {summary['pareto']['failures']:,} of "
        f"{summary['pareto']['missions']:,} missions failed"
    )
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=colour[p], label=f"phase: {p}") for p in phases], loc="lower right", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    _save(fig, file)
    return None


def ellipse_points(ellipse: Mapping, points: int = 200) -> np.ndarray:
    """The boundary of an ellipse as ``summary.json`` stores it (``centre_m``, ``semi_major_m``, ``semi_minor_m``,
    ``orientation_deg`` from downrange towards crossrange): shape (points, 2), metres."""
    a = np.linspace(0, 2 * np.pi, points)
    t = np.radians(ellipse["orientation_deg"])
    u = np.stack([np.cos(a) * ellipse["semi_major_m"], np.sin(a) * ellipse["semi_minor_m"]], axis=1)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return u @ rot.T + np.asarray(ellipse["centre_m"])


CORE_FRAME = 1.5  # half-width of the core view in semi-major axes: the ellipse spans 2/3 of the frame
FAULT_FLAGS = (
    ("altimeter_fault", "altimeter fault"),
    ("engine_out", "engine out"),
    ("hazard_divert", "hazard divert"),
)  # roles of flags, the first true one names a touchdown


RECORD_FAULT = "record-based fault"  # a landing the physics made, lost to the record-based unmodelled-fault term


def touchdown_groups(res: Results, rows: np.ndarray) -> np.ndarray:
    """What happened on the way down for each touchdown in ``rows`` (bool mask, shape (n,)): the first of the
    fault flags that is set (:data:`FAULT_FLAGS`, by role), else :data:`RECORD_FAULT` where the physics landed
    and the record-based term lost the landing, else "no fault flagged"; shape (rows.sum(),)."""
    group = np.full(int(rows.sum()), "no fault flagged", dtype=object)
    physics, landed = (res.column_for(role) for role in analysis.LANDING_RECORD_ROLES)
    if res.has(physics) and res.has(landed):
        group[(res.column(physics) & ~res.column(landed))[rows].astype(bool)] = RECORD_FAULT
    for role, label in reversed(FAULT_FLAGS):  # reversed: the first flag in the list wins
        column = res.column_for(role)
        if res.has(column):
            group[res.column(column)[rows].astype(bool)] = label
    return group


def _landing_core_panel(ax, res: Results, reached: np.ndarray, safe: np.ndarray, causes: np.ndarray, colour, e, rng):
    """Draw the left panel of :func:`landing_figure` on ``ax``: the safe landings and failed touchdowns inside
    :data:`CORE_FRAME` semi-major axes of the 99% ellipse ``e`` about its centre, the ellipse, the target, and in
    the title the count of touchdowns beyond the frame. Draws from ``rng`` (shared with the right panel)."""
    downrange, crossrange, _ = map(res.column_for, analysis.LANDING_ROLES)
    x, y = res.column(downrange), res.column(crossrange)
    cx, cy = e["centre_m"]
    half = CORE_FRAME * e["semi_major_m"]
    inside = reached & (np.abs(x - cx) <= half) & (np.abs(y - cy) <= half)
    outside = reached & ~inside
    shown = np.flatnonzero(inside & safe)
    if shown.size > MAX_SCATTER_POINTS:
        shown = rng.choice(shown, MAX_SCATTER_POINTS, replace=False)
    ax.scatter(
        x[shown],
        y[shown],
        s=5,
        alpha=0.35,
        color=PHASE_COLOURS[0],
        linewidths=0,
        label=f"safe landings ({shown.size:,} of {int((inside & safe).sum()):,} in view shown)",
    )
    failed_in = inside & ~safe
    for c in colour:
        rows = failed_in & (causes == c)
        if not rows.any():
            continue
        ax.scatter(
            x[rows],
            y[rows],
            s=10,
            marker="x",
            color=colour[c],
            linewidths=0.8,
            label=f"{c.replace('_', ' ')} ({int(rows.sum()):,} in view)",
        )
    pts = ellipse_points(e)
    ax.plot(
        pts[:, 0],
        pts[:, 1],
        color=PHASE_COLOURS[3],
        lw=2,
        label=f"99% ellipse of safe landings: {e['semi_major_m']:.0f} m x {e['semi_minor_m']:.0f} m "
        f"(holds {100 * e['fraction_inside']:.1f}%)",
    )
    ax.plot([0], [0], "x", color="k", ms=9, mew=2, label="target")
    ax.set_xlim(cx - half, cx + half)
    ax.set_ylim(cy - half, cy + half)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(_label("Downrange error", res.unit(downrange) or "m"))
    ax.set_ylabel(_label("Crossrange error", res.unit(crossrange) or "m"))
    ax.set_title(
        f"Safe-landing core: {int(outside.sum()):,} of {int(reached.sum()):,} touchdowns lie beyond this frame (right)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, framealpha=0.9)


def _touchdown_panel(ax, res: Results, reached: np.ndarray, safe: np.ndarray, causes: np.ndarray, colour, e, rng):
    """Draw the right panel of :func:`landing_figure` on ``ax``: every touchdown's miss distance on a log scale, one
    row per group of :func:`touchdown_groups`, failed landings marked by cause, and the ellipse's semi-major axis.
    Draws from ``rng`` after the left panel."""
    downrange, crossrange, miss_name = map(res.column_for, analysis.LANDING_ROLES)
    x, y = res.column(downrange), res.column(crossrange)
    miss = (res.column(miss_name) if res.has(miss_name) else np.hypot(x, y))[reached]
    groups = touchdown_groups(res, reached)
    order = [g for g in (*(label for _, label in FAULT_FLAGS), RECORD_FAULT) if (groups == g).any()]
    order.append("no fault flagged")
    ok, why = safe[reached], causes[reached]
    jitter = rng.uniform(-0.3, 0.3, miss.size)
    floor = max(float(np.min(miss[miss > 0])) if (miss > 0).any() else 0.01, 0.01)
    for k, g in enumerate(order):
        rows = groups == g
        sub = np.flatnonzero(rows & ok)
        if sub.size > MAX_SCATTER_POINTS:
            sub = rng.choice(sub, MAX_SCATTER_POINTS, replace=False)
        ax.scatter(
            np.maximum(miss[sub], floor),
            k + jitter[sub],
            s=5,
            alpha=0.35,
            color=PHASE_COLOURS[0],
            linewidths=0,
            label="safe landing" if k == 0 else None,
        )
    for c in colour:
        sub = np.flatnonzero(~ok & (why == c))
        ax.scatter(
            np.maximum(miss[sub], floor),
            np.array([order.index(g) for g in groups[sub]]) + jitter[sub],
            s=12,
            marker="x",
            color=colour[c],
            linewidths=0.9,
            label=f"{c.replace('_', ' ')} ({sub.size:,})",
        )
    ax.axvline(
        e["semi_major_m"],
        color=PHASE_COLOURS[3],
        lw=1.2,
        ls="--",
        label=f"99% ellipse semi-major axis ({e['semi_major_m']:.0f} m)",
    )
    ax.set_xscale("log")
    ax.set_yticks(
        range(len(order)),
        [f"{g}\n{int((groups == g).sum()):,} touchdowns, {int(((groups == g) & ~ok).sum()):,} failed" for g in order],
        fontsize=8,
    )
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel(_label("Miss distance from the target, log scale", res.unit(downrange) or "m"))
    ax.set_title(f"Every touchdown ({int(reached.sum()):,}): faults on the way down and failed landings", fontsize=10)
    ax.grid(alpha=0.3, axis="x", which="major")
    ax.legend(loc="lower right", fontsize=7, framealpha=0.9)


def landing_figure(res: Results, summary: Mapping):
    """The landing-dispersion figure, or why there is none (a string). Left, the safe-landing core: the 99%
    ellipse of safe landings (``summary["landing"]["ellipse99"]``) in metres, the axes at :data:`CORE_FRAME`
    semi-major axes about its centre, safe landings and failed touchdowns inside the frame, and the count of
    touchdowns beyond it. Right, every touchdown: miss distance on a log scale, by what happened on the way down
    (:func:`touchdown_groups`), failed landings marked by cause."""
    landing = summary.get("landing")
    downrange, crossrange, miss_name = map(res.column_for, analysis.LANDING_ROLES)
    if not res.has(downrange, crossrange) or not landing:
        return f"needs columns `{downrange}`, `{crossrange}` and `{miss_name}`"
    x, y = res.column(downrange), res.column(crossrange)
    reached = ~(np.isnan(x) | np.isnan(y))
    if reached.sum() < 3:
        return "fewer than 3 missions reached touchdown"
    landed_ok = res.column_for("landing_success")
    safe = reached & (res.column(landed_ok).astype(bool) if res.has(landed_ok) else True)
    causes = res.column("outcome_name") if res.has("outcome_name") else np.full(res.n, "success", dtype=object)
    names, counts = np.unique(causes[reached & ~safe].astype(str), return_counts=True)
    colour = {c: PHASE_COLOURS[(k + 3) % len(PHASE_COLOURS)] for k, c in enumerate(names[np.argsort(-counts)])}
    fig, axes = _figure(12.5, 5.8, ncols=2, gridspec_kw={"width_ratios": [1, 1.25]})
    rng = np.random.default_rng(0)
    e = landing["ellipse99"]
    _landing_core_panel(axes[0, 0], res, reached, safe, causes, colour, e, rng)
    _touchdown_panel(axes[0, 1], res, reached, safe, causes, colour, e, rng)
    fig.tight_layout()
    return fig


def plot_landing_dispersion(res: Results, summary: Mapping, file: Path) -> str | None:
    """:func:`landing_figure` as a PNG."""
    fig = landing_figure(res, summary)
    if isinstance(fig, str):
        return fig
    _save(fig, file)
    return None


def plot_night_energy(res: Results, summary: Mapping, file: Path) -> str | None:
    """Histogram of the worst-night energy margin, the zero line and P(margin < 0) with its Wilson interval."""
    column = res.column_for(NIGHT_ROLE)
    if not res.has(column):
        return f"needs column `{column}`"
    m = res.column(column)
    m = m[~np.isnan(m)]
    if m.size < 2:
        return "fewer than 2 missions reached a lunar night"
    unit = res.unit(column) or "Wh"
    short = int((m < 0).sum())
    p = analysis.proportion(short, m.size)
    fig, axes = _figure()
    ax = axes[0, 0]
    bins = np.histogram_bin_edges(m, bins=min(80, max(10, int(math.sqrt(m.size)))))
    ax.hist(m[m >= 0], bins=bins, color=PHASE_COLOURS[2], alpha=0.8, label="margin >= 0")
    ax.hist(
        m[m < 0],
        bins=bins,
        color=PHASE_COLOURS[3],
        alpha=0.8,
        label=f"margin < 0: P = {p['p']:.3f} [{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}]",
    )
    ax.axvline(0, color="k", lw=1)
    ax.set_xlabel(_label("Worst-night energy margin", unit))
    ax.set_ylabel("Missions")
    ax.set_title(f"Night energy margin ({m.size:,} missions that reached a night)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    _save(fig, file)
    return None


def tornado_targets(res: Results, summary: Mapping) -> list[str]:
    """Targets worth a sensitivity panel: every goal, then the last phase (the mission's overall success), a flag
    that duplicates another left out (:func:`distinct_flags`), at most :data:`MAX_TORNADO_TARGETS`."""
    same = summary.get("report", {}).get("same_as", {})
    targets = [t for t in list(res.goals) + res.phases[-1:] if t not in same]
    sens = summary["sensitivity"]["targets"]
    return [t for t in dict.fromkeys(targets) if sens.get(t, {}).get("indices")][:MAX_TORNADO_TARGETS]


def _tornado_panel(ax, sens: Mapping, t: str, ranked: list) -> None:
    """Draw one target's panel of :func:`plot_sensitivity` on ``ax``: the inputs that matter to ``t``
    (``ranked``), by first-order index with its 95% interval, coloured and labelled by the sign of their effect;
    or a line saying no input matters."""
    from matplotlib.ticker import MaxNLocator

    entry = sens["targets"][t]
    if not ranked:
        ax.text(
            0.5,
            0.5,
            f"No input explains {100 * analysis.MIN_SHARE:g}% or more of the variance of {t} "
            "(or its interval reaches zero)",
            ha="center",
            va="center",
            fontsize=9,
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        ax.set_title(f"{t} (n={entry['n']:,})", fontsize=10)
        return
    y = np.arange(len(ranked))[::-1]
    s1 = np.array([v["first_order"] for _, v in ranked])
    se = np.array([np.nan_to_num(v["first_order_se"]) for _, v in ranked])
    rho = np.array([np.nan_to_num(v["spearman"]) for _, v in ranked])
    direction = np.where(rho >= MONOTONE_RHO, 0, np.where(rho <= -MONOTONE_RHO, 1, 2))
    labels = [
        f"{i}{' (epistemic)' if sens['inputs'][i]['level'] == 'epistemic' else ''}  "
        f"{('raises P', 'lowers P', 'either way')[d]}"
        for (i, _), d in zip(ranked, direction)
    ]
    ax.barh(
        y,
        s1,
        xerr=analysis.Z95 * se,
        capsize=3,
        alpha=0.85,
        color=[(PHASE_COLOURS[0], PHASE_COLOURS[3], PHASE_COLOURS[7])[d] for d in direction],
    )
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, max(0.05, float(np.max(s1 + analysis.Z95 * se)) * 1.1))
    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.set_xlabel(
        f"Share of the variance of {t} explained by the input alone (first-order index, 95% interval)", fontsize=8
    )
    others = len(entry["indices"]) - len(ranked)
    ax.set_title(f"{t} (n={entry['n']:,}): the {len(ranked)} inputs that matter ({others} others do not)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def plot_sensitivity(res: Results, summary: Mapping, file: Path) -> str | None:
    """Per goal (and the mission's success): the inputs that matter (:func:`campaign.analysis.influential`), by
    first-order index with its 95% interval, the sign of their effect (Spearman) in the label."""
    sens = summary["sensitivity"]
    targets = tornado_targets(res, summary)
    if not sens["inputs"]:
        return "no sampled input varies"
    if not targets:
        return "no goal or phase flag varies"
    shown = [analysis.influential(sens["targets"][t])[:MAX_TORNADO_INPUTS] for t in targets]
    if not any(shown):
        return (
            f"no input explains {100 * analysis.MIN_SHARE:g}% or more of the variance of "
            + ", ".join(targets)
            + " with an interval clear of zero"
        )
    heights = [1.0 + 0.36 * max(len(r), 1) for r in shown]
    fig, axes = _figure(9.5, max(3.0, sum(heights) + 0.3), nrows=len(targets), gridspec_kw={"height_ratios": heights})
    for ax, t, ranked in zip(axes[:, 0], targets, shown):
        _tornado_panel(ax, sens, t, ranked)
    _save(fig, file)
    return None


def plot_convergence(res: Results, summary: Mapping, file: Path) -> str | None:
    """Running estimate of every flag's probability with its valid 95% interval (Wilson, or Korn-Graubard over
    the epistemic draws when they vary) against the number of missions."""
    conv = summary["convergence"]
    same = summary.get("report", {}).get("same_as", {})
    flags = [f for f in conv["flags"] if f not in same][:9]
    if not flags or len(conv["n"]) < 2:
        return "no phase or goal flag, or too few missions"
    ncols = min(3, len(flags))
    nrows = math.ceil(len(flags) / ncols)
    fig, axes = _figure(4.2 * ncols, 3.4 * nrows, ncols=ncols, nrows=nrows, sharex=True)
    n = np.asarray(conv["n"])
    for ax, name in zip(axes.flat, flags):
        f = conv["flags"][name]
        if "lower_clustered" in f:  # the valid interval when missions share states of knowledge
            ax.fill_between(
                n,
                f["lower_clustered"],
                f["upper_clustered"],
                color=PHASE_COLOURS[1],
                alpha=0.3,
                label="95% (Korn-Graubard over epistemic draws)",
            )
        else:
            ax.fill_between(
                n, f["lower"], f["upper"], color=PHASE_COLOURS[0], alpha=0.3, label="95% Wilson (independent missions)"
            )
        ax.plot(n, f["p"], color=PHASE_COLOURS[0], label="running estimate")
        ax.axhline(f["p"][-1], color="k", lw=0.8, ls="--", label=f"final {f['p'][-1]:.4f}")
        ax.set_xscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("Missions N (first N by sample index)")
        ax.set_ylabel(f"P({name})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(flags) :]:
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
    """The trade curves: P(flag) against the swept design value with its valid 95% interval as a band; and each
    design against the first on the same missions (common random numbers), the paired difference with its 95%
    band, which is far narrower than the two designs' own intervals would suggest."""
    trade = summary.get("trade")
    if not trade:
        return "not a sweep (needs a directory of runs from `python -m campaign -m ...`)"
    flags = distinct_flags(summary)[:6]
    designs = trade["designs"]
    key = trade["swept_keys"][0] if trade["numeric"] else None
    x = np.array([d["values"][key] for d in designs], dtype=float) if key else np.arange(len(designs))
    fig, axes = _figure(12.0, 4.8, ncols=2)
    for ax in axes[0]:
        if not key:
            ax.set_xticks(x, [d["label"] for d in designs], rotation=20, ha="right", fontsize=8)
        ax.set_xlabel(f"{key} (swept)" if key else "design")
        ax.grid(alpha=0.3)
    ax = axes[0, 0]
    for k, name in enumerate(flags):
        p = np.array([d["flags"][name]["p"] for d in designs])
        lo = np.array([d["flags"][name]["ci95"][0] for d in designs])
        hi = np.array([d["flags"][name]["ci95"][1] for d in designs])
        ax.fill_between(x, lo, hi, color=PHASE_COLOURS[k], alpha=0.2)
        ax.plot(x, p, marker="o", color=PHASE_COLOURS[k], label=name)
    ax.set_ylabel("P, with its 95% interval")
    ax.set_title("Probability against the design value")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    base = designs[0]["label"]
    for k, name in enumerate(flags):
        d = np.array([pr["flags"][name]["diff"] for pr in trade["against_first"]], dtype=float)
        lo = np.array([np.nan_to_num(pr["flags"][name]["ci95"][0]) for pr in trade["against_first"]])
        hi = np.array([np.nan_to_num(pr["flags"][name]["ci95"][1]) for pr in trade["against_first"]])
        ax.fill_between(x, lo, hi, color=PHASE_COLOURS[k], alpha=0.2)
        ax.plot(x, d, marker="o", color=PHASE_COLOURS[k], label=name)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel(f"P(design) - P({base})")
    ax.set_title("Against the first design, on the same missions (95% band)")
    ax.legend(fontsize=8)
    _save(fig, file)
    return None


PLOTS: dict[str, Callable[[Results, Mapping, Path], str | None]] = {
    "headline": plot_headline,
    "survival": plot_survival,
    "failure_dates": plot_failure_dates,
    "failure_pareto": plot_failure_pareto,
    "landing_dispersion": plot_landing_dispersion,
    "night_energy": plot_night_energy,
    "sensitivity": plot_sensitivity,
    "convergence": plot_convergence,
    "epistemic": plot_epistemic,
    "trade": plot_trade,
}
