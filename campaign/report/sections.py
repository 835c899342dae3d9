"""The sections of ``report.html``, in the order a reader asks: how likely (the headline), why it fails, when,
where it lands, what drives it, what it takes, then the trade study of a sweep, the metrics, convergence and
provenance.

Each section is built by a function ``builder(ctx: Context) -> Section | None`` (None: nothing to say for this
run) listed in :data:`BUILDERS`. Another module adds its own with one call, e.g. a design search::

    from campaign import report
    report.add_section(what_it_takes_from_my_search, title="What it takes")  # replaces the placeholder

``add_section(builder, before="Convergence")`` inserts a new one before a named section instead.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .. import analysis
from .html import Figure, Section, esc, inline, table


@dataclass(frozen=True)
class Context:
    """What a section builder can read: the full ``summary`` (as in summary.json), the drawn ``figures`` by plot
    name (PNG bytes), the reasons plots were ``skipped``, each run's ``run_info`` (its run.json) and the links to
    the runs' own reports (``job_links``, for a sweep)."""

    summary: Mapping
    figures: Mapping[str, bytes] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    run_info: tuple[Mapping, ...] = ()
    job_links: Mapping[str, str] = field(default_factory=dict)

    @property
    def sweep(self) -> bool:
        return "sweep" in self.summary["run"]

    def figure(self, name: str, caption: str, alt: str = "") -> str:
        """The plot ``name`` as an embedded figure with its caption ("" when it was not drawn: the section's text
        says what there is to say; :meth:`not_drawn` gives the plot's reason where that helps)."""
        return Figure(self.figures[name], caption, alt).html() if name in self.figures else ""

    def not_drawn(self, name: str, what: str) -> str:
        return (
            f'<p class="note">{esc(what)}: not drawn ({inline(self.skipped[name])}).</p>'
            if name in self.skipped
            else ""
        )


Builder = Callable[[Context], "Section | None"]


# ---------------------------------------------------------------------------------------------- helpers
def _p(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.4f}" if x == 0 or abs(x) >= 1e-3 else f"{x:.1e}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if x >= 0.001 else f"{100 * x:.2g}%"


def _ci(s: Mapping) -> str:
    return f"[{_p(s['ci95'][0])}, {_p(s['ci95'][1])}]"


def _method(s: Mapping) -> str:
    name = s.get("interval", "")
    if name.startswith("confidence sequence"):
        return "confidence sequence"
    return {
        "wilson": "Wilson",
        analysis.KORN_GRAUBARD: "Korn-Graubard over the epistemic draws",
        analysis.KORN_GRAUBARD_BLOCKS: "Korn-Graubard over the Saltelli blocks",
    }.get(name, name)


def _distinct(summary: Mapping) -> list[str]:
    same = summary.get("report", {}).get("same_as", {})
    return [f for f in [*summary["goals"], *summary["phases"]] if f not in same]


def _card(name: str, s: Mapping, goal: bool, doc: str) -> str:
    band = (s.get("epistemic") or {}).get("band")
    band_html = (
        f'<div class="band">P across states of knowledge, 5-95%: [{_p(band[0])}, {_p(band[1])}]</div>' if band else ""
    )
    return (
        f'<div class="card{" goal" if goal else ""}"><div class="name">{"Goal" if goal else "Phase"}: '
        f"<code>{esc(name)}</code>{f' &mdash; {esc(doc)}' if doc else ''}</div>"
        f'<div class="p">{_p(s["p"])}</div><div class="ci">95% interval {_ci(s)} ({esc(_method(s))})</div>'
        f'{band_html}<div class="band">{s["successes"]:,} of {s["n"]:,} missions</div></div>'
    )


def _prob_table(items: Mapping[str, Mapping], label: str = "") -> str:
    band = any("epistemic" in s for s in items.values())
    header = (
        [label, "P", "95% interval", "method"]
        + (["P across states of knowledge, 5-95%"] if band else [])
        + ["successes / n"]
    )
    rows = []
    for name, s in items.items():
        row = [f"`{name}`", _p(s["p"]), _ci(s), _method(s)]
        if band:
            e = s.get("epistemic") or {}
            row.append(f"[{_p(e['band'][0])}, {_p(e['band'][1])}]" if e.get("band") else e.get("note", ""))
        rows.append(row + [f"{s['successes']:,} / {s['n']:,}"])
    return table(header, rows, [False, True, True, False] + ([False] if band else []) + [True])


