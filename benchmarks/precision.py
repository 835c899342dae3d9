"""``python -m benchmarks.precision``: what a campaign's design costs in precision (see benchmarks/README.md).

Two studies, each printing a table and writing its figures to JSON:

``design``
    The variance of P-hat per CPU-second of the whole mission for ``run.inner_samples`` in {1, 10, 100, 1000}:
    the same number of missions evaluated in one process (compiled once per design, timed after a warm-up), each
    goal's variance from the cluster-robust estimator over the epistemic draws (the one behind the headline
    interval), and the efficiency ``1 / (Var(P-hat) x CPU-seconds)`` relative to one mission per draw. The
    epistemic band needs at least two missions per draw; the marginal P is most precise with one.
``sequence``
    What stopping at a precision costs in missions, by simulation: campaigns of epistemic draws (true P of each
    draw ~ Beta of mean p and concentration 9), a look every 1/400 of the cap, stopped when the confidence
    sequence's half-width reaches the target; the median number of draws used against the number a fixed-size
    interval of that half-width needs (``1.96^2 Var / h^2``, known only in hindsight), and the coverage.
``time-to-answer``
    Seconds from the command to P(water_goal_met) with a valid 95% half-width at most ``--target``, two ways side
    by side: the fixed design of an analyst without a stopping rule (the experiment as it was, 100 missions per
    epistemic draw, run at 20,000 missions and rerun at twice the size until the headline interval is narrow
    enough: the time of every run counts), and one campaign that stops at the target (``run.stop.halfwidth``)
    with the experiment's defaults. Each is the end-to-end CLI, Ray start and compilation included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GOALS = ("reached_100_days", "water_goal_met")


def measure_design(inner: tuple[int, ...], missions: int, log) -> dict:
    """The ``design`` study, in this process (one CPU for JAX: the cost per mission is what matters)."""
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    from campaign import engine
    from campaign.analysis import intervals
    from tests.helpers import compose

    rows = {}
    for m in inner:
        config = compose(
            "+experiment=full_mission", f"run.inner_samples={m}", f"run.samples={missions}", "run.batch_size=1024"
        )
        engine.configure_jax(config.run.precision)
        spec = config.spec(1024)
        engine.evaluate_shard(spec, 0, 1024)  # compile
        started = time.process_time()
        columns = engine.evaluate_shard(dataclass_replace(spec, shard_size=missions), 0, missions)
        seconds = time.process_time() - started
        outer = columns["sample_index"] // m
        row = {"missions": missions, "draws": int(outer.max() + 1), "cpu_s": seconds, "goals": {}}
        for goal in GOALS:
            y, size = intervals.cluster_sums(columns[goal], outer)
            p, var = intervals.ratio_variance(y, size)
            band = intervals.epistemic_band(y, size)
            row["goals"][goal] = {
                "p": p,
                "var": var,
                "per_cpu_s": 1.0 / (var * seconds),
                "sd_epistemic": band["sd"],
                "band": band["band"],
            }
        rows[m] = row
        log(
            f"  inner_samples={m}: {seconds:.1f} CPU-s, "
            + ", ".join(f"{g} var {r['var']:.3g}" for g, r in row["goals"].items())
        )
    return {"missions": missions, "rows": {str(k): v for k, v in rows.items()}}


def dataclass_replace(spec, **changes):
    import dataclasses

    return dataclasses.replace(spec, **changes)


def format_design(study: dict) -> str:
    rows = study["rows"]
    first = rows[min(rows, key=int)]
    lines = [
        f"Variance of P-hat per CPU-second, full_mission, {study['missions']:,} missions per design, one core",
        f"{'inner_samples':>13} {'draws':>7} {'CPU s':>7}"
        + "".join(f" | {g + ' var':>24} {'rel. efficiency':>15}" for g in GOALS),
    ]
    for m, r in sorted(rows.items(), key=lambda kv: int(kv[0])):
        cells = "".join(
            f" | {r['goals'][g]['var']:>24.3e} {r['goals'][g]['per_cpu_s'] / first['goals'][g]['per_cpu_s']:>15.2f}"
            for g in GOALS
        )
        lines.append(f"{int(m):>13} {r['draws']:>7,} {r['cpu_s']:>7.1f}{cells}")
    return "\n".join(lines)


def measure_sequence(log) -> dict:
    from campaign.analysis.sequential import ConfidenceSequence

    rows = []
    for m, p, h in ((1, 0.06, 0.005), (10, 0.06, 0.005), (10, 0.3, 0.01), (100, 0.3, 0.02)):
        rng = np.random.default_rng([21, m])
        campaigns, draws = 400, max(60_000 // m, 4000)
        x = rng.binomial(m, rng.beta(p * 9, (1 - p) * 9, (campaigns, draws))) / m
        cs = ConfidenceSequence(shape=(campaigns,), target_half_width=h)
        used, lo, hi = np.full(campaigns, draws), np.zeros(campaigns), np.ones(campaigns)
        open_ = np.ones(campaigns, dtype=bool)
        step = max(1, draws // 400)
        for first in range(0, draws, step):
            cs.update(x[:, first : first + step])
            now = open_ & (cs.half_width <= h)
            used[now], lo[now], hi[now] = first + step, cs.lower[now], cs.upper[now]
            open_ &= ~now
        fixed = 1.959963984540054**2 * float(np.var(x)) / h**2
        rows.append(
            {
                "missions_per_draw": m,
                "p": p,
                "target": h,
                "stopped": float(np.mean(~open_)),
                "median_draws": float(np.median(used)),
                "fixed_draws": fixed,
                "ratio": float(np.median(used)) / fixed,
                "coverage": float(np.mean((lo <= p) & (p <= hi))),
            }
        )
        log(f"  m={m} p={p} h={h}: {rows[-1]['ratio']:.2f}x the fixed-size draws")
    return {"rows": rows}


def format_sequence(study: dict) -> str:
    lines = [
        "Stopping at a precision: draws used by the confidence sequence against a fixed-size interval (simulated)",
        f"{'missions/draw':>13} {'P':>5} {'target':>7} {'stopped':>8} {'median draws':>13} {'fixed-size':>11} "
        f"{'ratio':>6} {'coverage':>9}",
    ]
    for r in study["rows"]:
        lines.append(
            f"{r['missions_per_draw']:>13} {r['p']:>5} {r['target']:>7} {r['stopped']:>8.2f} "
            f"{r['median_draws']:>13,.0f} {r['fixed_draws']:>11,.0f} {r['ratio']:>6.2f} {r['coverage']:>9.3f}"
        )
    return "\n".join(lines)


def _cli(args: list[str], cwd: Path) -> tuple[float, dict]:
    """Run ``python -m campaign ARGS``; return its wall time and the summary it wrote. Every run of a study
    shares one JAX compilation cache, new to the study, as an analyst's repeated runs share theirs."""
    out = cwd / f"run-{len(list(cwd.glob('run-*')))}"
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "campaign",
            *args,
            f"run.output_dir={out}",
            "run.progress=false",
            f"cluster.jax_cache_dir={cwd / 'jax-cache'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return seconds, json.loads((out / "summary.json").read_text())


