"""The embedded local Ray binds every port to loopback, even when the environment asks Ray for cluster mode,
no Ray process outlives the run, and a run on a terminal shows its progress and no Ray notice (one run serves
every test of this module)."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
import threading

import pytest

from tests.helpers import REPO, cli_env, kill_group

pytestmark = pytest.mark.slow

LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|\[::ffff:127\.\d+\.\d+\.\d+\]|\[::1\]):\d+$")

# Runs a campaign through the app, then, with its Ray still up, lists the listening sockets of every process in
# its tree as `ss -ltnp` shows them, and finally shuts Ray down and reports any process left behind.
PROBE = r"""
import json, re, subprocess, sys, time
import psutil
sys.path.insert(0, sys.argv[1])
from tests.helpers import compose
from campaign.app import run_campaign
config = compose("+experiment=launch", "run.samples=200", "cluster.num_cpus=1")
run_campaign(config, sys.argv[2], log=lambda *a: None)
import ray
me = psutil.Process()
pids = {p.pid for p in me.children(recursive=True)} | {me.pid}
ss = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
sockets = [(line.split()[3], int(pid)) for line in ss.splitlines() for pid in re.findall(r"pid=(\d+)", line)
           if int(pid) in pids]
ray.shutdown()
deadline = time.monotonic() + 30
alive = lambda: [p for p in me.children(recursive=True) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
while alive() and time.monotonic() < deadline:
    time.sleep(0.2)
print(json.dumps({"sockets": sockets, "left": [" ".join(p.cmdline()[:2]) for p in alive()]}))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    """Run :data:`PROBE` with its stderr on a pseudo-terminal (as a user's shell gives it): its report (stdout),
    its stderr as the terminal received it, its return code and its run directory."""
    if shutil.which("ss") is None:
        pytest.skip("needs ss (iproute2)")
    run = tmp_path_factory.mktemp("probe") / "run"
    env = cli_env() | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}  # what would expose every port
    env.pop("RAY_AUTH_MODE", None)  # Ray's own default, as a user has it
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(REPO), str(run)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # a pseudo-terminal's buffer is small: read it while the run writes
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=180)
    finally:
        kill_group(proc)
        reader.join(timeout=10)
        os.close(master)
    return {"returncode": proc.returncode, "out": out, "err": b"".join(chunks).decode(errors="replace"), "run": run}


def test_embedded_ray_listens_only_on_loopback(probe):
    assert probe["returncode"] == 0, probe["err"][-3000:]
    report = json.loads(probe["out"].strip().splitlines()[-1])
    assert len(report["sockets"]) >= 3, report  # GCS, raylet, worker: the check must see them
    exposed = [s for s in report["sockets"] if not LOOPBACK.match(s[0])]
    assert not exposed, f"Ray listens beyond loopback: {exposed}"
    assert not report["left"], f"Ray processes outlived shutdown: {report['left']}"
    assert (probe["run"] / "manifest.json").exists()


def test_local_run_on_a_terminal_shows_progress_and_no_ray_token_notice(probe):
    assert probe["returncode"] == 0, probe["err"][-3000:]
    err = probe["err"]
    assert "Token authentication" not in err and "RAY_AUTH_MODE" not in err, err[-2000:]
    # The progress line is redrawn in place on a terminal, and reaches the end.
    assert re.search(r"\r\s*100\.0% \| 200/200 missions \| [\d,]+ missions/s", err), err[-2000:]
    assert not re.search(r"^(WARNING|ERROR)|\bWARNING\b.*ray", err, re.MULTILINE), err[-2000:]
