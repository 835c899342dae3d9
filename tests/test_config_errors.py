"""Bad configuration fails before any work: non-zero exit, a message naming the key (and the allowed values),
and nothing written to the results tree. Run through the CLI exactly as a user would."""

from __future__ import annotations

import pytest

from campaign.config import ConfigError
from campaign.models import MODELS
from tests.helpers import compose, run_cli

LAUNCH_INPUTS = tuple(i.name for s in MODELS["launch"].sections for i in s.inputs)  # every uncertain input
CASES = {
    "unknown key": (["mission.launch.isp_seconds=300"], ["isp_seconds"]),
    "wrong type": (["run.samples=many"], ["run.samples", "many"]),
    "negative sample count": (["run.samples=-5"], ["run.samples", ">= 1"]),
    "unknown distribution": (
        ["mission.launch.uncertain.isp_dispersion_frac.dist=gaussian"],
        ["mission.launch.uncertain.isp_dispersion_frac.dist", "gaussian", "normal", "lognormal", "truncnormal", "beta"],
    ),
    "probability outside [0, 1]": (
        ["mission.launch.uncertain.ascent_reliability={dist:uniform,low:0.5,high:1.2}"],
        ["mission.launch.uncertain.ascent_reliability", "[0, 1]"],
    ),
    "std below 0": (
        ["mission.launch.uncertain.isp_dispersion_frac.std=-0.01"],
        ["mission.launch.uncertain.isp_dispersion_frac.std", ">= 0"],
    ),
    "design value out of bounds": (["mission.launch.isp_s=-300"], ["mission.launch.isp_s", "> 0"]),
    "unknown sampler": (["sampler=quasi"], ["sampler", "quasi", "monte_carlo", "sobol", "latin_hypercube"]),
    "unknown precision": (["run.precision=float16"], ["run.precision", "float32", "float64"]),
    "bad level": (["mission.launch.uncertain.isp_dispersion_frac.level=sometimes"], ["level", "aleatory", "epistemic"]),
    "saltelli with nothing varying": (
        ["sampler=saltelli", *(f"mission.launch.uncertain.{name}={{dist:fixed,value:0}}" for name in LAUNCH_INPUTS)],
        ["sampler: 'saltelli' needs at least one uncertain input that varies"],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_fails_before_any_work(case, tmp_path):
    overrides, expected = CASES[case]
    result = run_cli("+experiment=launch", *overrides, cwd=tmp_path, timeout=120)
    message = result.stdout + result.stderr
    assert result.returncode != 0, message
    for text in expected:
        assert text in message, f"{text!r} missing from:\n{message}"
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists(), "nothing may be written on a config error"
    assert "Campaign '" not in result.stdout, "no work may start"


@pytest.mark.slow
def test_missing_experiment_lists_the_available_ones(tmp_path):
    result = run_cli("+experiment=no_such_study", cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "no_such_study" in message and "launch" in message
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_bad_value_in_a_sweep_leaves_no_sweep_directory(tmp_path):
    result = run_cli("-m", "+experiment=launch", "run.samples=-1,10", cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "run.samples" in result.stderr
    assert not any((tmp_path / "results").rglob("*.parquet"))
    assert not (tmp_path / "results").exists() or not any(p.is_file() for p in (tmp_path / "results").rglob("*"))


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        compose(
            "+experiment=launch",
            "run.samples=0",
            "mission.launch.isp_s=0",
            "mission.launch.uncertain.loi_dv_dispersion_mps.std=-1",
        )
    keys = [k for k, _ in err.value.problems]
    assert keys == ["run.samples", "mission.launch.isp_s", "mission.launch.uncertain.loi_dv_dispersion_mps.std"]


def test_switching_a_distribution_kind_ignores_the_old_parameters_visibly():
    config = compose("+experiment=launch", "mission.launch.uncertain.ascent_reliability={dist:fixed,value:0.9}")
    (var,) = [v for v in config.variables if v.name == "launch.ascent_reliability"]
    assert var.kind.value == "fixed" and var.theta == (0.9,)
    assert any("alpha, beta ignored" in n for n in config.notes)


def test_integer_design_values_must_be_whole():
    with pytest.raises(ConfigError, match="mission.launch.tcm_burns"):
        compose("+experiment=launch", "mission.launch.tcm_burns=-1")


def test_a_missing_value_in_a_used_section_is_named():
    with pytest.raises(ConfigError) as err:
        compose("+experiment=night_survival", "mission.power.battery_capacity_wh=???")
    assert err.value.problems == [
        ("mission.power.battery_capacity_wh", "is missing: set it in conf/ or on the command line")
    ]


def test_sections_the_model_does_not_use_are_left_out_of_the_provenance():
    config = compose("+experiment=launch")
    assert set(config.resolved["mission"]) == {"model", "launch"}