def _design_sentence(summary: Mapping) -> str:
    design = summary.get("sample_design", {})
    if design.get("blocks"):
        return (
            f"Intervals are 95%, Korn-Graubard over {design['blocks']:,} Saltelli blocks of "
            f"{design['missions_per_block']:,} missions (rows of one block share its base points)."
        )
    if design.get("draws"):
        return (
            f"Intervals are 95% and valid for the design: {len(design['epistemic_inputs'])} epistemic inputs "
            f"are drawn once per {design['missions_per_draw']:,} missions ({design['draws']:,} draws), so "
            "missions of one draw share a state of knowledge and each interval is Korn-Graubard's over the "
            "draws. Beside it, the band of P across states of knowledge (5-95%, each draw's binomial noise "
            "removed) says how uncertain the probability itself is."
        )
    return (
        "Intervals are 95%. Every input is aleatory: missions are independent and probabilities carry "
        "Wilson's interval."
    )


# ---------------------------------------------------------------------------------------------- sections
def _headline_warnings(s: Mapping) -> list[str]:
    """The warnings atop the headline: runs without a manifest (incomplete) and the sample design's warning."""
    parts = []
    if s["report"].get("incomplete_runs"):
        parts.append(
            '<p class="warn"><strong>Incomplete:</strong> no manifest.json in '
            + ", ".join(f"<code>{esc(r)}</code>" for r in s["report"]["incomplete_runs"])
            + "; these statistics cover only the shards written so far.</p>"
        )
    if s.get("sample_design", {}).get("warning"):
        parts.append(f'<p class="warn"><strong>Warning:</strong> {esc(s["sample_design"]["warning"])}.</p>')
    return parts


def _sweep_headline(ctx: Context) -> list[str]:
    """A sweep's headline: each design's P with its 95% interval (linked to its own report) and the trade
    figure."""
    s = ctx.summary
    parts = []
    trade = s.get("trade") or {}
    flags = _distinct(s)
    rows = [
        [
            f"[{d['label']}]({ctx.job_links[d['job']]})" if d["job"] in ctx.job_links else d["label"],
            *(f"{_p(d['flags'][f]['p'])} {_ci(d['flags'][f])}" for f in flags),
        ]
        for d in trade.get("designs", [])
    ]
    parts.append(
        f"<p>{len(s['run']['jobs'])} designs, {s['missions']:,} missions in all; every design ran "
        "the same sampled missions (common random numbers). P with its 95% interval:</p>"
    )
    parts.append(table(["design (its own report)", *(f"`{f}`" for f in flags)], rows, [False] + [True] * len(flags)))
    parts.append(
        ctx.figure(
            "trade",
            "Left: P against the design value, with its 95% interval as a band. Right: each design "
            "against the first on the same missions: the paired difference and its 95% band, much narrower than "
            "the designs' own intervals because the common scenarios cancel.",
        )
    )
    return parts


def headline(ctx: Context) -> Section:
    """The answer first: each goal's P (and the mission's success) with its valid interval and epistemic band."""
    s = ctx.summary
    docs = s.get("report", {}).get("docs", {})
    same = s.get("report", {}).get("same_as", {})
    parts = _headline_warnings(s)
    if ctx.sweep:
        parts += _sweep_headline(ctx)
        return Section("Headline", "".join(parts), anchor="headline")
    shown = [f for f in s["goals"] if f not in same] or list(s["phases"])[-1:]
    if s["goals"] and s["phases"] and list(s["phases"])[-1] not in same:
        shown.append(list(s["phases"])[-1])
    cards = "".join(_card(f, {**s["phases"], **s["goals"]}[f], f in s["goals"], docs.get(f, "")) for f in shown)
    parts.append(f'<div class="cards">{cards}</div>')
    parts.append(f"<p>{esc(_design_sentence(s))}</p>")
    if same:
        parts.append(
            "<p class=note>"
            + "; ".join(
                f"<code>{esc(a)}</code> is the same flag as <code>{esc(b)}</code> in every mission"
                for a, b in same.items()
            )
            + ".</p>"
        )
    if s.get("ascent_reliability"):  # the launch prior in use (docs/priors.md)
        parts.append(f"<p class=note>{inline(analysis.format_ascent_reliability(s['ascent_reliability']))}</p>")
    if s.get("mass"):  # a rover: what this design weighs (campaign/mass.py)
        parts.append(
            f"<p class=note>{esc(analysis.summary.format_mass(s['mass']))} (conf/mass/; the default design "
            "weighs the published ~350 kg).</p>"
        )
    if s.get("stop"):
        parts.append(
            f"<p>{esc(analysis.summary.format_stop(s['stop']))}. The intervals are those of the "
            "confidence sequence, valid although the campaign's length depended on its results.</p>"
        )
    if len(_distinct(s)) > 1:
        parts.append(
            ctx.figure(
                "headline",
                "Every phase and goal: the estimate, its 95% interval (thick) and, where epistemic inputs "
                "vary, the 5-95% range of P across states of knowledge (thin).",
            )
        )
    return Section("Headline", "".join(parts), anchor="headline")


