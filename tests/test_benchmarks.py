"""The benchmark harness runs end to end in its tiny configuration: its plumbing, not its speed (the figures
of a tiny run mean nothing). Peers that are not installed are reported as unavailable, not failed."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pytest

from campaign.models.outcomes import Outcome
from tests.helpers import REPO, cli_env, kill_group


@pytest.mark.slow
def test_tiny_benchmark_measures_every_section_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "--preset", "tiny", "--workers", "1", "--out", str(out)],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
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


@pytest.fixture
def whole_mission_campaign(tmp_path, monkeypatch):
    """The peers' pickled campaign of the whole mission (two days on the surface), as the harness writes it."""
    from benchmarks import harness, peers

    settings = dataclasses.replace(harness.PRESETS["tiny"], experiment="full_mission")
    path = tmp_path / "campaign.pkl"
    harness.write_campaign(settings, path)
    monkeypatch.setenv(peers.CAMPAIGN_ENV, str(path))
    peers.campaign.cache_clear()
    peers._generator.cache_clear()
    yield peers
    peers.campaign.cache_clear()
    peers._generator.cache_clear()


def test_the_peers_run_the_whole_mission_in_a_batch_and_one_case_at_a_time(whole_mission_campaign):
    peers = whole_mission_campaign
    assert peers.campaign()["model"] == "mission"
    rng = np.random.default_rng(3)
    x = np.column_stack(
        [
            dist.rvs(size=128, random_state=rng, **kw)
            for dist, kw in (peers.scipy_distribution(k, t) for _, k, t in peers.campaign()["variables"])
        ]
    )
    y = peers.simulate_sample(x)
    assert y.shape == (128, len(peers.outputs())) and np.all(np.isfinite(y))
    outcome = dict(zip(peers.outputs(), y.T))["outcome"]
    assert {int(Outcome.SUCCESS), int(Outcome.LAUNCH_VEHICLE_FAILURE)} <= set(outcome.astype(int))
    one = peers.monaco_run(*x[0])  # monaco's case: scalars in, one value per output
    assert len(one) == len(peers.outputs()) and all(isinstance(v, float) for v in one)


def test_peer_distributions_are_the_campaigns(whole_mission_campaign):
    """scipy.stats (monaco) and OpenTURNS get the same distribution for every input of the whole mission."""
    peers = whole_mission_campaign
    pytest.importorskip("openturns")
    kinds = set()
    for name, kind, theta in peers.campaign()["variables"]:
        dist, kwargs = peers.scipy_distribution(kind, theta)
        theirs = peers.openturns_distribution(kind, theta)
        mean, var = dist.stats(moments="mv", **kwargs)
        assert theirs.getMean()[0] == pytest.approx(float(mean), rel=1e-6, abs=1e-12), name
        assert theirs.getCovariance()[0, 0] == pytest.approx(float(var), rel=1e-6, abs=1e-15), name
        kinds.add(kind)
    assert {"beta", "triangular", "bernoulli", "lognormal", "truncnormal"} <= kinds


def test_peer_distributions_have_the_campaigns_quantiles(whole_mission_campaign):
    """The scipy.stats distribution handed to the peers for every input of the whole mission has the campaign's
    own inverse CDF (:func:`campaign.distributions.icdf`), so both draw from the same distributions."""
    import jax.numpy as jnp

    from campaign.distributions import DistKind, icdf

    peers = whole_mission_campaign
    u = np.array([0.002, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.998])
    for name, kind, theta in peers.campaign()["variables"]:
        dist, kwargs = peers.scipy_distribution(kind, theta)
        ours = np.asarray(icdf(DistKind(kind), jnp.asarray(theta, jnp.float64), jnp.asarray(u)))
        np.testing.assert_allclose(dist.ppf(u, **kwargs), ours, rtol=1e-6, atol=1e-12, err_msg=name)
