"""docs/analysis.ipynb runs end to end (a Jupyter kernel, every cell, no error) on a small synthetic run and
sweep with the campaign's schema, so the worked example cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign import report
from tests import synthetic
from tests.helpers import REPO

NOTEBOOK = REPO / "docs" / "analysis.ipynb"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("notebook")
    run = synthetic.write_run(root / "run", n=2000, seed=3, inner_samples=100, rich=True)
    report.write_report(run, plots=False, log=lambda _: None)
    sweep = root / "sweep"
    for job, capacity in enumerate((1000.0, 1300.0)):
        synthetic.write_run(sweep / str(job), n=2000, seed=5, inner_samples=100, battery_capacity_wh=capacity)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    report.write_report(sweep, plots=False, log=lambda _: None)
    return run, sweep


def test_analysis_notebook_executes_end_to_end(results, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    run, sweep = results
    monkeypatch.setenv("LUPEX_RUN", str(run))
    monkeypatch.setenv("LUPEX_SWEEP", str(sweep))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline, as in Jupyter
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"run:   {run}" in text and "paired difference" in text and "McNemar" in text  # outside the repo: whole
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the redrawn plot
