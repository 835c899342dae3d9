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

from . import declarations
from .columns import COLUMN_ROLES_KEY
from .config import CampaignConfig, ConfigError, load
from .provenance import code_revision, command_line, versions
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


def shard_size_for(samples: int, cpus: int, batch_size: int, max_shard_size: int, requested: int | None = None) -> int:
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


def _differences(stored: dict, current: dict, ignored: tuple[str, ...] = RESUME_IGNORED) -> list[str]:
    a, b = _flatten(stored), _flatten(current)
    keys = sorted(
        k for k in set(a) | set(b) if a.get(k) != b.get(k) and not any(k == p or k.startswith(p + ".") for p in ignored)
    )
    return [f"{k}: run has {a.get(k)!r}, now {b.get(k)!r}" for k in keys]


def _stored_shard_size(config: CampaignConfig, info: dict) -> int:
    """The shard size of the run being resumed, after checking that it is the same campaign. Only where and how
    it runs may differ, and, for a campaign that stops at a target precision, the target (``run.stop``: a
    confidence sequence stays valid when a stopped campaign continues to a tighter target)."""
    stored_adaptive = (info["config"]["run"].get("stop") or {}).get("halfwidth") is not None
    ignored = RESUME_IGNORED + (("run.stop",) if stored_adaptive and config.run.adaptive else ())
    diffs = _differences(info["config"], config.resolved, ignored)
    if diffs:
        raise ConfigError(
            [("run.resume", "the run directory holds a different campaign:\n    " + "\n    ".join(diffs))]
        )
    return int(info["shard_size"])


def _shard_size(config: CampaignConfig, cpus: int, unit: int, log) -> int:
    """A new campaign's shard size: balanced over the CPUs, or, for a campaign that stops at a target, fixed by
    the configuration alone (its looks must not depend on the workers; :func:`campaign.adaptive.shard_size`)."""
    from . import adaptive

    run = config.run
    if run.adaptive:
        size = adaptive.shard_size(run.samples, run.batch_size, unit, run.shard_size)
    else:
        size = shard_size_for(run.samples, cpus, run.batch_size, run.max_shard_size, run.shard_size)
    if run.shard_size not in (None, size):
        log(
            f"note: run.shard_size={run.shard_size} rounded up to {size}, a whole number of batches of "
            f"run.batch_size={run.batch_size}" + (" and of epistemic draws" if unit > 1 else "")
        )
    return size


def _controller(config: CampaignConfig, unit: int, shard_size: int):
    """The looks of a campaign that stops at a target precision (None for a fixed-size campaign)."""
    from .adaptive import Controller

    halfwidth = config.run.stop.halfwidth
    if halfwidth is None:  # not adaptive (RunSettings.adaptive)
        return None
    outputs = config.model.outputs
    flags = (
        config.run.stop.on
        or tuple(o.name for o in outputs if o.role == "goal")
        or tuple(o.name for o in outputs if o.role == "phase")
    )  # a model without goals: its phases
    return Controller(flags, unit, shard_size, halfwidth, config.run.samples)


def _provenance(config: CampaignConfig, shard_size: int, shards: int) -> dict:
    """What a run records about itself (run.json and every shard's metadata): its config, model, sizes, seed,
    sampler, precision, sharding, versions, code revision, command line, column roles and, for a Saltelli
    design, the design's layout."""
    provenance = {
        "config": config.resolved,
        "model": config.model.name,
        "samples": config.run.samples,
        "seed": config.run.seed,
        "sampler": config.sampler.value,
        "precision": config.run.precision,
        "shard_size": shard_size,
        "shards": shards,
        "versions": versions(),
        "code_revision": code_revision(),
        "command": command_line(),
        # which column carries each meaning the analysis looks up (Output.meaning): with the rest of
        # the provenance it goes into every shard's metadata, so the dataset says it itself
        COLUMN_ROLES_KEY: declarations.column_roles(config.model),
    }
    if config.sampler is SamplerKind.saltelli:  # the analysis reads the design's blocks from here
        provenance["saltelli_design"] = saltelli_layout(config.variables, config.run.inner_samples)
    return provenance


