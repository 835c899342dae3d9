"""Campaigns as Ray jobs on a multi-node cluster on 127.0.0.1 (jobs/local_cluster.py: a head and a worker node,
token authentication on), submitted through jobs/submit.py as a user would, with faults injected for real:
a worker process killed mid-shard, a node removed mid-run, the driver killed then resumed with a torn shard
file, a model error. Every dataset is compared sample by sample with a local run of the same campaign.

One cluster serves the module; its teardown stops it and checks that no process it started is left.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pytest

from tests.helpers import REPO, kill_group, read_run, run_cli

pytestmark = pytest.mark.slow

LOCAL_CLUSTER = str(REPO / "jobs" / "local_cluster.py")
SUBMIT = str(REPO / "jobs" / "submit.py")
# 49 shards of 2048 missions: enough for a fault to land mid-run, small enough for seconds of work.
SAMPLES = 100_000
CAMPAIGN = ("+experiment=launch", f"run.samples={SAMPLES}", "run.seed=11", "run.shard_size=2048")
JOB_TIMEOUT = 150  # s; a job that hangs is stopped by jobs/submit.py and the test fails
LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|\[::ffff:127\.\d+\.\d+\.\d+\]|\[::1\]):\d+$")


def clean_env() -> dict[str, str]:
    """This process's environment without any Ray address or token of the machine's user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))}
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"  # the cluster is on loopback: never via a proxy
    return env


