"""``sampler=saltelli``: the radial design drawn by the sampler, the centred estimators with the binomial-noise
correction, the analysis of a dataset written with it, and its intervals clustered by block.

Statistical checks use fixed seeds; each tolerance is stated at its assertion. The estimators' standard errors
treat blocks as independent: for the sampler's scrambled Sobol base points they are conservative (measured while
writing these tests: z-scores with a standard deviation of ~0.7 over 300 seeds, ~1.0 for independent base
points), so "within 3 SE" is a loose, honest bound and the absolute floors only guard against tiny SEs.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from campaign import analysis, app, declarations, engine, store
from campaign.config import ConfigError
from campaign.distributions import DistKind, Level
from campaign.models import MODELS
from campaign.sampling import SamplerKind, Variable, host_uniforms, saltelli_design, saltelli_layout
from tests.helpers import compose, read_run, run_cli

SEED = 20261121


def _uniform(name: str, level: Level = Level.aleatory, low: float = 0.0, high: float = 1.0) -> Variable:
    return Variable(name, DistKind.uniform, (low, high), level)


def design_uniforms(variables: tuple[Variable, ...], blocks: int, seed: int = SEED, inner: int = 1) -> np.ndarray:
    """The sampler's uniforms of ``blocks`` whole blocks, shape (blocks, d + 2, len(variables)), as the engine
    draws them (one level; indices of that level 0 .. blocks * (d + 2) - 1)."""
    design = saltelli_design(variables)
    rows = len(design) + 2
    index = np.arange(blocks * rows)
    u = host_uniforms(SamplerKind.saltelli, variables, index, seed, inner, index.size * inner, design)
    return u.reshape(blocks, rows, len(variables))


# ------------------------------------------------------------------------------- 1. the design's structure
D4 = tuple(_uniform(f"design.x{j}") for j in range(4))


def test_ab_i_is_a_with_column_i_from_b():
    u = design_uniforms(D4, 2**10)
    a, b = u[:, 0], u[:, 1]
    for i in range(4):
        expected = a.copy()
        expected[:, i] = b[:, i]
        np.testing.assert_array_equal(u[:, 2 + i], expected, err_msg=f"AB_{i}")
    assert not np.any(a == b)  # independent coordinates never coincide


def test_a_and_b_are_independent_uniforms():
    """Over 2^10 blocks: each coordinate of A and B is stratified (scrambled Sobol: one point per 1/2^10 of
    (0, 1), so its mean is within 1/2^10 of 1/2), and the 8 coordinates are uncorrelated (|r| < 3 / sqrt(n),
    3 standard errors of a correlation of independent variables)."""
    n = 2**10
    u = design_uniforms(D4, n)
    base = np.concatenate([u[:, 0], u[:, 1]], axis=1)  # (n, 2d): A then B
    assert np.all((base > 0) & (base < 1))
    for j in range(base.shape[1]):
        np.testing.assert_array_equal(np.sort(np.floor(base[:, j] * n)), np.arange(n), err_msg=f"coordinate {j}")
    assert np.all(np.abs(base.mean(axis=0) - 0.5) < 1 / n)
    r = np.corrcoef(base.T)[np.triu_indices(base.shape[1], 1)]
    assert np.max(np.abs(r)) < 3 / math.sqrt(n), r


def test_any_piece_of_the_design_is_drawn_alone_bit_identically():
    """Shards that start and end inside blocks give the rows of the whole design, bit for bit; another seed
    scrambles differently."""
    design = saltelli_design(D4)
    index = np.arange(6 * 300)
    whole = host_uniforms(SamplerKind.saltelli, D4, index, SEED, 1, index.size, design)
    for cuts in ([0, 7, 1000, 1800], [0, 1, 2, 3, 599, 1800], [0, 1799, 1800]):
        pieces = np.vstack(
            [
                host_uniforms(SamplerKind.saltelli, D4, index[a:b], SEED, 1, index.size, design)
                for a, b in itertools.pairwise(cuts)
            ]
        )
        np.testing.assert_array_equal(pieces, whole)
    assert not np.array_equal(host_uniforms(SamplerKind.saltelli, D4, index, SEED + 1, 1, index.size, design), whole)


def test_the_design_level_and_d_leave_fixed_inputs_out():
    fixed_e = Variable("e.fixed", DistKind.fixed, (0.9,), Level.epistemic)
    e1, e2 = _uniform("e.one", Level.epistemic), _uniform("e.two", Level.epistemic)
    a1, fixed_a = _uniform("a.one"), Variable("a.fixed", DistKind.fixed, (1.0,), Level.aleatory)
    # Epistemic inputs that vary make the epistemic level the design level; fixed ones do not count in d.
    assert saltelli_design((a1, e1, fixed_e, e2, fixed_a)) == (e1, e2)
    layout = saltelli_layout((a1, e1, fixed_e, e2, fixed_a), inner_samples=50)
    assert layout == {
        "level": "epistemic",
        "inputs": ["e.one", "e.two"],
        "d": 2,
        "rows_per_block": 4,
        "missions_per_block": 200,
    }
    # Every epistemic input fixed: the design is over the aleatory inputs, one mission per row.
    assert saltelli_layout((a1, fixed_e, fixed_a), inner_samples=50)["missions_per_block"] == 3
    assert saltelli_design((fixed_e, fixed_a)) == ()
    # The other level draws plain counter-based uniforms, independent from index to index.
    u = host_uniforms(SamplerKind.saltelli, (a1, fixed_a), np.arange(4000), SEED, 50, 4000, (e1, e2))
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 3 / math.sqrt(4000)  # 3 standard errors
    assert abs(u[:, 0].mean() - 0.5) < 3 * math.sqrt(1 / 12 / 4000)


# These tests use the launch as a design over two epistemic inputs (its ascent reliability and engine failure): the
# pooled launch prior, the configuration prior's two inputs held at their means (docs/priors.md).
POOLED = (
    "mission.launch.configuration_prior=false",
    "mission.launch.uncertain.ascent_reliability_common={dist:fixed,value:0.75}",
    "mission.launch.uncertain.configuration_failure_prob={dist:fixed,value:0.18}",
)


@pytest.fixture(scope="module")
def launch_spec() -> engine.CampaignSpec:
    """The launch campaign with sampler=saltelli: 2 epistemic inputs vary, blocks of 4 outer draws of 100
    missions; 3,200 missions = 8 blocks."""
    config = compose("+experiment=launch", *POOLED, "sampler=saltelli", "run.samples=3200", "run.inner_samples=100")
    return dataclasses.replace(config.spec(1024), batch_size=256)


def _evaluate(spec: engine.CampaignSpec) -> dict[str, np.ndarray]:
    parts = [
        engine.evaluate_shard(spec, s, min(spec.shard_size, spec.samples - s))
        for s in range(0, spec.samples, spec.shard_size)
    ]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_engine_draws_the_design_identically_in_any_shard_layout(launch_spec):
    """Shards of 1024 and of 256 missions: every input and output of every mission is bit-identical; each outer
    draw's epistemic inputs follow the radial pattern (exactly: one value per draw, computed one draw at a time)."""
    big, small = _evaluate(launch_spec), _evaluate(dataclasses.replace(launch_spec, shard_size=256))
    assert {k for k in big if not np.array_equal(big[k], small[k])} == set()
    names = ["launch.ascent_reliability", "launch.engine_failure_prob_per_burn"]
    outer = big["sample_index"] // 100
    first = np.searchsorted(outer, np.arange(32))
    x = np.stack([big[n][first] for n in names], axis=1).reshape(8, 4, 2)
    for i in range(2):
        expected = x[:, 0].copy()
        expected[:, i] = x[:, 1, i]
        np.testing.assert_array_equal(x[:, 2 + i], expected)
    for n in names:  # constant within each draw
        assert all(np.unique(big[n][outer == o]).size == 1 for o in range(32)), n


