"""Ray execution: start or join a cluster, and stream shard tasks through a bounded window.

* Embedded local Ray (the default) has every port on 127.0.0.1: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` puts
  Ray in single-machine mode, and it must be set before Ray is imported (Ray reads it at import).
* Starting it, Ray (2.52 on) turns token authentication on by default and logs a warning that it did so on every
  run; :func:`ensure_ray` drops that one record, for the embedded instance only (:class:`_QuietTokenDefault`).
  Nothing else changes: the token is still created and required, the ports still bind to 127.0.0.1. Joining a
  cluster logs whatever Ray logs.
* Ray is initialised once per process (a Hydra multirun calls the campaign repeatedly) and shut down at exit
  when this process started it.
* Shards are coarse tasks (thousands of missions each). At most ``max_tasks_in_flight`` are submitted at once;
  results are taken with ``ray.wait`` as they complete and handed to the caller's ``on_result`` (the store),
  so memory stays bounded whatever the number of missions.
* A worker that dies is retried by Ray (``task_retries``); an exception raised by a model is not retried: the
  run stops, naming the shard and its sample range, after cancelling the tasks still in flight.
* Results reach storage in one of two ways. By default each task returns its Arrow table and the driver
  writes it, so worker nodes need no access to the output (nor credentials for it). With a ``sink`` (the run
  directory, as a shared path or URI; ``cluster.direct_write=true``) each task writes its own shard file there
  and returns only a receipt: the driver then moves no data. A failed write is an infrastructure error and is
  retried like a dead worker.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

# Single-machine mode (every port on 127.0.0.1) unless the caller decided otherwise before importing this module
# (campaign.app forces it for the embedded Ray and leaves it alone when joining a cluster).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import ray  # noqa: E402  (must follow the environment variable above)

from .config import ClusterSettings  # noqa: E402
from .engine import CampaignSpec, NonFiniteError, configure_jax, enables_x64, evaluate_shard  # noqa: E402
from .store import SAMPLES_DIR, Layout, RunStore, Shard  # noqa: E402


class ShardError(RuntimeError):
    """A shard failed for a reason other than infrastructure (a model error): the run stops."""


class ShardWriteError(RuntimeError):
    """A task could not write its shard file to the sink (``cluster.direct_write``): retried by Ray, since
    storage errors are usually transient; the message says what every node must be able to reach."""


def default_jax_cache_dir() -> str:
    return str(Path.home() / ".cache" / "lupex-campaign" / "jax")


class _QuietTokenDefault(logging.Filter):
    """Drops Ray's notice that a new local cluster has token authentication on by default ("Token authentication
    is enabled for this Ray cluster. Set RAY_AUTH_MODE=disabled to opt out...",
    ``ray._private.authentication.authentication_token_setup``). For the embedded loopback instance it reports
    the secure default taking effect and asks nothing of the user, yet it was the only line on stderr besides the
    progress; only that record is dropped, only while :func:`ensure_ray` starts the embedded instance."""

    LOGGER = "ray._private.authentication.authentication_token_setup"
    PREFIX = "Token authentication is enabled for this Ray cluster"

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.PREFIX)


class _RayInitCommon(TypedDict):
    """Keyword arguments of ``ray.init`` shared by joining a cluster and starting the embedded instance."""

    include_dashboard: bool
    log_to_driver: bool
    logging_level: int


def ensure_ray(settings: ClusterSettings) -> dict:
    """Start the embedded Ray or join a cluster, once per process; return the cluster's resources.

    Joins ``cluster.address`` when ``cluster.mode=ray``, or ``RAY_ADDRESS`` when that is set; otherwise starts
    a local instance bound to 127.0.0.1 with ``cluster.num_cpus`` CPUs (all by default).
    """
    if not ray.is_initialized():
        address = settings.address if settings.mode == "ray" else os.environ.get("RAY_ADDRESS")
        common = _RayInitCommon(include_dashboard=False, log_to_driver=True, logging_level=logging.WARNING)
        if address:
            ray.init(address=address, **common)
        else:
            logger, quiet = logging.getLogger(_QuietTokenDefault.LOGGER), _QuietTokenDefault()
            logger.addFilter(quiet)
            try:
                ray.init(num_cpus=settings.num_cpus, _node_ip_address="127.0.0.1", **common)
            finally:
                logger.removeFilter(quiet)
            atexit.register(ray.shutdown)
    return ray.cluster_resources()


def worker_env(spec: CampaignSpec, settings: ClusterSettings) -> dict[str, str]:
    """Environment of shard workers: JAX precision and threads matched to the CPUs Ray gives each task.

    ``PJRT_NPROC`` sizes the thread pool that XLA's CPU runtime splits every kernel over (by default one thread
    per core of the machine, whatever Ray reserved): with one worker per core, the workers' pools fought over
    the same cores, and 2 workers on 2 cores ran no faster than 1 (measured with `python -m benchmarks`)."""
    threads = max(1, int(settings.cpus_per_task))
    env = {
        "JAX_ENABLE_X64": "1" if enables_x64(spec.precision) else "0",
        "JAX_PLATFORMS": "cpu",
        "PJRT_NPROC": str(threads),
    }
    if threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env


@ray.remote
def run_shard(
    spec: CampaignSpec, shard: Shard, layout: Layout, metadata: dict, jax_cache_dir: str | None, sink: str | None = None
):
    """One Ray task: draw and simulate a shard; return its Arrow table (NumPy-backed, never JAX arrays), or,
    given a ``sink``, write it there (atomically, see :class:`campaign.store.RunStore`) and return its row count."""
    configure_jax(spec.precision, jax_cache_dir)
    columns = evaluate_shard(spec, shard.first, shard.count)
    table = layout.table(
        columns, {**metadata, "shard": {"id": shard.id, "first_sample": shard.first, "rows": shard.count}}
    )
    if sink is None:
        return table
    try:
        RunStore(sink).write_shard(shard, table)
    except OSError as e:
        raise ShardWriteError(
            f"cannot write {sink}/{SAMPLES_DIR}/{shard.filename} from this node "
            f"({type(e).__name__}: {e}); with cluster.direct_write=true every node must "
            "reach run.output_dir (a shared path or a URI)"
        ) from None
    return table.num_rows


def _shard_failure(shard: Shard, error: Exception) -> str:
    """What to tell the user when a shard fails: a model's NaN report or a storage error as it is; for anything
    unexpected, the worker's traceback too (it is a defect to fix)."""
    where = f"shard {shard.id} (sample_index {shard.first}..{shard.first + shard.count - 1}) failed"
    cause = getattr(error, "cause", None)
    if isinstance(cause, (NonFiniteError, ShardWriteError)):
        return f"{where}: {cause}"
    if isinstance(error, ray.exceptions.RayTaskError):
        return f"{where}:\n{getattr(error, 'traceback_str', error)}"
    return f"{where}: {type(error).__name__}: {error}"


