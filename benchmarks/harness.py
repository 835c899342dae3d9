"""The benchmark: our engine against its peers on the same physics, its scaling, start-up and memory.

Every measurement runs in its own child process (:mod:`benchmarks.probes`), started in a new session and killed
with its whole process group when done, so each campaign starts Ray afresh (bound to 127.0.0.1, as the app
does) and nothing outlives the benchmark. Throughputs are missions per second; each tool is given the same
wall-clock window (``window_s``), sized from a short pilot run, and the comparisons are ratios measured in the
same invocation on the same machine. The machine's load average is recorded before and after: on a shared
machine the absolute figures move with it, the ratios much less.

Our engine is measured through :func:`campaign.app.run_campaign`, as users run it:

* throughput: steady state, from the moment every worker has delivered its first shard to the last shard
  written (``rows after the first wave / time``), and end to end (all missions / time from process start
  to the last shard);
* time to first result: process start (the parent's clock) to the first shard file in the run directory,
  with a cold compilation cache (a fresh ``cluster.jax_cache_dir``) and a warm one;
* memory: peak resident memory of the driver and of the largest Ray worker while shards stream to Parquet
  (until ``manifest.json``), and, for the smaller campaigns, over the whole run including the end-of-run
  summary and report, which read the dataset whole.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.peers import CAMPAIGN_ENV
from benchmarks.probes import LAUNCHED_ENV

REPO = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


SECTIONS = ("engine", "peers", "scaling", "shards", "memory", "cost")


@dataclass(frozen=True)
class Settings:
    """What to measure and how long (see :data:`PRESETS`)."""

    window_s: float = 30.0  # wall-clock window each throughput measurement is sized to
    pilot: bool = True  # size the measured campaign from a pilot run (which gives the cold start-up time)
    workers: tuple[int, ...] = (1, 2)  # Ray worker counts for the scaling study (the largest for the rest)
    precisions: tuple[str, ...] = ("float32", "float64")
    experiment: str = "night_survival"
    overrides: tuple[str, ...] = ()  # extra overrides for every night-survival run (e.g. mission length)
    scaling_repeats: int = 2  # interleaved repetitions of each worker count
    shard_sizes: tuple[int, ...] = ()  # shard-size study (missions per shard); empty: skipped
    peers: tuple[str, ...] = ("numpy", "openturns", "monaco")
    numpy_sample: int | None = None  # missions per vectorised call (NumPy, OpenTURNS per process); None: by model
    memory_sizes: tuple[int, ...] = (100_000, 1_000_000, 10_000_000)  # launch-model campaigns
    memory_whole_run_up_to: int = 1_000_000  # larger campaigns stop when every shard is stored
    cost_days: tuple[float, ...] = (25.0, 50.0, 100.0, 200.0)
    cost_step_hours: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    cost_batches: tuple[int, ...] = (256, 1024, 2048, 4096)
    timeout_s: float = 900.0
    quiet_s: float = 180.0  # before each measurement, wait up to this long for other users' jobs to finish
    sections: tuple[str, ...] = SECTIONS  # which measurements to make (scaling needs engine)


PRESETS = {
    "full": Settings(shard_sizes=(2048, 8192, 32768, 65536)),
    # Checks the plumbing in CI, not the speed: a 2-day mission, tiny samples, launch campaigns of 1e3 and 1e4.
    "tiny": Settings(
        window_s=1.0,
        pilot=False,
        precisions=("float32",),
        overrides=("mission.surface.mission_days=2", "run.batch_size=256"),
        scaling_repeats=1,
        numpy_sample=256,
        memory_sizes=(1_000,),
        memory_whole_run_up_to=1_000,
        cost_days=(),
        cost_step_hours=(),
        cost_batches=(256,),
        timeout_s=300.0,
        quiet_s=0.0,
    ),
}


@dataclass
class Report:
    settings: dict
    machine: dict
    load_before: tuple[float, ...] = ()
    load_after: tuple[float, ...] = ()
    throughput: list[dict] = field(default_factory=list)
    start_up: list[dict] = field(default_factory=list)
    scaling: list[dict] = field(default_factory=list)
    shard_sizes: list[dict] = field(default_factory=list)
    memory: list[dict] = field(default_factory=list)
    cost: dict = field(default_factory=dict)
    unavailable: dict = field(default_factory=dict)
    elapsed_s: float = 0.0


# ------------------------------------------------------------------------------------------ child processes
_SESSIONS: set[int] = set()  # sessions of the probes this benchmark started (each probe leads its own)


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def cpu_times() -> dict[tuple[int, float], float]:
    """CPU seconds used so far by every process this benchmark did not start, keyed by (pid, start time)."""
    import psutil

    mine = {os.getpid()} | {p.pid for p in psutil.Process().children(recursive=True)}
    out = {}
    for p in psutil.process_iter(["pid", "create_time", "cpu_times"]):
        pid = p.info["pid"]
        if pid not in mine and p.info["cpu_times"] is not None and _session(pid) not in _SESSIONS:
            out[(pid, p.info["create_time"])] = p.info["cpu_times"].user + p.info["cpu_times"].system
    return out


def _wait_for_session_to_end(session: int, limit_s: float = 10.0) -> None:
    import psutil

    deadline = time.time() + limit_s
    while time.time() < deadline and any(_session(p.pid) == session for p in psutil.process_iter()):
        time.sleep(0.1)


def foreign_cpus(before: dict, after: dict, seconds: float) -> float:
    """Average number of CPUs that other processes (other users' jobs) kept busy between two snapshots."""
    used = sum(t - before.get(key, 0.0) for key, t in after.items())
    return round(used / max(seconds, 1e-9), 2)


def wait_until_quiet(limit_s: float, threshold: float = 0.25, log=None) -> float:
    """Wait (up to ``limit_s``) until other processes use less than ``threshold`` CPUs over 2 s; return the
    last measured figure. On a shared machine this keeps other people's jobs out of most measurements."""
    deadline = time.time() + limit_s
    while True:
        before, t = cpu_times(), time.time()
        time.sleep(2.0)
        busy = foreign_cpus(before, cpu_times(), time.time() - t)
        if busy < threshold or time.time() > deadline:
            return busy
        if log:
            log(f"    (other processes use {busy:.1f} CPUs: waiting)")


def child(kind: str, args: dict, timeout: float, extra_env: dict | None = None, quiet_s: float = 0.0) -> dict:
    """Run one probe in a new session; kill its process group afterwards; return its RESULT, with the CPUs
    that other processes used meanwhile (``foreign_cpus``). Waits up to ``quiet_s`` for a quiet machine."""
    if quiet_s:
        wait_until_quiet(quiet_s)
    snapshot, started = cpu_times(), time.time()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # always the embedded Ray
    env.update({"PYTHONUNBUFFERED": "1", LAUNCHED_ENV: repr(time.time()), **(extra_env or {})})
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.probes", kind, json.dumps(args)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _SESSIONS.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = "", f"timed out after {timeout:.0f} s"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        _wait_for_session_to_end(proc.pid)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"benchmark probe '{kind}' failed:\n{err[-3000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    result["foreign_cpus"] = foreign_cpus(snapshot, cpu_times(), time.time() - started)
    return result


def load_average() -> tuple[float, ...]:
    return tuple(round(x, 2) for x in os.getloadavg())


def machine() -> dict:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("jax", "jaxlib", "ray", "numpy", "openturns", "monaco"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory_gb = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory_gb,
        "python": platform.python_version(),
        "versions": versions,
    }


def available(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


# --------------------------------------------------------------------------------------------- our engine
def campaign_stats(r: dict, workers: int) -> dict:
    """Throughput and start-up figures of one probed campaign."""
    shards = r["shards"]
    times = [t for t, _ in shards]
    first_wave = min(workers, len(shards))
    out = {
        "samples": r["samples"],
        "shard_size": r["shard_size"],
        "shards": len(shards),
        "workers": workers,
        "precision": r["precision"],
        "first_result_s": times[0] - r["launched"] if shards else None,
        "ready_s": (r["planned"] - r["launched"]) if r.get("planned") else None,
        "end_to_end_missions_per_s": r["samples"] / (times[-1] - r["launched"]) if shards else None,
        "driver_peak_rss_mb": r["driver_peak_rss_execution"] / MB,
        "worker_peak_rss_mb": r["worker_peak_rss_execution"] / MB,
        "workers_seen": r["workers_seen"],
        "foreign_cpus": r.get("foreign_cpus"),
        "shard_times_s": [round(t - r["launched"], 3) for t in times],
    }
    if len(shards) > first_wave and times[-1] > times[first_wave - 1]:
        rows = sum(n for _, n in shards[first_wave:])
        out["steady_missions_per_s"] = rows / (times[-1] - times[first_wave - 1])
        out["steady_window_s"] = times[-1] - times[first_wave - 1]
        out["steady_missions"] = rows
    else:
        out["steady_missions_per_s"] = out["steady_window_s"] = out["steady_missions"] = None
    if r["phase"] == "whole run":
        out["driver_peak_rss_whole_run_mb"] = r["driver_peak_rss"] / MB
        out["whole_run_s"] = r["ended"] - r["launched"]
    return out


def run_campaign_probe(
    settings: Settings,
    work: Path,
    name: str,
    overrides: list[str],
    workers: int,
    cache: Path,
    stop_after_execution: bool = True,
) -> dict:
    run_dir = work / name
    try:
        r = child(
            "campaign",
            {
                "overrides": [
                    *overrides,
                    f"cluster.num_cpus={workers}",
                    "run.progress=false",
                    f"cluster.jax_cache_dir={cache}",
                    f"run.output_dir={run_dir}",
                ],
                "run_dir": str(run_dir),
                "stop_after_execution": stop_after_execution,
            },
            settings.timeout_s,
            quiet_s=settings.quiet_s,
        )
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return campaign_stats(r, workers)


def night_overrides(settings: Settings, precision: str) -> list[str]:
    return [f"+experiment={settings.experiment}", *settings.overrides, f"run.precision={precision}"]


def batch_size(settings: Settings) -> int:
    from benchmarks.probes import compose

    return compose(*night_overrides(settings, "float64")).run.batch_size


def measure_engine(settings: Settings, work: Path, report: Report, log) -> dict[str, dict]:
    """Throughput and start-up of our engine per precision, with all workers; returns each measured run."""
    workers = max(settings.workers)
    batch = batch_size(settings)
    runs = {}
    for precision in settings.precisions:
        cache = work / f"jax-cache-{precision}"  # cold for the first run of each precision, then warm
        overrides = night_overrides(settings, precision)
        samples = workers * 4 * batch
        if settings.pilot:
            pilot = run_campaign_probe(
                settings,
                work,
                "pilot",
                [*overrides, f"run.samples={samples}", f"run.shard_size={batch}"],
                workers,
                cache,
            )
            report.start_up.append({"precision": precision, "cache": "cold", **pilot})
            estimate = pilot["steady_missions_per_s"] or pilot["end_to_end_missions_per_s"]
            samples = max(samples, batch * math.ceil(estimate * settings.window_s / batch))
        main = run_campaign_probe(settings, work, "main", [*overrides, f"run.samples={samples}"], workers, cache)
        report.start_up.append({"precision": precision, "cache": "warm" if settings.pilot else "cold", **main})
        rate = main["steady_missions_per_s"] or main["end_to_end_missions_per_s"]
        report.throughput.append(
            {
                "tool": "ours",
                "engine": "JAX jit+vmap on Ray",
                "processes": workers,
                "missions": main["steady_missions"] or samples,
                "seconds": main["steady_window_s"],
                "missions_per_s": rate,
                **main,
            }
        )
        runs[precision] = main
        log(
            f"  ours {precision}: {rate:,.0f} missions/s steady ({workers} workers, {samples:,} missions), "
            f"first result {report.start_up[-2 if settings.pilot else -1]['first_result_s']:.1f} s cold"
            + (f", {main['first_result_s']:.1f} s warm" if settings.pilot else "")
        )
    return runs


def measure_scaling(settings: Settings, work: Path, report: Report, main: dict, log) -> None:
    """Steady throughput for each worker count on the campaign of the main run (same missions, same shards),
    interleaved ``scaling_repeats`` times; the main run is the first sample of the largest worker count."""
    precision = main["precision"]
    overrides = [
        *night_overrides(settings, precision),
        f"run.samples={main['samples']}",
        f"run.shard_size={main['shard_size']}",
    ]
    for repeat in range(settings.scaling_repeats):
        for workers in settings.workers:
            if repeat == 0 and workers == main["workers"]:
                r = main
            else:
                r = run_campaign_probe(
                    settings, work, f"scale{workers}", overrides, workers, work / f"jax-cache-{precision}"
                )
            report.scaling.append({"repeat": repeat, **r})
            log(f"  {workers} worker(s): {r['steady_missions_per_s'] or 0:,.0f} missions/s")


def measure_shard_sizes(settings: Settings, work: Path, report: Report, log) -> None:
    precision = settings.precisions[0]
    workers = max(settings.workers)
    samples = max(settings.shard_sizes) * 4 * workers
    for size in settings.shard_sizes:
        r = run_campaign_probe(
            settings,
            work,
            f"shard{size}",
            [*night_overrides(settings, precision), f"run.samples={samples}", f"run.shard_size={size}"],
            workers,
            work / f"jax-cache-{precision}",
        )
        report.shard_sizes.append(r)
        log(
            f"  shard {size}: {r['steady_missions_per_s'] or 0:,.0f} missions/s, first result "
            f"{r['first_result_s']:.1f} s"
        )


def measure_memory(settings: Settings, work: Path, report: Report, log) -> None:
    """Launch-model campaigns of increasing size: peak RSS while streaming (and over the whole run when small)."""
    from benchmarks.probes import compose

    workers = max(settings.workers)
    for n in settings.memory_sizes:
        whole = n <= settings.memory_whole_run_up_to
        r = run_campaign_probe(
            settings,
            work,
            f"memory{n}",
            ["+experiment=launch", f"run.samples={n}"],
            workers,
            work / "jax-cache-launch",
            stop_after_execution=not whole,
        )
        config = compose("+experiment=launch")
        from campaign import declarations, store

        schema = store.Layout(declarations.dataset_columns(config.model, config.variables), config.run.precision).schema
        row_bytes = sum(_arrow_width(f.type) for f in schema)
        report.memory.append({"model": "launch", "results_in_memory_mb": n * row_bytes / MB, **r})
        log(
            f"  launch {n:,}: driver {r['driver_peak_rss_mb']:,.0f} MB while streaming"
            + (f", {r['driver_peak_rss_whole_run_mb']:,.0f} MB whole run" if whole else "")
            + f"; worker {r['worker_peak_rss_mb']:,.0f} MB; results {n * row_bytes / MB:,.0f} MB if kept whole"
        )


def _arrow_width(t) -> float:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return t.index_type.bit_width / 8
    if pa.types.is_boolean(t):
        return 1 / 8
    return t.bit_width / 8


def measure_cost(settings: Settings, report: Report, log) -> None:
    """ns per mission-step of the compiled model on one core, against batch size, mission days, step size."""
    base = [f"+experiment={settings.experiment}", *settings.overrides]
    variants = {}
    for precision in settings.precisions:
        for b in settings.cost_batches:
            variants[f"{precision} batch={b}"] = [*base, f"run.precision={precision}", f"run.batch_size={b}"]
        for d in settings.cost_days:
            variants[f"{precision} days={d:g}"] = [
                *base,
                f"run.precision={precision}",
                f"mission.surface.mission_days={d}",
            ]
        for h in settings.cost_step_hours:
            variants[f"{precision} step_hours={h:g}"] = [
                *base,
                f"run.precision={precision}",
                f"mission.surface.step_hours={h}",
            ]
    result = child("cost", {"variants": variants, "repeats": 3}, settings.timeout_s, quiet_s=settings.quiet_s)
    report.cost = {"foreign_cpus": result.pop("foreign_cpus"), "variants": result}
    for name, c in result.items():
        log(
            f"  {name}: {c['ns_per_mission_step']:.1f} ns per mission-step ({c['steps']} steps, compile+first "
            f"{c['first_call_s']:.1f} s)"
        )


# -------------------------------------------------------------------------------------------------- peers
# Missions per vectorised peer call, by model: ~3 s of NumPy on one core (the whole mission's internal draws
# hold ~50 kB per mission, so its calls are kept to ~100 MB).
PEER_SAMPLE = {"night_survival": 8192, "mission": 2048}


def peer_model(settings: Settings) -> str:
    """The model of the benchmarked experiment, checked to be one the peers implement."""
    from benchmarks.peers import OUTPUTS
    from benchmarks.probes import compose

    model = compose(*night_overrides(settings, "float64")).model.name
    if model not in OUTPUTS:
        raise ValueError(
            f"the peers implement the models {', '.join(sorted(OUTPUTS))} (experiments night_survival "
            f"and full_mission), not '{model}' of +experiment={settings.experiment}: pass --peers '' "
            "or --only engine,scaling,shards"
        )
    return model


def write_campaign(settings: Settings, path: Path) -> str:
    """Write the campaign for the peers: its model, design values and tables, input distributions (always
    float64: the precision of the NumPy code). Returns the model's name."""
    from benchmarks.probes import compose
    from tests.oracles import flat_design

    config = compose(*night_overrides(settings, "float64"))
    with open(path, "wb") as fh:
        pickle.dump(
            {
                "model": config.model.name,
                "seed": config.run.seed,
                "params": flat_design(config.spec(config.run.batch_size)),
                "variables": [(v.name, v.kind.value, v.theta) for v in config.variables],
            },
            fh,
        )
    return config.model.name


def measure_peers(settings: Settings, work: Path, report: Report, log) -> None:
    campaign = work / "campaign.pkl"
    model = write_campaign(settings, campaign)
    sample = settings.numpy_sample or PEER_SAMPLE[model]
    env = {CAMPAIGN_ENV: str(campaign)}
    processes = max(settings.workers)
    for tool in settings.peers:
        module = {"numpy": "numpy", "openturns": "openturns", "monaco": "monaco"}[tool]
        if not available(module):
            report.unavailable[tool] = f"'{module}' is not installed (pip install -e '.[bench]')"
            log(f"  {tool}: not installed, skipped")
            continue
        if tool == "monaco":  # one mission per case: size the case count to the window from a pilot
            cases = 2 * processes
            if settings.pilot:
                pilot = child(
                    tool,
                    {"sample": cases, "window_s": 0, "processes": processes},
                    settings.timeout_s,
                    env,
                    settings.quiet_s,
                )
                cases = max(cases, math.ceil(pilot["missions_per_s"] * settings.window_s))
            r = child(
                tool,
                {"sample": cases, "window_s": 0, "processes": processes},
                settings.timeout_s,
                env,
                settings.quiet_s,
            )
        else:
            r = child(
                tool,
                {
                    "sample": sample * (processes if tool == "openturns" else 1),
                    "window_s": settings.window_s,
                    "processes": processes,
                },
                settings.timeout_s,
                env,
                settings.quiet_s,
            )
        engine = {
            "numpy": "vectorised NumPy, one process",
            "openturns": "PythonFunction(func_sample) on NumPy",
            "monaco": "one mission per case, NumPy",
        }[tool]
        report.throughput.append({"engine": engine, "precision": "float64", **r})
        log(f"  {tool}: {r['missions_per_s']:,.1f} missions/s ({r['processes']} process(es), {r['seconds']:.0f} s)")


# ------------------------------------------------------------------------------------------------- driver
def run(settings: Settings, log=print) -> Report:
    """Every measurement of ``settings``; returns the report (see :func:`format_report`)."""
    started = time.time()
    report = Report(settings=asdict(settings), machine=machine(), load_before=load_average())
    work = Path(tempfile.mkdtemp(prefix="lupex-bench-"))
    try:
        wanted = set(settings.sections) | ({"engine"} if "scaling" in settings.sections else set())
        if "engine" in wanted:
            log(f"Our engine ({settings.experiment}, {', '.join(settings.precisions)}):")
            runs = measure_engine(settings, work, report, log)
        if "peers" in wanted:
            log("Peers:")
            measure_peers(settings, work, report, log)
        if "scaling" in wanted:
            log("Scaling with Ray workers:")
            measure_scaling(settings, work, report, runs[settings.precisions[0]], log)
        if "shards" in wanted and settings.shard_sizes:
            log("Shard size:")
            measure_shard_sizes(settings, work, report, log)
        if "memory" in wanted:
            log("Memory (launch model):")
            measure_memory(settings, work, report, log)
        if "cost" in wanted:
            log("Cost per mission-step (one core, no Ray):")
            measure_cost(settings, report, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.load_after = load_average()
    report.elapsed_s = time.time() - started
    return report


def _ratio(a: float | None, b: float | None) -> str:
    """``a / b`` to three significant figures below 100 (the targets are 1.8x and 5x), one decimal above."""
    if not (a and b):
        return "-"
    return f"{a / b:,.1f}x" if a / b >= 100 else f"{a / b:.3g}x"


def format_report(report: Report) -> str:
    """The tables the command prints."""
    m = report.machine
    lines = [
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib'] or 0:.0f} GiB; load average "
        f"{report.load_before} before, {report.load_after} after ({report.elapsed_s / 60:.1f} min). 'other CPUs':"
        " CPUs kept busy by processes this benchmark did not start, during that measurement.",
        "",
    ]
    peers = {r["tool"]: r for r in report.throughput if r["tool"] != "ours"}
    window = report.settings["window_s"]
    lines.append(f"Throughput, {report.settings['experiment']} (window ~{window:g} s each)")
    lines.append(
        f"  {'tool':<44} {'precision':<9} {'procs':>5} {'missions':>10} {'seconds':>8} {'missions/s':>11}"
        f" {'vs monaco':>10} {'vs OpenTURNS':>12} {'other CPUs':>10}"
    )
    for r in report.throughput:
        label = f"{r['tool']} ({r['engine']})"
        lines.append(
            f"  {label:<44} {r['precision']:<9} {r['processes']:>5} {r['missions']:>10,} "
            f"{r['seconds'] or 0:>8.1f} {r['missions_per_s']:>11,.1f} "
            f"{_ratio(r['missions_per_s'], peers.get('monaco', {}).get('missions_per_s')):>10} "
            f"{_ratio(r['missions_per_s'], peers.get('openturns', {}).get('missions_per_s')):>12} "
            f"{r.get('foreign_cpus', 0) or 0:>10.2f}"
        )
    for tool, why in report.unavailable.items():
        lines.append(f"  {tool}: unavailable ({why})")
    lines += ["", "Time to first result (process start to the first shard file), all workers"]
    for r in report.start_up:
        lines.append(
            f"  {r['precision']:<8} {r['cache']:<5} cache: {r['first_result_s']:6.1f} s  (Ray up and "
            f"campaign planned at {r['ready_s'] or 0:.1f} s; shard of {r['shard_size']:,} missions)"
        )
    if report.scaling:
        lines += ["", "Scaling with Ray workers (steady state, same campaign)"]
        by_workers: dict[int, list[float]] = {}
        for r in report.scaling:
            by_workers.setdefault(r["workers"], []).append(r["steady_missions_per_s"] or 0.0)
        medians = {w: sorted(rates)[len(rates) // 2] for w, rates in by_workers.items()}
        for w, rates in sorted(by_workers.items()):
            other = [r.get("foreign_cpus") or 0.0 for r in report.scaling if r["workers"] == w]
            lines.append(
                f"  {w} worker(s): {medians[w]:>10,.0f} missions/s (runs: {', '.join(f'{x:,.0f}' for x in rates)};"
                f" other CPUs {', '.join(f'{x:.2f}' for x in other)})  "
                f"{_ratio(medians[w], medians[min(medians)])} of {min(medians)}"
            )
    if report.shard_sizes:
        lines += ["", "Shard size (all workers)"]
        for r in report.shard_sizes:
            lines.append(
                f"  {r['shard_size']:>7,} missions/shard: {r['steady_missions_per_s'] or 0:>10,.0f} missions/s, "
                f"first result {r['first_result_s']:.1f} s"
            )
    if report.memory:
        lines += [
            "",
            "Memory, launch model (peak RSS)",
            f"  {'missions':>12} {'driver, streaming':>18} "
            f"{'driver, whole run':>18} {'largest worker':>15} {'results if kept whole':>22}",
        ]
    for r in report.memory:
        whole = r.get("driver_peak_rss_whole_run_mb")
        lines.append(
            f"  {r['samples']:>12,} {r['driver_peak_rss_mb']:>15,.0f} MB "
            f"{(f'{whole:,.0f} MB' if whole else 'not run'):>18} {r['worker_peak_rss_mb']:>12,.0f} MB "
            f"{r['results_in_memory_mb']:>19,.0f} MB"
        )
    if report.cost:
        lines += ["", f"Cost per mission-step, one core, no Ray (other CPUs {report.cost['foreign_cpus']:.2f})"]
        for name, c in report.cost["variants"].items():
            lines.append(
                f"  {name:<28} {c['ns_per_mission_step']:7.1f} ns  {c['missions_per_s']:>9,.0f} missions/s"
                f"  ({c['steps']} steps, batch {c['batch']}, compile+first {c['first_call_s']:.1f} s)"
            )
    return "\n".join(lines)
