"""Design to a target: the value of a design lever for which P(goal) reaches a target, at a stated confidence,
found on common random numbers, with the mass it implies.

``python -m campaign +experiment=battery_sizing`` (or any campaign with ``design.variable`` set) runs a *search*:

* **Candidates are whole campaigns on the same scenarios.** Each candidate value is a normal campaign of
  ``run.samples`` missions with the campaign's seed, so every candidate sees the same sampled scenarios (inputs
  and model keys are functions of ``sample_index`` only): common random numbers. Each candidate's missions are
  a normal run directory under ``<run>/candidates/<lever>=<value>/``; ``Results.load(<run>/candidates)`` reads
  them all as one sweep.
* **Stochastic root finding by bisection on monotone bounds.** For a lever that never makes a mission worse when
  raised (``design.direction``), the estimate ``P_N(c)`` on common random numbers is a non-decreasing function of
  the lever ``c`` (tested per mission). The search evaluates ``design.grid`` evenly spaced values, then bisects
  until four brackets are narrower than ``design.resolution``: where the upper 95% bound, the estimate, the
  one-sided lower bound at ``design.confidence`` and the lower 95% bound cross the target.
* **What it reports.** ``required``: the smallest candidate whose one-sided lower confidence bound of
  P(goal) reaches the target (the design that meets it at the stated confidence). ``estimate``: where ``P_N``
  crosses the target (interpolated), with a 95% interval for the true crossing ``c*`` (``P(c*) = target``):
  from the largest candidate whose upper 95% bound is below the target to the smallest whose lower 95% bound is
  above it.
* **Why no multiplicity correction is needed.** The guarantee is a coupling argument on common random numbers:
  the search reports ``required < c*`` only if at some candidate ``c < c*`` the lower bound reached the target;
  with ``P_N`` and hence its lower bound non-decreasing in ``c``, the lower bound at ``c*`` would then exceed
  ``P(c*)`` (= target), an event of probability at most ``1 - confidence`` for the one test at ``c*``, however
  many candidates were looked at. The same argument bounds each end of the interval for ``c*``. It rests on
  monotonicity, which the search checks: the count of missions that did worse with more of the lever is
  reported (``missions_worse_with_more``; zero for the battery and the tower in the night-survival model).
* **Two levers** (``design.map``): the search is repeated for each value of the second lever; the required values
  trace the target contour, and the lightest design on it (:mod:`campaign.mass`) is the mass-optimal design.
* **Categorical levers** (``design.values``: sites, dates): every candidate is evaluated and ranked, with paired
  differences to the best on common random numbers.

Intervals are those of the headline (:mod:`campaign.analysis.headline`): Wilson when every input is aleatory,
Korn-Graubard over epistemic draws otherwise, at the confidence asked for. The run directory holds
``summary.json`` (section ``design``), ``designs.parquet`` (one row per candidate), ``report.md`` and plots.
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from scipy import stats

from .analysis import Headline, Location, Results, json_safe
from .analysis.intervals import cluster_sums, korn_graubard_bounds, wilson_bounds
from .analysis.trade import paired_difference
from .config import SITE, CampaignConfig, DesignSettings, load
from .design_report import _fmt, _short, write_design_report

CANDIDATES_DIR = "candidates"
DESIGN_FORMAT = 1
CRITERIA = ("upper", "p", "lcb", "lower")  # the four crossings the search brackets (module docstring)
LeverValue = float | str  # a lever's value: a number for a searched lever; sites and dates are strings


class DesignError(RuntimeError):
    """A design search that cannot go on (an output directory in the way, a stored candidate that differs)."""


# ============================================================================================== candidates
def bounds(flag: np.ndarray, clusters: np.ndarray | None, confidence: float) -> tuple[float, float, float]:
    """``(p, lower, upper)``: P(flag) with its two-sided interval at ``confidence``: Wilson for independent
    missions (``clusters`` None), Korn-Graubard over the clusters otherwise (:mod:`campaign.analysis.intervals`)."""
    flag = np.asarray(flag, dtype=bool)
    if clusters is None:
        z = float(stats.norm.ppf(0.5 + confidence / 2))
        lo, hi = wilson_bounds(int(flag.sum()), flag.size, z)
        return float(flag.mean()), float(lo), float(hi)
    y, m = cluster_sums(flag, clusters)
    p, lo, hi, _ = korn_graubard_bounds(y, m, confidence)
    return float(p), float(lo), float(hi)


@dataclass(frozen=True)
class Evaluation:
    """One candidate design evaluated on the campaign's scenarios."""

    value: LeverValue  # the lever's value
    map_value: LeverValue | None  # the second lever's value (None without a map)
    run_dir: str
    n: int
    p: float
    lower: float  # two-sided 95% interval
    upper: float
    lcb: float  # one-sided lower bound at design.confidence
    interval: str
    mass: dict | None
    seconds: float
    flag: np.ndarray = field(repr=False, compare=False)  # the goal per mission, in sample_index order

    def criterion(self, name: str) -> float:
        return getattr(self, name)

    def row(self) -> dict:
        return {
            "value": self.value,
            "map_value": self.map_value,
            "p": self.p,
            "ci95": [self.lower, self.upper],
            "lcb": self.lcb,
            "n": self.n,
            "interval": self.interval,
            "run_dir": self.run_dir,
            "mass_kg": None if self.mass is None else self.mass["total_kg"],
            "margin_kg": None if self.mass is None else self.mass["margin_kg"],
            "seconds": self.seconds,
        }


