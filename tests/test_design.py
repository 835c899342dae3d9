"""Design to a target (campaign/design.py, campaign/mass.py): the search's guarantee by simulation, its agreement
with a brute-force sweep on the same scenarios, monotonicity on common random numbers, the mass model, the
two-lever map, determinism across worker counts, resume, and configuration errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pyarrow.parquet as pq
import pytest

from campaign import design, engine, report
from campaign.analysis import Results
from campaign.config import ConfigError, DesignSettings
from campaign.mass import MassModel, breakdown_of_run, other_for

from .helpers import REPO, compose, run_cli


# ----------------------------------------------------------------------------------------- synthetic search
def settings(**kw) -> DesignSettings:
    base = dict(
        variable="mission.power.battery_capacity_wh",
        low=0.0,
        high=10.0,
        values=(),
        direction="increasing",
        goal="reached_100_days",
        target=0.9,
        confidence=0.95,
        resolution=0.05,
        grid=5,
        max_candidates=60,
    )
    return DesignSettings(**(base | kw))


class Synthetic:
    """Stands in for :class:`campaign.design.Evaluator`: mission i meets the goal when the lever is at least its
    threshold ``t_i`` (drawn once: common random numbers), so P(c) = F(c) exactly and every mission is monotone."""

    def __init__(self, d: DesignSettings, thresholds: np.ndarray, mass_of=None):
        self.design, self.t, self.cache, self.mass_of = d, thresholds, {}, mass_of

    def __call__(self, value, map_value=None):
        key = (value, map_value)
        if key not in self.cache:
            shift = 0.0 if map_value is None else float(map_value)
            flag = self.t - shift <= value if self.design.direction == "increasing" else self.t >= value
            p, lo, hi = design.bounds(flag, None, 0.95)
            _, lcb, _ = design.bounds(flag, None, 2 * self.design.confidence - 1)
            mass = None if self.mass_of is None else {"total_kg": self.mass_of(value, map_value), "margin_kg": 0.0}
            self.cache[key] = design.Evaluation(
                value, map_value, "", flag.size, p, lo, hi, lcb, "wilson", mass, 0.0, flag
            )
        return self.cache[key]


def test_search_brackets_the_crossing_and_meets_the_target_with_its_confidence():
    """Thresholds ~ Exponential(mean 2): P(c) = 1 - exp(-c/2), c* = 2 ln 10 = 4.605 for a 0.9 target. Over 400
    replications of 2,000 missions, the required value has P >= 0.9 in at least 95% of them (one-sided), and the
    95% interval of the crossing covers c* in at least 95%, within binomial noise (bound 0.93)."""
    rng = np.random.default_rng(7)
    d = settings()
    c_star = 2 * np.log(10)
    met = covered = 0
    reps = 400
    for _ in range(reps):
        result = design.search(Synthetic(d, rng.exponential(2.0, 2000)))
        req = result["required"]["value"]
        met += req is not None and 1 - np.exp(-req / 2) >= 0.9
        lo, hi = result["estimate"]["ci95"]
        covered += lo <= c_star <= hi
        assert result["missions_worse_with_more"] == 0
    assert met / reps >= 0.93, met / reps
    assert covered / reps >= 0.93, covered / reps
    # and the search is not trivially conservative: the required value sits within a few resolutions of c*
    assert abs(req - c_star) < 0.6


def test_search_resolves_to_the_resolution_and_respects_the_direction():
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 10, 20000)
    inc = design.search(Synthetic(settings(), t))
    br = design.brackets(list(Synthetic(settings(), t).cache.values()), 0.9, 1.0)  # empty evaluator: no brackets
    assert br["p"] == (None, None)
    rows = inc["candidates"]
    assert [r["value"] for r in rows] == sorted(r["value"] for r in rows)
    below = [r for r in rows if r["lcb"] < 0.9 and r["value"] < inc["required"]["value"]]
    assert inc["required"]["value"] - max(r["value"] for r in below) <= 0.05 + 1e-9
    assert all(r["lcb"] < 0.9 for r in below)
    # decreasing: mission i meets the goal when the lever is at most t_i, so P(c) = 1 - c/10: c* = 1
    dec = design.search(Synthetic(settings(direction="decreasing"), t))
    assert dec["required"]["value"] <= 1.0
    assert dec["required"]["lcb"] >= 0.9
    lo, hi = dec["estimate"]["ci95"]
    assert lo < hi and lo <= 1.0 <= hi  # in increasing order, around c* = 1


def test_search_says_when_the_range_cannot_reach_the_target():
    t = np.random.default_rng(1).uniform(0, 100, 5000)  # P(10) = 0.1 at the top of the range
    result = design.search(Synthetic(settings(), t))
    assert result["required"]["value"] is None
    assert "not reached" in result["required"]["reason"]
    assert result["estimate"]["value"] is None and result["estimate"]["ci95"][1] is None
    # already met at the low end: the required value is the low end, with that reason
    result = design.search(Synthetic(settings(), np.full(5000, -1.0)))
    assert result["required"]["value"] == 0.0
    assert "already met" in result["required"]["reason"]


def test_search_counts_missions_that_do_worse_with_more():
    d = settings()
    ev = Synthetic(d, np.random.default_rng(2).uniform(0, 10, 4000))
    a, b = ev(2.0), ev(5.0)
    b_bad = replace(b, flag=b.flag.copy())
    b_bad.flag[np.flatnonzero(a.flag)[:7]] = False  # seven missions that met the goal at 2 miss it at 5
    assert design.worse_with_more([a, b_bad], 1.0) == 7
    assert design.worse_with_more([a, b], 1.0) == 0


def test_map_finds_the_lightest_design_on_the_target_contour():
    """Two levers: lever b shifts every threshold by b (P(c, b) = F(c + b)); mass = 10 c + 3 b^2. Each map
    value's required c meets the target; the lightest is the minimum of the contour's masses, and no evaluated
    design lighter than it meets the target."""
    d = settings(map_variable="mission.power.array_height_m", map_values=(0.0, 1.0, 2.0, 3.0, 4.0))
    mass_of = lambda c, b: 10 * c + 3 * b * b  # noqa: E731
    ev = Synthetic(d, np.random.default_rng(5).uniform(0, 10, 8000), mass_of)
    per_map = [{"map_value": b, **design.search(ev, b)} for b in d.map_values]
    for m in per_map:
        assert m["required"]["lcb"] >= 0.9
    best = design.lightest_on_map(per_map)
    contour = [m["required"]["mass"]["total_kg"] for m in per_map]
    assert best["mass"]["total_kg"] == min(contour)
    assert best["map_value"] in (1.0, 2.0)  # d/db (10 (9 - b) + 3 b^2) = 0 at b = 5/3
    lighter = [e for e in ev.cache.values() if e.mass["total_kg"] < best["mass"]["total_kg"]]
    assert lighter and all(e.lcb < 0.9 for e in lighter)


# -------------------------------------------------------------------------------------------------- mass
def test_mass_model_adds_up_and_the_default_rover_weighs_350_kg():
    config = compose("+experiment=night_survival")
    params = dict(config.params)
    m = config.mass.breakdown(params)
    parts = sum(
        v for k, v in m.items() if k.endswith("_kg") and k not in ("other_kg", "total_kg", "limit_kg", "margin_kg")
    )
    assert m["total_kg"] == pytest.approx(m["other_kg"] + parts, abs=1e-12)
    assert m["total_kg"] == pytest.approx(350.0, abs=0.05)  # conf's other_kg is 350 minus the default parts
    assert config.mass.other_kg == pytest.approx(other_for(config.mass, params, 350.0), abs=0.05)
    assert m["margin_kg"] == pytest.approx(m["limit_kg"] - m["total_kg"])
    more = config.mass.breakdown(params | {"power.battery_capacity_wh": 5250.0})
    assert more["battery_kg"] - m["battery_kg"] == pytest.approx(1250.0 / config.mass.battery_wh_per_kg)
    tighter = config.mass.breakdown(params | {"thermal.insulation_conductance_w_per_k": 0.04})
    assert tighter["insulation_kg"] == pytest.approx(2 * m["insulation_kg"])  # half the conductance: twice the MLI
    assert compose("+experiment=launch").mass is None  # no rover in the launch model
    # what a report rebuilt from run.json finds: the same breakdown from the stored config
    assert breakdown_of_run(json.loads(json.dumps(config.resolved, default=str))) == m
    assert breakdown_of_run(compose("+experiment=launch").resolved) is None


def test_mass_below_the_deck_costs_no_tower():
    model = MassModel(350, 300, 125, 2, 1.5, 2, 0.48, 6)
    params = {
        "power.battery_capacity_wh": 1000.0,
        "power.array_area_m2": 1.0,
        "power.array_height_m": 1.0,
        "thermal.insulation_conductance_w_per_k": 0.08,
        "thermal.radiator_area_m2": 0.5,
    }
    assert model.components(params)["tower_kg"] == 0.0
    assert model.components(params | {"power.array_height_m": 11.5})["tower_kg"] == pytest.approx(20.0)


# ------------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    "overrides, key, words",
    [
        (
            ["design.variable=mission.power.battery_wh", "design.low=1", "design.high=2"],
            "design.variable",
            "not a design value",
        ),
        (["design.variable=mission.power.battery_capacity_wh"], "design.low", "must be set"),
        (
            ["design.variable=mission.power.battery_capacity_wh", "design.low=5000", "design.high=3000"],
            "design.high",
            "must be above",
        ),
        (
            ["design.variable=mission.power.battery_capacity_wh", "design.low=-5", "design.high=3000"],
            "design.low",
            "got -5",
        ),
        (
            [
                "design.variable=mission.power.battery_capacity_wh",
                "design.low=1000",
                "design.high=3000",
                "design.goal=water_goal_met",
            ],
            "design.goal",
            "not a phase or goal",
        ),
        (
            [
                "design.variable=mission.power.battery_capacity_wh",
                "design.low=1000",
                "design.high=3000",
                "design.target=1.2",
            ],
            "design.target",
            "(0, 1)",
        ),
        (["design.variable=site", "design.low=1000", "design.high=3000"], "design.variable", "categorical"),
        (
            [
                "design.variable=mission.power.battery_capacity_wh",
                "design.low=1000",
                "design.high=3000",
                "design.map.variable=mission.power.battery_capacity_wh",
                "design.map.values=[1]",
            ],
            "design.map.variable",
            "must differ",
        ),
        (
            [
                "design.variable=mission.power.battery_capacity_wh",
                "design.low=1000",
                "design.high=3000",
                "run.stop.halfwidth=0.01",
            ],
            "run.stop.halfwidth",
            "same",
        ),
    ],
)
def test_design_config_errors_name_the_key(overrides, key, words):
    with pytest.raises(ConfigError) as err:
        compose("+experiment=night_survival", *overrides)
    problems = dict(err.value.problems)
    assert key in problems, err.value
    assert words in problems[key]


# ------------------------------------------------------------------------------------- the real model
def goal_by_value(values, *overrides, samples=2048, lever="power.battery_capacity_wh", goal="reached_100_days"):
    """The goal flag per mission (rows: ``values``) on the same scenarios, straight from the engine."""
    config = compose("+experiment=night_survival", f"run.samples={samples}", *overrides)
    flags = []
    for v in values:
        cfg = replace(config, params=tuple((k, float(v) if k == lever else x) for k, x in config.params))
        spec = cfg.spec(samples)
        flags.append(engine.evaluate_shard(spec, 0, samples)[goal].astype(bool))
    return np.array(flags)


def test_no_mission_does_worse_with_a_bigger_battery():
    flags = goal_by_value([2000.0, 4000.0, 7000.0, 12000.0])
    assert np.all(flags[1:] >= flags[:-1])  # per mission, on common random numbers
    assert flags[0].mean() < flags[-1].mean()  # and the lever matters


def _design_of(out) -> dict:
    """The search's answer from its summary, without timings or paths."""
    d = json.loads((out / "summary.json").read_text())["design"]
    return {k: d[k] for k in ("required", "estimate", "missions_worse_with_more", "candidates_evaluated")} | {
        "curve": [(r["value"], r["p"], r["ci95"], r["lcb"], r["mass_kg"]) for r in d["candidates"]]
    }


