"""The one loader: run directories as paths or URIs, sweeps, and Parquet datasets without the project's metadata
(a clear error, or roles named by the caller)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from campaign import analysis, report
from campaign.analysis import MetadataError, Results
from tests import synthetic


def test_a_run_directory_given_as_a_file_uri_is_analysed_and_reported(tmp_path):
    run = synthetic.write_run(tmp_path / "run", n=3000, seed=1)
    uri = run.as_uri()  # file:///...
    by_path, by_uri = Results.load(run), Results.load(uri)
    assert by_uri.n == by_path.n == 3000 and by_uri.runs[0].uri == uri
    np.testing.assert_array_equal(by_uri.column("surface_ok"), by_path.column("surface_ok"))
    assert analysis.summarize(by_uri) == analysis.summarize(by_path)
    out = tmp_path / "elsewhere"
    full = report.write_report(uri, out_dir=out.as_uri(), log=lambda _: None)
    written = json.loads((out / "summary.json").read_text())
    assert written["phases"] == analysis.json_safe(full["phases"]) and (out / "report.md").is_file()
    assert full["report"]["plots"] and all((out / p).is_file() for p in full["report"]["plots"].values())
    assert full["report"]["incomplete_runs"] == []


def test_a_sweep_directory_given_as_a_uri_is_the_union_of_its_runs(tmp_path):
    for job in range(2):
        synthetic.write_run(tmp_path / "sweep" / str(job), n=1000, seed=2, battery_capacity_wh=1000.0 + job)
    res = Results.load((tmp_path / "sweep").as_uri())
    assert res.n == 2000 and [r.name for r in res.runs] == ["0", "1"]
    assert analysis.trade_study(res)["swept_keys"] == ["mission.surface.battery_capacity_wh"]


def _plain_parquet(path, n=500):
    rng = np.random.default_rng(3)
    x = rng.normal(size=n)
    table = pa.table(
        {"x": x, "z": rng.uniform(size=n), "ok": x + rng.normal(size=n) > 0, "score": x * 2 + rng.normal(size=n)}
    )
    pq.write_table(table, path)
    return path


def test_a_dataset_without_column_roles_fails_with_a_message_that_says_how_to_name_them(tmp_path):
    path = _plain_parquet(tmp_path / "export.parquet")
    with pytest.raises(MetadataError) as err:
        Results.load(path)
    message = str(err.value)
    assert "no column roles" in message and "Results.load(path, inputs=" in message and "x, z, ok, score" in message


def test_a_dataset_without_metadata_is_analysed_once_its_roles_are_named(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    _plain_parquet(folder / "a.parquet")
    res = Results.load(folder, inputs=["x", "z"], phases=["ok"], metrics=["score"])
    assert res.inputs == ["x", "z"] and res.phases == ["ok"] and res.metrics == ["score"] and res.n == 500
    summary = analysis.summarize(res)
    assert summary["phases"]["ok"]["interval"] == analysis.WILSON and summary["failures"] == []
    sens = analysis.sensitivity(res)["targets"]["score"]["indices"]
    assert sens["x"]["first_order"] > 0.5 > abs(sens["z"]["first_order"])
    with pytest.raises(KeyError, match="'nope'"):
        Results.load(folder, inputs=["nope"])


def test_a_location_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Results.load(tmp_path / "missing")


@pytest.mark.slow
def test_a_campaign_whose_output_is_a_file_uri_completes_with_summary_and_report(tmp_path):
    from tests.helpers import run_cli

    uri = (tmp_path / "uri-run").as_uri()
    result = run_cli("+experiment=launch", "run.samples=20000", f"run.output_dir={uri}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the report failed" not in result.stdout + result.stderr
    run = tmp_path / "uri-run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["missions"] == 20000 and summary["phases"]["launch_ok"]["interval"] == analysis.KORN_GRAUBARD
    assert (run / "report.md").is_file() and (run / "manifest.json").is_file() and summary["report"]["plots"]


def test_the_report_command_names_a_dataset_without_roles_and_reports_a_parquet_file(tmp_path, capsys):
    plain = _plain_parquet(tmp_path / "export.parquet")
    assert report.main([str(plain)]) == 2
    assert "no column roles" in capsys.readouterr().err
    run = synthetic.write_run(tmp_path / "run", n=1000, seed=4)
    part = run / "samples" / "part-00000.parquet"  # one shard file alone: its metadata carries the roles
    assert report.main([str(part), "--no-plots"]) == 0
    written = json.loads((part.parent / "summary.json").read_text())
    assert written["missions"] == 500 and "launch_ok" in written["phases"]
    assert Results.load(run).n == 1000  # the report written beside the shards is not read as data


def test_analyses_find_their_columns_by_the_roles_the_dataset_declares_else_by_the_models_names(tmp_path):
    n = 200
    rng = np.random.default_rng(3)
    stay = np.where(rng.random(n) < 0.8, 100.0, rng.uniform(0, 100, n))
    columns = {
        "sample_index": pa.array(np.arange(n)),
        "outcome": pa.array(np.where(stay < 100, 50, 0), pa.int16()),
        "surface_ok": pa.array(stay >= 100),
    }
    meta = {"surface_ok": {b"role": b"phase"}, "stay_d": {b"role": b"metric", b"unit": b"d"}}

    def write(name: str, survival_column: str, declared: dict | None) -> Results:
        data = columns | {survival_column: pa.array(stay)}
        schema = pa.schema([pa.field(k, v.type, metadata=meta.get(k)) for k, v in data.items()])
        if declared is not None:
            schema = schema.with_metadata({b"lupex": json.dumps({"column_roles": declared}).encode()})
        (tmp_path / name).mkdir()
        pq.write_table(pa.Table.from_arrays(list(data.values()), schema=schema), tmp_path / name / "a.parquet")
        return Results.load(tmp_path / name)

    declared = write("declared", "stay_d", {"survival_days": "stay_d"})
    assert declared.column_for("survival_days") == "stay_d"
    assert declared.column_for("landing_date") == "landing_day"  # not declared: the models' name
    curve = analysis.survival(declared)
    assert curve["unit"] == "d" and curve["curves"]["all"]["events"] == int((stay < 100).sum())
    older = write("older", "days_survived", None)  # written before the roles were recorded: the models' names
    assert older.column_for("survival_days") == "days_survived"
    assert analysis.survival(older)["curves"] == curve["curves"]
    undeclared = write("undeclared", "stay_d", None)
    assert analysis.survival(undeclared) is None
    with pytest.raises(KeyError, match="'survival_time'"):
        declared.column_for("survival_time")


def test_the_models_declare_the_meanings_the_analysis_falls_back_to():
    """Every meaning the analysis uses is declared on an output of a model that has it (``Output.meaning``), on
    the column the fallback table for older datasets names, and no model declares an unknown meaning."""
    from campaign.columns import COLUMN_ROLES
    from campaign.declarations import column_roles
    from campaign.models import MODELS

    declared = {}
    for model in MODELS.values():
        roles = column_roles(model)
        assert set(roles) <= set(COLUMN_ROLES), model.name
        declared.update(roles)
    assert declared == COLUMN_ROLES