class LocalCluster:
    """Handle on a cluster started by jobs/local_cluster.py in ``state_dir``."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir

    def command(self, *args: str, timeout: float = 120) -> dict | None:
        """Run ``jobs/local_cluster.py ARGS``; return the cluster's state afterwards (None once stopped)."""
        result = subprocess.run(
            [sys.executable, LOCAL_CLUSTER, *args, "--state-dir", str(self.state_dir)],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return self.state() if (self.state_dir / "cluster.json").exists() else None

    def state(self) -> dict:
        return json.loads((self.state_dir / "cluster.json").read_text())

    @property
    def url(self) -> str:
        return self.state()["dashboard_url"]

    @property
    def token(self) -> str:
        return (self.state_dir / "auth_token").read_text().strip()

    def env(self) -> dict[str, str]:
        return clean_env() | {
            "RAY_ADDRESS": self.url,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.state_dir / "auth_token"),
        }

    def processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.state()["pid"])
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def api(
        self, path: str, params: list[tuple[str, str]] = (), token: str | None = "cluster", data: bytes | None = None
    ) -> tuple[int, object]:
        """A request to the dashboard's HTTP API (jobs, state); ``token=None`` sends no token."""
        headers = {} if token is None else {"Authorization": f"Bearer {self.token if token == 'cluster' else token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never via a proxy
        try:
            with opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def job_id(self, submission_id: str) -> str:
        status, jobs = self.api("/api/jobs/")
        assert status == 200
        return next(j["job_id"] for j in jobs if j["submission_id"] == submission_id)

    def shard_tasks(
        self, submission_id: str, complete: Callable[[list[dict]], bool] = lambda _: True, timeout: float = 20
    ) -> list[dict]:
        """Every attempt of every shard task of a job, from Ray's state API; polled until ``complete`` holds,
        since workers report task events asynchronously."""
        params = [
            ("limit", "10000"),
            ("detail", "true"),
            ("filter_keys", "job_id"),
            ("filter_predicates", "="),
            ("filter_values", self.job_id(submission_id)),
            ("filter_keys", "func_or_class_name"),
            ("filter_predicates", "="),
            ("filter_values", "run_shard"),
        ]
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.api("/api/v0/tasks", params)
            assert status == 200, body
            tasks = body["data"]["result"]["result"]
            if complete(tasks) or time.monotonic() > deadline:
                return tasks
            time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LocalCluster(tmp_path_factory.mktemp("cluster"))
    c.command("start", "--workers", "1", "--cpus-per-node", "1", timeout=180)
    temp_dirs = c.state()["temp_dirs"]
    try:
        yield c
    finally:
        started = c.processes()
        stop = subprocess.run(
            [sys.executable, LOCAL_CLUSTER, "stop", "--state-dir", str(c.state_dir)],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        left = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        # Anything else of this cluster (its processes name its temporary directories), e.g. a job driver
        # whose parent died.
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if any(d in cmd for d in temp_dirs) and p.pid != os.getpid():
                left.append(p)
        for p in left:  # never leave them behind, even when stopping failed
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        assert stop.returncode == 0, stop.stdout[-2000:] + stop.stderr[-2000:]
        assert not left, f"processes left by the cluster: {[p.pid for p in left]}"
        assert not any(Path(d).exists() for d in temp_dirs)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pa.Table:
    """The same campaign run locally (embedded Ray, its own shard size) as the answer every job must give."""
    cwd = tmp_path_factory.mktemp("local")
    result = run_cli(*CAMPAIGN[:-1], "run.output_dir=ref", cwd=cwd, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    table = read_run(cwd / "ref")
    assert np.array_equal(table.column("sample_index").to_numpy(), np.arange(SAMPLES))
    return table


def submit(
    cluster: LocalCluster, output: Path, *overrides: str, submission_id: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """jobs/submit.py, as a user runs it, following the job until it ends (its own process group)."""
    return subprocess.Popen(
        [
            sys.executable,
            SUBMIT,
            "--output",
            str(output),
            "--python",
            sys.executable,
            "--submission-id",
            submission_id,
            "--timeout",
            str(JOB_TIMEOUT),
            "--",
            *overrides,
        ],
        cwd=output.parent,
        env=env or cluster.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=JOB_TIMEOUT + 60)
    finally:
        kill_group(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def succeeded(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    result = finish(proc)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def wait_for(condition: Callable[[], object], proc: subprocess.Popen, what: str, timeout: float = 90):
    """Poll ``condition`` until it returns something truthy; fail if the job ends or time runs out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the job ended before {what}:\n{out[-3000:]}{err[-3000:]}")
        time.sleep(0.02)
    finish(proc)
    pytest.fail(f"timed out waiting for {what}")


def running_shard(processes: list[psutil.Process]) -> psutil.Process | None:
    """A worker process while it executes a shard task (Ray names it after the task)."""
    for p in processes:
        try:
            if p.name().startswith("ray::run_shard"):
                return p
        except psutil.NoSuchProcess:
            pass
    return None


def assert_complete_and_equal(run_dir: Path, reference: pa.Table) -> pa.Table:
    """A finished run: manifest, one file per shard, every sample once, equal to the reference."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["rows"] == SAMPLES and len(manifest["shards"]) == 49
    files = sorted(p.name for p in (run_dir / "samples").iterdir())
    assert files == [f"part-{i:05d}.parquet" for i in range(49)], files  # no temporary file left either
    table = read_run(run_dir)
    assert np.array_equal(table.column("sample_index").to_numpy(), np.arange(SAMPLES))  # no gap, no duplicate
    assert table.equals(reference), "the cluster's dataset differs from the local run"
    assert json.loads((run_dir / "summary.json").read_text())["missions"] == SAMPLES
    return table


def test_sweep_job_on_two_nodes_equals_a_local_run(cluster, reference, tmp_path):
    output = tmp_path / "out"
    result = succeeded(
        submit(cluster, output, "-m", *CAMPAIGN, "mission.launch.propellant_load_kg=3800,3900", submission_id="sweep")
    )
    # The sweep's directories resolve against --output on the driver, not in the job's temporary copy.
    jobs = sorted((output / "results" / "launch").glob("*/*"))
    assert [j.name for j in jobs] == ["0", "1"], result.stdout[-3000:]
    assert not (tmp_path / "results").exists()
    table = assert_complete_and_equal(jobs[0], reference)  # propellant_load_kg=3800 is the default
    other = read_run(jobs[1])
    for name in ("sample_index", "launch.ascent_reliability", "launch.injection_error_along_mps", "launch_ok"):
        assert other.column(name).equals(table.column(name))  # common random numbers across the sweep
    info = json.loads((jobs[0] / "run.json").read_text())
    assert info["code_revision"] not in ("", "unknown")  # passed by the submission: the copy has no .git
    tasks = cluster.shard_tasks("sweep", lambda ts: sum(t["state"] == "FINISHED" for t in ts) >= 98)
    nodes = {t["node_id"] for t in tasks if t["state"] == "FINISHED"}
    assert len(nodes) == 2, "both nodes should have run shards"


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_every_listening_port_of_the_cluster_and_its_job_is_on_loopback(cluster, tmp_path):
    proc = submit(
        cluster,
        tmp_path / "out",
        "+experiment=launch",
        "run.samples=30000",
        "run.shard_size=2048",
        "run.output_dir=ports",
        submission_id="ports",
    )
    sockets: dict[str, str] = {}
    while proc.poll() is None:  # every process of the cluster, the job's driver and its workers included
        names = {}
        for p in cluster.processes():
            try:
                names[p.pid] = p.name()
            except psutil.NoSuchProcess:
                pass
        listing = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
        for line in listing.splitlines():
            for pid in map(int, re.findall(r"pid=(\d+)", line)):
                if pid in names:
                    sockets[line.split()[3]] = names[pid]
        time.sleep(0.2)
    succeeded(proc)
    kinds = set(sockets.values())
    assert {"gcs_server", "raylet"} <= kinds and len(sockets) >= 12, sockets
    assert any(k.startswith("ray::") and not k.startswith(("ray::Dashboard", "ray::RuntimeEnv")) for k in kinds), (
        f"no worker of the job was seen: {kinds}"
    )
    exposed = {s: k for s, k in sockets.items() if not LOOPBACK.match(s)}
    assert not exposed, f"listening beyond loopback: {exposed}"


def test_worker_killed_mid_shard_is_retried_with_identical_results(cluster, reference, tmp_path):
    proc = submit(cluster, tmp_path / "out", *CAMPAIGN, "run.output_dir=run", submission_id="kill-worker")
    victim = wait_for(lambda: running_shard(cluster.processes()), proc, "a shard task started")
    victim.kill()
    succeeded(proc)
    assert_complete_and_equal(tmp_path / "out" / "run", reference)
    attempts = cluster.shard_tasks("kill-worker", lambda ts: sum(t["state"] == "FINISHED" for t in ts) >= 49)
    died = [t for t in attempts if t["state"] == "FAILED"]
    assert len(died) == 1 and died[0]["error_type"] == "WORKER_DIED", died
    retried = [t for t in attempts if t["task_id"] == died[0]["task_id"] and t["state"] == "FINISHED"]
    assert retried and retried[0]["attempt_number"] == 1


def test_node_removed_mid_run_has_its_shards_rerun_elsewhere(cluster, reference, tmp_path):
    state = cluster.command("add-node")
    node = state["nodes"][-1]
    raylet = psutil.Process(node["raylet_pid"])
    proc = submit(cluster, tmp_path / "out", *CAMPAIGN, "run.output_dir=run", submission_id="remove-node")
    wait_for(lambda: running_shard(raylet.children(recursive=True)), proc, "a shard task on the new node")
    state = cluster.command("remove-node")  # kills every process of that node at once
    assert node["node_id"] not in {n["node_id"] for n in state["nodes"]}
    succeeded(proc)
    assert_complete_and_equal(tmp_path / "out" / "run", reference)
    attempts = cluster.shard_tasks("remove-node", lambda ts: sum(t["state"] == "FINISHED" for t in ts) >= 49)
    lost = [t for t in attempts if t["state"] == "FAILED"]
    # Ray reports the node's death, or the death of the worker it saw first.
    assert lost and all(
        t["node_id"] == node["node_id"] and t["error_type"] in ("NODE_DIED", "WORKER_DIED") for t in lost
    ), lost
    finished = [t for t in attempts if t["state"] == "FINISHED"]
    assert len({t["task_id"] for t in finished}) == 49
    assert all(t["node_id"] != node["node_id"] for t in finished if t["task_id"] in {x["task_id"] for x in lost})


def test_killed_driver_leaves_a_run_that_resume_completes_with_direct_writes(cluster, reference, tmp_path):
    output = tmp_path / "out"
    args = (*CAMPAIGN, "run.output_dir=run", "cluster.direct_write=true")  # tasks write their own shard files
    samples = output / "run" / "samples"
    proc = submit(cluster, output, *args, submission_id="kill-driver")

    def driver():
        if len(list(samples.glob("part-*.parquet"))) < 4:
            return None
        for p in cluster.processes():
            try:
                if p.cmdline()[1:3] == ["-m", "campaign"] and "run.output_dir=run" in p.cmdline():
                    return p
            except (psutil.NoSuchProcess, IndexError):
                pass
        return None

    wait_for(driver, proc, "4 shard files and the driver").kill()
    result = finish(proc)
    assert result.returncode == 1 and "FAILED" in result.stderr, result.stderr[-3000:]
    assert not (output / "run" / "manifest.json").exists()
    written = sorted(samples.glob("part-*.parquet"))
    assert 4 <= len(written) < 49, "the run finished before its driver could be killed"
    victim = written[1]
    victim.write_bytes(victim.read_bytes()[:1000])  # a torn file, as if the disk filled

    result = succeeded(submit(cluster, output, *args, "run.resume=true", submission_id="resume"))
    assert f"removing {victim.name}" in result.stdout
    assert re.search(r"Resuming .*: \d+ of 49 shards already done", result.stdout)
    assert_complete_and_equal(output / "run", reference)
    for p in [output / "run", *(output / "run").rglob("*")]:
        assert not stat.S_IMODE(p.stat().st_mode) & 0o002, f"{p} is world-writable"


def test_model_error_stops_the_job_naming_shard_and_samples(cluster, tmp_path):
    # A -100% Isp dispersion (zero Isp) with a zero-delta-v burn computes 0/0: a model defect, never retried.
    t0 = time.monotonic()
    result = finish(
        submit(
            cluster,
            tmp_path / "out",
            "+experiment=launch",
            "run.samples=30000",
            "run.shard_size=2048",
            "run.output_dir=bad",
            "mission.launch.doi_dv_mps=0",
            "mission.launch.uncertain.isp_dispersion_frac={dist:fixed,value:-1.0}",
            submission_id="model-error",
        )
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]  # failed, not timed out
    assert time.monotonic() - t0 < 90
    match = re.search(r"error: shard (\d+) \(sample_index (\d+)\.\.(\d+)\) failed: non-finite", result.stdout)
    assert match, result.stdout[-3000:]
    shard, first, last = map(int, match.groups())
    assert (first, last) == (2048 * shard, 2048 * shard + 2047)
    assert not (tmp_path / "out" / "bad" / "manifest.json").exists()
    attempts = cluster.shard_tasks("model-error")
    assert all(t["attempt_number"] == 0 for t in attempts), "a model error must not be retried"


def test_submission_without_the_token_is_refused(cluster, tmp_path):
    home = tmp_path / "home"  # no ~/.ray/auth_token there
    home.mkdir()
    base = clean_env() | {"RAY_ADDRESS": cluster.url, "HOME": str(home)}
    cases = {
        "no-token": base | {"RAY_AUTH_MODE": "token"},
        "wrong-token": base | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64},
        "auth-off": base | {"RAY_AUTH_MODE": "disabled"},
    }
    for sid, env in cases.items():
        result = finish(
            submit(cluster, tmp_path / "out", "+experiment=launch", "run.samples=100", submission_id=sid, env=env)
        )
        assert result.returncode == 3, (sid, result.stdout[-2000:], result.stderr[-2000:])
        assert "refused" in result.stderr
    # The job server itself, asked directly: without a token, with a wrong one, and with the right one.
    body = json.dumps({"entrypoint": "echo hi", "submission_id": "raw"}).encode()
    assert cluster.api("/api/jobs/", token=None, data=body)[0] == 401
    assert cluster.api("/api/jobs/", token="0" * 64, data=body)[0] == 403
    status, jobs = cluster.api("/api/jobs/")
    assert status == 200
    assert not {"no-token", "wrong-token", "auth-off", "raw"} & {j["submission_id"] for j in jobs}
    assert not (tmp_path / "out").exists()