@pytest.mark.slow
def test_battery_search_is_worker_independent_resumable_and_agrees_with_a_brute_force_sweep(tmp_path):
    """The CLI's answer with one worker equals the answer with two; an interrupted search resumes to the same
    answer; the crossing found by a fine sweep of the same scenarios through the engine lies in the search's 95%
    interval, and the required value is the first fine-sweep value whose one-sided bound reaches the target, to
    the search's resolution."""
    args = [
        "+experiment=battery_sizing",
        "run.samples=1024",
        "run.batch_size=1024",
        "design.low=2000",
        "design.high=14000",
        "design.resolution=1500",
        "design.grid=3",
        "run.progress=false",
        "design.sensitivities=[]",
    ]
    answers = []
    for cpus in (1, 2):
        out = tmp_path / f"cpus{cpus}"
        proc = run_cli(*args, f"run.output_dir={out}", f"cluster.num_cpus={cpus}", cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "What it takes" in proc.stdout
        answers.append(_design_of(out))
    assert answers[0] == answers[1]
    found, out = answers[0], tmp_path / "cpus2"
    table = pq.read_table(out / "designs.parquet")
    assert table.num_rows == found["candidates_evaluated"] and {"p", "lcb", "mass_kg"} <= set(table.column_names)
    assert (out / "report.md").read_text().count("# What it takes") == 1
    assert (out / "plots" / "design_curve.png").stat().st_size > 10_000

    # as if killed: the summary and one candidate's completion are gone
    (out / "summary.json").unlink()
    (sorted((out / "candidates").iterdir())[1] / "manifest.json").unlink()
    refused = run_cli(*args, f"run.output_dir={out}", cwd=REPO)
    assert refused.returncode == 1 and "run.resume=true" in refused.stderr
    proc = run_cli(*args, f"run.output_dir={out}", "run.resume=true", cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _design_of(out) == found

    fine = np.arange(2000.0, 14001.0, 750.0)
    flags = goal_by_value(fine, "run.batch_size=1024", samples=1024)
    crossing = fine[np.argmax(flags.mean(axis=1) >= 0.9)]
    lo, hi = found["estimate"]["ci95"]
    assert lo <= crossing <= hi, (crossing, lo, hi)
    lcb = np.array([design.bounds(f, None, 0.9)[1] for f in flags])
    first = fine[np.argmax(lcb >= 0.9)]
    assert abs(found["required"]["value"] - first) <= 1500 + 750  # the search's resolution plus the sweep's step
    assert found["missions_worse_with_more"] == 0

    # the report is rewritten from the search's own files; its missions load as a sweep of candidates
    (out / "report.html").unlink()
    assert report.main([str(out)]) == 0 and "What it takes" in (out / "report.html").read_text()
    with pytest.raises(FileNotFoundError, match="design search"):
        Results.load(str(out))
    assert Results.load(str(out / "candidates")).n == 1024 * found["candidates_evaluated"]