def _half_width(entry: dict) -> float:
    return (entry["ci95"][1] - entry["ci95"][0]) / 2


def measure_time_to_answer(target: float, cap: int, log) -> dict:
    goal = "water_goal_met"
    with tempfile.TemporaryDirectory(prefix="lupex-tta-") as tmp:
        work = Path(tmp)
        # The adaptive campaign first: it pays the cold compilation, the fixed design's runs find theirs cached.
        seconds, summary = _cli(
            ["+experiment=full_mission", f"run.stop.halfwidth={target}", f"run.stop.on=[{goal}]", f"run.samples={cap}"],
            work,
        )
        entry = summary["goals"][goal]
        log(
            f"  adaptive, defaults: {seconds:.1f} s, {summary['missions']:,} missions, half-width "
            f"{_half_width(entry):.4f}"
        )
        adaptive = {
            "seconds": seconds,
            "missions": summary["missions"],
            "half_width": _half_width(entry),
            "p": entry["p"],
            "inner_samples": summary["sample_design"].get("missions_per_draw"),
            "stop": summary["stop"],
        }
        fixed, total, samples = [], 0.0, 20_000
        while True:  # the analyst's loop without a stopping rule
            seconds, summary = _cli(
                ["+experiment=full_mission", "run.inner_samples=100", f"run.samples={samples}"], work
            )
            total += seconds
            entry = summary["goals"][goal]
            fixed.append({"samples": samples, "seconds": seconds, "half_width": _half_width(entry), "p": entry["p"]})
            log(f"  fixed design, {samples:,} missions: {seconds:.1f} s, half-width {_half_width(entry):.4f}")
            if _half_width(entry) <= target or samples >= cap:
                break
            samples *= 2
    return {
        "target": target,
        "goal": goal,
        "fixed": {"runs": fixed, "seconds": total},
        "adaptive": adaptive,
        "speedup": total / adaptive["seconds"],
    }


def format_time_to_answer(study: dict) -> str:
    f, a = study["fixed"], study["adaptive"]
    last = f["runs"][-1]
    return "\n".join(
        [
            f"Time to P({study['goal']}) with a valid 95% half-width <= {study['target']:g} (end to end, Ray and "
            "compilation included)",
            f"  fixed design (100 missions per draw), rerun at 2x until narrow: {len(f['runs'])} run(s), last "
            f"{last['samples']:,} missions, half-width {last['half_width']:.4f}: {f['seconds']:.1f} s",
            f"  run.stop.halfwidth={study['target']:g} with the defaults ({a['inner_samples']} missions per draw): "
            f"{a['missions']:,} missions, half-width {a['half_width']:.4f}: {a['seconds']:.1f} s",
            f"  ratio: {study['speedup']:.2f}x",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.precision", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("study", choices=("design", "sequence", "time-to-answer", "all"))
    parser.add_argument("--inner", type=lambda s: tuple(int(x) for x in s.split(",")), default=(1, 10, 100, 1000))
    parser.add_argument("--missions", type=int, default=40_960, help="missions per design (design study)")
    parser.add_argument("--target", type=float, default=0.005, help="half-width (time-to-answer study)")
    parser.add_argument("--cap", type=int, default=1_280_000, help="most missions (time-to-answer study)")
    parser.add_argument("--out", type=Path, help="JSON (default benchmarks/results/<time>_precision.json)")
    args = parser.parse_args(argv)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    result: dict = {"machine": {"cpus": os.cpu_count()}, "when": datetime.now().isoformat(timespec="seconds")}
    if args.study in ("design", "all"):
        result["design"] = measure_design(args.inner, args.missions, log)
        print(format_design(result["design"]))
    if args.study in ("sequence", "all"):
        result["sequence"] = measure_sequence(log)
        print(format_sequence(result["sequence"]))
    if args.study in ("time-to-answer", "all"):
        result["time_to_answer"] = measure_time_to_answer(args.target, args.cap, log)
        print(format_time_to_answer(result["time_to_answer"]))
    out = args.out or REPO / "benchmarks" / "results" / f"{datetime.now():%Y-%m-%d_%H-%M-%S}_precision.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