# Long on purpose: the campaign's orchestration (resources, shards, resume, run, manifest, summary, report) in order.
def run_campaign(config: CampaignConfig, run_dir: str | Path, log=print, report: bool = True) -> RunResult:
    """Run (or, with ``run.resume``, complete) a campaign in ``run_dir`` (a path or a URI) and return its
    summary (``report``: also write the report and its plots; a design search's candidates do not). With
    ``run.stop.halfwidth`` the campaign stops at the first look where every named probability is precise enough
    (:mod:`campaign.adaptive`), ``run.samples`` being the cap."""
    if config.cluster.mode == "local" and not os.environ.get("RAY_ADDRESS"):
        # An embedded Ray must never listen beyond loopback, whatever the environment says; Ray reads this
        # at import. (A driver joining a multi-machine cluster must not set it: it would advertise 127.0.0.1.)
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from . import adaptive, analysis, cluster, store  # Ray is imported here, after validation
    from . import report as reporting

    for note in config.notes:
        log(f"note: {note}")
    rs = store.RunStore(run_dir)
    resources = cluster.ensure_ray(config.cluster)  # before any JAX work in this process
    cpus = int(resources.get("CPU", 1))
    unit = adaptive.unit_size(config.run.inner_samples, config.has_epistemic)
    if config.run.resume:
        if not rs.exists():
            raise store.StoreError(f"run.resume=true but {rs.root} holds no run (no run.json)")
        shard_size = _stored_shard_size(config, rs.read_run())
    else:
        shard_size = _shard_size(config, cpus, unit, log)
    spec = config.spec(shard_size)
    plan = store.plan_shards(config.run.samples, shard_size)
    provenance = _provenance(config, shard_size, len(plan))
    looks = _controller(config, unit, shard_size)
    if config.run.resume:
        done = rs.completed(plan, log=log)
        log(f"Resuming {rs.root}: {len(done)} of {len(plan)} shards already done")
        for shard in (s for s in plan if looks is not None and s.id in done):  # replay the looks, in order
            looks.add(shard.id, rs.read_columns(shard, looks.flags))
    else:
        rs.create(provenance)
        done = set()
    todo = [s for s in plan if s.id not in done and not (looks and looks.should_stop())]
    _execute(config, spec, rs, todo, looks, cpus, shard_size, provenance, log)
    final = store.plan_shards(looks.stopped_at or config.run.samples, shard_size) if looks else plan
    if looks:
        rs.discard_beyond(final, log=log)
    rs.write_manifest(final, {"stop": looks.record()} if looks else None)
    summary = {
        "run": {k: provenance[k] for k in ("model", "samples", "seed", "sampler", "precision", "code_revision")}
        | {"name": config.run.name},
        **analysis.summarize(analysis.Results.load(rs.location)),
    }
    if config.mass is not None:
        summary["mass"] = config.mass.breakdown(dict(config.params))
    rs.write_summary(summary)
    log(analysis.format_summary(summary))
    if report:
        try:  # adds the report's sections to summary.json, writes report.md and plots/
            summary = reporting.write_report(rs.location, summary, log=log)
        except Exception as e:  # the run is complete and valid: a failed report must not lose it
            log(f"error: the report failed ({type(e).__name__}: {e}); retry with: python -m campaign.report {rs.root}")
    log(
        f"Results: {rs.root}\n  dataset  {rs.samples}/part-*.parquet\n  summary  {rs.root}/summary.json\n"
        f"  report   {rs.root}/report.html (and report.md)"
    )
    return RunResult(rs.root, summary, len(todo), len(done))


def _execute(
    config: CampaignConfig, spec, rs, todo: list, looks, cpus: int, shard_size: int, provenance: dict, log
) -> None:
    """Run the shards still to do on the cluster, storing each as it arrives and, for a campaign that stops at
    a target, folding it into the looks (which may stop the campaign before ``todo`` is exhausted)."""
    from . import cluster, store

    layout = store.Layout(declarations.dataset_columns(config.model, config.variables), config.run.precision)
    target = f", stopping at half-width {config.run.stop.halfwidth:g}" if looks else ""
    log(
        f"Campaign '{config.run.name}': {config.run.samples:,} missions{' at most' if looks else ''} of model "
        f"'{config.model.name}', {len(todo)} shard(s) of {shard_size:,} on {cpus} CPU(s), "
        f"sampler {config.sampler.value}, seed {config.run.seed}{target}"
    )
    progress = cluster.Progress(
        total=sum(s.count for s in todo), enabled=config.run.progress, note=looks.status if looks else None
    )
    direct = config.cluster.direct_write  # tasks write into the run directory themselves; the driver checks
    store_shard = rs.confirm_shard if direct else rs.write_shard

    def on_result(shard, result) -> None:
        store_shard(shard, result)
        if looks is not None:
            looks.add(
                shard.id,
                rs.read_columns(shard, looks.flags)
                if direct
                else {f: result.column(f).to_numpy(zero_copy_only=False) for f in looks.flags},
            )

    cluster.execute(
        spec,
        todo,
        config.cluster,
        layout,
        provenance,
        on_result,
        progress,
        sink=rs.location if direct else None,
        stop=looks.should_stop if looks else None,
    )


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
        raise ConfigError(
            [
                (
                    key,
                    f"{text!r} is a relative path, and this driver runs as a Ray job in a temporary "
                    "copy of the sources that Ray deletes: give an absolute path or a URI, or set "
                    f"{OUTPUT_BASE_ENV} to one (jobs/submit.py --output does)",
                )
            ]
        )
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
        raise ConfigError(
            [("run.output_dir", f"run.resume=true needs the run directory when results go to a URI ({parent})")]
        )
    runs = sorted(
        p
        for p in parent.glob("*")
        if (p / "run.json").exists()
        and not (p / "manifest.json").exists()
        or (p / "design.json").exists()
        and not (p / "summary.json").exists()
    )  # a design search
    if not runs:
        raise ConfigError(
            [
                (
                    "run.output_dir",
                    f"run.resume=true needs the run directory: no incomplete run of '{name}' under {parent}",
                )
            ]
        )
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
    from .design import DesignError, run_design

    try:
        if config.design is not None:
            run_design(config, str(run_dir))
        else:
            run_campaign(config, run_dir)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except (ShardError, StoreError, DesignError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