def _sweep_failures(ctx: Context) -> Section | None:
    """A sweep's "Why it fails": the share of each design's missions lost first to each cause, with its interval
    (None when no design lost a mission)."""
    designs = (ctx.summary.get("trade") or {}).get("designs", [])
    causes = sorted(
        {c for d in designs for c in d.get("failures", {})},
        key=lambda c: -max(d["failures"].get(c, {}).get("p", 0) for d in designs),
    )
    if not causes:
        return None
    rows = [
        [
            f"`{c}`",
            *(f"{_p(d['failures'][c]['p'])} {_ci(d['failures'][c])}" if c in d["failures"] else "0" for d in designs),
        ]
        for c in causes
    ]
    return Section(
        "Why it fails",
        "<p>Share of each design's missions lost first to each cause, with its 95% "
        "interval:</p>" + table(["cause", *(d["label"] for d in designs)], rows, [False] + [True] * len(designs)),
    )


def _failures_lead(pareto: Mapping) -> str:
    """The opening paragraph of "Why it fails": how many missions failed and the three largest first causes."""
    top = pareto["by_cause"][:3]
    return (
        f"<p>{pareto['failures']:,} of {pareto['missions']:,} missions failed "
        f"({_pct(pareto['failures'] / pareto['missions'])}). "
        "The largest first causes: "
        + "; ".join(
            f"<strong>{esc(c['outcome'].replace('_', ' '))}</strong> ({esc(c['phase'])}: {_pct(c['p'])} of "
            f"missions, {100 * c['successes'] / pareto['failures']:.0f}% of failures)"
            for c in top
        )
        + ".</p>"
    )


def _phase_rows(pareto: Mapping, conditional: Mapping) -> list[list[str]]:
    """The rows of the "By phase" table: each phase's share of missions lost there, its interval and count, and
    the phase's probability given the previous one."""
    phase_rows = []
    for b in pareto["by_phase"]:
        cond = next((v for k, v in conditional.items() if k.startswith(b["phase"])), None)
        phase_rows.append(
            [
                b["phase"],
                _p(b["p"]),
                _ci(b),
                f"{b['successes']:,}",
                f"{_p(cond['p'])} {_ci(cond)}" if cond else "(first phase)",
            ]
        )
    return phase_rows


def why_it_fails(ctx: Context) -> Section | None:
    """The failure Pareto by phase and cause, and each phase given the previous one."""
    s = ctx.summary
    pareto = s["pareto"]
    if ctx.sweep:
        return _sweep_failures(ctx)
    if not pareto["by_cause"]:
        return Section("Why it fails", f"<p>No mission failed ({pareto['missions']:,} missions).</p>")
    conditional = {k.split(" | ")[0]: v for k, v in s.get("conditional", {}).items()}
    body = _failures_lead(pareto) + ctx.figure(
        "failure_pareto",
        "First failure of each mission by cause, largest first, coloured by phase (share of all "
        "missions with its 95% interval; the labels give the count and the cumulative share of failures).",
    )
    body += "<h3>By phase</h3>" + table(
        ["phase", "share of missions lost there", "95% interval", "missions", "P(phase ok | previous ok)"],
        _phase_rows(pareto, conditional),
        [False, True, True, True, True],
    )
    body += "<h3>By cause</h3>" + table(
        ["phase", "cause", "share of missions", "95% interval", "missions", "cumulative share of failures"],
        [
            [
                c["phase"],
                f"`{c['outcome']}`",
                _p(c["p"]),
                _ci(c),
                f"{c['successes']:,}",
                f"{100 * c['cumulative_share_of_failures']:.1f}%",
            ]
            for c in pareto["by_cause"]
        ],
        [False, False, True, True, True, True],
    )
    if conditional:
        body += "<h3>Each phase given the previous one</h3>" + _prob_table(s["conditional"])
    return Section("Why it fails", body)