def candidate_name(lever: str, value: LeverValue, map_lever: str | None, map_value: LeverValue | None) -> str:
    """The directory of a candidate: ``<lever>=<value>[,<map lever>=<value>]``, safe on any filesystem."""
    parts = [f"{_short(lever)}={value:g}" if isinstance(value, float) else f"{_short(lever)}={value}"]
    if map_lever:
        parts.append(
            f"{_short(map_lever)}={map_value:g}" if isinstance(map_value, float) else f"{_short(map_lever)}={map_value}"
        )
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", ",".join(parts))


def _set_lever(resolved: dict, lever: str, value: LeverValue | None) -> None:
    if lever == SITE:
        from .sites import load_site

        site = resolved["mission"]["site"]
        resolved["mission"]["site"] = {**load_site(str(value)), "uncertain": site.get("uncertain", {})}
        return
    node = resolved
    *path, last = lever.split(".")
    for key in path:
        node = node[key]
    node[last] = value


class Evaluator:
    """Runs (or, on resume, reads back) the campaign of each candidate design, once per value."""

    def __init__(self, config: CampaignConfig, root: Location, log: Callable[[str], None]):
        self.config, self.root, self.log = config, root, log
        self.design: DesignSettings = config.design  # type: ignore[assignment]
        self.cache: dict[tuple, Evaluation] = {}

    def config_for(self, value: LeverValue, map_value: LeverValue | None, run_dir: str) -> CampaignConfig:
        """The campaign of one candidate: the search's config with the lever(s) set, no design section."""
        resolved = copy.deepcopy(self.config.resolved)
        _set_lever(resolved, self.design.variable, value)
        if self.design.map_variable:
            _set_lever(resolved, self.design.map_variable, map_value)
        resolved["design"] = {**resolved["design"], "variable": None, "map": {"variable": None, "values": []}}
        resolved["run"] |= {"output_dir": run_dir, "resume": False}
        return load(OmegaConf.create(resolved))

    def __call__(self, value: LeverValue, map_value: LeverValue | None = None) -> Evaluation:
        key = (value, map_value)
        if key in self.cache:
            return self.cache[key]
        from .app import _differences, run_campaign

        where = (
            self.root
            / CANDIDATES_DIR
            / candidate_name(self.design.variable, value, self.design.map_variable, map_value)
        )
        config = self.config_for(value, map_value, str(where))
        started = time.perf_counter()
        stored = (where / "run.json").read_json()
        if stored:
            changed = _differences(stored.get("config", {}), config.resolved)
            if changed:
                raise DesignError(
                    f"{where} holds a candidate run with another configuration ({'; '.join(changed)}):"
                    " choose another run.output_dir"
                )
        if not (stored and (where / "manifest.json").is_file()):  # new, or interrupted: run or complete it
            quiet = lambda line: line.startswith(("error", "warning")) and self.log(line)  # noqa: E731
            run_campaign(
                replace(config, run=replace(config.run, resume=bool(stored))), str(where), log=quiet, report=False
            )
        res = Results.load(str(where))
        head = Headline(res)
        order = np.argsort(res.column("sample_index"), kind="stable")
        flag = res.column(self.design.goal).astype(bool)[order]
        clusters = np.asarray(head.clusters)[order] if head.clustered else None
        d = self.design
        p, lo, hi = bounds(flag, clusters, 0.95)
        _, lcb, _ = bounds(flag, clusters, 2 * d.confidence - 1)
        mass = config.mass.breakdown(dict(config.params)) if config.mass else None
        ev = Evaluation(
            value,
            map_value,
            str(where),
            int(flag.size),
            p,
            lo,
            hi,
            lcb,
            head.interval if head.clustered else "wilson",
            mass,
            time.perf_counter() - started,
            flag,
        )
        self.cache[key] = ev
        at = f" at {_short(d.map_variable)}={_fmt(map_value)}" if d.map_variable else ""
        mass_text = f", {mass['total_kg']:.1f} kg" if mass else ""
        self.log(
            f"  [{len(self.cache):2d}] {_short(d.variable)}={_fmt(value)}{at}: P {p:.4f} [{lo:.4f}, {hi:.4f}],"
            f" one-sided {d.confidence:.0%} bound {lcb:.4f}{mass_text} ({ev.seconds:.1f} s)"
        )
        return ev


