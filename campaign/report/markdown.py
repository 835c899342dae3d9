"""``report.md``: the report as Markdown, from a full summary (:func:`campaign.report.write_report`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from .. import analysis


def _p(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.4f}" if x == 0 or abs(x) >= 1e-3 else f"{x:.1e}"


def _interval_label(s: Mapping) -> str:
    name = s.get("interval", "")
    return {
        "wilson": "Wilson",
        analysis.KORN_GRAUBARD: "Korn-Graubard",
        analysis.KORN_GRAUBARD_BLOCKS: "Korn-Graubard over blocks",
    }.get(name, name)


def _prob_rows(items: Mapping[str, Mapping]) -> list[str]:
    """A table of probabilities: P, the valid 95% interval and its method, the epistemic band (where there is one)
    and the counts."""
    band = any("epistemic" in s for s in items.values())
    rows = [
        "| | P | 95% interval | method |"
        + (" P across states of knowledge, 5-95% |" if band else "")
        + " successes / n |",
        "| --- | ---: | --- | --- |" + (" --- |" if band else "") + " ---: |",
    ]
    for name, s in items.items():
        cells = [
            name.replace("|", "&#124;"),
            _p(s["p"]),
            f"[{_p(s['ci95'][0])}, {_p(s['ci95'][1])}]",
            _interval_label(s),
        ]
        if band:
            e = s.get("epistemic") or {}
            cells.append(
                f"[{_p(e['band'][0])}, {_p(e['band'][1])}] ({e['draws']:,} draws)"
                if e.get("band")
                else e.get("note", "")
            )
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
    output = (
        "each epistemic draw's probability (its binomial noise removed)"
        if salt["level"] == "epistemic"
        else "each mission's outcome"
    )
    intro = (
        f"Sampled with `sampler=saltelli`: {salt['blocks']:,} whole blocks of {rows} rows (A, B and one AB_i "
        f"per input, {salt['missions_per_block']:,} missions) over the {salt['d']} {salt['level']} inputs; the "
        f"output is {output}. S1 is the share of the output's variance an input explains alone, ST the share "
        "it explains with all its interactions (ST - S1: through interactions only); an input with ST ~ 0 can "
        "be fixed anywhere in its range. +- one standard error; every flag and metric is in summary.json "
        "(`saltelli`)."
    )
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
        lines += [
            f"**{t}** ({e['blocks']:,} blocks, sum of S1 {e['sum_first_order']:.3f}"
            + (f"; {e['note']}" if e.get("note") else "")
            + ")",
            "",
            "| input | S1 | ST | ST - S1 |",
            "| --- | ---: | ---: | ---: |",
        ]
        ranked = sorted(e["indices"].items(), key=lambda kv: -_finite(kv[1]["total"]))
        for i, v in ranked:
            lines.append(
                f"| `{i}` | {_finite(v['first_order']):.3f} +- {_finite(v['first_order_se']):.3f} | "
                f"{_finite(v['total']):.3f} +- {_finite(v['total_se']):.3f} | "
                f"{_finite(v['total']) - _finite(v['first_order']):+.3f} |"
            )
        lines.append("")
    return lines


def _sensitivity_markdown(summary: Mapping) -> list[str]:
    """The goals' (and the mission's success's) inputs that matter, in one table with intervals; then one line
    per metric with its top three, and, in a sentence each, the metrics that restate an input and those no input
    moves (:func:`campaign.analysis.influential`, :func:`campaign.analysis.restated_input`)."""
    sens = summary["sensitivity"]
    same = summary.get("report", {}).get("same_as", {})
    share = f"{100 * analysis.MIN_SHARE:g}%"
    lines = [
        "## What drives it (sensitivity)",
        "",
        "First-order index S1: the share of an output's variance the input explains alone, estimated from the "
        "sample itself (given-data, equal-count bins with an ANOVA bias correction), with its 95% interval; "
        f"rho: Spearman rank correlation (its sign is the direction). Only inputs with S1 >= {share} and an "
        "interval clear of zero are listed. Metrics with a phase condition are analysed where defined.",
        "",
    ]
    targets = [t for t in dict.fromkeys([*summary["goals"], *list(summary["phases"])[-1:]]) if t not in same]
    rows = []
    for t in targets:
        entry = sens["targets"].get(t, {})
        ranked = analysis.influential(entry)
        half = {i: analysis.Z95 * v["first_order_se"] for i, v in ranked}
        rows += [
            f"| {t} | `{i}` | {v['first_order']:.3f} | [{v['first_order'] - half[i]:.3f}, "
            f"{v['first_order'] + half[i]:.3f}] | {_finite(v['spearman']):+.2f} |"
            for i, v in ranked
        ] or [f"| {t} | (no input matters) | | | |"]
    if rows:
        lines += ["| goal | input | S1 | 95% interval | rho |", "| --- | --- | ---: | --- | ---: |", *rows, ""]
    metric_rows, echoes, quiet = [], [], []
    for t in summary["metrics"]:
        entry = sens["targets"].get(t, {})
        echo, ranked = analysis.restated_input(entry), analysis.influential(entry)
        if echo:
            echoes.append(f"`{t}` (`{echo}`)")
        elif not ranked:
            quiet.append(f"`{t}`")
        else:
            metric_rows.append(
                f"| {t} | {entry['n']:,} | " + ", ".join(f"`{i}` {v['first_order']:.2f}" for i, v in ranked[:3]) + " |"
            )
    if metric_rows:
        lines += ["| metric | n | inputs that matter (S1, top three) |", "| --- | ---: | --- |", *metric_rows, ""]
    if echoes:
        lines += [f"Restate one input (left out): {', '.join(echoes)}.", ""]
    if quiet:
        lines += [f"No input explains {share} or more of: {', '.join(quiet)}.", ""]
    return lines


def _figure(summary: Mapping, name: str, caption: str) -> list[str]:
    """The Markdown for one figure of the report: its image if drawn, why not if skipped, nothing otherwise."""
    plots, skipped = summary["report"]["plots"], summary["report"]["skipped"]
    if name in plots:
        return [f"![{caption}]({plots[name]})", ""]
    if name in skipped:
        return [f"*{caption}: not drawn ({skipped[name]}).*", ""]
    return []


def _design_markdown(design: Mapping) -> list[str]:
    """The paragraph on how the intervals were computed, from the sample design (Saltelli blocks, epistemic draws
    or independent missions), and the design's warning if it has one."""
    lines: list[str] = []
    if design.get("blocks"):
        band = (
            " (the band beside it is the 5-95% range of P across the epistemic draws, each draw's binomial noise "
            "removed)."
            if design.get("draws")
            else "."
        )
        lines += [
            (
                f"Intervals are 95%. The missions follow a Saltelli design of {design['blocks']:,} blocks of "
                f"{design['missions_per_block']:,} missions: rows of one block share its base points, so each "
                f"probability's interval is the Korn-Graubard interval over the blocks{band}"
            ),
            "",
        ]
    elif design.get("draws"):
        lines += [
            f"Intervals are 95%. {len(design['epistemic_inputs'])} epistemic inputs are drawn once per "
            f"{design['missions_per_draw']:,} missions ({design['draws']:,} draws): missions of one draw share a "
            "state of knowledge, so each probability's interval is the Korn-Graubard interval over the draws, "
            "and the band beside it is how uncertain the probability itself is (the 5-95% range of P across "
            "states of knowledge, each draw's binomial noise removed).",
            "",
        ]
    else:
        lines += [
            "Intervals are 95%. Every input is aleatory: missions are independent and probabilities carry "
            "Wilson's interval.",
            "",
        ]
    if design.get("warning"):
        lines += [f"**Warning: {design['warning']}.**", ""]
    return lines