def landing_record(ctx: Context) -> Section | None:
    """The landing by the physics alone beside the landing with the record-based unmodelled-fault term: both
    probabilities with their intervals, the losses by source and cause, and which source drives the loss."""
    d = ctx.summary.get("landing_record")
    if ctx.sweep or not d:
        return None
    given = f"`{d['given']}`" if d["given"] else "reaching PDI"
    lines = analysis.format_landing_record(d)
    body = _prob_table(
        {
            f"physics only ({d['physics']['column']})": d["physics"],
            f"with the record-based term ({d['with_record']['column']})": d["with_record"],
        },
        f"P(safe landing | {given})",
    )
    if d["causes"]:
        body += table(
            ["source", "cause", "landings lost", "share of landing losses"],
            [
                [
                    "physics" if c["source"] == "physics" else "record-based term",
                    f"`{c['cause']}`",
                    f"{c['missions']:,}",
                    f"{100 * c['share_of_losses']:.1f}%",
                ]
                for c in d["causes"]
            ],
            [False, False, True, True],
        )
    body += "".join(f"<p>{inline(line)}</p>" for line in lines[1:])
    body += (
        '<p class="note">The record-based term carries the faults of the 2019-2025 landing record that no modelled '
        "dispersion produces (software, procedure); it only turns a landing the physics made into a loss, so the "
        "physics causes are the same with it on and off (docs/priors.md; "
        "<code>mission.landing.unmodelled_fault_term=false</code> turns it off).</p>"
    )
    return Section("Landing: physics and the record", body, anchor="landing-record")


def _in_darkness(dates: Mapping, periods: list, slack_days: float = 1.0) -> float:
    """The share of surface failures whose day overlaps a darkness period or the ``slack_days`` after it."""
    counts = np.sum([np.asarray(c) for c in dates["failures"].values()], axis=0)
    days = np.asarray(dates["days"])
    near = np.zeros(days.size, dtype=bool)
    for a, b in periods:
        near |= (days + 1 > a) & (days < b + slack_days)
    total = counts.sum()
    return float(counts[near].sum() / total) if total else math.nan


def _darkness_lead(dates: Mapping | None, dark: Mapping | str | None) -> list[str]:
    """The opening of "When": the share of surface failures in or just after a darkness at the site (with the
    number and longest of the darkness periods), or why there is no darkness shading."""
    if dates and isinstance(dark, Mapping) and dates["failed"]:
        share = _in_darkness(dates, dark["periods"])
        longest = max((b - a for a, b in dark["periods"]), default=0.0)
        return [
            f"<p>Of the {dates['landed']:,} rovers that reached the surface, {dates['failed']:,} failed "
            f"there. <strong>{_pct(share)} of those failures fall in a darkness at the site or the day "
            f"after it</strong>; the site has {len(dark['periods'])} darkness periods between the opening "
            f"of the landing window ({esc(dark['window_start_utc'])} UTC) and the end of the last possible "
            f"stay, the longest {24 * longest:.0f} h.</p>"
        ]
    if isinstance(dark, str) and dates:
        return [f'<p class="note">No darkness shading: {esc(dark)}.</p>']
    return []


def _survival_since_landing(ctx: Context) -> list[str]:
    """The "Survival since landing" part of "When": each curve's S(t) with its interval at four marks, and the
    survival figure (nothing without a survival curve)."""
    surv = ctx.summary.get("survival")
    if not surv:
        return []
    parts = []
    days = surv["days"]
    marks = sorted({days[round(f * (len(days) - 1))] for f in (0.25, 0.5, 0.75, 1.0)})
    rows = [
        [
            {"all": "all missions", "surface": "missions that reached the surface"}.get(label, label),
            f"{c['n']:,}",
            f"{c['events']:,}",
            *(
                f"{_p(c['survival'][days.index(d)])} [{_p(c['lower'][days.index(d)])}, {_p(c['upper'][days.index(d)])}]"
                for d in marks
            ),
        ]
        for label, c in surv["curves"].items()
    ]
    parts.append(
        "<h3>Survival since landing</h3>"
        + table(
            ["curve", "n", "failures", *(f"S({d:g} {surv['unit']})" for d in marks)],
            rows,
            [False, True, True] + [True] * len(marks),
        )
    )
    parts.append(
        ctx.figure(
            "survival",
            "P(operating at day t on the surface), Kaplan-Meier with its 95% band "
            "(Greenwood, log-log); a mission that completes its stay is censored there.",
        )
    )
    return parts


