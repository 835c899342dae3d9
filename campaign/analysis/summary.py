"""The headline of a campaign: every phase and goal probability with an interval valid for the campaign's design
and, where epistemic inputs vary, the epistemic band beside it; conditional phase probabilities; the failure-cause
Pareto; metric quantiles; the landing dispersion. :func:`format_summary` prints it; :func:`analyse` adds every
other analysis for ``summary.json``.

Which interval (named under ``interval`` in every entry):

* every input aleatory: missions are independent, Wilson's interval (:func:`.intervals.proportion`);
* epistemic inputs vary: missions of one outer draw share a state of knowledge; the Korn-Graubard interval over
  the draws (:func:`.intervals.clustered_proportion`), and the 5-95% band of P across the draws
  (:func:`.intervals.epistemic_band`) under ``epistemic``;
* a campaign that stopped at a target precision (``run.stop``): the confidence sequence's interval, which stays
  valid although the stopping time depended on the data (:mod:`.sequential`), replaces ``ci95``; the fixed-size
  interval is kept under ``ci95_fixed_n`` for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, overload

import numpy as np

from .convergence import convergence
from .epistemic import epistemic
from .headline import Headline
from .intervals import KORN_GRAUBARD, KORN_GRAUBARD_BLOCKS
from .loading import Results
from .sensitivity import saltelli, sensitivity
from .survival import failure_dates, survival
from .trade import trade_study

CHI2_2DOF_99 = 9.210340371976182  # 99% quantile of the chi-square distribution with 2 degrees of freedom
# roles of the columns the landing dispersion needs (campaign.columns.COLUMN_ROLES), and of those it adds
LANDING_ROLES = ("touchdown_downrange", "touchdown_crossrange", "miss_distance")
TOUCHDOWN_SPEED_ROLES = ("touchdown_vertical_speed", "touchdown_horizontal_speed")
# roles of the landing's success by the physics alone and with the record-based fault term (docs/priors.md)
LANDING_RECORD_ROLES = ("landing_physics_success", "landing_success")
ASCENT_RELIABILITY_ROLE = "ascent_reliability"  # the reliability the launch drew against, under the prior in use


def summarize(res: Results) -> dict:
    """The headline sections of ``summary.json``: ``sample_design`` (how intervals were made), ``phases`` and ``goals``
    (every flag's probability with its interval, counts and epistemic band), ``conditional`` (each phase given
    the previous one), ``failures`` (first failure by cause), ``metrics`` (quantiles where defined) and, with the
    landing columns, ``landing``."""
    head = Headline(res)
    out: dict = {
        "missions": res.n,
        "sample_design": head.design(),
        "phases": {},
        "goals": {},
        "conditional": {},
        "failures": [],
        "metrics": {},
    }
    reached, previous = None, ""
    for name in res.flags:
        values = res.column(name).astype(bool)
        section = "phases" if name in res.phases else "goals"
        out[section][name] = head.probability(values)
        if section == "phases":
            if reached is not None:  # the first phase's conditional is its marginal: not repeated
                out["conditional"][f"{name} | {previous}"] = head.probability(values, among=reached, band=False)
            previous, reached = name, values
    if res.has("outcome_name", "failed_phase"):
        out["failures"] = [
            {k: c[k] for k in c if k != "cumulative_share_of_failures"} for c in pareto(res, head)["by_cause"]
        ]
    for name in res.metrics:
        values = res.column(name)
        values = values[~np.isnan(values)]
        if values.size:
            q = np.quantile(values, [0.05, 0.5, 0.95])
            out["metrics"][name] = {
                "n": int(values.size),
                "mean": float(values.mean()),
                "p05": float(q[0]),
                "p50": float(q[1]),
                "p95": float(q[2]),
                "unit": res.unit(name),
            }
    if res.has(*map(res.column_for, LANDING_ROLES)):
        out["landing"] = landing_dispersion(res)
    record = landing_record(res, head)
    if record:
        out["landing_record"] = record
    reliability = ascent_reliability(res)
    if reliability:
        out["ascent_reliability"] = reliability
    if head.stop:
        out["stop"] = head.stop
    return out


def pareto(res: Results, head: Headline | None = None) -> dict:
    """Failure causes (first failure of each mission) sorted by frequency: per cause its phase, count, share of
    all missions with its interval (:class:`Headline`), and the cumulative share of failures; and the totals per
    phase. Empty without the ``outcome_name`` and ``failed_phase`` columns."""
    if not res.has("outcome_name", "failed_phase"):
        return {"missions": res.n, "failures": 0, "by_cause": [], "by_phase": []}
    head = head or Headline(res)
    names, phases = res.column("outcome_name"), res.column("failed_phase")
    failed = names != "success"
    total = int(failed.sum())
    causes, counts = np.unique(names[failed].astype(str), return_counts=True)
    phase_of = {str(a): str(b) for a, b in zip(names[failed], phases[failed])}
    by_cause, cumulative = [], 0
    for i in np.argsort(-counts, kind="stable"):
        cumulative += int(counts[i])
        by_cause.append(
            {
                "outcome": str(causes[i]),
                "phase": phase_of[str(causes[i])],
                **head.probability(names == causes[i], band=False),
                "cumulative_share_of_failures": cumulative / total,
            }
        )
    ph, ph_counts = np.unique(phases[failed].astype(str), return_counts=True)
    by_phase = [
        {"phase": str(ph[i]), **head.probability(failed & (phases == ph[i]), band=False)}
        for i in np.argsort(-ph_counts, kind="stable")
    ]
    return {"missions": res.n, "failures": total, "by_cause": by_cause, "by_phase": by_phase}


def landing_record(res: Results, head: Headline | None = None) -> dict | None:
    """The landing by the physics alone and with the record-based unmodelled-fault term, side by side (None
    without both flags, :data:`LANDING_RECORD_ROLES`): ``physics`` and ``with_record``, each P(landing | the
    previous phase succeeded) with its interval and epistemic band (:class:`Headline`; over every mission when
    the landing is the first phase, as in the landing model, which starts at PDI); ``given`` (that previous
    phase, or None); ``losses`` (landings lost among those reached) split into ``causes``, each with its
    ``source`` (``physics``: by its outcome; ``record``: the fault term), ``missions`` and ``share_of_losses``;
    and ``driver``, the source of most of the losses (``physics``, ``record``, or ``none`` without a loss)."""
    physics_name, ok_name = map(res.column_for, LANDING_RECORD_ROLES)
    if not res.has(physics_name, ok_name):
        return None
    head = head or Headline(res)
    phases = list(res.phases)
    at = phases.index(ok_name) if ok_name in phases else 0
    given = phases[at - 1] if at > 0 else None
    reached = res.column(given).astype(bool) if given else np.ones(res.n, dtype=bool)
    among = reached if given else None
    physics, ok = res.column(physics_name).astype(bool), res.column(ok_name).astype(bool)
    physics_lost, record_lost = reached & ~physics, reached & physics & ~ok
    causes: list[dict[str, Any]] = []
    if res.has("outcome_name"):
        names, counts = np.unique(res.column("outcome_name")[physics_lost].astype(str), return_counts=True)
        causes = [{"source": "physics", "cause": str(c), "missions": int(k)} for c, k in zip(names, counts)]
    elif physics_lost.any():
        causes = [{"source": "physics", "cause": "physics", "missions": int(physics_lost.sum())}]
    if record_lost.any():
        causes.append({"source": "record", "cause": "unmodelled fault", "missions": int(record_lost.sum())})
    losses = int(physics_lost.sum() + record_lost.sum())
    causes.sort(key=lambda c: -c["missions"])
    for c in causes:
        c["share_of_losses"] = c["missions"] / losses
    by_source = {"physics": int(physics_lost.sum()), "record": int(record_lost.sum())}
    return {
        "physics": {"column": physics_name, **head.probability(physics, among=among)},
        "with_record": {"column": ok_name, **head.probability(ok, among=among)},
        "given": given,
        "reached": int(reached.sum()),
        "losses": losses,
        "losses_by_source": by_source,
        "causes": causes,
        "driver": "none" if not losses else max(by_source, key=lambda k: by_source[k]),
    }


def ascent_reliability(res: Results) -> dict | None:
    """The ascent reliability the launches drew against under the prior in use (the column of role
    :data:`ASCENT_RELIABILITY_ROLE`): its mean and 5/50/95% quantiles over the missions, or None without it."""
    name = res.column_for(ASCENT_RELIABILITY_ROLE)
    if not res.has(name):
        return None
    values = res.column(name)
    values = values[~np.isnan(values)]
    if not values.size:
        return None
    q = np.quantile(values, [0.05, 0.5, 0.95])
    return {
        "column": name,
        "n": int(values.size),
        "mean": float(values.mean()),
        "p05": float(q[0]),
        "p50": float(q[1]),
        "p95": float(q[2]),
    }


def format_landing_record(d: Mapping) -> list[str]:
    """The landing's physics and record side by side in words (Markdown inline marks), for the printed summary
    and the reports: the two probabilities with their intervals, the losses by source and which one drives it."""
    given = f"`{d['given']}`" if d["given"] else "reaching PDI"

    def p(entry: Mapping) -> str:
        band = (entry.get("epistemic") or {}).get("band")
        lo, hi = entry["ci95"]
        return f"{_prob(entry['p'])} [{_prob(lo)}, {_prob(hi)}]" + (
            f" (across states of knowledge {_prob(band[0])}-{_prob(band[1])})" if band else ""
        )

    lines = [
        f"P(safe landing | {given}): physics only {p(d['physics'])}; with the record-based unmodelled-fault term "
        f"{p(d['with_record'])} ({d['reached']:,} landings attempted, 95% intervals)."
    ]
    if d["losses"]:
        by = d["losses_by_source"]
        parts = ", ".join(f"{c['cause'].replace('_', ' ')} {100 * c['share_of_losses']:.1f}%" for c in d["causes"])
        lead = {"physics": "The physics", "record": "The record-based unmodelled-fault term"}[d["driver"]]
        lines.append(
            f"Of {d['losses']:,} landing losses: {parts}. **{lead} drives the landing loss** ("
            f"{100 * by[d['driver']] / d['losses']:.0f}% of the losses: physics {by['physics']:,}, record-based "
            f"term {by['record']:,})."
        )
    else:
        lines.append("No landing was lost.")
    if not d["losses_by_source"]["record"]:
        lines.append("No landing was lost to the record-based term (off in this run, or no fault drawn).")
    return lines


def format_ascent_reliability(d: Mapping) -> str:
    """One line on the ascent reliability in use: its prior (where known), mean and 90% range."""
    prior = {
        "configuration": "the configuration prior (H3 common record x H3-24L term)",
        "pooled": "the pooled H3 prior",
    }.get(d.get("prior") or "", d.get("prior") or "")
    return (
        f"Launch: ascent reliability{f' from {prior}' if prior else ''}, mean {d['mean']:.3f}, 90% of the "
        f"missions' values in [{d['p05']:.3f}, {d['p95']:.3f}] (`{d['column']}`, docs/priors.md)."
    )


def landing_dispersion(res: Results) -> dict:
    """Touchdown dispersion: miss-distance percentiles (50/90/99%, empirical, every touchdown), the 99% dispersion
    ellipse of a bivariate normal fitted to the (downrange, crossrange) of the safe landings (centre, semi-axes in
    metres, orientation of the major axis in degrees from downrange towards crossrange, the fraction of safe
    landings inside), and touchdown-speed percentiles; each percentile entry keyed by its column's name. The
    columns are found by their roles (:data:`LANDING_ROLES`, :data:`TOUCHDOWN_SPEED_ROLES`, ``landing_success``)."""
    downrange, crossrange, miss_name = map(res.column_for, LANDING_ROLES)
    miss_all = res.column(miss_name)
    reached = ~np.isnan(miss_all)  # in a chained mission, null where no landing was attempted
    miss = miss_all[reached]
    # The ellipse describes where landings that went to plan scatter: crashed and faulted flights (kilometres off
    # after an altimeter fault) would stretch a normal fit; the percentiles cover every touchdown.
    landed_ok = res.column_for("landing_success")
    safe = reached & (res.column(landed_ok).astype(bool) if res.has(landed_ok) else True)
    x, y = res.column(downrange)[safe], res.column(crossrange)[safe]
    cov = np.cov(np.stack([x, y]))
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    major = eigenvectors[:, 1]
    d = np.stack([x - x.mean(), y - y.mean()])
    inside = np.einsum("in,ij,jn->n", d, np.linalg.pinv(cov), d) <= CHI2_2DOF_99
    out = {
        miss_name: dict(zip(("p50", "p90", "p99"), map(float, np.percentile(miss, [50, 90, 99])))),
        "ellipse99": {
            "centre_m": [float(x.mean()), float(y.mean())],
            "semi_major_m": float(np.sqrt(CHI2_2DOF_99 * eigenvalues[1])),
            "semi_minor_m": float(np.sqrt(CHI2_2DOF_99 * max(eigenvalues[0], 0.0))),
            "orientation_deg": float(np.degrees(np.arctan2(major[1], major[0])) % 180.0),
            "fraction_inside": float(inside.mean()),
            "of": "safe landings" if not safe[reached].all() else "all touchdowns",
            "n": int(safe.sum()),
        },
    }
    for name in map(res.column_for, TOUCHDOWN_SPEED_ROLES):
        if res.has(name):
            out[name] = dict(
                zip(("p50", "p90", "p99"), map(float, np.percentile(res.column(name)[reached], [50, 90, 99])))
            )
    return out


def _prob(x: float) -> str:
    return f"{x:.4f}" if x == 0 or x >= 1e-3 else f"{x:.1e}"


def _interval_name(s: Mapping) -> str:
    name = s.get("interval", "")
    if name.startswith("confidence sequence"):
        return "CS"
    return "clustered" if name in (KORN_GRAUBARD, KORN_GRAUBARD_BLOCKS) else "Wilson"


def _landing_lines(d: Mapping) -> list[str]:
    """:func:`format_summary`'s landing dispersion: the miss distance's and touchdown speeds' quantiles, and the
    99% ellipse of safe landings."""
    e = d["ellipse99"]
    lines = [f"{'Landing dispersion':<46} {'p50':>10} {'p90':>10} {'p99':>10}"]
    for name in (k for k in d if k != "ellipse99"):  # the miss distance, then the touchdown speeds
        lines.append(f"  {name:<44} {d[name]['p50']:10.4g} {d[name]['p90']:10.4g} {d[name]['p99']:10.4g}")
    lines.append(
        f"  99% ellipse: {e['semi_major_m']:.1f} m x {e['semi_minor_m']:.1f} m, major axis at "
        f"{e['orientation_deg']:.0f} deg from downrange, centre ({e['centre_m'][0]:.1f}, "
        f"{e['centre_m'][1]:.1f}) m, holds {100 * e['fraction_inside']:.1f}% of the {e['of']}"
    )
    return lines


def format_summary(summary: Mapping) -> str:
    """A readable table of a summary (what a run prints at its end)."""
    design = summary.get("sample_design", {})
    lines = [f"{summary['missions']:,} missions"]
    if design.get("blocks"):  # a Saltelli design: its blocks, not its draws, are the independent units
        lines[0] += (
            f" in {design['blocks']:,} Saltelli blocks of {design['missions_per_block']:,} (rows of one block "
            "share its base points: intervals are clustered by block)"
        )
    elif design.get("draws"):
        lines[0] += (
            f" in {design['draws']:,} epistemic draws of {design['missions_per_draw']:,} (missions of one "
            "draw share a state of knowledge: intervals are clustered by draw)"
        )
    if design.get("warning"):
        lines.append(f"warning: {design['warning']}")
    band = any("epistemic" in s for key in ("phases", "goals") for s in summary.get(key, {}).values())

    def row(label: str, s: Mapping) -> str:
        lo, hi = s["ci95"]
        text = f"  {label:<44} {_prob(s['p']):>8}   [{_prob(lo)}, {_prob(hi)}] {_interval_name(s):<9}".ljust(88)
        if band:
            e = (s.get("epistemic") or {}).get("band")
            text += (f"[{_prob(e[0])}, {_prob(e[1])}]" if e else "").ljust(20)
        return text + f"{s['successes']:>10,} / {s['n']:,}"

    def header(title: str) -> str:
        text = f"{title:<46} {'P':>8}   95% interval".ljust(88)
        return text + ("P, 5-95% over draws".ljust(20) if band else "") + f"{'successes':>10} / n"

    for title, key in (
        ("Phase success", "phases"),
        ("Goals", "goals"),
        ("Conditional on the previous phase", "conditional"),
    ):
        if summary.get(key):
            lines.append(header(title))
            lines += [row(name, s) for name, s in summary[key].items()]
    if summary.get("failures"):
        lines.append(header("Failure causes (first failure)"))
        lines += [row(f"{f['phase']}: {f['outcome']}", f) for f in summary["failures"]]
    if summary.get("stop"):
        lines.append(format_stop(summary["stop"]))
    if summary.get("ascent_reliability"):
        lines.append(format_ascent_reliability(summary["ascent_reliability"]).replace("`", ""))
    if summary.get("landing_record"):
        lines.append("Landing: physics and the record")
        lines += [
            f"  {line}".replace("**", "").replace("`", "") for line in format_landing_record(summary["landing_record"])
        ]
    if summary.get("landing"):
        lines += _landing_lines(summary["landing"])
    if summary.get("metrics"):
        lines.append(f"{'Metric (where defined)':<46} {'p05':>10} {'median':>10} {'p95':>10}   unit")
        for name, m in summary["metrics"].items():
            lines.append(f"  {name:<44} {m['p05']:10.4g} {m['p50']:10.4g} {m['p95']:10.4g}   {m['unit']}")
    if summary.get("mass"):
        lines.append(format_mass(summary["mass"]))
    return "\n".join(lines)


def format_mass(mass: Mapping) -> str:
    """The rover's mass line (:mod:`campaign.mass`): total, the design-dependent parts, margin against the limit."""
    parts = ", ".join(
        f"{k.removesuffix('_kg')} {v:.1f}"
        for k, v in mass.items()
        if k.endswith("_kg") and k not in ("total_kg", "limit_kg", "margin_kg")
    )
    return (
        f"Rover mass {mass['total_kg']:.1f} kg ({parts}); margin {mass['margin_kg']:+.1f} kg against "
        f"{mass['limit_kg']:.0f} kg"
    )