@dataclass
class Progress:
    """Missions done, rate and ETA on stderr: a live line on a terminal, a line every 10 s otherwise (a log file
    gets whole lines, not a stream of carriage returns). Written here rather than with a progress library: it is
    this small, and it carries an adaptive campaign's half-width against its target (``note``)."""

    total: int
    enabled: bool = True
    done: int = 0
    note: Callable[[], str] | None = None  # appended to the line (an adaptive campaign's half-width)

    def __post_init__(self) -> None:
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, missions: int, force: bool = False) -> None:
        self.done += missions
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < (0.5 if self.tty else 10.0)):
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        line = (
            f"  {100 * self.done / max(self.total, 1):5.1f}% | {self.done:,}/{self.total:,} missions | "
            f"{rate:,.0f} missions/s | elapsed {elapsed:,.0f} s | "
            + (f"{self.note()}" if self.note else f"ETA {eta:,.0f} s")
        )
        # On a terminal the line is redrawn in place (carriage return, then erase what a longer line left).
        print(("\r" + line + "\x1b[K") if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.update(0, force=True)
        if self.enabled and self.tty:
            print(file=sys.stderr)


def execute(
    spec: CampaignSpec,
    shards: Iterable[Shard],
    settings: ClusterSettings,
    layout: Layout,
    metadata: dict,
    on_result: Callable[[Shard, object], None],
    progress: Progress,
    sink: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> None:
    """Run ``shards`` on the cluster with a bounded window of tasks, calling ``on_result`` as each completes
    (with the shard's table, or with its row count when the tasks write to ``sink`` themselves). When ``stop()``
    turns true after a result, the tasks still in flight are cancelled and waited for (so none writes after this
    returns) and nothing more is submitted."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    window = settings.max_tasks_in_flight or max(2, 2 * int(cpus / settings.cpus_per_task))
    task = run_shard.options(
        num_cpus=settings.cpus_per_task,
        max_retries=settings.task_retries,
        retry_exceptions=[ShardWriteError],  # and dead workers or nodes; never a model's exception
        runtime_env={"env_vars": worker_env(spec, settings)},
    )
    spec_ref = ray.put(spec)
    layout_ref = ray.put(layout)
    cache = settings.jax_cache_dir or default_jax_cache_dir()
    pending = iter(shards)
    in_flight: dict = {}

    def submit_next() -> bool:
        shard = next(pending, None)
        if shard is None:
            return False
        in_flight[task.remote(spec_ref, shard, layout_ref, metadata, cache, sink)] = shard
        return True

    while len(in_flight) < window and submit_next():
        pass
    try:
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                shard = in_flight.pop(ref)
                try:
                    table = ray.get(ref)
                except ray.exceptions.RayError as e:
                    raise ShardError(_shard_failure(shard, e)) from None
                on_result(shard, table)
                progress.update(shard.count)
                if stop is not None and stop():
                    return
                submit_next()
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        if in_flight:  # a cancelled task must not write its shard after the caller has moved on
            ray.wait(list(in_flight), num_returns=len(in_flight), timeout=60)
        progress.close()
