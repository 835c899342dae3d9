"""The embedded local Ray binds every port to loopback, even when the environment asks Ray for cluster mode,
and no Ray process outlives the run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

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
config = compose("+experiment=launch", "run.samples=200", "run.progress=false", "cluster.num_cpus=1")
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


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_embedded_ray_listens_only_on_loopback(tmp_path):
    env = cli_env() | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}  # what would expose every port
    proc = subprocess.Popen([sys.executable, "-c", PROBE, str(REPO), str(tmp_path / "run")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        kill_group(proc)
    assert proc.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert len(report["sockets"]) >= 3, report  # GCS, raylet, worker: the check must see them
    exposed = [s for s in report["sockets"] if not LOOPBACK.match(s[0])]
    assert not exposed, f"Ray listens beyond loopback: {exposed}"
    assert not report["left"], f"Ray processes outlived shutdown: {report['left']}"
    assert (tmp_path / "run" / "manifest.json").exists()