def _intro_markdown(summary: Mapping) -> list[str]:
    """The report's opening: title, what ran, the incomplete-run notice, how intervals are computed, and the mass
    and stopping-rule notes."""
    run = summary["run"]
    lines = [f"# Campaign report: {run.get('name') or 'campaign'}", ""]
    if "sweep" in run:
        lines += [
            f"Sweep `{run['sweep']}`: {len(run['jobs'])} runs (jobs {', '.join(run['jobs'])}), "
            f"{summary['missions']:,} missions in all.",
            "",
        ]
    else:
        lines += [
            f"{summary['missions']:,} missions of model `{run.get('model')}`, sampler `{run.get('sampler')}`, "
            f"seed {run.get('seed')}, precision {run.get('precision')}, code revision "
            f"`{run.get('code_revision')}`.",
            "",
        ]
    lines += ["The same report with its figures in one file: [report.html](report.html).", ""]
    if summary["report"].get("incomplete_runs"):
        lines += [
            "**Incomplete: no manifest.json in "
            + ", ".join(f"`{r}`" for r in summary["report"]["incomplete_runs"])
            + "; these statistics cover only the shards written so far.**",
            "",
        ]
    lines += _design_markdown(summary.get("sample_design", {}))
    if summary.get("mass"):
        lines += [
            analysis.summary.format_mass(summary["mass"]) + " (conf/mass/; the default design weighs the "
            "published ~350 kg).",
            "",
        ]
    if summary.get("stop"):
        lines += [
            analysis.summary.format_stop(summary["stop"]) + ". The intervals are those of the confidence "
            "sequence, valid although the campaign's length depended on its results.",
            "",
        ]
    return lines