# ================================================================================================== search
def _step(resolution: float) -> float:
    """A round step for candidate values, at most half the resolution (so a midpoint stays strictly inside any
    bracket wider than the resolution)."""
    return 10.0 ** math.floor(math.log10(resolution / 2))


def _snap(x: float, step: float) -> float:
    return float(round(round(x / step) * step, 10))


def brackets(
    evals: list[Evaluation], target: float, sign: float
) -> dict[str, tuple[LeverValue | None, LeverValue | None]]:
    """For each criterion (:data:`CRITERIA`), ``(last value below the target, first value at or above it)``
    along the direction of improvement (``sign`` +1: increasing values), ``None`` at an end not found."""
    ordered = sorted(evals, key=lambda e: sign * float(e.value))
    out = {}
    for name in CRITERIA:
        first = next((e for e in ordered if e.criterion(name) >= target), None)
        below = [
            e
            for e in ordered
            if e.criterion(name) < target and (first is None or sign * float(e.value) < sign * float(first.value))
        ]
        out[name] = (below[-1].value if below else None, first.value if first else None)
    return out


def worse_with_more(evals: list[Evaluation], sign: float) -> int:
    """Missions that meet the goal with less of the lever and miss it with more, over neighbouring candidates
    (zero when every mission is monotone in the lever, which the search's guarantee rests on)."""
    ordered = sorted(evals, key=lambda e: sign * float(e.value))
    return int(sum(np.sum(a.flag & ~b.flag) for a, b in zip(ordered, ordered[1:])))


def search(ev: Evaluator, map_value: LeverValue | None = None) -> dict:
    """Bisect the lever over ``[low, high]`` (module docstring) and return the search's result."""
    d = ev.design
    if d.low is None or d.high is None or d.resolution is None:  # config.load sets all three for a search
        raise ValueError("a design search needs design.low, design.high and design.resolution")
    sign = 1.0 if d.direction == "increasing" else -1.0
    step = _step(d.resolution)
    evals = [
        ev(v, map_value)
        for v in sorted(
            {
                _snap(x, step) if 0 < i < d.grid - 1 else float(x)
                for i, x in enumerate(np.linspace(d.low, d.high, d.grid))
            }
        )
    ]
    capped = False
    while True:
        open_ = [
            (abs(float(hi) - float(lo)), lo, hi)
            for lo, hi in brackets(evals, d.target, sign).values()
            if lo is not None and hi is not None and abs(float(hi) - float(lo)) > d.resolution
        ]
        if not open_:
            break
        if len(evals) >= d.max_candidates:
            capped = True
            break
        _, lo, hi = max(open_, key=lambda t: t[0])
        evals.append(ev(_snap((float(lo) + float(hi)) / 2, step), map_value))
    return _result(evals, d, sign, capped)


