"""Engine: compile once per campaign structure, batch alignment, shard planning, the NaN guard."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from campaign import engine
from campaign.app import SHARD_ROUNDS, shard_size_for
from campaign.distributions import DistKind
from campaign.store import plan_shards
from tests.helpers import compose


@pytest.fixture(scope="module")
def spec():
    return compose("+experiment=launch", "run.samples=5000", "run.batch_size=256").spec(512)


def test_sweeps_over_values_reuse_the_compiled_function(spec):
    engine.evaluate_shard(spec, 0, 512)
    structure = tuple((v.name, v.kind, v.level) for v in spec.variables)
    fn = engine.compiled(spec.model, structure, False, spec.precision)
    compiles = fn._cache_size()
    params = tuple((k, v if isinstance(v, bool) else v * 1.01) for k, v in spec.params)  # a flag stays a flag
    variables = tuple(
        dataclasses.replace(v, theta=tuple(t * 0.9 for t in v.theta)) if v.kind is DistKind.normal else v
        for v in spec.variables
    )
    for changed in (
        dataclasses.replace(spec, seed=99),
        dataclasses.replace(spec, params=params),
        dataclasses.replace(spec, variables=variables),
        dataclasses.replace(spec, shard_size=1024),
    ):
        engine.evaluate_shard(changed, 1024, 300)
    assert fn._cache_size() == compiles  # no new compilation (earlier tests may have compiled other shapes)
    assert engine.compiled.cache_info().currsize >= 1


def test_a_new_distribution_kind_is_a_new_structure(spec):
    before = engine.compiled.cache_info().misses
    variables = tuple(
        dataclasses.replace(v, kind=DistKind.uniform, theta=(-0.01, 0.01))
        if v.name == "launch.isp_dispersion_frac"
        else v
        for v in spec.variables
    )
    engine.evaluate_shard(dataclasses.replace(spec, variables=variables), 0, 10)
    assert engine.compiled.cache_info().misses == before + 1


def test_batches_must_be_aligned_and_shards_whole_batches(spec):
    with pytest.raises(ValueError, match="not aligned"):
        engine.evaluate_batch(spec, 100)
    with pytest.raises(ValueError, match="multiple of the batch size"):
        dataclasses.replace(spec, shard_size=300)


def test_non_finite_values_are_reported_with_their_sample_indices():
    columns = {"sample_index": np.arange(100, 110), "x": np.ones(10), "flag": np.ones(10, bool)}
    columns["x"][[2, 7]] = [np.nan, np.inf]
    with pytest.raises(engine.NonFiniteError, match=r"'x' at 2 sample\(s\): sample_index 102, 107"):
        engine.check_finite(columns)
    engine.check_finite({"sample_index": np.arange(3), "x": np.zeros(3)})


def test_nan_from_the_model_is_caught_in_evaluate_shard(spec):
    params = tuple((k, 0.0 if k == "launch.doi_dv_mps" else v) for k, v in spec.params)
    variables = tuple(
        dataclasses.replace(v, kind=DistKind.fixed, theta=(-1.0,)) if v.name == "launch.isp_dispersion_frac" else v
        for v in spec.variables
    )
    bad = dataclasses.replace(spec, params=params, variables=variables)
    with pytest.raises(engine.NonFiniteError, match="sample_index 512, 513"):
        engine.evaluate_shard(bad, 512, 20)


@pytest.mark.parametrize(
    "samples, cpus, batch_size",
    [
        (1, 1, 1024),
        (300, 2, 1024),
        (6000, 2, 1024),
        (10**6, 2, 1024),
        (10**7, 16, 1024),
        (12345, 3, 1024),
        (735_232, 2, 2048),
        (20_000, 2, 2048),
        (3 * 10**6, 4, 2048),
    ],
)
def test_automatic_shards_are_whole_batches_cover_the_campaign_and_keep_every_cpu_busy(samples, cpus, batch_size):
    size = shard_size_for(samples, cpus, batch_size=batch_size, max_shard_size=65536)
    assert size % batch_size == 0 and batch_size <= size <= 65536
    plan = plan_shards(samples, size)
    assert sum(s.count for s in plan) == samples
    assert [s.first for s in plan] == list(range(0, samples, size))
    if samples >= 64 * cpus * batch_size:  # enough work for several shards per CPU
        assert len(plan) >= SHARD_ROUNDS * cpus
        # Shards run in rounds of one per CPU: the work done over the slots of every round is >= 95% of it (a
        # last shard much shorter than the others would leave CPUs idle; 735,232 in shards of 65,536 on 2 CPUs:
        # 93.5%).
        rounds = math.ceil(len(plan) / cpus)
        assert samples / (rounds * cpus * size) >= 0.95


def test_requested_shard_size_rounds_up_to_whole_batches():
    assert shard_size_for(10_000, 2, 1024, 65536, requested=1000) == 1024
    assert shard_size_for(10_000, 2, 1024, 65536, requested=2048) == 2048


@pytest.mark.parametrize("cpus_per_task", [1, 2])
def test_shard_workers_get_one_xla_thread_per_reserved_cpu(spec, cpus_per_task):
    """XLA's CPU runtime splits every kernel over a pool of PJRT_NPROC threads (default: every core of the
    machine), so without it one Ray worker per core oversubscribes the machine (benchmarks/README.md)."""
    from campaign.cluster import worker_env
    from campaign.config import ClusterSettings

    settings = ClusterSettings(
        mode="local",
        address=None,
        num_cpus=None,
        cpus_per_task=cpus_per_task,
        max_tasks_in_flight=None,
        task_retries=0,
        jax_cache_dir=None,
    )
    env = worker_env(spec, settings)
    assert env["PJRT_NPROC"] == str(cpus_per_task) and env["JAX_PLATFORMS"] == "cpu"