def _failure_causes_markdown(pareto: Mapping) -> list[str]:
    """The "Failure causes" section: the Pareto table of first-failure causes and the failure share by phase."""
    lines = ["## Failure causes (first failure of each mission)", ""]
    if pareto["by_cause"]:
        lines += [
            "| phase | cause | share of missions | 95% interval | count | cumulative share of failures |",
            "| --- | --- | ---: | --- | ---: | ---: |",
        ]
        for c in pareto["by_cause"]:
            lines.append(
                f"| {c['phase']} | {c['outcome']} | {_p(c['p'])} | [{_p(c['ci95'][0])}, "
                f"{_p(c['ci95'][1])}] | {c['successes']:,} | {100 * c['cumulative_share_of_failures']:.1f}% |"
            )
        lines += ["", "By phase: " + ", ".join(f"{b['phase']} {_p(b['p'])}" for b in pareto["by_phase"]), ""]
    else:
        lines += ["No mission failed.", ""]
    return lines


def _survival_markdown(surv: Mapping | None) -> list[str]:
    """The "Survival on the surface" section: each curve's counts and S(t) with its interval at four marks."""
    lines = ["## Survival on the surface", ""]
    if surv:
        days = surv["days"]
        marks = sorted({days[round(f * (len(days) - 1))] for f in (0.25, 0.5, 0.75, 1.0)})
        lines += [
            "| curve | n | failures | censored | " + " | ".join(f"S({d:g} {surv['unit']})" for d in marks) + " |",
            "| --- | ---: | ---: | ---: |" + " --- |" * len(marks),
        ]
        for label, c in surv["curves"].items():
            cells = [
                f"{_p(c['survival'][days.index(d)])} [{_p(c['lower'][days.index(d)])}, {_p(c['upper'][days.index(d)])}]"
                for d in marks
            ]
            lines.append(f"| {label} | {c['n']:,} | {c['events']:,} | {c['censored']:,} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _failure_dates_markdown(summary: Mapping) -> list[str]:
    """The "When rovers fail" section (only if some rover failed): the site's darkness periods and the calendar
    figure."""
    dates, dark = summary.get("failure_dates"), summary.get("darkness")
    if not (dates and dates["failed"]):
        return []
    lines = ["## When rovers fail (calendar, with the site's darkness)", ""]
    if isinstance(dark, Mapping):
        periods = ", ".join(f"days {a:.1f}-{b:.1f}" for a, b in dark["periods"])
        lines += [
            f"Days after the landing window opened ({dark['window_start_utc']} UTC). Darkness at the "
            f"site ({dark['definition']}): {periods or 'none'}.",
            "",
        ]
    elif dark:
        lines += [f"No darkness shading: {dark}.", ""]
    return lines + _figure(summary, "failure_dates", "Failures on the calendar with the site's darkness")


def _metrics_markdown(metrics: Mapping) -> list[str]:
    """The "Metrics" section: each metric's unit, count, mean and 5/50/95% quantiles."""
    lines = ["## Metrics (over the missions where each is defined)", ""]
    if metrics:
        lines += [
            "| metric | unit | n | mean | p05 | median | p95 |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, m in metrics.items():
            lines.append(
                f"| {name} | {m['unit']} | {m['n']:,} | {m['mean']:.4g} | {m['p05']:.4g} | {m['p50']:.4g} "
                f"| {m['p95']:.4g} |"
            )
        lines.append("")
    return lines


def _variance_shares_markdown(epi: Mapping) -> list[str]:
    """The "What to pin down first" subsection: each epistemic input's share of the variance of P across states of
    knowledge, largest first (nothing if no flag has variance shares)."""
    shared = [(name, e) for name, e in epi["flags"].items() if e.get("variance_shares")]
    if not shared:
        return []
    lines = [
        "### What to pin down first",
        "",
        "Share of the variance of P across states of knowledge that each epistemic input explains on "
        "its own (first-order index of P(theta) over the draws, +- one bootstrap standard error). "
        "Learning the input with the largest share narrows P most.",
        "",
    ]
    inputs = epi["epistemic_inputs"]
    lines += ["| input | " + " | ".join(name for name, _ in shared) + " |", "| --- |" + " ---: |" * len(shared)]
    for i in sorted(inputs, key=lambda i: -max(_finite(e["variance_shares"][i]["share"]) for _, e in shared)):
        lines.append(
            f"| `{i}` | "
            + " | ".join(
                f"{_finite(e['variance_shares'][i]['share']):.3f} +- {_finite(e['variance_shares'][i]['se']):.3f}"
                for _, e in shared
            )
            + " |"
        )
    lines += ["| sum | " + " | ".join(f"{e['variance_shares_sum']:.3f}" for _, e in shared) + " |", ""]
    return lines


def _epistemic_markdown(epi: Mapping) -> list[str]:
    """The "Epistemic spread" section: per flag, the marginal P, the band of P across states of knowledge, the raw
    spread of the draws and the two standard deviations, then the variance shares."""
    lines = ["## Epistemic spread", ""]
    if not epi["flags"]:
        return lines + [f"{epi.get('note', '')}.", ""]
    lines += [
        f"Inputs drawn once per {epi['inner_samples']:,} missions: "
        + ", ".join(f"`{i}`" for i in epi["epistemic_inputs"])
        + ". Each draw is a state of knowledge; "
        "its missions estimate P in that state. The band is the 5-95% range of P across states with each "
        "draw's binomial noise removed (a beta fitted by moments); the raw range of the per-draw "
        "estimates includes that noise.",
        "",
        "| | draws | marginal P [95%, Korn-Graubard] | band of P, 5-95% | raw 5-95% of draws "
        "| sd (epistemic) | sd (binomial noise) |",
        "| --- | ---: | --- | --- | --- | ---: | ---: |",
    ]
    for name, e in epi["flags"].items():
        band = e["band"].get("band")
        lines.append(
            f"| {name} | {e['draws']} | {_p(e['marginal']['p'])} [{_p(e['marginal']['ci95'][0])}, "
            f"{_p(e['marginal']['ci95'][1])}] | "
            + (f"[{_p(band[0])}, {_p(band[1])}]" if band else e["band"].get("note", "n/a"))
            + f" | [{_p(e['p05'])}, {_p(e['p95'])}] | {_p(e['sd_epistemic'])} | "
            f"{_p(e['sd_binomial_noise'])} |"
        )
    lines.append("")
    return lines + _variance_shares_markdown(epi)


def _convergence_markdown(conv: Mapping) -> list[str]:
    """The "Convergence" section: the half-width of each flag's 95% interval at the full sample (clustered by
    epistemic draw where there are draws, beside the Wilson width it would wrongly claim)."""
    lines = ["## Convergence", ""]
    if conv["flags"]:
        if any("final_half_width_clustered" in v for v in conv["flags"].values()):
            lines += [
                "Half-width of the 95% interval at the full sample, clustered by epistemic draw (the valid "
                "one; it shrinks with the number of draws): "
                + ", ".join(f"{k} {_p(v['final_half_width_clustered'])}" for k, v in conv["flags"].items())
                + ". Counting missions as independent (Wilson) would claim: "
                + ", ".join(f"{k} {_p(v['final_half_width'])}" for k, v in conv["flags"].items())
                + "."
            ]
        else:
            lines += [
                "Half-width of the 95% Wilson interval at the full sample: "
                + ", ".join(f"{k} {_p(v['final_half_width'])}" for k, v in conv["flags"].items())
                + "."
            ]
        lines.append("")
    return lines


def _trade_markdown(trade: Mapping | None) -> list[str]:
    """The "Trade study" section: what was swept, each design's flag probabilities and the paired differences
    between neighbouring designs."""
    lines = ["## Trade study", ""]
    if not trade:
        return lines
    lines += [
        f"Swept: {', '.join(f'`{k}`' for k in trade['swept_keys']) or '(no config difference)'}. "
        "Every design ran the same sampled missions (common random numbers), so neighbouring designs are "
        "compared mission by mission.",
        "",
    ]
    flags = list(trade["designs"][0]["flags"])
    lines += ["| design | " + " | ".join(flags) + " |", "| --- |" + " --- |" * len(flags)]
    for d in trade["designs"]:
        lines.append(
            f"| {d['label']} | "
            + " | ".join(
                f"{_p(d['flags'][f]['p'])} [{_p(d['flags'][f]['ci95'][0])}, {_p(d['flags'][f]['ci95'][1])}]"
                for f in flags
            )
            + " |"
        )
    lines += [
        "",
        "| pair (jobs) | " + " | ".join(f"diff {f}" for f in flags) + " |",
        "| --- |" + " --- |" * len(flags),
    ]
    for pr in trade["paired_differences"]:
        lines.append(
            f"| {pr['first']} -> {pr['second']} | "
            + " | ".join(
                f"{pr['flags'][f]['diff']:+.4f} [{pr['flags'][f]['ci95'][0] or 0:+.4f}, "
                f"{pr['flags'][f]['ci95'][1] or 0:+.4f}]"
                for f in flags
            )
            + " |"
        )
    lines.append("")
    return lines


def _landing_record_markdown(record: Mapping | None) -> list[str]:
    """The "Landing: physics and the record" section (:func:`campaign.analysis.landing_record`): both
    probabilities with their intervals, the losses by source and cause, and which source drives them."""
    if not record:
        return []
    lines = ["## Landing: physics and the record", ""]
    given = f"`{record['given']}`" if record["given"] else "reaching PDI"
    lines += [f"P(safe landing | {given}) by the physics alone and with the record-based unmodelled-fault term:", ""]
    lines += _prob_rows(
        {
            f"physics only (`{record['physics']['column']}`)": record["physics"],
            f"with the record-based term (`{record['with_record']['column']}`)": record["with_record"],
        }
    )
    lines.append("")
    for line in analysis.format_landing_record(record)[1:]:  # the first restates the table
        lines += [line, ""]
    return lines


def markdown(summary: Mapping) -> str:
    """The human-readable report of a full summary (see :func:`write_report`)."""
    lines = _intro_markdown(summary)
    for title, key in (("Phases", "phases"), ("Goals", "goals"), ("Conditional on the previous phase", "conditional")):
        if summary[key]:
            lines += [f"## {title}", "", *_prob_rows(summary[key]), ""]
            if key == "phases" and summary.get("ascent_reliability"):
                lines += [analysis.format_ascent_reliability(summary["ascent_reliability"]), ""]
    lines += _landing_record_markdown(summary.get("landing_record"))

    def figure(name: str, caption: str) -> list[str]:
        return _figure(summary, name, caption)

    lines += figure("headline", "Headline probabilities with their intervals and epistemic bands")
    lines += _failure_causes_markdown(summary["pareto"]) + figure("failure_pareto", "Failure Pareto")
    lines += _survival_markdown(summary.get("survival")) + figure("survival", "Survival curve")
    lines += _failure_dates_markdown(summary)
    lines += _metrics_markdown(summary["metrics"])
    lines += figure("landing_dispersion", "Landing dispersion") + figure("night_energy", "Night energy margin")
    lines += _sensitivity_markdown(summary)
    lines += figure("sensitivity", "Sensitivity of the goals")
    lines += _saltelli_markdown(summary.get("saltelli"))
    lines += _epistemic_markdown(summary["epistemic"]) + figure("epistemic", "Epistemic spread")
    lines += _convergence_markdown(summary["convergence"]) + figure("convergence", "Convergence")
    lines += _trade_markdown(summary.get("trade")) + figure("trade", "Trade curve")

    plots, skipped = summary["report"]["plots"], summary["report"]["skipped"]
    lines += ["## Plots", ""]
    lines += [f"* `{p}`" for p in plots.values()]
    lines += [f"* {name}: not drawn ({why})" for name, why in skipped.items()]
    lines += [
        "",
        f"Report written in {summary['report']['seconds']:.1f} s. The Parquet dataset is the source of "
        "truth; see docs/results.md to analyse it with pandas, polars or duckdb.",
        "",
    ]
    return "\n".join(lines)
