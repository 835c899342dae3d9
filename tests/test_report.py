"""The report: summary.json (strict JSON, the base keys kept, the new sections present), report.md and every plot,
on synthetic datasets with every column and on a real small campaign and sweep run through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from campaign import report
from tests import synthetic
from tests.helpers import cli_env, run_cli

BASE_KEYS = {"missions", "phases", "goals", "conditional", "failures", "metrics", "run"}
NEW_KEYS = {"survival", "pareto", "convergence", "sensitivity", "epistemic", "report"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def strict_json(path: Path) -> dict:
    """Parse ``path`` as strict JSON: NaN or Infinity are errors."""

    def reject(token: str):
        raise ValueError(f"{path} holds {token}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=reject)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000, path
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 500 and height >= 300, (path, width, height)


def test_report_on_a_dataset_with_every_column_draws_every_plot(tmp_path):
    run = synthetic.write_run(tmp_path / "run", n=5000, seed=1, rich=True)
    summary = report.write_report(run, log=lambda _: None)
    written = strict_json(run / "summary.json")
    assert written == summary
    assert BASE_KEYS | NEW_KEYS <= set(written)
    assert written["missions"] == 5000 and set(written["phases"]) == {"launch_ok", "landing_ok", "surface_ok"}
    assert set(written["goals"]) == {"water_goal"}
    plots = written["report"]["plots"]
    assert set(plots) == set(report.PLOTS) - {"trade"}
    assert set(written["report"]["skipped"]) == {"trade"}
    for file in plots.values():
        assert_png(run / file)
    md = (run / "report.md").read_text()
    for file in plots.values():
        assert f"]({file})" in md
    assert "not drawn (not a sweep" in md
    curve = written["survival"]["curves"]["all"]
    assert curve["survival"] == sorted(curve["survival"], reverse=True)  # a survival curve never rises


def test_report_without_surface_columns_skips_those_plots_and_says_why(tmp_path):
    import pyarrow.parquet as pq

    run = synthetic.write_run(tmp_path / "run", n=2000, seed=2)
    for part in (run / "samples").glob("*.parquet"):  # a launch-only dataset: drop the later phases' columns
        table = pq.read_table(part)
        pq.write_table(
            table.drop_columns(["days_survived", "landing_crossrange_m", "worst_night_energy_margin_wh"]), part
        )
    summary = report.write_report(run, log=lambda _: None)
    skipped = summary["report"]["skipped"]
    assert set(skipped) == {"survival", "failure_dates", "landing_dispersion", "night_energy", "trade"}
    assert "days_survived" in skipped["survival"] and "landing_crossrange_m" in skipped["landing_dispersion"]
    assert summary["survival"] is None
    md = (run / "report.md").read_text()
    assert "Survival curve: not drawn (needs column `days_survived`" in md
    assert not (run / "plots" / "survival.png").exists()


def test_sweep_report_adds_the_trade_study_and_its_plot(tmp_path):
    sweep = tmp_path / "sweep"
    for job, capacity in enumerate((1000.0, 1100.0)):
        synthetic.write_run(sweep / str(job), n=3000, seed=4, battery_capacity_wh=capacity)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    out = tmp_path / "out"
    assert report.main([str(sweep), "--out", str(out)]) == 0
    summary = strict_json(out / "summary.json")
    assert summary["missions"] == 6000 and summary["run"]["jobs"] == ["0", "1"]
    assert summary["trade"]["swept_keys"] == ["mission.surface.battery_capacity_wh"]
    assert_png(out / summary["report"]["plots"]["trade"])
    assert "## Trade study" in (out / "report.md").read_text()
    assert (out / "report.html").is_file()


def test_report_command_refuses_a_directory_without_results(tmp_path, capsys):
    assert report.main([str(tmp_path)]) == 2
    assert "holds no results" in capsys.readouterr().err


@pytest.mark.slow
def test_report_on_a_real_campaign_and_sweep(tmp_path):
    # A real launch campaign: its report is written at the end of the run ... With the pooled launch prior, one
    # epistemic input carries the launch, so 12 draws show it clear of zero and the sensitivity plot is drawn (the
    # configuration prior splits it in two, each too uncertain at 12 draws: the report then skips the plot and says so).
    result = run_cli(
        "+experiment=launch",
        "run.samples=3000",
        "run.inner_samples=250",
        "run.output_dir=run",
        "mission.launch.configuration_prior=false",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = tmp_path / "run"
    summary = strict_json(run / "summary.json")
    assert BASE_KEYS | NEW_KEYS <= set(summary)
    assert summary["phases"]["transfer_ok"]["n"] == 3000
    # The launch model has no surface, landing or night columns yet: those plots are skipped, the rest drawn.
    assert set(summary["report"]["skipped"]) == {
        "survival",
        "failure_dates",
        "landing_dispersion",
        "night_energy",
        "trade",
    }
    assert set(summary["report"]["plots"]) == {"headline", "failure_pareto", "sensitivity", "convergence", "epistemic"}
    assert (run / "report.html").stat().st_size > 50_000
    for file in summary["report"]["plots"].values():
        assert_png(run / file)
    sens = summary["sensitivity"]["targets"]["propellant_margin_kg"]["indices"]
    top = max(sens, key=lambda k: sens[k]["first_order"])
    assert top in ("launch.dry_mass_growth_frac", "launch.isp_dispersion_frac", "launch.loi_dv_dispersion_mps")
    assert summary["epistemic"]["flags"]["launch_ok"]["draws"] == 12
    assert "Report:" in result.stdout and "report.md" in result.stdout

    # ... and the command rewrites it anywhere, reading only the run directory.
    proc = subprocess.run(
        [sys.executable, "-m", "campaign.report", str(run), "--out", str(tmp_path / "again")],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    again = strict_json(tmp_path / "again" / "summary.json")
    assert again["phases"] == summary["phases"] and again["sensitivity"] == summary["sensitivity"]

    # A real sweep: each job writes its report, and the last one the sweep's trade study (Hydra callback).
    result = run_cli(
        "-m", "+experiment=launch", "run.samples=2000", "mission.launch.propellant_load_kg=3700,3900", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (sweep,) = (tmp_path / "results" / "launch").iterdir()
    assert all((sweep / job / "report.md").exists() for job in ("0", "1"))
    trade = strict_json(sweep / "summary.json")["trade"]
    assert trade["swept_keys"] == ["mission.launch.propellant_load_kg"]
    margin = trade["paired_differences"][0]["metrics"]["propellant_margin_kg"]
    assert margin["diff"] > 0 and margin["ci95"][0] > 0  # more propellant, more margin, mission by mission
    assert (sweep / "plots" / "trade.png").exists()
    assert np.isclose(trade["designs"][0]["values"]["mission.launch.propellant_load_kg"], 3700)
