"""The report of a design search (:mod:`campaign.design`): ``report.md`` with the section "What it takes", the
P(design) curve with its bands (``plots/design_curve.png``), and for two levers the map with the target contour,
iso-mass lines and the lightest design on the contour (``plots/design_map.png``)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from .analysis import Location

PLOTS_DIR = "plots"


def _short(lever: str) -> str:
    return lever.rsplit(".", 1)[-1]


def _fmt(value: object) -> str:
    return f"{value:,.6g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


# ================================================================================================== plots
def _curve(ax, design: Mapping, groups: list[Mapping]) -> None:
    """P against the lever on ``ax``: per group the 95% band, the estimate and the one-sided bound (triangles)."""
    for k, g in enumerate(groups):
        rows = sorted(g["candidates"], key=lambda r: r["value"])
        x = np.array([r["value"] for r in rows], dtype=float)
        colour = f"C{k % 10}"
        label = f"{_short(design['map']['variable'])} = {_fmt(g['map_value'])}" if "map" in design else "P (estimate)"
        ax.fill_between(
            x, [r["ci95"][0] for r in rows], [r["ci95"][1] for r in rows], color=colour, alpha=0.2, linewidth=0
        )
        ax.plot(x, [r["p"] for r in rows], "o-", color=colour, markersize=3, label=label)
        ax.plot(x, [r["lcb"] for r in rows], "v", color=colour, markersize=3, alpha=0.7)
        if g["required"]["value"] is not None:
            ax.axvline(g["required"]["value"], color=colour, linestyle=":", linewidth=1)
    ax.axhline(design["target"], color="black", linewidth=0.8, linestyle="--", label=f"target {design['target']}")
    ax.set_xlabel(_short(design["variable"]))
    ax.grid(alpha=0.3)


def plot_curve(design: Mapping, file: Path) -> None:
    """P(goal) against the lever for every evaluated candidate (one curve per map value), with the 95% interval
    as a band, the one-sided bound as markers, the target and the required value; for one lever, a second panel
    zoomed on the crossing with its 95% interval shaded."""
    import matplotlib.pyplot as plt

    groups = design["map"]["results"] if "map" in design else [design]
    zoom = "map" not in design and design["estimate"]["value"] is not None
    fig, axes = plt.subplots(
        1, 2 if zoom else 1, figsize=(10.0 if zoom else 8.0, 4.6), layout="constrained", squeeze=False
    )
    _curve(axes[0, 0], design, groups)
    axes[0, 0].set_ylabel(f"P({design['goal']})")
    rows = sorted(groups[0]["candidates"], key=lambda r: r["value"])
    x, mass = np.array([r["value"] for r in rows], dtype=float), [r.get("mass_kg") for r in rows]
    if "map" not in design and None not in mass and len(rows) > 1:
        slope, offset = np.polyfit(x, mass, 1)
        if slope > 0 and np.allclose(slope * x + offset, mass, atol=1e-6):  # mass linear in the lever (battery)
            for ax in axes[0]:
                top = ax.secondary_xaxis(
                    "top", functions=(lambda v: slope * v + offset, lambda m: (m - offset) / slope)
                )
                top.set_xlabel("rover mass (kg)", fontsize=8)
    axes[0, 0].legend(fontsize=8, loc="lower right")
    if zoom:
        ax = axes[0, 1]
        _curve(ax, design, groups)
        xs = [r["value"] for r in design["candidates"]]
        lo, hi = design["estimate"]["ci95"]
        lo, hi = lo if lo is not None else min(xs), hi if hi is not None else max(xs)
        ax.axvspan(lo, hi, color="grey", alpha=0.15, label="95% interval of the crossing")
        pad = max(hi - lo, design["resolution"] or 0.0)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(design["target"] - 0.06, design["target"] + 0.06)
        ax.set_title("near the target", fontsize=9)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"What it takes: P({design['goal']}) >= {design['target']} (band: 95% interval; triangles: "
        f"one-sided {design['confidence']:.0%} bound; dotted: required)",
        fontsize=9,
    )
    fig.savefig(file, dpi=110)
    plt.close(fig)


def plot_ranking(design: Mapping, file: Path) -> None:
    """Categorical candidates (sites, dates): P(goal) with the 95% interval, best first, and the target."""
    import matplotlib.pyplot as plt

    rows = design["candidates"]
    fig, ax = plt.subplots(figsize=(8.0, 0.5 * len(rows) + 1.5), layout="constrained")
    y = np.arange(len(rows))[::-1]
    p = np.array([r["p"] for r in rows])
    err = np.array([[r["p"] - r["ci95"][0], r["ci95"][1] - r["p"]] for r in rows]).T
    ax.barh(y, p, xerr=err, color=["C2" if r["meets_target"] else "C0" for r in rows], capsize=3)
    ax.set_yticks(y, [_fmt(r["value"]) for r in rows], fontsize=8)
    ax.axvline(design["target"], color="black", linestyle="--", linewidth=0.8, label=f"target {design['target']}")
    ax.set_xlabel(f"P({design['goal']}) with 95% interval (green: meets the target at {design['confidence']:.0%})")
    ax.legend(fontsize=8)
    fig.savefig(file, dpi=110)
    plt.close(fig)


def plot_map(design: Mapping, mass_of: Callable[[float, float], float] | None, file: Path) -> None:
    """Two levers: every candidate coloured by P(goal), the target contour (each map value's required value, with
    the 95% interval of the crossing), iso-mass lines and the lightest design on the contour."""
    import matplotlib.pyplot as plt

    m = design["map"]
    fig, ax = plt.subplots(figsize=(8.0, 5.2), layout="constrained")
    points = [(r["value"], g["map_value"], r["p"]) for g in m["results"] for r in g["candidates"]]
    x, y, p = (np.array(v, dtype=float) for v in zip(*points))
    sc = ax.scatter(x, y, c=p, cmap="viridis", vmin=0, vmax=1, s=18, zorder=3)
    fig.colorbar(sc, ax=ax, label=f"P({design['goal']})")
    req = [(g["required"]["value"], g["map_value"]) for g in m["results"] if g["required"]["value"] is not None]
    if req:
        rx, ry = np.array(req, dtype=float).T
        ax.plot(
            rx,
            ry,
            "-",
            color="crimson",
            linewidth=2,
            zorder=4,
            label=f"target contour: P >= {design['target']} at {design['confidence']:.0%}",
        )
        for g in m["results"]:
            lo, hi = g["estimate"]["ci95"]
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [g["map_value"]] * 2, color="crimson", alpha=0.35, linewidth=6, zorder=2)
    if m.get("lightest"):
        lt = m["lightest"]
        ax.plot(
            lt["value"],
            lt["map_value"],
            "*",
            color="gold",
            markeredgecolor="black",
            markersize=16,
            zorder=5,
            label=f"lightest: {lt['mass']['total_kg']:.1f} kg",
        )
    if req:  # the contour's neighbourhood: candidates far above it are all near P = 1
        ends = [g["estimate"]["ci95"][1] for g in m["results"]] + [r for r, _ in req]
        right = 1.5 * max(float(e) for e in ends if e is not None)
        ax.set_xlim(x.min() - 0.02 * (right - x.min()), min(x.max(), right))
    if mass_of is not None:  # iso-mass lines every 10 kg over what is shown
        left, right = ax.get_xlim()
        gx, gy = np.linspace(left, right, 60), np.linspace(y.min(), y.max(), 60)
        mass = np.array([[mass_of(a, b) for a in gx] for b in gy])
        levels = np.arange(10 * np.floor(mass.min() / 10), mass.max() + 10, 10)
        cs = ax.contour(gx, gy, mass, levels=levels, colors="grey", linewidths=0.7, alpha=0.8)
        ax.clabel(cs, fmt="%.0f kg", fontsize=7)
    ax.set_xlabel(_short(design["variable"]))
    ax.set_ylabel(_short(m["variable"]))
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Every candidate on common random numbers; grey: rover mass", fontsize=9)
    fig.savefig(file, dpi=110)
    plt.close(fig)


# =============================================================================================== markdown
def _candidate_table(rows: list[Mapping], design: Mapping) -> list[str]:
    lever = _short(design["variable"])
    mass = any(r.get("mass_kg") is not None for r in rows)
    lines = [
        f"| {lever} | P | 95% interval | one-sided {design['confidence']:.0%} bound | missions |"
        + (" rover mass | margin |" if mass else ""),
        "| ---: | ---: | --- | ---: | ---: |" + (" ---: | ---: |" if mass else ""),
    ]
    for r in rows:
        lines.append(
            f"| {_fmt(r['value'])} | {r['p']:.4f} | [{r['ci95'][0]:.4f}, {r['ci95'][1]:.4f}] | "
            f"{r['lcb']:.4f} | {r['n']:,} |" + (f" {r['mass_kg']:.1f} kg | {r['margin_kg']:+.1f} kg |" if mass else "")
        )
    return lines


def _answer(design: Mapping, g: Mapping) -> str:
    lever = _short(design["variable"])
    req = g["required"]
    if req["value"] is None:
        return f"Not reached in the range: {req['reason']}."
    mass = (
        f" The rover then weighs {req['mass']['total_kg']:.1f} kg ({req['mass']['margin_kg']:+.1f} kg against "
        f"{req['mass']['limit_kg']:.0f} kg)."
        if req.get("mass")
        else ""
    )
    est = g["estimate"]
    cross = ""
    if est["value"] is not None:
        lo, hi = est["ci95"]
        cross = (
            f" P crosses the target at {lever} = {_fmt(round(est['value'], 6))} (95% interval "
            f"{_fmt(lo) if lo is not None else 'below the range'} to "
            f"{_fmt(hi) if hi is not None else 'beyond the range'})."
        )
    return (
        f"**{lever} = {_fmt(req['value'])}** reaches P({design['goal']}) >= {design['target']} with "
        f"{design['confidence']:.0%} confidence (P = {req['p']:.4f}, bound {req['lcb']:.4f}).{cross}{mass}"
    )


METHOD = (
    "Every candidate is a campaign of the same missions (same seed: common random numbers). The search "
    "evaluates a grid over the range, then bisects until the crossings of the target by the upper 95% bound, "
    "the estimate, the one-sided bound and the lower 95% bound are each bracketed to the resolution. The "
    "required value is the first candidate whose one-sided bound reaches the target; no correction for the "
    "number of candidates is needed because P is monotone in the lever on common random numbers (the count "
    "of missions that did worse with more of the lever is reported, and is zero here unless said), so the "
    "bound could only pass the target early if it passed it at the true crossing, a single test "
    "(campaign/design.py)."
)


def _map_markdown(design: Mapping, lever: str) -> list[str]:
    """The target contour of a map search: the lightest design meeting the target, the required value per map
    value with its crossing and rover mass, the figures, and each map value's answer and candidates."""
    m = design["map"]
    lines = [f"## The target contour over {_short(m['variable'])}", ""]
    if m.get("lightest"):
        lt = m["lightest"]
        lines += [
            f"**Lightest design meeting the target: {lever} = {_fmt(lt['value'])}, "
            f"{_short(m['variable'])} = {_fmt(lt['map_value'])}, rover {lt['mass']['total_kg']:.1f} kg** "
            f"({lt['mass']['margin_kg']:+.1f} kg against {lt['mass']['limit_kg']:.0f} kg; P = {lt['p']:.4f},"
            f" bound {lt['lcb']:.4f}).",
            "",
        ]
    lines += [
        f"| {_short(m['variable'])} | required {lever} | P | bound | 95% interval of the crossing | rover mass |",
        "| ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for g in m["results"]:
        req, (lo, hi) = g["required"], g["estimate"]["ci95"]
        if req["value"] is None:
            lines.append(f"| {_fmt(g['map_value'])} | not reached | | | | |")
            continue
        lines.append(
            f"| {_fmt(g['map_value'])} | {_fmt(req['value'])} | {req['p']:.4f} | {req['lcb']:.4f} | "
            f"[{_fmt(lo) if lo is not None else '<'}, {_fmt(hi) if hi is not None else '>'}] | "
            + (f"{req['mass']['total_kg']:.1f} kg |" if req.get("mass") else " |")
        )
    lines += ["", "![Map](plots/design_map.png)", "", "![Curves](plots/design_curve.png)", ""]
    for g in m["results"]:
        lines += [f"### {_short(m['variable'])} = {_fmt(g['map_value'])}", "", _answer(design, g), ""]
        lines += _candidate_table(sorted(g["candidates"], key=lambda r: r["value"]), design) + [""]
    return lines


def _ranking_markdown(design: Mapping) -> list[str]:
    """The result of ranking given candidates: the best, those meeting the target, and each candidate's P with its
    paired difference to the best."""
    best = design["best"]
    lines = [
        f"Best: **{_fmt(best['value'])}**, P = {best['p']:.4f} [{best['ci95'][0]:.4f}, {best['ci95'][1]:.4f}]."
        f" Meeting the target at {design['confidence']:.0%}: "
        f"{', '.join(map(_fmt, design['meeting_target'])) or 'none'}.",
        "",
        "![Ranking](plots/design_ranking.png)",
        "",
        "| candidate | P | 95% interval | difference to the best (paired, 95%) | meets |",
        "| --- | ---: | --- | --- | :---: |",
    ]
    for r in design["candidates"]:
        vs = r["vs_best"]
        diff = "" if vs is None else f"{vs['diff']:+.4f} [{vs['ci95'][0]:+.4f}, {vs['ci95'][1]:+.4f}]"
        lines.append(
            f"| {_fmt(r['value'])} | {r['p']:.4f} | [{r['ci95'][0]:.4f}, {r['ci95'][1]:.4f}] | {diff} | "
            f"{'yes' if r['meets_target'] else ''} |"
        )
    lines.append("")
    return lines


def _method_markdown(design: Mapping, run: Mapping) -> list[str]:
    """The closing sections: how the answer was found (with the count of missions that did worse with more of the
    lever, for a search) and the provenance."""
    worse = design.get("missions_worse_with_more") or sum(
        g.get("missions_worse_with_more", 0) for g in design.get("map", {}).get("results", [])
    )
    return [
        "## How it was found",
        "",
        METHOD,
        "",
        f"Missions that did worse with more of the lever: {worse}." if "map" in design or "required" in design else "",
        "",
        "## Provenance",
        "",
        f"Code revision `{run.get('code_revision')}`; each candidate's run directory "
        "(with its own run.json: config, versions, command) is listed in `designs.parquet` and `summary.json`.",
        "",
    ]


def markdown(summary: Mapping) -> str:
    """The design search's report (report.md): what was searched and what it took, the answer (a map's contour,
    a search's required value, or a ranking), the local sensitivities, the method and the provenance."""
    design = summary["design"]
    run = summary["run"]
    lever = _short(design["variable"])
    lines = [
        f"# What it takes: {lever} for P({design['goal']}) >= {design['target']}",
        "",
        f"Design search `{run['name']}` on model `{run['model']}`: {design['missions_per_candidate']:,} missions "
        f"per candidate (seed {run['seed']}, sampler {run['sampler']}, precision {run['precision']}), "
        f"{design['candidates_evaluated']} candidates, {design['missions']:,} missions, {design['seconds']:.0f} s.",
        "",
    ]
    if "map" in design:
        lines += _map_markdown(design, lever)
    elif "required" in design:
        lines += [_answer(design, design), "", "![P against the lever](plots/design_curve.png)", ""]
        lines += _candidate_table(design["candidates"], design) + [""]
    else:
        lines += _ranking_markdown(design)
    if design.get("gradients"):
        lines += gradients_markdown(design["gradients"])
    lines += _method_markdown(design, run)
    return "\n".join(lines)


def gradients_markdown(grad: Mapping) -> list[str]:
    """Local design sensitivities at the recommended design (:mod:`campaign.gradients`)."""
    variables = {v["name"]: v for v in grad["variables"]}
    units = {m["name"]: m["unit"] for m in grad["metrics"]}
    lines = [
        "## Local sensitivities at the answer",
        "",
        f"On {grad['missions']['count']:,} of its missions, in {grad['precision']}. `jax.grad`: the mean of every "
        "mission's own derivative, reported where it agrees with the finite difference; otherwise the central "
        "finite difference on the same missions (a flag, a count, or a metric whose missions jump as the "
        "design moves: the hour a rover dies moves, and every state freezes there). campaign/gradients.py.",
        "",
        "| change | metric | effect (SE) | method | pathwise | missions whose path changes |",
        "| --- | --- | ---: | --- | ---: | ---: |",
    ]
    for s in grad["sensitivities"]:
        v = variables[s["variable"]]
        per = s["per"]
        unit = "" if units.get(s["metric"]) in (None, "", "1") else f" {units[s['metric']]}"
        effect = "n/a" if s["derivative"] is None else f"{s['derivative'] * per:+.3g}{unit} ({s['se'] * per:.2g})"
        path = s["pathwise"]["derivative"] * per if s.get("pathwise") else None
        lines.append(
            f"| +{per:g} {v['unit']} of {_short(v['name'])} | {s['metric']} | {effect} | {s['method']} | "
            f"{'' if path is None else format(path, '+.3g')} | {s['path_changes']:,} |"
        )
    return lines + [""]


# ================================================================================================== entry
def write_design_report(root: Location, summary: Mapping, mass_of=None, log: Callable[[str], None] = print) -> None:
    """Write ``summary.json``, ``report.md`` and the plots of a design search into ``root``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    design = summary["design"]
    searched = "required" in design or ("map" in design and "required" in design["map"]["results"][0])
    plots: dict[str, Callable[[Path], None]] = {}
    if searched:
        plots["design_curve"] = lambda f: plot_curve(design, f)
        if "map" in design:
            plots["design_map"] = lambda f: plot_map(design, mass_of, f)
    elif "map" not in design:  # a ranking per map value is left to the tables
        plots["design_ranking"] = lambda f: plot_ranking(design, f)
    written, figures = {}, {}
    with tempfile.TemporaryDirectory(prefix="lupex-design-") as scratch:
        for name, plot in plots.items():
            file = Path(scratch) / f"{name}.png"
            plot(file)
            figures[name] = file.read_bytes()
            (root / PLOTS_DIR / f"{name}.png").write_bytes(figures[name])
            written[name] = f"{PLOTS_DIR}/{name}.png"
    full = {**summary, "report": {"plots": written, "markdown": "report.md", "html": "report.html"}}
    (root / "summary.json").write_bytes((json.dumps(full, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())
    (root / "report.md").write_bytes(markdown(full).encode())
    from .report import write_design_html

    write_design_html(full, root / "report.html", figures)
    log(f"Report: {root / 'report.html'} and report.md ({len(written)} plots)")