def _crossing(a: Evaluation, b: Evaluation, target: float) -> float:
    """Where the estimate crosses ``target`` between candidates ``a`` (below) and ``b`` (at or above), linearly."""
    if b.p == a.p:
        return float(b.value)
    return float(a.value) + (target - a.p) / (b.p - a.p) * (float(b.value) - float(a.value))


def _result(evals: list[Evaluation], d: DesignSettings, sign: float, capped: bool) -> dict:
    ordered = sorted(evals, key=lambda e: sign * float(e.value))
    by_value = {e.value: e for e in ordered}
    br = brackets(ordered, d.target, sign)
    lcb_below, lcb_first = br["lcb"]
    required: dict[str, Any]
    if lcb_first is None:
        required = {
            "value": None,
            "reason": f"not reached: at {_fmt(ordered[-1].value)} the one-sided "
            f"{d.confidence:.0%} bound is {ordered[-1].lcb:.4f} < {d.target}",
        }
    else:
        e = by_value[lcb_first]
        required = {
            "value": e.value,
            "p": e.p,
            "lcb": e.lcb,
            "mass": e.mass,
            "resolved_to": None if lcb_below is None else abs(float(lcb_first) - float(lcb_below)),
            "reason": "the first candidate whose bound reaches the target"
            if lcb_below is not None
            else "already met at the first candidate of the range",
        }
    p_below, p_first = br["p"]
    if p_first is None or p_below is None:
        estimate = None
    else:
        estimate = _crossing(by_value[p_below], by_value[p_first], d.target)
    worse_end = br["upper"][0]  # P(c) < target established at this value and beyond it, away from improvement
    better_end = br["lower"][1]  # P(c) >= target established from this value on, towards improvement
    low_end, high_end = (worse_end, better_end) if sign > 0 else (better_end, worse_end)  # in increasing order
    rows = [e.row() | {"paired_to_previous": None} for e in ordered]
    for row, a, b in zip(rows[1:], ordered, ordered[1:]):
        row["paired_to_previous"] = paired_difference(a.flag, b.flag)
    return {
        "required": required,
        "estimate": {
            "value": estimate,
            "ci95": [low_end, high_end],
            "note": "95% interval for the value where P(goal) equals the target, in increasing order; "
            "null at an end that lies outside the candidates (below the smallest or beyond the "
            "largest)",
        },
        "candidates": rows,
        "missions_worse_with_more": worse_with_more(ordered, sign),
        "capped": capped,
    }


def rank(ev: Evaluator, map_value: LeverValue | None = None) -> dict:
    """Evaluate every candidate of ``design.values`` and rank them by P(goal), with paired differences to the
    best on common random numbers."""
    d = ev.design
    evals = sorted((ev(v, map_value) for v in d.values), key=lambda e: -e.p)
    best = evals[0]
    rows = [
        e.row()
        | {"meets_target": e.lcb >= d.target, "vs_best": None if e is best else paired_difference(best.flag, e.flag)}
        for e in evals
    ]
    meeting = [e for e in evals if e.lcb >= d.target]
    masses = [e.mass["total_kg"] for e in meeting if e.mass]
    lightest = meeting[masses.index(min(masses))] if meeting and len(masses) == len(meeting) else None
    return {
        "best": best.row(),
        "candidates": rows,
        "meeting_target": [e.value for e in meeting],
        "lightest_meeting_target": None if lightest is None else lightest.row(),
    }