def when(ctx: Context) -> Section | None:
    """When rovers fail: the calendar with the site's darkness, the survival curve, the night energy margin."""
    s = ctx.summary
    if ctx.sweep or not (s.get("survival") or s.get("failure_dates")):
        return None
    dates, dark = s.get("failure_dates"), s.get("darkness")
    parts = _darkness_lead(dates, dark)
    parts.append(
        ctx.figure(
            "failure_dates",
            "Above: the share of rovers on the surface that have not failed by each date (95% "
            "interval), and the share landed by then (dashed). Below: surface failures per day by cause. Grey: "
            + (
                f"darkness, {dark['definition']}; each mission's own horizon error and landing offset shift its nights "
                "a little."
                if isinstance(dark, Mapping)
                else "no darkness computed."
            ),
        )
    )
    parts += _survival_since_landing(ctx)
    if "night_energy" in ctx.figures:
        parts.append(
            "<h3>Energy through the nights</h3>"
            + ctx.figure(
                "night_energy",
                "The worst-night energy margin of each mission that reached a night: below zero, the "
                "battery ran out before the Sun returned.",
            )
        )
    return Section("When", "".join(parts))


def where_it_lands(ctx: Context) -> Section | None:
    """The landing dispersion: the safe-landing core and the outliers."""
    s = ctx.summary
    d = s.get("landing")
    if ctx.sweep or not d:
        return None
    e = d["ellipse99"]
    miss = d["miss_distance_m"]
    body = (
        f"<p>Safe landings scatter in a 99% ellipse of <strong>{e['semi_major_m']:.0f} m x "
        f"{e['semi_minor_m']:.0f} m</strong> about ({e['centre_m'][0]:.1f}, {e['centre_m'][1]:.1f}) m (normal "
        f"fit to the {e['n']:,} {esc(e['of'])}; it holds {100 * e['fraction_inside']:.1f}% of them). The miss "
        f"distance of every touchdown: median {miss['p50']:.1f} m, 90th percentile {miss['p90']:.0f} m, "
        f"99th percentile {miss['p99']:,.0f} m: the tail is the faults on the way down, shown on the right on "
        "a log scale.</p>"
    )
    rows = [
        [name.replace("_", " "), f"{v['p50']:.4g}", f"{v['p90']:.4g}", f"{v['p99']:.4g}"]
        for name, v in d.items()
        if name != "ellipse99"
    ]
    body += ctx.figure(
        "landing_dispersion",
        "Left: the safe-landing core in metres, at a scale set by the 99% ellipse of safe "
        "landings, with the failed touchdowns inside the frame; the title counts the touchdowns beyond it. Right: "
        "every touchdown's miss distance on a log scale, by what happened on the way down (altimeter fault, "
        "engine out, hazard divert), failed landings marked by cause.",
    )
    body += table(["touchdown", "median", "90th percentile", "99th percentile"], rows, [False, True, True, True])
    return Section("Where it lands", body)


def _goal_drivers_html(sens: Mapping, t: str) -> str:
    """The HTML for one goal or phase ``t``: a table of the inputs that matter to it (level, first-order index with
    its 95% interval, rank correlation), or a line saying none does."""
    entry = sens["targets"].get(t, {})
    ranked = analysis.influential(entry)
    if not ranked:
        return (
            f"<p><code>{esc(t)}</code>: no input matters by that test"
            + (f" ({esc(entry['note'])})" if entry.get("note") else "")
            + ".</p>"
        )
    return f"<h3><code>{esc(t)}</code> (n={entry['n']:,})</h3>" + table(
        ["input", "level", "first-order index", "95% interval", "rank correlation"],
        [
            [
                f"`{i}`",
                sens["inputs"][i]["level"],
                f"{v['first_order']:.3f}",
                f"[{v['first_order'] - analysis.Z95 * v['first_order_se']:.3f}, "
                f"{v['first_order'] + analysis.Z95 * v['first_order_se']:.3f}]",
                f"{v['spearman']:+.2f}",
            ]
            for i, v in ranked
        ],
        [False, False, True, True, True],
    )


