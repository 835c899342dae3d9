"""What the benchmark runs in its child processes: one measurement per process, its result as one JSON line.

``python -m benchmarks.probes KIND '<json arguments>'``; every kind prints ``RESULT <json>`` as its last line.

* ``campaign``: a campaign through :func:`campaign.app.run_campaign` on the embedded Ray (bound to 127.0.0.1 as
  the app does), watched by a thread that records when each shard file appears in the run directory (every
  ``poll_s`` seconds), and the peak resident memory (RSS) of this driver and of every Ray worker. With
  ``stop_after_execution`` it reports and exits as soon as ``manifest.json`` is written (every shard stored),
  before the end-of-run summary and report, whose memory grows with the campaign (they read the dataset
  whole); the parent then kills the process group, Ray included.
* ``cost``: the compiled batch function of the engine (:func:`campaign.engine.evaluate_batch`) on one thread,
  no Ray: time per mission-step for variants of the campaign (missions, mission days, step size).
* ``numpy``, ``openturns``, ``monaco``: the peers (:mod:`benchmarks.peers`).

No probe imports the package ``tests``: configs are composed here as ``python -m campaign`` composes them.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

LAUNCHED_ENV = "LUPEX_BENCH_LAUNCHED"  # time.time() when the parent started this process


def compose(*overrides: str):
    """The validated CampaignConfig for ``overrides``, composed exactly as ``python -m campaign`` does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from campaign.app import CONF_DIR
    from campaign.config import load, register_configs

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return load(hydra_compose("config", overrides=list(overrides)))


