"""End to end, as a user runs it: the CLI on an embedded Ray, Parquet results, determinism, sweeps, resume.

Each test starts its own driver in a new process session and kills the whole group when done, so no Ray
process outlives the test that started it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests import fingerprint
from tests.helpers import (
    EXPERIMENTS,
    compose,
    kill_mid_run,
    read_run,
    run_cli,
    tiny_overrides,
)

pytestmark = pytest.mark.slow


def run_ok(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = run_cli(*args, cwd=cwd, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    """A small launch campaign: 2 CPUs, automatic shard size."""
    cwd = tmp_path_factory.mktemp("ref")
    run_ok("+experiment=launch", "run.samples=6000", "run.seed=11", "run.output_dir=ref", cwd=cwd)
    return cwd / "ref"


def test_run_writes_dataset_summary_manifest_and_provenance(reference_run):
    assert (reference_run / "manifest.json").exists()
    manifest = json.loads((reference_run / "manifest.json").read_text())
    assert manifest["rows"] == 6000
    summary = json.loads((reference_run / "summary.json").read_text())
    assert summary["missions"] == 6000
    for name in ("launch_ok", "transfer_ok"):
        s = summary["phases"][name]
        assert s["ci95"][0] <= s["p"] <= s["ci95"][1] and s["n"] == 6000
    assert sum(f["successes"] for f in summary["failures"]) == 6000 - summary["phases"]["transfer_ok"]["successes"]
    meta = json.loads(pq.read_schema(next((reference_run / "samples").glob("*.parquet"))).metadata[b"lupex"])
    assert meta["seed"] == 11 and meta["sampler"] == "monte_carlo"
    assert meta["config"]["mission"]["launch"]["isp_s"] == 315
    assert {"jax", "ray", "pyarrow", "lupex-campaign"} <= set(meta["versions"])
    assert meta["code_revision"]


def test_dataset_reads_in_pyarrow_pandas_polars_and_duckdb(reference_run):
    import duckdb
    import pandas as pd
    import polars as pl

    table = read_run(reference_run)
    assert table.num_rows == 6000
    assert table.column("sample_index").to_pylist() == list(range(6000))
    ok = int(np.sum(table.column("transfer_ok").to_numpy()))

    frame = pd.read_parquet(reference_run / "samples")
    assert len(frame) == 6000 and frame["sample_index"].is_unique
    assert int(frame["transfer_ok"].sum()) == ok
    assert set(frame["outcome_name"].astype(str)) >= {"success", "launch_vehicle_failure"}
    # Outputs of a phase never reached are null, not a made-up number.
    assert frame.loc[~frame["launch_ok"], "tcm_dv_mps"].isna().all()
    assert frame.loc[frame["launch_ok"], "tcm_dv_mps"].notna().all()

    lazy = pl.scan_parquet(str(reference_run / "samples" / "*.parquet"))
    assert lazy.select(pl.col("transfer_ok").sum()).collect().item() == ok
    assert lazy.select(pl.len()).collect().item() == 6000

    glob = str(reference_run / "samples" / "*.parquet")
    ((rows, successes),) = duckdb.sql(f"SELECT count(*), sum(transfer_ok::INT) FROM read_parquet('{glob}')").fetchall()
    assert (rows, successes) == (6000, ok)
    by_cause = dict(duckdb.sql(f"SELECT outcome_name, count(*) FROM read_parquet('{glob}') GROUP BY 1").fetchall())
    assert by_cause["success"] == ok


def test_bit_identical_across_workers_and_shard_sizes(reference_run, tmp_path):
    run_ok(
        "+experiment=launch",
        "run.samples=6000",
        "run.seed=11",
        "cluster.num_cpus=1",
        "run.shard_size=3072",
        "run.output_dir=one",
        cwd=tmp_path,
    )
    one, ref = read_run(tmp_path / "one"), read_run(reference_run)
    assert len(list((tmp_path / "one" / "samples").glob("*.parquet"))) == 2
    assert one.equals(ref), "results must not depend on worker count or shard size"


def test_different_seeds_differ(reference_run, tmp_path):
    run_ok("+experiment=launch", "run.samples=6000", "run.seed=12", "run.output_dir=other", cwd=tmp_path)
    other, ref = read_run(tmp_path / "other"), read_run(reference_run)
    a = other.column("launch.injection_error_along_mps").to_numpy()
    b = ref.column("launch.injection_error_along_mps").to_numpy()
    assert not np.any(a == b)


@pytest.mark.parametrize("sampler", ["sobol", "latin_hypercube"])
def test_quasi_random_samplers_are_deterministic_by_index(sampler, tmp_path):
    common = ("+experiment=launch", "run.samples=3000", f"sampler={sampler}", "run.seed=5")
    run_ok(*common, "run.shard_size=2048", "run.output_dir=a", cwd=tmp_path)
    run_ok(*common, "run.shard_size=1024", "cluster.num_cpus=1", "run.output_dir=b", cwd=tmp_path)
    assert read_run(tmp_path / "a").equals(read_run(tmp_path / "b"))


def test_sweep_runs_one_campaign_per_value_on_common_random_numbers(tmp_path):
    result = run_ok(
        "-m", "+experiment=launch", "run.samples=4000", "mission.launch.propellant_load_kg=3700,3900", cwd=tmp_path
    )
    jobs = sorted(p for p in (tmp_path / "results" / "launch").glob("*/*") if (p / "manifest.json").exists())
    assert len(jobs) == 2, result.stdout
    low, high = (read_run(j) for j in jobs)
    # Same sampled scenarios in both designs, so the comparison is paired.
    for name in ("launch.injection_error_along_mps", "launch.ascent_reliability", "launch_ok"):
        assert low.column(name).equals(high.column(name))
    m_low = low.column("propellant_margin_kg").to_numpy(zero_copy_only=False)
    m_high = high.column("propellant_margin_kg").to_numpy(zero_copy_only=False)
    reached = ~np.isnan(m_low) & ~np.isnan(m_high)
    assert reached.sum() > 1000 and np.all(m_high[reached] > m_low[reached])
    loads = [
        json.loads((j / "run.json").read_text())["config"]["mission"]["launch"]["propellant_load_kg"] for j in jobs
    ]
    assert sorted(loads) == [3700, 3900]


def test_killed_run_resumes_without_duplicates_and_equals_an_uninterrupted_run(tmp_path):
    args = (
        "+experiment=launch",
        "run.samples=400000",
        "run.seed=3",
        "run.shard_size=2048",
        "cluster.num_cpus=1",
        "run.output_dir=run",
    )
    samples = tmp_path / "run" / "samples"
    kill_mid_run(args, tmp_path, samples, shards=5)  # SIGKILL the driver and its Ray processes mid-run
    assert not (tmp_path / "run" / "manifest.json").exists(), "the run finished before it could be killed"
    written = sorted(samples.glob("part-*.parquet"))
    assert 5 <= len(written) < 196
    # A torn file (as if the disk filled mid-write) must be detected and recomputed, not trusted.
    victim = written[2]
    victim.write_bytes(victim.read_bytes()[:1000])

    result = run_ok(*args, "run.resume=true", cwd=tmp_path)
    assert "removing " + victim.name in result.stdout
    resumed = read_run(tmp_path / "run")
    index = resumed.column("sample_index").to_numpy()
    assert len(index) == 400000 and np.array_equal(index, np.arange(400000))

    run_ok(*args[:-2], "cluster.num_cpus=2", "run.shard_size=8192", "run.output_dir=whole", cwd=tmp_path)
    assert resumed.equals(read_run(tmp_path / "whole"))


def test_rerun_into_an_existing_run_directory_is_refused(reference_run, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(reference_run, target)
    result = run_cli(
        "+experiment=launch", "run.samples=6000", "run.seed=11", f"run.output_dir={target}", cwd=tmp_path, timeout=120
    )
    assert result.returncode != 0 and "run.resume=true" in result.stderr
    assert len(list((target / "samples").glob("*.parquet"))) == len(list((reference_run / "samples").glob("*")))


def test_resuming_with_a_different_campaign_is_refused(reference_run, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(reference_run, target)
    (target / "manifest.json").unlink()
    result = run_cli(
        "+experiment=launch",
        "run.samples=6000",
        "run.seed=99",
        f"run.output_dir={target}",
        "run.resume=true",
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode != 0
    assert "run.seed: run has 11, now 99" in result.stderr


def test_non_finite_model_output_stops_the_run_naming_samples(tmp_path):
    # An Isp dispersion of -100% (zero Isp) is unphysical: a burn of zero delta-v then computes 0/0 = NaN.
    result = run_cli(
        "+experiment=launch",
        "run.samples=3000",
        "run.output_dir=bad",
        "mission.launch.doi_dv_mps=0",
        "mission.launch.uncertain.isp_dispersion_frac={dist:fixed,value:-1.0}",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    # Whichever shard fails first (workers race), the message names it, its range, and its first samples.
    found = re.search(
        r"shard (\d+) \(sample_index (\d+)\.\.(\d+)\) failed: non-finite .*?sample_index (\d+), (\d+)", result.stderr
    )
    assert found, result.stderr[-2000:]
    first = int(found[2])
    assert int(found[4]) == first and int(found[5]) == first + 1 and 0 <= first < 3000
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "bad" / "manifest.json").exists()


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_runs_at_a_tiny_size_to_the_recorded_numbers(experiment, tmp_path):
    search = compose(f"+experiment={experiment}").design
    result = run_ok(
        f"+experiment={experiment}", "run.samples=300", "run.output_dir=tiny", *tiny_overrides(experiment), cwd=tmp_path
    )
    summary = json.loads((tmp_path / "tiny" / "summary.json").read_text())
    if search:
        assert summary["design"]["missions"] == 300 * summary["design"]["candidates_evaluated"]
        assert "What it takes" in result.stdout and (tmp_path / "tiny" / "report.md").exists()
    else:
        assert summary["missions"] == 300 and summary["phases"]
    assert "missions/s" in result.stderr and "tiny" in result.stdout
    # every column of every dataset and every summary as recorded before the architecture refactor
    # (tests/fingerprint.py); bit for bit where the CPU and libraries are those that recorded them
    record = json.loads(fingerprint.RECORD.read_text())
    found = fingerprint.fingerprint(tmp_path / "tiny")
    level = "exact" if record["platform"] == fingerprint.platform_id() else "rounded"
    assert not fingerprint.differences(record["experiments"][experiment], found, level), level


def test_help_and_cfg_job_behave_as_in_hydra(tmp_path):
    help_text = run_ok("--help", cwd=tmp_path).stdout
    assert "+experiment=NAME" in help_text and "model: launch" in help_text  # the composed default config
    block = help_text.split("Configuration groups")[1].split("Experiments (add one")[0]
    groups = {
        name: options.split(", ")
        for name, options in (line.split(": ", 1) for line in block.splitlines() if ": " in line)
    }
    assert set(EXPERIMENTS) <= set(groups["experiment"]) and "connecting_ridge" in groups["site"]
    cfg = run_ok("+experiment=launch", "run.samples=7", "--cfg", "job", cwd=tmp_path).stdout
    assert "samples: 7" in cfg and "isp_s: 315" in cfg
    assert not (tmp_path / "results").exists()