# ---------------------------------------------------------------------------------------- 2. Ishigami
def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Ishigami & Homma (1990), inputs in [-pi, pi]: shape (..., 3) -> (...)."""
    return np.sin(x[..., 0]) + a * np.sin(x[..., 1]) ** 2 + b * x[..., 2] ** 4 * np.sin(x[..., 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total indices (Sobol' & Levitan 1999): (0.3139, 0.4424, 0), (0.5576, 0.4424,
    0.2437)."""
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def test_sampler_design_and_centred_estimators_recover_the_ishigami_indices():
    """2^13 blocks of the sampler's design (a fixed fourth input, left out of d: blocks of 5 rows), mapped to
    U(-pi, pi) and evaluated in NumPy. Tolerance: 3 standard errors, at least 0.01; the SEs must be below 0.02."""
    variables = (
        *(_uniform(f"ishigami.x{j}", low=-math.pi, high=math.pi) for j in range(3)),
        Variable("ishigami.unused", DistKind.fixed, (1.0,), Level.aleatory),
    )
    u = design_uniforms(variables, 2**13)
    assert u.shape == (2**13, 5, 4)
    f = ishigami(-math.pi + 2 * math.pi * u[..., :3])
    est = analysis.radial_indices(f)
    first, total = ishigami_indices()
    assert np.allclose(first, [0.3139, 0.4424, 0.0], atol=5e-5) and np.allclose(
        total, [0.5576, 0.4424, 0.2437], atol=5e-5
    )
    for key, truth in (("first", first), ("total", total)):
        err, se = np.abs(est[key] - truth), est[f"{key}_se"]
        assert np.all(err < np.maximum(3 * se, 0.01)), (key, est[key], truth, se)
        assert np.all(se < 0.02), (key, se)
    assert est["blocks"] == 2**13 and est["noise_variance"] == 0