def _share_matters(v: Mapping) -> bool:
    """Whether an epistemic input's variance share is at least the minimum share and clear of zero."""
    return (v["share"] or 0) >= analysis.MIN_SHARE and (v["share"] or 0) - analysis.Z95 * (v["se"] or 0) > 0


def _pin_down_first_html(ctx: Context, targets: list[str]) -> list[str]:
    """The "What to pin down first" part: the spread of each target's P across states of knowledge and the share
    of it each epistemic input explains (nothing if no target has variance shares)."""
    epi = ctx.summary["epistemic"]
    shared = [(n, e) for n, e in epi.get("flags", {}).items() if n in targets and e.get("variance_shares")]
    if not shared:
        return []
    inputs = sorted(
        (i for i in epi["epistemic_inputs"] if any(_share_matters(e["variance_shares"][i]) for _, e in shared)),
        key=lambda i: -max((e["variance_shares"][i]["share"] or 0) for _, e in shared),
    )
    body = [
        "<h3>What to pin down first</h3><p>How uncertain each probability itself is, across states of "
        "knowledge, and the share of that spread each epistemic input explains alone (+- one bootstrap "
        "standard error; only shares clear of zero): learning the input with the largest share narrows "
        "P most.</p>"
    ]
    rows = [
        [
            "spread of P (sd across states of knowledge)",
            *(f"{e['sd_epistemic']:.3f} (binomial noise per draw {e['sd_binomial_noise']:.3f})" for _, e in shared),
        ]
    ]
    rows += [
        [
            f"`{i}`",
            *(
                f"{e['variance_shares'][i]['share']:.2f} +- {e['variance_shares'][i]['se']:.2f}"
                if _share_matters(e["variance_shares"][i])
                else ""
                for _, e in shared
            ),
        ]
        for i in inputs
    ]
    body.append(table(["", *(f"`{n}`" for n, _ in shared)], rows, [False] + [True] * len(shared)))
    if not inputs:
        body.append(
            "<p>No epistemic input explains a share clear of zero: the spread of P across states of "
            "knowledge is too small beside each draw's binomial noise to apportion (more missions per "
            "draw, <code>run.inner_samples</code>, would resolve it).</p>"
        )
    body.append(
        ctx.figure(
            "epistemic",
            "Each epistemic draw's estimate of P (a state of knowledge), the "
            "marginal P and the 5-95% band of P with the binomial noise removed.",
        )
    )
    return body


def _metric_drivers_html(s: Mapping) -> list[str]:
    """The collapsed "Metrics" part: the top three inputs that drive each metric, the metrics that merely restate
    an input and those no input explains (nothing if there are no metrics)."""
    sens = s["sensitivity"]
    metric_rows, echoes, quiet = [], [], []
    for t in s["metrics"]:
        entry = sens["targets"].get(t, {})
        echo = analysis.restated_input(entry)
        ranked = analysis.influential(entry)
        if echo:
            echoes.append(f"`{t}` (`{echo}`)")
        elif not ranked:
            quiet.append(f"`{t}`")
        else:
            metric_rows.append(
                [f"`{t}`", f"{entry['n']:,}", ", ".join(f"`{i}` {v['first_order']:.2f}" for i, v in ranked[:3])]
            )
    if not (metric_rows or echoes or quiet):
        return []
    extra = ""
    if echoes:
        extra += f"<p>Restating one input (left out): {inline(', '.join(echoes))}.</p>"
    if quiet:
        extra += f"<p>No input explains {100 * analysis.MIN_SHARE:g}% or more of: {inline(', '.join(quiet))}.</p>"
    return [
        "<details><summary>Metrics: the inputs that drive each (top three, first-order index)</summary>"
        + table(["metric", "n", "inputs that matter"], metric_rows, [False, True, False])
        + extra
        + "</details>"
    ]


