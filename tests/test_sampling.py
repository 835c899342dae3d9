"""Samplers: determinism by sample index, common random numbers, epistemic blocks, stratification.

The campaign's contract (campaign/sampling.py): a uniform is a pure function of (seed, index, variable), never
of the shard layout, so any shard can be drawn alone and results are bit-identical whatever the shard size.
Statistical checks use fixed seeds and tolerances in standard errors, stated at each assertion.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax

jax.config.update("jax_enable_x64", True)  # before any JAX computation in this module

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.stats as st  # noqa: E402

from campaign import engine, sampling  # noqa: E402
from campaign.distributions import DistKind, Level  # noqa: E402
from campaign.sampling import (  # noqa: E402
    PURPOSE_ALEATORY,
    PURPOSE_EPISTEMIC,
    PURPOSE_MODEL,
    SamplerKind,
    Variable,
    host_uniforms,
    mc_uniforms,
    outer_block,
    permute,
    root_key,
    split_words,
)

SEED = 20261121
SAMPLES = 3000
INNER = 100  # missions per epistemic draw in these tests: 30 outer indices over the campaign
BATCH = 256  # missions per compiled call (CampaignSpec.batch_size): shards of 256 and 1024 share one executable
EPISTEMIC = ("launch.ascent_reliability", "launch.engine_failure_prob_per_burn")

_REGISTERED = False


def _register_once() -> None:
    global _REGISTERED
    if not _REGISTERED:
        from campaign.config import register_configs

        register_configs()
        _REGISTERED = True


@pytest.fixture(scope="module")
def spec() -> engine.CampaignSpec:
    """The launch campaign from conf/ (3,000 samples), shard size 1024 in batches of 256, 100 missions per
    epistemic draw."""
    from hydra import compose, initialize_config_dir

    from campaign.app import CONF_DIR
    from campaign.config import load

    _register_once()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=launch", "run.samples=3000"])
    config = load(cfg)
    base = config.spec(1024)
    assert base.model == "launch" and base.samples == SAMPLES and base.sampler is SamplerKind.monte_carlo
    assert base.precision == "float64"
    levels = {v.name: v.level for v in base.variables}
    assert all(levels[name] is Level.epistemic for name in EPISTEMIC)
    return dataclasses.replace(base, inner_samples=INNER, **_batch(BATCH))


def _batch(size: int) -> dict:
    """The batch-size field of CampaignSpec, where the engine has one (it compiles one shape per batch size)."""
    fields = {f.name for f in dataclasses.fields(engine.CampaignSpec)}
    return {"batch_size": size} if "batch_size" in fields else {}


def evaluate(spec: engine.CampaignSpec, first: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
    """Samples ``first .. stop-1`` in consecutive shards of ``spec.shard_size`` (the last one padded)."""
    stop = spec.samples if stop is None else stop
    parts = []
    for start in range(first, stop, spec.shard_size):
        parts.append(engine.evaluate_shard(spec, start, min(spec.shard_size, stop - start)))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def input_names(spec: engine.CampaignSpec, level: Level | None = None) -> list[str]:
    return [v.name for v in spec.variables if level is None or v.level is level]


# --------------------------------------------------------------------- 1. Monte Carlo determinism by index
@pytest.fixture(scope="module")
def by_1024(spec):
    return evaluate(spec)


@pytest.fixture(scope="module")
def by_256(spec):
    return evaluate(dataclasses.replace(spec, shard_size=256))


def test_shard_layouts_cover_the_same_samples(by_1024, by_256):
    np.testing.assert_array_equal(by_1024["sample_index"], np.arange(SAMPLES))
    np.testing.assert_array_equal(by_256["sample_index"], np.arange(SAMPLES))
    assert set(by_1024) == set(by_256)


def test_shard_size_does_not_change_any_column(by_1024, by_256):
    """Shards of 1024 (last one 952 samples, padded) and of 256 (last one 184, padded): every input and output
    of every sample is bit-identical. (The inverse of the beta distribution is not elementwise, see
    test_distributions.py::test_beta_icdf_is_elementwise; the engine must keep each sample's batch the same.)"""
    differing = {k: int(np.sum(by_1024[k] != by_256[k])) for k in by_1024 if not np.array_equal(by_1024[k], by_256[k])}
    assert differing == {}, f"columns (samples) that differ between shard sizes 1024 and 256: {differing}"


def test_shard_across_the_campaign_layout_matches_it(spec, by_1024):
    """A shard that starts inside a shard of the campaign's layout (at a batch boundary), spans the next shard
    boundary and is padded to the shard size."""
    first, count = 1280, 700
    part = engine.evaluate_shard(spec, first, count)
    np.testing.assert_array_equal(part["sample_index"], np.arange(first, first + count))
    for name, column in part.items():
        assert np.array_equal(column, by_1024[name][first : first + count]), name


def test_inputs_and_outputs_are_identical_across_calls(spec, by_1024):
    again = engine.evaluate_shard(spec, 1024, 1024)
    for name, column in again.items():
        assert np.array_equal(column, by_1024[name][1024:2048]), name


def test_a_different_seed_gives_different_inputs(spec, by_1024):
    other = engine.evaluate_shard(dataclasses.replace(spec, seed=spec.seed + 1), 0, 1024)
    for name in input_names(spec):
        # Every input of the launch model is continuous: a coincidence has probability ~0.
        assert not np.any(other[name] == by_1024[name][:1024]), name
    # Keys differ, but the model is the same: the outputs are different draws of the same distributions.
    assert not np.array_equal(other["propellant_margin_kg"], by_1024["propellant_margin_kg"][:1024])


def test_inputs_follow_their_distributions(spec, by_1024):
    """Sanity of the whole chain (uniforms -> inverse CDF -> columns) on the aleatory normal inputs."""
    for v in spec.variables:
        if v.kind is DistKind.normal and v.level is Level.aleatory:
            x = by_1024[v.name]
            mean, std = v.theta
            assert abs(x.mean() - mean) <= 5 * std / math.sqrt(x.size), v.name  # 5 standard errors
            assert st.kstest(x, st.norm(mean, std).cdf).pvalue > 1e-3, v.name


# ------------------------------------------------------------- 2. adding a variable leaves the others alone
def _var(name: str, level: Level = Level.aleatory) -> Variable:
    return Variable(name, DistKind.normal, (0.0, 1.0), level)


A, B, C = _var("test.a"), _var("test.b"), _var("other.c")


def _words(index: np.ndarray) -> jax.Array:
    lo, hi = split_words(np.asarray(index, dtype=np.int64))
    return jnp.asarray(np.stack([lo, hi], axis=1))


def _seed_words(seed: int) -> jax.Array:
    return jnp.asarray(np.concatenate(split_words(np.array([seed]))), jnp.uint32)


@functools.cache
def _mc_function(variables: tuple[Variable, ...], purpose: int):
    @jax.jit
    def draw(seed_words, words):
        root = root_key(seed_words)
        return jax.vmap(lambda w: mc_uniforms(root, purpose, w, variables, jnp.float64))(words)

    return draw


def mc(
    variables: tuple[Variable, ...], index: np.ndarray, seed: int = SEED, purpose: int = PURPOSE_ALEATORY
) -> np.ndarray:
    """Monte Carlo uniforms, shape (len(index), len(variables)), as the engine draws them (jit of vmap over
    the index words; the seed is traced)."""
    return np.asarray(_mc_function(variables, purpose)(_seed_words(seed), _words(index)))


def test_monte_carlo_adding_or_reordering_variables_leaves_others_unchanged():
    index = np.arange(5000)
    ab = mc((A, B), index)
    abc = mc((A, B, C), index)
    cab = mc((C, A, B), index)
    assert ab.shape == (5000, 2) and abc.shape == (5000, 3)
    np.testing.assert_array_equal(abc[:, :2], ab)
    np.testing.assert_array_equal(cab[:, 1:], ab)
    np.testing.assert_array_equal(cab[:, 0], abc[:, 2])
    assert not np.any(ab[:, 0] == ab[:, 1])  # distinct tags: distinct streams


def test_monte_carlo_uniform_depends_on_seed_purpose_and_both_index_words():
    index = np.arange(2000)
    base = mc((A,), index)[:, 0]
    assert not np.any(mc((A,), index, seed=SEED + 1)[:, 0] == base)
    assert not np.any(mc((A,), index, purpose=PURPOSE_EPISTEMIC)[:, 0] == base)
    assert not np.any(mc((A,), index, purpose=PURPOSE_MODEL)[:, 0] == base)
    # Index i and i + 2^32 share the low word: the high word must matter too.
    assert not np.any(mc((A,), index + 2**32)[:, 0] == base)
    # A seed beyond 32 bits uses its high word.
    assert not np.any(mc((A,), index, seed=SEED + 2**40)[:, 0] == base)


def test_monte_carlo_uniform_does_not_depend_on_the_batch():
    index = np.arange(3000)
    whole = mc((A, B), index)
    np.testing.assert_array_equal(mc((A, B), index[1234:1300]), whole[1234:1300])
    np.testing.assert_array_equal(mc((A, B), index[2999:]), whole[2999:])


def test_latin_hypercube_adding_or_reordering_variables_leaves_others_unchanged():
    n = 1000
    index = np.arange(n)
    ab = host_uniforms(SamplerKind.latin_hypercube, (A, B), index, SEED, 1, n)
    abc = host_uniforms(SamplerKind.latin_hypercube, (A, B, C), index, SEED, 1, n)
    cab = host_uniforms(SamplerKind.latin_hypercube, (C, A, B), index, SEED, 1, n)
    np.testing.assert_array_equal(abc[:, :2], ab)
    np.testing.assert_array_equal(cab[:, 1:], ab)
    np.testing.assert_array_equal(cab[:, 0], abc[:, 2])
    # ... and a piece of the design equals the same rows of the whole design.
    np.testing.assert_array_equal(
        host_uniforms(SamplerKind.latin_hypercube, (A, B), index[300:700], SEED, 1, n), ab[300:700]
    )


# ---------------------------------------------------------------- 3. epistemic draws by outer index
def _check_epistemic_blocks(columns: dict[str, np.ndarray], spec: engine.CampaignSpec) -> None:
    outer = columns["sample_index"] // spec.inner_samples
    blocks = np.unique(outer)
    assert blocks.size >= 10
    # The first sample of each block may be in one shard and the last in the next: compare them all.
    for name in EPISTEMIC:
        x = columns[name]
        per_block = []
        for o in blocks:
            values = np.unique(x[outer == o])
            assert values.size == 1, f"{name}: {values.size} values in outer index {o}"
            per_block.append(values[0])
        # A Saltelli design repeats coordinates between the draws of a block by construction (AB_i is A but for
        # input i, which is B's); every other sampler draws each outer index afresh.
        distinct = np.unique(per_block).size
        if spec.sampler is SamplerKind.saltelli:
            rows = len(input_names(spec, Level.epistemic)) + 2  # A, B and one AB_i per input: two values per block
            assert distinct >= 2 * (blocks.size // rows), f"{name}: fewer distinct draws than the design's A and B rows"
        else:
            assert distinct == blocks.size, f"{name}: two outer indices share a draw"
    for name in input_names(spec, Level.aleatory):  # the aleatory inputs do vary inside a block
        assert np.unique(columns[name][outer == blocks[0]]).size == np.sum(outer == blocks[0]), name


@pytest.mark.parametrize("sampler", list(SamplerKind), ids=[s.value for s in SamplerKind])
def test_epistemic_draws_are_constant_within_an_outer_index(spec, sampler):
    """The whole campaign in shards [0, 1024), [1024, 2048), [2048, 3000): outer indices 10 (samples
    1000..1099) and 20 (2000..2099) are split across shards and must still get one value each."""
    s = dataclasses.replace(spec, sampler=sampler)
    columns = evaluate(s)
    _check_epistemic_blocks(columns, s)
    if sampler is SamplerKind.latin_hypercube:
        # 30 outer indices, 30 strata: one epistemic draw per stratum of the input's CDF.
        outer = columns["sample_index"] // INNER
        ((a, b, low, high),) = [v.theta for v in s.variables if v.name == EPISTEMIC[0]]
        ref = st.beta(a, b, loc=low, scale=high - low)
        draws = np.array([columns[EPISTEMIC[0]][outer == o][0] for o in np.unique(outer)])
        strata = np.floor(ref.cdf(draws) * draws.size).astype(int)
        np.testing.assert_array_equal(np.sort(strata), np.arange(draws.size))


# ------------------------------------------------------------------------------ 4. Sobol stratification
M = 10
SOBOL_VARS = tuple(_var(f"sobol.x{j}") for j in range(5))


def _assert_stratified(u: np.ndarray, n: int) -> None:
    assert u.shape[0] == n
    assert np.all((u > 0) & (u < 1))
    for j in range(u.shape[1]):
        np.testing.assert_array_equal(
            np.sort(np.floor(u[:, j] * n).astype(np.int64)), np.arange(n), err_msg=f"dimension {j}"
        )


def test_sobol_first_points_are_stratified_and_fast_forward_consistently():
    n = 2**M
    u = host_uniforms(SamplerKind.sobol, SOBOL_VARS, np.arange(n), SEED, 1, n)
    _assert_stratified(u, n)
    pieces = np.vstack(
        [
            host_uniforms(SamplerKind.sobol, SOBOL_VARS, np.arange(0, 300), SEED, 1, n),
            host_uniforms(SamplerKind.sobol, SOBOL_VARS, np.arange(300, n), SEED, 1, n),
        ]
    )
    np.testing.assert_array_equal(pieces, u)


def test_sobol_aligned_blocks_are_stratified_and_fast_forward_consistently():
    """Every aligned block of 2^m points of a (scrambled) Sobol sequence is stratified in each dimension;
    drawn from index 2^m (a fast-forward by a whole block)."""
    n = 2**M
    index = np.arange(n, 2 * n)
    u = host_uniforms(SamplerKind.sobol, SOBOL_VARS, index, SEED, 1, 4 * n)
    _assert_stratified(u, n)
    pieces = np.vstack(
        [
            host_uniforms(SamplerKind.sobol, SOBOL_VARS, index[:300], SEED, 1, 4 * n),
            host_uniforms(SamplerKind.sobol, SOBOL_VARS, index[300:], SEED, 1, 4 * n),
        ]
    )
    np.testing.assert_array_equal(pieces, u)
    # The first two blocks of 2^(m-1) inside it are stratified at their own resolution too.
    _assert_stratified(u[: n // 2], n // 2)
    _assert_stratified(u[n // 2 :], n // 2)
    # Another seed scrambles differently.
    assert not np.array_equal(host_uniforms(SamplerKind.sobol, SOBOL_VARS, index, SEED + 1, 1, 4 * n), u)


def test_sobol_epistemic_sequence_is_separate_and_stratified():
    n = 2**6
    ep = tuple(_var(f"sobol.e{j}", Level.epistemic) for j in range(2))
    outer = np.arange(n, 2 * n)
    u_e = host_uniforms(SamplerKind.sobol, ep, outer, SEED, 100, 100 * 4 * n)
    _assert_stratified(u_e, n)
    al = tuple(_var(f"sobol.a{j}") for j in range(2))
    u_a = host_uniforms(SamplerKind.sobol, al, outer, SEED, 100, 100 * 4 * n)
    assert not np.any(u_a == u_e)


def test_host_uniforms_refuses_monte_carlo_and_mixed_levels():
    with pytest.raises(ValueError):
        host_uniforms(SamplerKind.monte_carlo, (A,), np.arange(4), SEED, 1, 4)
    with pytest.raises(AssertionError):
        host_uniforms(SamplerKind.latin_hypercube, (A, _var("e", Level.epistemic)), np.arange(4), SEED, 1, 4)
    assert host_uniforms(SamplerKind.latin_hypercube, (), np.arange(4), SEED, 1, 4).shape == (4, 0)


# ---------------------------------------------------------------------- 5. Latin hypercube stratification
LHS_N = 1000
LHS_VARS = (A, B, C, _var("lhs.d"))


@pytest.fixture(scope="module")
def lhs() -> np.ndarray:
    return host_uniforms(SamplerKind.latin_hypercube, LHS_VARS, np.arange(LHS_N), SEED, 1, LHS_N)


def test_latin_hypercube_is_stratified(lhs):
    assert lhs.shape == (LHS_N, len(LHS_VARS))
    assert np.all((lhs > 0) & (lhs < 1))
    for j in range(lhs.shape[1]):
        np.testing.assert_array_equal(np.sort(np.floor(lhs[:, j] * LHS_N).astype(np.int64)), np.arange(LHS_N))
    # Strata are not in index order (the permutation is not the identity or a shift).
    assert abs(st.spearmanr(np.arange(LHS_N), lhs[:, 0]).statistic) < 0.16  # 5 / sqrt(999)


def test_latin_hypercube_epistemic_strata_are_the_outer_indices():
    ep = (_var("lhs.e", Level.epistemic),)
    u = host_uniforms(SamplerKind.latin_hypercube, ep, np.arange(30), SEED, 100, 3000)  # 30 outer indices
    np.testing.assert_array_equal(np.sort(np.floor(u[:, 0] * 30).astype(np.int64)), np.arange(30))
    # Padding beyond the campaign (outer indices >= 30) still gets uniforms in (0, 1).
    pad = host_uniforms(SamplerKind.latin_hypercube, ep, np.arange(30, 40), SEED, 100, 3000)
    assert np.all((pad > 0) & (pad < 1))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 1000, 4096, 4097])
def test_permute_is_a_bijection(n):
    index = np.arange(n)
    p = permute(index, n, SEED, A.tag)
    assert p.dtype == np.int64
    np.testing.assert_array_equal(np.sort(p), index)
    np.testing.assert_array_equal(permute(index, n, SEED, A.tag), p)  # deterministic
    if n >= 1000:
        assert not np.array_equal(permute(index, n, SEED, B.tag), p)  # keyed by the variable
        assert not np.array_equal(permute(index, n, SEED + 1, A.tag), p)  # and by the seed
        assert np.mean(p == index) < 0.01  # not close to the identity (a random one fixes ~1 point)


def test_latin_hypercube_marginals_pass_ks(lhs):
    for j in range(lhs.shape[1]):
        assert st.kstest(lhs[:, j], "uniform").pvalue > 1e-3, j


def test_latin_hypercube_columns_are_uncorrelated(lhs):
    k = lhs.shape[1]
    for i in range(k):
        for j in range(i + 1, k):
            rho = st.spearmanr(lhs[:, i], lhs[:, j]).statistic
            assert abs(rho) < 0.1, (i, j, rho)  # standard error 1/sqrt(999) = 0.032: 0.1 is ~3 SE


def test_hash_uniform_is_open_and_uniform():
    u = sampling.hash_uniform(SEED, A.tag, "test", np.arange(100_000))
    assert np.all((u > 0) & (u < 1))
    assert st.kstest(u, "uniform").pvalue > 1e-3
    assert not np.any(sampling.hash_uniform(SEED, B.tag, "test", np.arange(1000)) == u[:1000])


# --------------------------------------------------------------------------- 6. Monte Carlo uniforms
def test_monte_carlo_uniforms_are_uniform_and_independent():
    n = 100_000
    u = mc((A, B), np.arange(n))
    assert np.all((u > 0) & (u < 1))
    for j in range(2):
        assert st.kstest(u[:, j], "uniform").pvalue > 1e-3, j
        # mean 1/2 and variance 1/12 within 5 standard errors
        assert abs(u[:, j].mean() - 0.5) <= 5 * math.sqrt(1 / 12 / n)
        assert abs(u[:, j].var() - 1 / 12) <= 5 * math.sqrt(1 / 180 / n)
    se = 1 / math.sqrt(n)  # standard error of a correlation coefficient under independence
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 5 * se  # between two variables
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 5 * se  # between consecutive sample indices
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 1])[0, 1]) < 5 * se
    assert abs(st.spearmanr(u[:, 0], u[:, 1]).statistic) < 5 * se


def test_monte_carlo_epistemic_stream_is_uniform_and_independent_of_the_aleatory_one():
    n = 50_000
    ua = mc((A,), np.arange(n))[:, 0]
    ue = mc((A,), np.arange(n), purpose=PURPOSE_EPISTEMIC)[:, 0]
    assert st.kstest(ue, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(ua, ue)[0, 1]) < 5 / math.sqrt(n)


# ------------------------------------------------------------------------------------ 7. outer_block
def test_outer_block_covers_every_outer_index_of_the_shard():
    for size in (1, 2, 7, 64, 100, 256, 1000, 1024):
        for inner in (1, 2, 3, 7, 64, 100, 999, 1000, 1001, 5000):
            count = outer_block(0, size, inner)[1]
            assert count >= 1
            assert count <= -(-size // inner) + 1  # at most one outer index more than the samples span
            for first in (0, 1, 5, 63, 99, 100, 101, 999, 1000, 1023, 4999, 123_457, 2**33 + 17):
                start, k = outer_block(first, size, inner)
                assert k == count, "the count depends only on size and inner (one compiled shape)"
                needed = (first + np.arange(size)) // inner
                assert start == first // inner
                assert needed.min() >= start and needed.max() < start + k, (first, size, inner)