def lightest_on_map(per_map: list[dict]) -> dict | None:
    """The lightest design among each map value's required design (the mass-optimal point of the target contour)."""
    ok = [m for m in per_map if m["required"]["value"] is not None and m["required"].get("mass")]
    if not ok:
        return None
    best = min(ok, key=lambda m: m["required"]["mass"]["total_kg"])
    return {
        "value": best["required"]["value"],
        "map_value": best["map_value"],
        "p": best["required"]["p"],
        "lcb": best["required"]["lcb"],
        "mass": best["required"]["mass"],
    }


# ================================================================================================== driver
def describe(config: CampaignConfig) -> str:
    d = config.design
    assert d is not None
    what = (
        f"{d.variable} in [{_fmt(d.low)}, {_fmt(d.high)}] ({d.direction})"
        if d.searches
        else f"{d.variable} among {', '.join(map(_fmt, d.values))}"
    )
    also = f", for each {d.map_variable} in {', '.join(map(_fmt, d.map_values))}" if d.map_variable else ""
    return (
        f"Design search '{config.run.name}': {what}{also}, for P({d.goal}) >= {d.target} at {d.confidence:.0%} "
        f"confidence; {config.run.samples:,} missions per candidate on common random numbers (seed "
        f"{config.run.seed})"
    )


def _write_design_info(config: CampaignConfig, info: Location) -> None:
    """Write ``design.json`` (the search's config and provenance) unless a resumed search has it already."""
    from . import store

    if info.is_file():
        return
    info.write_bytes(
        json.dumps(
            {
                "format": DESIGN_FORMAT,
                "config": config.resolved,
                "versions": store.versions(),
                "code_revision": store.code_revision(),
                "command": store.command_line(),
            },
            indent=2,
            sort_keys=True,
            default=str,
        ).encode()
    )


def _search_section(config: CampaignConfig, ev: Evaluator, log: Callable[[str], None]) -> dict:
    """The ``design`` section of the summary before its totals: what was searched for, the search's (or ranking's)
    result, per map value for a map, and the local sensitivities at the recommended design where asked for."""
    d = config.design
    assert d is not None
    section: dict = {
        "variable": d.variable,
        "goal": d.goal,
        "target": d.target,
        "confidence": d.confidence,
        "direction": d.direction,
        "missions_per_candidate": config.run.samples,
        "resolution": d.resolution,
    }
    find = search if d.searches else rank
    if d.map_variable:
        per_map = []
        for mv in d.map_values:
            log(f"{d.map_variable} = {_fmt(mv)}")
            per_map.append({"map_value": mv, **find(ev, mv)})
        section["map"] = {
            "variable": d.map_variable,
            "values": list(d.map_values),
            "results": per_map,
            "lightest": lightest_on_map(per_map) if d.searches else None,
        }
    else:
        section |= find(ev)
    answer = _answer_point(section, d)
    if d.sensitivities and answer is not None:
        section["gradients"] = sensitivities_at(ev, answer, log)
    return section


def _design_run_section(config: CampaignConfig) -> dict:
    """The ``run`` section of a design search's summary: name, model, seed, missions per candidate, sampler,
    precision and code revision."""
    from . import store

    return {
        "name": config.run.name,
        "model": config.model.name,
        "seed": config.run.seed,
        "samples": config.run.samples,
        "sampler": config.sampler.value,
        "precision": config.run.precision,
        "code_revision": store.code_revision(),
    }