def what_drives_it(ctx: Context) -> Section | None:
    """Sensitivity of the goals to the inputs that matter, with intervals; what to learn first."""
    s = ctx.summary
    sens = s["sensitivity"]
    if ctx.sweep or not sens["inputs"]:
        return None
    same = s.get("report", {}).get("same_as", {})
    targets = [t for t in [*s["goals"], *list(s["phases"])[-1:]] if t not in same]
    body = [
        f"<p>The share of each outcome's variance that an input explains alone (first-order index, estimated "
        "from the sample itself, with its 95% interval) and the direction of its effect (Spearman's rank "
        f"correlation). Only inputs that explain at least {100 * analysis.MIN_SHARE:g}% with an interval "
        "clear of zero are listed.</p>",
        ctx.figure(
            "sensitivity",
            "The inputs that matter to each goal, by first-order index with its 95% interval; "
            "blue raises the probability, red lowers it, grey has no monotone effect.",
        ),
    ]
    body += [_goal_drivers_html(sens, t) for t in dict.fromkeys(targets)]
    body += _pin_down_first_html(ctx, targets)
    body += _metric_drivers_html(s)
    salt = s.get("saltelli")
    if salt:
        from .html import markdown_to_html
        from .markdown import _saltelli_markdown

        body.append(
            "<h3>Total-effect indices (Saltelli design)</h3>"
            + markdown_to_html("\n".join(_saltelli_markdown(salt)[2:]).replace("**", ""))
        )
    return Section("What drives it", "".join(body))


def is_design_search(summary: Mapping) -> bool:
    """Whether ``summary`` is a design search's (:mod:`campaign.design`: its ``design`` section names a goal and a
    target), not a campaign's (whose ``sample_design`` says how the intervals were made)."""
    design = summary.get("design") or {}
    return "goal" in design and "target" in design


def what_it_takes(ctx: Context) -> Section | None:
    """HOOK: "What it takes", the design value needed for P(goal) >= target, with its mass
    (:mod:`campaign.design`). A campaign's own report has nothing here (None); for a design search's summary it is
    the search's report (:func:`campaign.design_report.markdown`) with its figures. Another builder replaces it
    by one call: ``campaign.report.add_section(builder, title="What it takes")``."""
    if not is_design_search(ctx.summary):
        return None
    from ..design_report import markdown as design_markdown
    from .html import markdown_to_html

    plots = ctx.summary.get("report", {}).get("plots", {})
    images = {path: ctx.figures[name] for name, path in plots.items() if name in ctx.figures}
    text = "\n".join(line for line in design_markdown(ctx.summary).splitlines() if not line.startswith("# "))
    return Section("What it takes", markdown_to_html(text, images))


def trade_study(ctx: Context) -> Section | None:
    """A sweep: paired differences between neighbouring designs."""
    trade = ctx.summary.get("trade")
    if not trade:
        return None
    flags = _distinct(ctx.summary)
    rows = [
        [
            f"{pr['first']} -> {pr['second']}",
            f"{pr['missions']:,}",
            *(
                f"{pr['flags'][f]['diff']:+.4f} [{pr['flags'][f]['ci95'][0] or 0:+.4f}, "
                f"{pr['flags'][f]['ci95'][1] or 0:+.4f}]"
                for f in flags
            ),
        ]
        for pr in trade["paired_differences"]
    ]
    body = (
        f"<p>Swept: {inline(', '.join(f'`{k}`' for k in trade['swept_keys']) or '(no config difference)')}. "
        "Each pair of neighbouring designs is compared mission by mission (the same sampled scenario in both), "
        "so the difference is known far better than either probability.</p>"
        + table(
            ["pair (jobs)", "missions", *(f"difference in `{f}` [95%]" for f in flags)],
            rows,
            [False, True] + [True] * len(flags),
        )
    )
    return Section("Trade study", body)


def metrics(ctx: Context) -> Section | None:
    """Quantiles of every metric where it is defined."""
    m = ctx.summary["metrics"]
    if not m or ctx.sweep:
        return None
    rows = [
        [f"`{name}`", v["unit"], f"{v['n']:,}", f"{v['p05']:.4g}", f"{v['p50']:.4g}", f"{v['p95']:.4g}"]
        for name, v in m.items()
    ]
    return Section(
        "Metrics",
        "<details><summary>Every metric over the missions where it is defined: 5th "
        f"percentile, median, 95th ({len(m)} metrics)</summary>"
        + table(["metric", "unit", "n", "p05", "median", "p95"], rows, [False, False, True, True, True, True])
        + "</details>",
    )