def test_separate_matrices_give_the_same_centred_estimates():
    """saltelli_indices (A, B, AB_i as matrices) is radial_indices on the same blocks."""
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-math.pi, math.pi, (2, 512, 3))
    ab = analysis.saltelli_matrices(a, b)
    est = analysis.saltelli_indices(ishigami(a), ishigami(b), ishigami(ab))
    blocks = analysis.radial_indices(np.column_stack([ishigami(a), ishigami(b), ishigami(ab).T]))
    for key in ("first", "first_se", "total", "total_se"):
        np.testing.assert_allclose(est[key], blocks[key], rtol=1e-12)


def test_centring_removes_the_mean_from_the_first_order_estimator():
    """Adding 1000 to f changes nothing but rounding: the uncentred product would carry 1000^2 of noise."""
    u = design_uniforms(tuple(_uniform(f"ishigami.x{j}", low=-math.pi, high=math.pi) for j in range(3)), 2**10)
    f = ishigami(-math.pi + 2 * math.pi * u)
    base, shifted = analysis.radial_indices(f), analysis.radial_indices(f + 1000.0)
    for key in ("first", "first_se", "total", "total_se"):
        np.testing.assert_allclose(shifted[key], base[key], rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------- 3. epistemic level, binomial noise
def test_noise_correction_recovers_the_indices_of_the_outer_function():
    """P(theta) = theta_1 theta_2, theta_i ~ U(0, 1) epistemic, each draw's P estimated from m = 10 missions
    (binomial noise), 2^12 blocks of 4 draws. Var P = 7/144, V_1 = V_2 = 3/144, V_12 = 1/144: S = 3/7, ST = 4/7.
    The mean noise variance E[P(1 - P)] / m = (1/4 - 1/9) / 10 inflates the variance by 2/7 of itself, so the
    uncorrected estimators are biased: S_raw = S V / (V + N) = 1/3, ST_raw = (ST V + N) / (V + N) = 2/3.
    Tolerances: 3 standard errors, at least 0.01; the uncorrected estimates must miss the truth by over 4 SE
    and land within 3 SE of their predicted biased values."""
    m, blocks = 10, 2**12
    u = design_uniforms(
        (_uniform("toy.theta1", Level.epistemic), _uniform("toy.theta2", Level.epistemic)), blocks, inner=m
    )
    p_true = u[..., 0] * u[..., 1]
    f = np.random.default_rng(11).binomial(m, p_true) / m  # (blocks, 4): each draw's estimated P
    corrected = analysis.radial_indices(f, f * (1 - f) / (m - 1))
    raw = analysis.radial_indices(f)
    s1, st = np.full(2, 3 / 7), np.full(2, 4 / 7)
    noise = (1 / 4 - 1 / 9) / m
    assert abs(corrected["noise_variance"] - noise) < 0.1 * noise  # its estimate, to 10%
    assert abs(corrected["variance"] - 7 / 144) < 0.1 * 7 / 144
    for key, truth, biased in (
        ("first", s1, s1 * (7 / 144) / (7 / 144 + noise)),
        ("total", st, (st * 7 / 144 + noise) / (7 / 144 + noise)),
    ):
        se = corrected[f"{key}_se"]
        assert np.all(np.abs(corrected[key] - truth) < np.maximum(3 * se, 0.01)), (key, corrected[key], se)
        assert np.all(np.abs(raw[key] - truth) > 4 * raw[f"{key}_se"]), (key, raw[key], raw[f"{key}_se"])
        assert np.all(np.abs(raw[key] - biased) < 3 * raw[f"{key}_se"]), (key, raw[key], biased)


def test_no_variance_beyond_the_noise_leaves_the_indices_undefined():
    """Draws whose P does not depend on theta: the estimated variance of P(theta) is ~0 (within 4 of its
    standard errors, the spread of its per-block terms), and where it is <= 0 the indices are NaN, not a
    ratio of noise to noise."""
    rng = np.random.default_rng(2)
    f = rng.binomial(20, 0.5, (4000, 4)) / 20
    est = analysis.radial_indices(f, f * (1 - f) / 19)
    terms = 0.5 * ((f[:, 0] - f[:, :2].mean()) ** 2 + (f[:, 1] - f[:, :2].mean()) ** 2)
    assert abs(est["variance"]) < 4 * terms.std() / math.sqrt(4000)
    flat = analysis.radial_indices(np.full((100, 4), 0.5), np.full((100, 4), 0.25 / 19))
    assert flat["variance"] < 0 and np.all(np.isnan(flat["first"])) and np.all(np.isnan(flat["total_se"]))


# -------------------------------------------------------------------- 4. a dataset written with the design
def write_run(root: Path, *overrides: str, shard_size: int = 1024) -> Path:
    """A run directory as ``python -m campaign`` writes it (run.json with the design, Parquet shards, manifest),
    evaluated in this process without Ray."""
    config = compose(*overrides)
    spec = config.spec(shard_size)
    rs = store.RunStore(root)
    plan = store.plan_shards(config.run.samples, shard_size)
    info = app._provenance(config, shard_size, len(plan))  # what the app records, the Saltelli layout included
    rs.create(info)
    layout = store.Layout(declarations.dataset_columns(config.model, config.variables), config.run.precision)
    for shard in plan:
        columns = engine.evaluate_shard(spec, shard.first, shard.count)
        rs.write_shard(shard, layout.table(columns, info))
    rs.write_manifest(plan)
    return Path(root)


EPISTEMIC_FIXED = (
    "mission.launch.uncertain.ascent_reliability={dist:fixed,value:0.9}",
    "mission.launch.uncertain.engine_failure_prob_per_burn={dist:fixed,value:0.005}",
)


@pytest.fixture(scope="module")
def epistemic_run(tmp_path_factory) -> Path:
    """Launch, design over its 2 epistemic inputs: 20 blocks of 4 draws of 40 missions, plus 100 missions of a
    partial 21st block."""
    root = tmp_path_factory.mktemp("salt") / "epistemic"
    return write_run(
        root, "+experiment=launch", *POOLED, "sampler=saltelli", "run.samples=3300", "run.inner_samples=40"
    )


def test_clusters_of_a_saltelli_dataset_are_its_blocks(epistemic_run, tmp_path):
    res = analysis.Results.load(epistemic_run)
    assert res.saltelli_design["d"] == 2 and res.saltelli_design["level"] == "epistemic"
    index = res.column("sample_index").astype(np.int64)
    np.testing.assert_array_equal(res.clusters, index // 160)  # outer // (d + 2), outer = index // 40
    np.testing.assert_array_equal(res.outer, index // 40)
    # A run.json without the stored design (an older run): rebuilt from the field metadata, the same blocks.
    info = json.loads((epistemic_run / "run.json").read_text())
    del info["saltelli_design"]
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "run.json").write_text(json.dumps(info))
    (tmp_path / "old" / "samples").symlink_to(epistemic_run / "samples")
    old = analysis.Results.load(tmp_path / "old")
    assert old.saltelli_design == res.saltelli_design
    np.testing.assert_array_equal(old.clusters, res.clusters)


def test_headline_intervals_are_clustered_by_block(epistemic_run):
    res = analysis.Results.load(epistemic_run)
    summary = analysis.summarize(res)
    design = summary["sample_design"]
    assert design["interval"] == analysis.KORN_GRAUBARD_BLOCKS
    assert design["blocks"] == 21 and design["draws"] == 83 and "Saltelli blocks" in design["warning"]
    launch = summary["phases"]["launch_ok"]
    assert launch["interval"] == analysis.KORN_GRAUBARD_BLOCKS and launch["draws"] == 21  # clusters: the blocks
    assert launch["epistemic"]["draws"] == 83  # the band: over the epistemic draws
    assert "clustered by block" in analysis.format_summary(summary)


def test_saltelli_section_of_an_epistemic_dataset(epistemic_run):
    res = analysis.Results.load(epistemic_run)
    s = analysis.saltelli(res)
    assert (s["level"], s["d"], s["blocks"], s["missions_used"], s["missions_left_out"]) == (
        "epistemic",
        2,
        20,
        3200,
        100,
    )
    assert s["noise_corrected"] and any("100 missions outside whole blocks" in n for n in s["notes"])
    assert set(s["targets"]) == {"launch_ok", "transfer_ok"}  # flags only at the epistemic level
    for t, entry in s["targets"].items():
        assert set(entry["indices"]) == {"launch.ascent_reliability", "launch.engine_failure_prob_per_burn"}
        assert all(math.isfinite(v) for i in entry["indices"].values() for v in i.values()), t
    # P(launch_ok | theta) is the ascent reliability itself: it carries the variance, within 3 SE of 1.
    rel = s["targets"]["launch_ok"]["indices"]["launch.ascent_reliability"]
    assert abs(rel["total"] - 1) < 3 * rel["total_se"] and abs(rel["first_order"] - 1) < 3 * rel["first_order_se"]
    assert analysis.analyse(res)["saltelli"] == s


def test_saltelli_section_at_the_aleatory_level(tmp_path):
    """Launch with its epistemic inputs fixed: the design is over the 8 aleatory inputs, one mission per row
    (blocks of 10), 600 blocks. The injection error's magnitude depends on the three injection components only:
    every other input's indices are 0 within 3 SE (at most 0.05), the components' total indices add up to ~1,
    and the along-track component (std 3 m/s against 1.5) dominates."""
    root = write_run(
        tmp_path / "aleatory", "+experiment=launch", *POOLED, "sampler=saltelli", "run.samples=6000", *EPISTEMIC_FIXED
    )
    res = analysis.Results.load(root)
    np.testing.assert_array_equal(res.clusters, res.column("sample_index").astype(np.int64) // 10)
    s = analysis.saltelli(res)
    assert (s["level"], s["d"], s["blocks"], s["noise_corrected"]) == ("aleatory", 8, 600, False)
    entry = s["targets"]["injection_error_mps"]  # a metric: analysed at the aleatory level
    components = [f"launch.injection_error_{c}_mps" for c in ("radial", "along", "cross")]
    for name, v in entry["indices"].items():
        if name not in components:
            assert abs(v["total"]) < max(3 * v["total_se"], 0.05), (name, v)
            assert abs(v["first_order"]) < max(3 * v["first_order_se"], 0.05), (name, v)
    total = sum(entry["indices"][c]["total"] for c in components)
    assert abs(total - 1) < 0.15, total  # ~1 (interactions counted once per input they involve: above 1 a little)
    along = entry["indices"]["launch.injection_error_along_mps"]
    assert along["total"] > max(entry["indices"][c]["total"] for c in components if c != components[1])
    summary = analysis.summarize(res)
    assert summary["sample_design"]["blocks"] == 600 and "draws" not in summary["sample_design"]


def test_other_samplers_have_no_saltelli_section(tmp_path):
    root = write_run(tmp_path / "mc", "+experiment=launch", *POOLED, "run.samples=2048")
    res = analysis.Results.load(root)
    assert res.saltelli_design is None and analysis.saltelli(res) is None
    np.testing.assert_array_equal(res.clusters, res.outer)


def test_report_has_a_total_effect_section(epistemic_run, tmp_path):
    from campaign import report

    full = report.write_report(epistemic_run, out_dir=tmp_path / "report", plots=False, log=lambda _: None)
    text = (tmp_path / "report" / "report.md").read_text()
    section = text[text.index("## Total-effect indices (Saltelli design)") :]
    assert text.index("## What drives it") < text.index("## Total-effect") < text.index("## Epistemic spread")
    assert "**transfer_ok**" in section and "`launch.ascent_reliability`" in section
    assert full["saltelli"]["blocks"] == 20


# ------------------------------------------------------------------------------------------ 5. config
def test_nothing_varying_is_a_config_error_naming_the_sampler():
    fixed = [f"mission.launch.uncertain.{i.name}={{dist:fixed,value:0}}" for i in MODELS["launch"].sections[0].inputs]
    assert compose("+experiment=launch", *POOLED, *fixed).sampler is SamplerKind.monte_carlo  # valid for other samplers
    with pytest.raises(ConfigError) as err:
        compose("+experiment=launch", *POOLED, "sampler=saltelli", *fixed)
    ((key, message),) = err.value.problems
    assert key == "sampler" and "saltelli" in message and "fixed" in message


def test_too_few_blocks_and_single_mission_draws_are_config_errors():
    with pytest.raises(ConfigError) as err:
        compose("+experiment=launch", *POOLED, "sampler=saltelli", "run.samples=7999", "run.inner_samples=1000")
    ((key, message),) = err.value.problems
    assert key == "run.samples" and "8,000" in message  # two blocks of 4 draws of 1,000 missions
    with pytest.raises(ConfigError) as err:
        compose("+experiment=launch", *POOLED, "sampler=saltelli", "run.inner_samples=1")
    assert [k for k, _ in err.value.problems] == ["run.inner_samples"]


def test_a_partial_last_block_is_noted():
    config = compose("+experiment=launch", *POOLED, "sampler=saltelli", "run.samples=3300", "run.inner_samples=40")
    (note,) = [n for n in config.notes if n.startswith("run.samples")]  # POOLED's fixed inputs add their own
    assert "last 100 missions form a partial block" in note and "3,200" in note


# ------------------------------------------------------------------------------------- 6. end to end
@pytest.mark.slow
def test_cli_campaign_writes_total_effect_indices_identically_for_two_shard_sizes(tmp_path):
    """``python -m campaign +experiment=launch sampler=saltelli``: 128 blocks of 4 draws of 25 missions, on 2
    CPUs with automatic shards and on 1 CPU with shards of 1024. The launch's two epistemic inputs get finite
    indices, the sum of first-order indices is at most 1 + 3 combined SEs, the ascent reliability dominates, and
    both runs give the same dataset and the same indices."""
    common = (
        "+experiment=launch",
        *POOLED,
        "sampler=saltelli",
        "run.samples=12800",
        "run.inner_samples=25",
        "run.seed=5",
    )
    for out, extra in (("a", ()), ("b", ("run.shard_size=1024", "cluster.num_cpus=1"))):
        result = run_cli(*common, *extra, f"run.output_dir={out}", cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert read_run(tmp_path / "a").equals(read_run(tmp_path / "b"))
    sections = [json.loads((tmp_path / out / "summary.json").read_text())["saltelli"] for out in "ab"]
    assert sections[0] == sections[1]
    s = sections[0]
    assert (s["level"], s["d"], s["blocks"], s["missions_left_out"]) == ("epistemic", 2, 128, 0)
    for t in ("launch_ok", "transfer_ok"):
        idx = s["targets"][t]["indices"]
        assert all(v is not None and math.isfinite(v) for i in idx.values() for v in i.values()), (t, idx)
        se = math.sqrt(sum(i["first_order_se"] ** 2 for i in idx.values()))
        assert s["targets"][t]["sum_first_order"] <= 1 + 3 * se, (t, s["targets"][t]["sum_first_order"], se)
        assert idx["launch.ascent_reliability"]["total"] > idx["launch.engine_failure_prob_per_burn"]["total"]
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["sampler"] == "saltelli" and run["saltelli_design"]["missions_per_block"] == 100
    assert "## Total-effect indices (Saltelli design)" in (tmp_path / "a" / "report.md").read_text()
