"""Cluster jobs without a cluster: where a campaign writes, decided on the driver (relative paths against
LUPEX_OUTPUT_BASE, which jobs/submit.py sets since a Ray job's working directory is a temporary copy; URIs
kept), what jobs/submit.py sends, and the KubeRay manifest."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from campaign.app import OUTPUT_BASE_ENV, latest_run_dir, output_location, resolve_run_dir
from campaign.config import ConfigError
from tests.helpers import REPO, compose

RAY_JOB_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by Ray in the driver of a submitted job


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(OUTPUT_BASE_ENV, raising=False)
    monkeypatch.delenv(RAY_JOB_ENV, raising=False)
    return monkeypatch


def test_without_a_base_relative_paths_are_relative_to_the_working_directory(env, tmp_path):
    assert output_location("runs/a") == tmp_path / "runs" / "a"
    assert output_location("/data/x/../run") == Path("/data/run")
    assert output_location("s3://bucket/lupex/run1/") == "s3://bucket/lupex/run1"


def test_relative_paths_resolve_against_the_output_base(env, tmp_path):
    env.setenv(OUTPUT_BASE_ENV, str(tmp_path / "shared"))
    assert output_location("runs/a") == tmp_path / "shared" / "runs" / "a"
    assert output_location("/elsewhere/run") == Path("/elsewhere/run")  # absolute paths stay
    env.setenv(OUTPUT_BASE_ENV, "gs://bucket/lupex/")
    assert output_location("results/launch/t/0") == "gs://bucket/lupex/results/launch/t/0"
    assert output_location("/abs/run") == Path("/abs/run")


def test_in_a_ray_job_a_relative_path_needs_a_base(env, tmp_path):
    env.setenv(RAY_JOB_ENV, "{}")
    with pytest.raises(ConfigError, match=r"run\.output_dir: 'run1' is a relative path.*LUPEX_OUTPUT_BASE"):
        output_location("run1")
    assert output_location("/data/run1") == Path("/data/run1")
    env.setenv(OUTPUT_BASE_ENV, str(tmp_path))
    assert output_location("run1") == tmp_path / "run1"


def test_every_run_directory_of_a_campaign_follows_the_base(env, tmp_path):
    base = tmp_path / "base"
    env.setenv(OUTPUT_BASE_ENV, str(base))
    config = compose("+experiment=launch", "run.samples=10")
    default = resolve_run_dir(config, None)
    assert default.parent == base / "results" / "launch"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", default.name)
    assert (
        resolve_run_dir(config, "results/launch/2026-01-01_00-00-00/3")
        == base / "results" / "launch" / "2026-01-01_00-00-00" / "3"
    )
    assert resolve_run_dir(compose("+experiment=launch", "run.output_dir=mine"), None) == base / "mine"
    unfinished = base / "results" / "launch" / "2026-01-01_00-00-00"
    unfinished.mkdir(parents=True)
    (unfinished / "run.json").write_text("{}")
    assert latest_run_dir("launch") == unfinished
    assert resolve_run_dir(compose("+experiment=launch", "run.resume=true"), None) == unfinished


def test_in_a_ray_job_without_a_base_the_default_results_tree_is_refused(env):
    env.setenv(RAY_JOB_ENV, "{}")
    with pytest.raises(ConfigError, match="temporary"):
        resolve_run_dir(compose("+experiment=launch"), None)
    with pytest.raises(ConfigError, match="hydra.sweep.dir"):
        resolve_run_dir(compose("+experiment=launch"), "results/launch/t/0")


# ------------------------------------------------------------------------------------------ submission
def load_submit():
    spec = importlib.util.spec_from_file_location("lupex_jobs_submit", REPO / "jobs" / "submit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_submitter_imports_neither_jax_nor_the_models_and_shares_the_store_revision(tmp_path):
    import subprocess
    import sys

    from campaign import provenance, store

    # as a user runs it: a script whose directory is jobs/, not the repository
    code = (
        f"import runpy, sys; sys.argv = ['submit.py', '--help']; sys.path[0] = {str(REPO / 'jobs')!r}\n"
        f"try: runpy.run_path({str(REPO / 'jobs' / 'submit.py')!r}, run_name='__main__')\n"
        "except SystemExit: pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'ray', 'pyarrow') "
        "or m.startswith('campaign.models') or m == 'campaign.store')\n"
        "print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert load_submit().code_revision is provenance.code_revision is store.code_revision
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", provenance.code_revision(REPO))


def test_submission_request_carries_the_command_output_base_and_excludes():
    submit = load_submit()
    args = submit.parse_args(
        [
            "--output",
            "/shared/lupex",
            "--env",
            "XLA_FLAGS=--foo",
            "--",
            "-m",
            "+experiment=launch",
            "mission.launch.uncertain.x={dist:fixed,value:-1.0}",
        ]
    )
    request = submit.build_request(args)
    assert shlex.split(request["entrypoint"]) == [
        "python",
        "-m",
        "campaign",
        "-m",
        "+experiment=launch",
        "mission.launch.uncertain.x={dist:fixed,value:-1.0}",
    ]
    env = request["runtime_env"]["env_vars"]
    assert env["LUPEX_OUTPUT_BASE"] == "/shared/lupex" and env["XLA_FLAGS"] == "--foo"
    assert env["JAX_PLATFORMS"] == "cpu" and env["LUPEX_CODE_REVISION"] != ""
    assert request["runtime_env"]["working_dir"] == str(REPO)
    assert {"results", ".venv", ".git", "*.parquet"} <= set(request["runtime_env"]["excludes"])
    assert re.fullmatch(r"lupex-launch-\d{8}-\d{6}-[0-9a-f]{6}", request["submission_id"])


def test_results_inside_the_sources_are_not_uploaded():
    submit = load_submit()
    request = submit.build_request(submit.parse_args(["--output", str(REPO / "out" / "lupex"), "+experiment=launch"]))
    assert "/out/lupex" in request["runtime_env"]["excludes"]


def test_submission_refuses_a_relative_output(capsys):
    submit = load_submit()
    with pytest.raises(SystemExit) as e:
        submit.parse_args(["--output", "results", "+experiment=launch"])
    assert e.value.code == 2 and "absolute path or a URI" in capsys.readouterr().err
    assert submit.parse_args(["--output", "s3://bucket/x", "+experiment=launch"]).output == "s3://bucket/x"


def test_kuberay_manifest_runs_the_campaign_with_token_auth_and_an_absolute_output_base():
    import yaml

    job = yaml.safe_load((REPO / "jobs" / "rayjob.yaml").read_text())
    assert job["kind"] == "RayJob" and job["apiVersion"] == "ray.io/v1"
    spec = job["spec"]
    assert shlex.split(spec["entrypoint"])[:4] == ["python", "-m", "campaign", "+experiment=launch"]
    env = yaml.safe_load(spec["runtimeEnvYAML"])["env_vars"]
    assert Path(env["LUPEX_OUTPUT_BASE"]).is_absolute()
    cluster = spec["rayClusterSpec"]
    assert cluster["authOptions"]["mode"] == "token"
    mounts = {m["mountPath"] for m in cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert any(env["LUPEX_OUTPUT_BASE"].startswith(m + "/") for m in mounts)  # the driver writes to the volume
    assert spec["backoffLimit"] == 0  # a failed campaign is resumed explicitly, never rerun from scratch