def run_design(config: CampaignConfig, run_dir: str, log: Callable[[str], None] = print) -> dict:
    """Run the design search of ``config`` in ``run_dir`` (a path or a URI) and return its summary."""
    d = config.design
    if d is None:
        raise ValueError("config has no design section (design.variable is null)")
    root = Location.of(run_dir)
    if not config.run.resume and root.children():
        raise DesignError(
            f"{root} already exists and is not empty: choose another run.output_dir, or add "
            "run.resume=true to complete the search in it"
        )
    started = time.perf_counter()
    _write_design_info(config, root / "design.json")
    log(describe(config))
    ev = Evaluator(config, root, log)
    section = _search_section(config, ev, log)
    section |= {
        "candidates_evaluated": len(ev.cache),
        "missions": sum(e.n for e in ev.cache.values()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    summary = json_safe({"run": _design_run_section(config), "design": section})
    _write_table(root, list(ev.cache.values()), d)
    write_design_report(root, summary, mass_of=_mass_function(config), log=log)
    log(format_design(summary["design"]))
    log(
        f"Results: {root}\n  candidates  {root / CANDIDATES_DIR}/*/samples (one run per candidate)\n"
        f"  designs     {root / 'designs.parquet'}\n  summary     {root / 'summary.json'}\n"
        f"  report      {root / 'report.md'}"
    )
    return summary


GRADIENT_MISSIONS = 2048  # missions for the local sensitivities (assumed: SE of a few % on night survival)


def _answer_point(section: Mapping, d: DesignSettings) -> tuple[LeverValue, LeverValue | None] | None:
    """The design the search recommends: the required value (for a map, the lightest design on the contour)."""
    if "map" in section:
        lightest = section["map"].get("lightest")
        return None if lightest is None else (lightest["value"], lightest["map_value"])
    req = section.get("required")
    return None if req is None or req["value"] is None else (req["value"], None)


def sensitivities_at(ev: Evaluator, point: tuple[LeverValue, LeverValue | None], log: Callable[[str], None]) -> dict:
    """Local sensitivities (:func:`campaign.gradients.design_gradients`) of ``design.sensitivities`` and the goal
    to the lever(s) at the recommended design, on the first missions of the candidates' scenarios."""
    from .gradients import design_gradients, format_table

    d = ev.design
    config = ev.config_for(*point, run_dir=str(ev.root / CANDIDATES_DIR / "_sensitivities"))
    levers = [v for v in (d.variable, d.map_variable) if v and v != SITE]
    samples = min(GRADIENT_MISSIONS, ev.config.run.samples)
    result = design_gradients(config, levers, [d.goal, *d.sensitivities], samples)
    log(format_table(result))
    return result


def _mass_function(config: CampaignConfig) -> Callable[[float, float], float] | None:
    """Rover mass (kg) as a function of the two levers of a map, the other design values as configured."""
    d = config.design
    if config.mass is None or d is None or not d.map_variable or SITE in (d.variable, d.map_variable):
        return None
    params = dict(config.params)
    keys = (d.variable[len("mission.") :], d.map_variable[len("mission.") :])
    return lambda a, b: config.mass.total_kg(params | {keys[0]: a, keys[1]: b})  # type: ignore[union-attr]


def rewrite_report(run_dir: str, log: Callable[[str], None] = print) -> None:
    """Write a finished design search's report again (``python -m campaign.report DIR``), from its
    ``summary.json`` and the config in ``design.json``."""
    root = Location.of(run_dir)
    summary = (root / "summary.json").read_json()
    if "design" not in summary:
        raise DesignError(
            f"{root} holds no finished design search (no summary.json with a design section): "
            "complete it with run.resume=true"
        )
    config = load(OmegaConf.create((root / "design.json").read_json()["config"]))
    summary.pop("report", None)
    write_design_report(root, summary, mass_of=_mass_function(config), log=log)


def _write_table(root: Location, evals: list[Evaluation], d: DesignSettings) -> None:
    """``designs.parquet``: one row per evaluated candidate (value, P, interval, bound, missions, mass)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sorted((e.row() for e in evals), key=lambda r: (str(r["map_value"]), str(r["value"])))
    as_text = lambda v: None if v is None else str(v)  # noqa: E731  (sites and dates are strings)
    numeric = all(isinstance(r["value"], float) for r in rows)
    table = pa.table(
        {
            _short(d.variable): [r["value"] if numeric else as_text(r["value"]) for r in rows],
            **(
                {
                    _short(d.map_variable): [
                        as_text(r["map_value"]) if isinstance(r["map_value"], str) else r["map_value"] for r in rows
                    ]
                }
                if d.map_variable
                else {}
            ),
            "p": [r["p"] for r in rows],
            "ci95_low": [r["ci95"][0] for r in rows],
            "ci95_high": [r["ci95"][1] for r in rows],
            "lcb": [r["lcb"] for r in rows],
            "n": [r["n"] for r in rows],
            "mass_kg": [r["mass_kg"] for r in rows],
            "margin_kg": [r["margin_kg"] for r in rows],
            "run_dir": [r["run_dir"] for r in rows],
        },
        metadata={
            b"lupex.design": json.dumps(
                {
                    "goal": d.goal,
                    "target": d.target,
                    "confidence": d.confidence,
                    "variable": d.variable,
                    "map_variable": d.map_variable,
                }
            ).encode()
        },
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    (root / "designs.parquet").write_bytes(sink.getvalue().to_pybytes())


def _answer(section: dict, prefix: str = "") -> list[str]:
    req = section["required"]
    d = section
    lines = []
    if req["value"] is None:
        lines.append(f"{prefix}{req['reason']}")
    else:
        mass = (
            f"; rover {req['mass']['total_kg']:.1f} kg (margin {req['mass']['margin_kg']:+.1f} kg)"
            if req.get("mass")
            else ""
        )
        lines.append(
            f"{prefix}required {_short(d['variable'])} = {_fmt(req['value'])}: P {req['p']:.4f}, "
            f"one-sided {d['confidence']:.0%} bound {req['lcb']:.4f}{mass}"
        )
    est = section["estimate"]
    if est["value"] is not None:
        lo, hi = est["ci95"]
        lines.append(
            f"{prefix}P crosses {d['target']} at {_fmt(est['value'])} (95% interval "
            f"[{_fmt(lo) if lo is not None else 'below range'}, {_fmt(hi) if hi is not None else 'beyond range'}])"
        )
    if section.get("missions_worse_with_more"):
        lines.append(
            f"{prefix}warning: {section['missions_worse_with_more']} missions did worse with more of the "
            "lever: P is not monotone per mission, and the guarantee needs it"
        )
    return lines


def format_design(section: dict) -> str:
    """The search's answer as printed at the end of a run."""
    head = f"What it takes: P({section['goal']}) >= {section['target']} at {section['confidence']:.0%} confidence"
    lines = [head, "-" * len(head)]
    base = {k: section[k] for k in ("variable", "goal", "target", "confidence")}
    if "map" in section:
        m = section["map"]
        for r in m["results"]:
            lines += (
                _answer(base | r, f"{_short(m['variable'])}={_fmt(r['map_value'])}: ")
                if "required" in r
                else [f"{_short(m['variable'])}={_fmt(r['map_value'])}: best {_fmt(r['best']['value'])}"]
            )
        if m.get("lightest"):
            lt = m["lightest"]
            lines.append(
                f"lightest design meeting the target: {_short(section['variable'])}={_fmt(lt['value'])}, "
                f"{_short(m['variable'])}={_fmt(lt['map_value'])}: {lt['mass']['total_kg']:.1f} kg "
                f"(P {lt['p']:.4f}, bound {lt['lcb']:.4f})"
            )
    elif "required" in section:
        lines += _answer(base | section)
    else:
        for r in section["candidates"]:
            vs = r["vs_best"]
            diff = "" if vs is None else f"  {vs['diff']:+.4f} [{vs['ci95'][0]:+.4f}, {vs['ci95'][1]:+.4f}] vs best"
            lines.append(
                f"{_fmt(r['value']):>24}: P {r['p']:.4f} [{r['ci95'][0]:.4f}, {r['ci95'][1]:.4f}]"
                f"{' meets' if r['meets_target'] else ''}{diff}"
            )
    lines.append(
        f"{section['candidates_evaluated']} candidates, {section['missions']:,} missions, {section['seconds']:.0f} s"
    )
    return "\n".join(lines)