def format_stop(stop: Mapping) -> str:
    """One line on why an adaptive campaign stopped (see :mod:`.sequential`)."""
    widths = ", ".join(f"{k} {v:.4f}" for k, v in stop.get("half_widths", {}).items())
    return (
        f"Stopped: {stop['reason']} after {stop['missions']:,} missions ({stop['looks']} looks); "
        f"half-widths {widths} (target {stop['target_half_width']:g})"
    )


def analyse(res: Results) -> dict:
    """Every further analysis on one dataset, as JSON-ready ``summary.json`` sections: ``survival`` and
    ``failure_dates`` (null without the days survived, and the landing date for the second), ``pareto``,
    ``convergence``, ``sensitivity``, ``epistemic``, ``saltelli`` (null unless ``sampler=saltelli``) and, for a
    sweep, ``trade``."""
    out = {
        "survival": survival(res),
        "failure_dates": failure_dates(res),
        "pareto": pareto(res),
        "convergence": convergence(res),
        "sensitivity": sensitivity(res),
        "epistemic": epistemic(res),
    }
    out["saltelli"] = saltelli(res)
    trade = trade_study(res)
    if trade is not None:
        out["trade"] = trade
    return out


@overload
def json_safe(obj: Mapping[Any, Any]) -> dict[str, Any]: ...
@overload
def json_safe(obj: object) -> object: ...
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
