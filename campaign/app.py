"""Run a campaign end to end: validate, plan shards, execute on Ray, store, summarise.

:func:`run_campaign` is a plain function of a validated :class:`CampaignConfig` and a run directory (what tests
and notebooks call); :func:`run_from_hydra` adapts the Hydra entry point to it: it resolves the output
directory on the driver, turns errors into clear messages and exit codes, and leaves nothing behind in the
results tree when the configuration is invalid.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig

from .config import CampaignConfig, ConfigError, load
from .sampling import SamplerKind, saltelli_layout

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
RESULTS_DIR = Path("results")
OUTPUT_BASE_ENV = "LUPEX_OUTPUT_BASE"  # base of relative output paths (see output_location); set by jobs/submit.py
RESUME_IGNORED = ("run.resume", "run.output_dir", "run.progress", "cluster")


@dataclass(frozen=True)
class RunResult:
    run_dir: Path | str  # a URI when the run directory is on object storage
    summary: dict
    shards_computed: int
    shards_reused: int


SHARD_ROUNDS = 4  # automatic sizing: at least this many shards per CPU (assumed: spreads a slow shard's cost)


def shard_size_for(samples: int, cpus: int, batch_size: int, max_shard_size: int,
                   requested: int | None = None) -> int:
    """Missions per shard: a whole number of batches (so results do not depend on it).

    Automatic: the campaign is cut into ``rounds x cpus`` shards of (nearly) equal size, ``rounds`` at least
    :data:`SHARD_ROUNDS` and as many more as ``max_shard_size`` needs. Equal shards in a multiple of the CPUs keep
    every worker busy to the end: one short last shard in a round of full ones leaves the other workers idle for
    most of a shard (with 735,232 missions in shards of 65,536 on 2 workers, a last shard of 14,336 cost 7% of
    the run's throughput; benchmarks/README.md). A requested size is rounded up to whole batches."""
    if requested is not None:
        return batch_size * math.ceil(requested / batch_size)
    cpus = max(cpus, 1)
    batches = max(1, math.ceil(samples / batch_size))
    most = max(1, max_shard_size // batch_size)
    rounds = max(SHARD_ROUNDS, math.ceil(batches / (cpus * most)))
    return batch_size * math.ceil(batches / (rounds * cpus))  # <= most batches, by the choice of rounds


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _differences(stored: dict, current: dict) -> list[str]:
    a, b = _flatten(stored), _flatten(current)
    keys = sorted(k for k in set(a) | set(b)
                  if a.get(k) != b.get(k) and not any(k == p or k.startswith(p + ".") for p in RESUME_IGNORED))
    return [f"{k}: run has {a.get(k)!r}, now {b.get(k)!r}" for k in keys]


def run_campaign(config: CampaignConfig, run_dir: str | Path, log=print) -> RunResult:
    """Run (or, with ``run.resume``, complete) a campaign in ``run_dir`` (a path or a URI) and return its
    summary."""
    if config.cluster.mode == "local" and not os.environ.get("RAY_ADDRESS"):
        # An embedded Ray must never listen beyond loopback, whatever the environment says; Ray reads this
        # at import. (A driver joining a multi-machine cluster must not set it: it would advertise 127.0.0.1.)
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from . import analysis, cluster, report, store  # Ray is imported here, after validation

    for note in config.notes:
        log(f"note: {note}")
    rs = store.RunStore(run_dir)
    resources = cluster.ensure_ray(config.cluster)  # before any JAX work in this process
    if config.run.resume:
        if not rs.exists():
            raise store.StoreError(f"run.resume=true but {rs.root} holds no run (no run.json)")
        info = rs.read_run()
        diffs = _differences(info["config"], config.resolved)
        if diffs:
            raise ConfigError([("run.resume", "the run directory holds a different campaign:\n    "
                                + "\n    ".join(diffs))])
        shard_size = int(info["shard_size"])
    else:
        shard_size = shard_size_for(config.run.samples, int(resources.get("CPU", 1)), config.run.batch_size,
                                    config.run.max_shard_size, config.run.shard_size)
        if config.run.shard_size not in (None, shard_size):
            log(f"note: run.shard_size={config.run.shard_size} rounded up to {shard_size}, a whole number of "
                f"batches of run.batch_size={config.run.batch_size}")
    spec = config.spec(shard_size)
    plan = store.plan_shards(config.run.samples, shard_size)
    provenance = {
        "config": config.resolved,
        "model": config.model.name,
        "samples": config.run.samples,
        "seed": config.run.seed,
        "sampler": config.sampler.value,
        "precision": config.run.precision,
        "shard_size": shard_size,
        "shards": len(plan),
        "versions": store.versions(),
        "code_revision": store.code_revision(),
        "command": store.command_line(),
    }
    if config.sampler is SamplerKind.saltelli:  # the analysis reads the design's blocks from here
        provenance["saltelli_design"] = saltelli_layout(config.variables, config.run.inner_samples)
    if config.run.resume:
        done = rs.completed(plan, log=log)
        log(f"Resuming {rs.root}: {len(done)} of {len(plan)} shards already done")
    else:
        rs.create(provenance)
        done = set()
    todo = [s for s in plan if s.id not in done]
    schema = store.build_schema(config.model, config.variables, config.run.precision)
    log(f"Campaign '{config.run.name}': {config.run.samples:,} missions of model '{config.model.name}', "
        f"{len(todo)} shard(s) of {shard_size:,} on {int(resources.get('CPU', 1))} CPU(s), "
        f"sampler {config.sampler.value}, seed {config.run.seed}")
    progress = cluster.Progress(total=sum(s.count for s in todo), enabled=config.run.progress)
    if config.cluster.direct_write:  # tasks write into the run directory themselves; the driver checks each file
        cluster.execute(spec, todo, config.cluster, schema, provenance, rs.confirm_shard, progress, sink=rs.location)
    else:
        cluster.execute(spec, todo, config.cluster, schema, provenance, rs.write_shard, progress)
    rs.write_manifest(plan)
    summary = {"run": {k: provenance[k] for k in ("model", "samples", "seed", "sampler", "precision",
                                                   "code_revision")} | {"name": config.run.name},
               **analysis.summarize(analysis.Results.load(rs.location))}
    rs.write_summary(summary)
    log(analysis.format_summary(summary))
    try:  # adds the report's sections to summary.json, writes report.md and plots/
        summary = report.write_report(rs.location, summary, log=log)
    except Exception as e:  # the run is complete and valid: a failed report must not lose it
        log(f"error: the report failed ({type(e).__name__}: {e}); retry with: python -m campaign.report {rs.root}")
    log(f"Results: {rs.root}\n  dataset  {rs.samples}/part-*.parquet\n  summary  {rs.root}/summary.json\n"
        f"  report   {rs.root}/report.md")
    return RunResult(rs.root, summary, len(todo), len(done))


def _under_ray_job() -> bool:
    """True in the driver of a job submitted with ``ray job submit`` or the Jobs SDK (Ray sets this variable)."""
    return "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ


def output_location(path: str | os.PathLike, key: str = "run.output_dir") -> Path | str:
    """An output path from the config as an absolute location, decided on the driver: a URI as it is, an
    absolute path resolved, a relative path relative to ``$LUPEX_OUTPUT_BASE`` (a path or a URI) when that is
    set, else to the current directory.

    The base exists for cluster jobs: under ``ray job submit`` the driver's working directory is a temporary
    copy of the submitted sources, deleted by Ray, so ``results/...`` relative to it would be lost. jobs/submit.py
    sets the base to the output location the user chose; a relative path in a job without one is an error.
    """
    from .store import is_uri

    text = os.fspath(path)
    if is_uri(text):
        return text.rstrip("/")
    base = os.environ.get(OUTPUT_BASE_ENV, "")
    if is_uri(base) and not Path(text).expanduser().is_absolute():
        return f"{base.rstrip('/')}/{Path(text).as_posix()}"
    full = Path(base).expanduser() / Path(text).expanduser()
    if not full.is_absolute() and _under_ray_job():
        raise ConfigError([(key, f"{text!r} is a relative path, and this driver runs as a Ray job in a temporary "
                                 "copy of the sources that Ray deletes: give an absolute path or a URI, or set "
                                 f"{OUTPUT_BASE_ENV} to one (jobs/submit.py --output does)")])
    return full.resolve()


def default_run_dir(name: str, root: Path = RESULTS_DIR) -> Path | str:
    """``results/<name>/<timestamp>`` (see :func:`output_location`), with a numeric suffix if that directory is
    taken."""
    base = output_location(root / name / datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    if isinstance(base, str):  # a URI: a name taken by another run is refused when the run starts
        return base
    candidate, k = base, 1
    while candidate.exists():
        candidate, k = base.with_name(f"{base.name}-{k}"), k + 1
    return candidate


def latest_run_dir(name: str, root: Path = RESULTS_DIR) -> Path:
    """The most recent incomplete run of ``name`` (for ``run.resume=true`` without ``run.output_dir``)."""
    parent = output_location(root / name)
    if isinstance(parent, str):
        raise ConfigError([("run.output_dir", f"run.resume=true needs the run directory when results go to a "
                                              f"URI ({parent})")])
    runs = sorted(p for p in parent.glob("*") if (p / "run.json").exists() and not (p / "manifest.json").exists())
    if not runs:
        raise ConfigError([("run.output_dir", f"run.resume=true needs the run directory: no incomplete run "
                                              f"of '{name}' under {parent}")])
    return runs[-1].resolve()


def resolve_run_dir(config: CampaignConfig, hydra_job_dir: str | None) -> Path | str:
    """Where this campaign writes, as an absolute path (or a URI) resolved on the driver."""
    if config.run.output_dir:
        return output_location(config.run.output_dir)
    if config.run.resume:
        return latest_run_dir(config.run.name)
    if hydra_job_dir:  # a multirun job: results/<name>/<sweep time>/<job number>
        return output_location(hydra_job_dir, "hydra.sweep.dir")
    return default_run_dir(config.run.name)


def _remove_if_empty(job_dir: str | None) -> None:
    """Undo what Hydra created for a multirun job whose config was rejected (an empty job directory, and the
    sweep directory if it holds nothing but Hydra's multirun.yaml)."""
    if not job_dir:
        return
    job = Path(job_dir)
    if job.is_dir() and not any(job.iterdir()):
        job.rmdir()
        sweep = job.parent
        leftovers = {p.name for p in sweep.iterdir()} if sweep.is_dir() else {"?"}
        if leftovers <= {"multirun.yaml"}:
            for p in sweep.iterdir():
                p.unlink()
            sweep.rmdir()


def run_from_hydra(cfg: DictConfig) -> None:
    """The body of the Hydra app. Exits with status 2 for configuration errors and 1 for failed runs."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    # The job directory as configured (hydra.sweep.dir/subdir), before Hydra made it absolute against the
    # working directory: output_location resolves it (against $LUPEX_OUTPUT_BASE in a cluster job).
    job_dir = os.path.join(str(hc.sweep.dir), str(hc.sweep.subdir)) if hc.mode == RunMode.MULTIRUN else None
    try:
        config = load(cfg)
        run_dir = resolve_run_dir(config, job_dir)
    except ConfigError as e:
        _remove_if_empty(job_dir)
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    from .cluster import ShardError
    from .store import StoreError

    if job_dir and Path(job_dir).resolve() != run_dir:
        _remove_if_empty(job_dir)  # the directory Hydra made here is not where this job writes
    try:
        run_campaign(config, run_dir)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except (ShardError, StoreError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
