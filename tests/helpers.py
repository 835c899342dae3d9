"""Helpers shared by the tests: composing configs as the app does, and running the CLI as a user would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))


def tiny_overrides(experiment: str) -> list[str]:
    """Overrides that make ``experiment`` tiny beyond ``run.samples``: a design search evaluates two candidates
    per search, one value of a second lever, and no sensitivities."""
    search = compose(f"+experiment={experiment}").design
    if not search:
        return []
    return ["design.grid=2", f"design.resolution={1e9}", "design.sensitivities=[]"] + (
        ["design.map.values=[10.0]"] if search.map_variable else []
    )


def compose(*overrides: str):
    """The validated CampaignConfig for ``overrides``, composed exactly as ``python -m campaign`` does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from campaign.app import CONF_DIR
    from campaign.config import load, register_configs

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return load(hydra_compose("config", overrides=list(overrides)))


def model_arguments(config, design: dict):
    """``(params, tables)`` as the engine hands them to ``config``'s model: the typed design records and what
    ``prepare`` computes (re-run), with design values replaced by ``design`` (keyed ``"<section>.<name>"``)."""
    import dataclasses

    import jax.numpy as jnp

    raw = dict(config.params)
    raw.update({k: v if isinstance(v, bool) else float(v) for k, v in design.items()})
    config = dataclasses.replace(config, params=tuple(raw.items()))
    params = config.model.params_of({k: jnp.asarray(v) for k, v in config.numeric_params()})
    return params, config.tables()


def spec_arguments(spec, dtype=None):
    """``(params, tables)`` of a campaign spec as the engine hands them to its model (typed records; arrays in
    ``dtype``, by default the campaign's precision)."""
    import jax

    from campaign import engine

    dtype = spec.dtype if dtype is None else dtype
    cast = lambda value: engine._as_param(value, dtype)  # noqa: E731
    model = spec.mission_model
    return model.params_of({k: cast(v) for k, v in spec.params}), jax.tree_util.tree_map(cast, spec.tables)


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # always the embedded local Ray
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m campaign ARGS`` in ``cwd``; the process group is killed if it outlives ``timeout``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "campaign", *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        kill_group(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def kill_mid_run(args: tuple[str, ...], cwd: Path, samples: Path, shards: int, limit_s: float = 240) -> None:
    """Start ``python -m campaign ARGS`` in ``cwd`` and SIGKILL it (driver and Ray processes) as soon as
    ``samples`` holds ``shards`` shard files (or after ``limit_s``, or when it ends by itself)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "campaign", *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and proc.poll() is None:
            if samples.exists() and len(list(samples.glob("part-*.parquet"))) >= shards:
                break
            time.sleep(0.05)
    finally:
        kill_group(proc)


def kill_group(proc: subprocess.Popen) -> None:
    """Kill a process started with ``start_new_session=True`` and everything in its group (Ray's daemons
    share the driver's group and outlive a killed driver otherwise)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    time.sleep(0.2)


def read_run(run_dir: Path) -> pa.Table:
    """A run's dataset sorted by sample_index."""
    table = ds.dataset(Path(run_dir) / "samples", format="parquet").to_table()
    return table.sort_by("sample_index")