def emit(result: dict) -> None:
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------- campaign
def peak_rss(pid: int | str = "self") -> int:
    """Peak resident memory of a process so far (bytes): the kernel's high-water mark (``VmHWM``), exact
    however short the peak was, and free to read (polling RSS would cost CPU that the niced Ray workers lose)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Watcher(threading.Thread):
    """Records when each shard file appears (every ``poll_s``) and, every ``scan_s``, which Ray workers exist
    and their peak resident memory. Cheap on purpose: Ray runs its workers at nice 15, so any CPU this driver
    spends comes out of theirs."""

    def __init__(self, run_dir: Path, poll_s: float, scan_s: float = 2.0):
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()
        self.samples = run_dir / "samples"
        self.manifest = run_dir / "manifest.json"
        self.poll_s, self.scan_s = poll_s, scan_s
        self.seen: dict[str, float] = {}
        self.workers: dict[int, int] = {}  # pid -> peak RSS seen
        self.manifest_at: float | None = None
        self.driver_peak_at_manifest = 0
        self.worker_peak_at_manifest = 0
        self.last_scan = 0.0
        self.stop = threading.Event()

    def scan_workers(self) -> None:
        for p in self.me.children(recursive=True):
            try:
                if (
                    p.pid in self.workers
                    or p.name().startswith("ray::")
                    or "default_worker.py" in " ".join(p.cmdline()[:3])
                ):
                    self.workers[p.pid] = max(self.workers.get(p.pid, 0), peak_rss(p.pid))
            except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                continue

    @property
    def worker_peak(self) -> int:
        return max(self.workers.values(), default=0)

    def poll(self) -> None:
        now = time.time()
        if self.samples.is_dir():
            for entry in os.scandir(self.samples):
                if entry.name.endswith(".parquet") and entry.name not in self.seen:
                    self.seen[entry.name] = now
        if now - self.last_scan > self.scan_s:
            self.scan_workers()
            self.last_scan = now
        if self.manifest_at is None and self.manifest.exists():
            self.manifest_at = now
            self.scan_workers()
            self.driver_peak_at_manifest, self.worker_peak_at_manifest = peak_rss(), self.worker_peak

    def run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            self.stop.wait(self.poll_s)


def probe_campaign(args: dict) -> dict:
    """Run one campaign (``args``: overrides, run_dir, poll_s, stop_after_execution) and time it."""
    launched = float(os.environ.get(LAUNCHED_ENV, time.time()))
    started = time.time()
    run_dir = Path(args["run_dir"])
    config = compose(*args["overrides"])
    from campaign.app import run_campaign

    marks: dict[str, float] = {}

    def log(*parts) -> None:
        if str(parts[0]).startswith("Campaign '"):
            marks.setdefault("planned", time.time())  # Ray is up, the config prepared, shards planned

    watcher = Watcher(run_dir, float(args.get("poll_s", 0.05)))
    watcher.start()

    def report(phase: str) -> dict:
        info = json.loads((run_dir / "run.json").read_text())
        size, total = int(info["shard_size"]), int(info["samples"])
        shards = sorted((t, min(size, total - int(name[5:10]) * size)) for name, t in watcher.seen.items())
        return {
            "phase": phase,
            "launched": launched,
            "started": started,
            "planned": marks.get("planned"),
            "shards": shards,
            "manifest_at": watcher.manifest_at,
            "ended": time.time(),
            "samples": total,
            "shard_size": size,
            "precision": info["precision"],
            "driver_peak_rss_execution": watcher.driver_peak_at_manifest or peak_rss(),
            "worker_peak_rss_execution": watcher.worker_peak_at_manifest or watcher.worker_peak,
            "driver_peak_rss": peak_rss(),
            "worker_peak_rss": watcher.worker_peak,
            "workers_seen": len(watcher.workers),
            "cpus": _ray_cpus(),
        }

    if args.get("stop_after_execution"):

        def finish_when_stored() -> None:
            while watcher.manifest_at is None:
                time.sleep(0.01)
            watcher.poll()
            emit(report("execution"))
            os._exit(0)  # the parent kills the process group (Ray) next

        threading.Thread(target=finish_when_stored, daemon=True).start()
    run_campaign(config, run_dir, log=log)
    watcher.stop.set()
    watcher.join()
    watcher.poll()
    return report("whole run")


def _ray_cpus() -> int | None:
    import ray

    return int(ray.cluster_resources().get("CPU", 0)) if ray.is_initialized() else None


# --------------------------------------------------------------------------------------------------- cost
def probe_cost(args: dict) -> dict:
    """Seconds per batch of the compiled engine for each variant (``args["variants"]``: name -> overrides), on
    one thread: the first call (compilation included) and the median of ``repeats`` timed calls."""
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
    os.environ["JAX_PLATFORMS"] = "cpu"
    if hasattr(os, "sched_setaffinity"):  # one core, whichever this process was started on
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    from campaign import engine

    out = {}
    for name, overrides in args["variants"].items():
        config = compose(*overrides)
        engine.configure_jax(config.run.precision)
        spec = config.spec(config.run.batch_size)
        t0 = time.perf_counter()
        engine.evaluate_batch(spec, 0)
        first = time.perf_counter() - t0
        times = []
        for k in range(int(args.get("repeats", 3))):
            t0 = time.perf_counter()
            engine.evaluate_batch(spec, (k + 1) * spec.batch_size)
            times.append(time.perf_counter() - t0)
        site = getattr(spec.tables, "site", spec.tables)  # night survival's tables, or the surface's
        steps = len(site.step_index) if hasattr(site, "step_index") else 1
        seconds = sorted(times)[len(times) // 2]
        out[name] = {
            "batch": spec.batch_size,
            "steps": steps,
            "first_call_s": first,
            "batch_s": seconds,
            "ns_per_mission_step": seconds / (spec.batch_size * steps) * 1e9,
            "missions_per_s": spec.batch_size / seconds,
        }
    return out


def main() -> None:
    kind, args = sys.argv[1], json.loads(sys.argv[2])
    if kind == "campaign":
        result = probe_campaign(args)
    elif kind == "cost":
        result = probe_cost(args)
    else:
        from benchmarks import peers

        result = peers.run(kind, args)
    emit(result)


if __name__ == "__main__":
    main()
