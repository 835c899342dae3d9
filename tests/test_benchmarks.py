"""The benchmark harness runs end to end in its tiny configuration: its plumbing, not its speed (the figures
of a tiny run mean nothing). Peers that are not installed are reported as unavailable, not failed."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec

import pytest

from tests.helpers import REPO, cli_env, kill_group

pytestmark = pytest.mark.slow


def test_tiny_benchmark_measures_every_section_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks", "--preset", "tiny", "--workers", "1",
                             "--out", str(out)], cwd=REPO, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        kill_group(proc)
    assert proc.returncode == 0, stderr[-3000:]
    report = json.loads(out.read_text())
    assert "Throughput, night_survival" in stdout and "Memory, launch model" in stdout and str(out) in stdout

    rows = {r["tool"]: r for r in report["throughput"]}
    ours = rows["ours"]
    assert ours["precision"] == "float32" and ours["samples"] == ours["shard_size"] * ours["shards"]
    assert ours["missions_per_s"] > 0 and ours["first_result_s"] > ours["ready_s"] > 0
    assert rows["numpy"]["missions"] > 0 and rows["numpy"]["missions_per_s"] > 0
    for tool, module in (("openturns", "openturns"), ("monaco", "monaco")):
        if find_spec(module):
            assert rows[tool]["missions_per_s"] > 0 and rows[tool]["processes"] == 1
        else:
            assert tool not in rows and "not installed" in report["unavailable"][tool]

    assert [s["cache"] for s in report["start_up"]] == ["cold"]
    assert [s["workers"] for s in report["scaling"]] == [1]
    (memory,) = report["memory"]
    assert memory["samples"] == 1000 and memory["driver_peak_rss_mb"] > 50 and memory["worker_peak_rss_mb"] > 50
    assert memory["driver_peak_rss_whole_run_mb"] >= memory["driver_peak_rss_mb"]
    (cost,) = report["cost"]["variants"].values()
    assert cost["steps"] == 48 and cost["ns_per_mission_step"] > 0 and cost["batch"] == 256
    assert len(report["load_before"]) == 3 and report["machine"]["cpus"] >= 1
    assert all(r["foreign_cpus"] >= 0 for r in report["throughput"] + report["scaling"] + report["memory"])