def convergence(ctx: Context) -> Section | None:
    """How the estimates settled with the number of missions."""
    conv = ctx.summary["convergence"]
    if not conv.get("flags") or ctx.sweep:  # a sweep's union mixes designs: each run's own report has its own
        return None
    key = (
        "final_half_width_clustered"
        if any("final_half_width_clustered" in v for v in conv["flags"].values())
        else "final_half_width"
    )
    body = (
        "<p>Half-width of the 95% interval at the full sample"
        + (
            ", clustered by epistemic draw (the valid one; it shrinks with the number of draws)"
            if key.endswith("clustered")
            else ""
        )
        + ": "
        + ", ".join(f"<code>{esc(k)}</code> {_p(v.get(key))}" for k, v in conv["flags"].items())
        + ".</p>"
    )
    return Section(
        "Convergence",
        body
        + ctx.not_drawn("convergence", "Convergence plot")
        + ctx.figure(
            "convergence",
            "The running estimate of each probability against the number of missions (first N by "
            "sample index), with its valid 95% interval.",
        ),
    )


def provenance(ctx: Context) -> Section:
    """Where the numbers come from: the run(s), versions, code revision, command, configuration."""
    s, infos = ctx.summary, ctx.run_info
    run = s["run"]
    rows = []
    if ctx.sweep:
        rows.append(["sweep", f"`{run['sweep']}`"])
        rows.append(["runs", ", ".join(f"[{j}]({ctx.job_links[j]})" if j in ctx.job_links else j for j in run["jobs"])])
    for key in ("model", "samples", "seed", "sampler", "precision", "code_revision"):
        if run.get(key) is not None:
            rows.append(
                [key.replace("_", " ") + (" per design" if ctx.sweep and key == "samples" else ""), f"`{run[key]}`"]
            )
    rows.append(["missions analysed", f"{s['missions']:,}"])
    info = infos[0] if infos else {}
    if info.get("versions"):
        rows.append(["versions", ", ".join(f"{k} {v}" for k, v in sorted(info["versions"].items()))])
    if info.get("command"):
        command = info["command"]
        rows.append(["command", f"`{shlex.join(command) if isinstance(command, list) else command}`"])
    if info.get("shard_size"):
        rows.append(["shards", f"{info.get('shards', '?')} of {info['shard_size']:,} missions"])
    body = table(None, rows) + (
        "<p>The Parquet dataset (<code>samples/part-*.parquet</code>, one row per mission) is the source of truth; "
        "<code>summary.json</code> holds every number on this page, <code>report.md</code> the same report as "
        "text. <code>python -m campaign.report DIR</code> rewrites them; docs/results.md and docs/analysis.ipynb "
        "show how to analyse the dataset with pandas, polars or duckdb.</p>"
    )
    if info.get("config"):
        body += (
            "<details><summary>The composed configuration of the run"
            + (" (first design)" if ctx.sweep else "")
            + "</summary><pre>"
            + esc(json.dumps(info["config"], indent=1, sort_keys=True))
            + "</pre></details>"
        )
    return Section("Provenance", body, note=f"Report written in {s['report']['seconds']:.1f} s.")


BUILDERS: list[tuple[str, Builder]] = [
    ("Headline", headline),
    ("Why it fails", why_it_fails),
    ("Landing: physics and the record", landing_record),
    ("When", when),
    ("Where it lands", where_it_lands),
    ("What drives it", what_drives_it),
    ("What it takes", what_it_takes),
    ("Trade study", trade_study),
    ("Metrics", metrics),
    ("Convergence", convergence),
    ("Provenance", provenance),
]


def add_section(builder: Builder, title: str | None = None, before: str | None = None) -> None:
    """Register a section builder: with ``title`` naming an existing section, replace its builder (e.g. the "What
    it takes" placeholder); otherwise insert it before the section ``before`` (default: before "Metrics"), under
    ``title`` (default: the builder's name)."""
    names = [n for n, _ in BUILDERS]
    if title in names:
        BUILDERS[names.index(title)] = (title, builder)
        return
    at = names.index(before) if before in names else names.index("Metrics")
    BUILDERS.insert(at, (title or builder.__name__, builder))


def build(ctx: Context) -> list[Section]:
    """Every section that has something to say for this run, in :data:`BUILDERS` order."""
    return [section for _, b in BUILDERS if (section := b(ctx)) is not None]
