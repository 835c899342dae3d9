"""The campaign report: ``summary.json`` (machine-readable), ``report.html`` and ``report.md`` (for people) and
PNG plots.

Usage::

    python -m campaign.report RUN_DIR            # a run directory (holds samples/)
    python -m campaign.report SWEEP_DIR          # a sweep (<sweep>/<job>/samples/): adds the trade study
    python -m campaign.report RUN_DIR --out DIR  # write the report elsewhere (default: into RUN_DIR)

A campaign writes its report at its end (:func:`campaign.app.run_campaign`), and a sweep at the end of its last
job (:class:`SweepReport`, a Hydra callback). Plots whose columns are absent (the launch model has no landing,
night or surface columns) are skipped, and the report says which and why. Statistics come from
:mod:`campaign.analysis`; this package only lays them out:

* :mod:`.plots`: the figures (matplotlib);
* :mod:`.markdown`: ``report.md``;
* :mod:`.html` and :mod:`.sections`: ``report.html``, one self-contained file (figures embedded, no script, no
  request beyond itself), its sections in the order a reader asks; :func:`add_section` adds one;
* :mod:`.darkness`: the landing site's darkness over the campaign's window, to shade the calendar of failures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import analysis
from ..analysis import Location, Results
from ..mass import breakdown_of_run
from . import html, sections
from .darkness import darkness
from .markdown import markdown
from .plots import PLOTS, landing_figure
from .sections import Context, add_section

__all__ = [
    "PLOTS",
    "Context",
    "SweepReport",
    "add_section",
    "landing_figure",
    "main",
    "markdown",
    "write_design_html",
    "write_html",
    "write_report",
]

PLOTS_DIR = "plots"


# ============================================================================================== entry
def _draw_plots(res: Results, full: Mapping, out: Location) -> tuple[dict, dict, dict]:
    """Draw every plot of :data:`PLOTS` into ``out``/plots (deleting a stale one that is now skipped); return
    the plots written (name: path relative to ``out``), those skipped (name: why) and the drawn figures (name: PNG
    bytes)."""
    import matplotlib

    written: dict[str, str] = {}
    skipped: dict[str, str] = {}
    figures: dict[str, bytes] = {}
    matplotlib.use("Agg", force=True)  # files only: no display, no GUI toolkit
    with tempfile.TemporaryDirectory(prefix="lupex-plots-") as scratch:
        # Drawn locally, then copied: the output may be on object storage, where matplotlib cannot write.
        for name, plot in PLOTS.items():
            file = Path(scratch) / f"{name}.png"
            reason = plot(res, full, file)
            target = out / PLOTS_DIR / f"{name}.png"
            if reason:
                skipped[name] = reason
                if target.is_file():  # no stale plot from an earlier report
                    target.fs.delete_file(target.path)
            else:
                figures[name] = file.read_bytes()
                target.write_bytes(figures[name])
                written[name] = f"{PLOTS_DIR}/{name}.png"
    return written, skipped, figures


def write_report(
    path: str | Path,
    summary: Mapping | None = None,
    out_dir: str | Path | None = None,
    plots: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Analyse the dataset at ``path`` (a run or a sweep directory, as a local path or a URI), then write
    ``summary.json``, ``report.html``, ``report.md`` and ``plots/*.png`` into ``out_dir`` (default ``path``).
    ``summary`` is the base summary a campaign has just computed (``run`` plus
    :func:`campaign.analysis.summarize`); it is computed here when not given. Returns the full summary: the base
    keys unchanged, plus the sections of :func:`campaign.analysis.analyse`, ``darkness`` (the site's darkness
    periods, or why there are none, for a model with a surface stay) and ``report`` (the plots written and those
    skipped, with the reason; flags that duplicate another, ``same_as``; the flags' descriptions)."""
    started = time.perf_counter()
    res = Results.load(path)
    root = Location.of(path)
    out = Location.of(out_dir) if out_dir else root if root.is_dir() else root.parent
    base = dict(summary) if summary is not None else {"run": _run_section(res, root), **analysis.summarize(res)}
    if summary is None and len(res.runs) == 1:  # a report rebuilt from the dataset: the rover's mass from run.json
        base["mass"] = breakdown_of_run(res.run_info[0].get("config", {}))
    if base.get("ascent_reliability"):  # which prior the launches drew against, from the runs' stored configs
        base["ascent_reliability"] = {**base["ascent_reliability"], "prior": launch_prior(res.run_info)}
    full = {**base, **analysis.analyse(res)}
    if full.get("failure_dates"):
        try:
            full["darkness"] = darkness([i.get("config", {}) for i in res.run_info])
        except (KeyError, TypeError, ValueError) as e:  # a config this version cannot read: say so, draw the rest
            full["darkness"] = f"could not compute the site's darkness ({type(e).__name__}: {e})"
    full["report"] = {"same_as": same_flags(res), "docs": {f: res.meta(f, "doc") for f in res.flags}}
    written, skipped, figures = _draw_plots(res, full, out) if plots else ({}, {}, {})
    full["report"] |= {
        "plots": written,
        "skipped": skipped,
        "markdown": "report.md",
        "html": "report.html",
        "incomplete_runs": [str(r) for j, r in enumerate(res.runs) if not res.complete(j)],
        "seconds": round(time.perf_counter() - started, 3),
    }
    full = analysis.json_safe(full)
    (out / "summary.json").write_bytes((json.dumps(full, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())
    (out / "report.md").write_bytes(markdown(full).encode())
    write_html(full, out / "report.html", figures, skipped, res.run_info, _job_links(res, out))
    log(
        f"Report: {out / 'report.html'} and report.md ({len(written)} plots, {len(skipped)} skipped, "
        f"{time.perf_counter() - started:.1f} s)"
    )
    return full


def write_html(
    summary: Mapping,
    target: Location,
    figures: Mapping[str, bytes],
    skipped: Mapping[str, str],
    run_info: list[dict],
    job_links: Mapping[str, str] | None = None,
) -> None:
    """``report.html`` at ``target``: the sections of :mod:`.sections` (and any added with :func:`add_section`)
    rendered as one self-contained file."""
    ctx = Context(summary, figures, skipped, tuple(run_info), job_links or {})
    run = summary["run"]
    what = (
        f"Sweep of {len(run['jobs'])} designs, {summary['missions']:,} missions"
        if ctx.sweep
        else f"{summary['missions']:,} missions of model `{run.get('model')}`, sampler `{run.get('sampler')}`, "
        f"seed {run.get('seed')}"
    )
    page = html.render(
        f"LUPEX campaign: {run.get('name') or 'campaign'}",
        sections.build(ctx),
        subtitle=what,
        footer="Written by `python -m campaign.report`; every number here is in summary.json, "
        "computed from the Parquet dataset.",
    )
    target.write_bytes(page.encode())


def write_design_html(summary: Mapping, target: Location, figures: Mapping[str, bytes]) -> None:
    """``report.html`` of a design search (:func:`campaign.design_report.write_design_report` calls it): its
    report, section by section, with its figures embedded."""
    from ..design_report import markdown as design_markdown

    plots = summary.get("report", {}).get("plots", {})
    images = {path: figures[name] for name, path in plots.items() if name in figures}
    title, parts = html.sections_from_markdown(design_markdown(summary), "What it takes", images)
    run = summary["run"]
    page = html.render(
        f"LUPEX design search: {title or run.get('name')}",
        parts,
        subtitle=f"Design search `{run.get('name')}` on model `{run.get('model')}`, seed {run.get('seed')}",
        footer="Written by `campaign.design_report`; every number here is in summary.json and designs.parquet.",
    )
    target.write_bytes(page.encode())


def launch_prior(run_info: list[dict]) -> str | None:
    """The ascent's prior in the runs' stored configs (``mission.launch.configuration_prior``): ``configuration``,
    ``pooled``, ``both`` (a sweep over it), or None where no run records it."""
    values = {
        (i.get("config", {}).get("mission", {}).get("launch") or {}).get("configuration_prior") for i in run_info
    } - {None}
    if not values:
        return None
    return "both" if len(values) > 1 else ("configuration" if values.pop() else "pooled")


def same_flags(res: Results) -> dict[str, str]:
    """Flags equal to another in every mission, each mapped to the first such flag, goals before phases (night
    survival's phase ``surface_ok`` is its goal ``reached_100_days``): shown once in the report."""
    same: dict[str, str] = {}
    order = list(res.goals) + list(res.phases)
    for k, name in enumerate(order):
        for first in order[:k]:
            if first not in same and np.array_equal(res.column(first), res.column(name)):
                same[name] = first
                break
    return same


def _job_links(res: Results, out: Location) -> dict[str, str]:
    """Links from a sweep's report to each run's own report.html: relative when the report sits in the sweep."""
    if len(res.runs) < 2:
        return {}
    return {
        r.name: (
            f"{r.name}/report.html"
            if r.parent.path == out.path
            else (f"file://{r.path}/report.html" if r.local else f"{r.uri}/report.html")
        )
        for r in res.runs
    }


def _run_section(res: Results, path: Location) -> dict:
    """The ``run`` section from run.json (what a campaign records at its end), or the sweep's runs."""
    keys = ("model", "samples", "seed", "sampler", "precision", "code_revision")
    if len(res.runs) == 1:
        info = res.run_info[0]
        return {k: info.get(k) for k in keys} | {"name": info.get("config", {}).get("run", {}).get("name")}
    return {
        "sweep": str(path),
        "jobs": [r.name for r in res.runs],
        "name": res.run_info[0].get("config", {}).get("run", {}).get("name"),
    } | {k: res.run_info[0].get(k) for k in keys if k != "code_revision"}


# ====================================================================================== command, hooks
if TYPE_CHECKING:
    from hydra.experimental.callback import Callback as _HydraCallback
else:
    try:
        from hydra.experimental.callback import Callback as _HydraCallback
    except ImportError:  # pragma: no cover - hydra is a dependency; the report command works without it
        _HydraCallback = object


class SweepReport(_HydraCallback):
    """Hydra callback (``hydra.callbacks`` in conf/config.yaml): after the last job of a sweep, write the sweep's
    report (the trade study) into the sweep directory. Each job has already written its own report."""

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep = Path(str(config.hydra.sweep.dir))
        try:
            if len(analysis.run_dirs(sweep)) > 1:
                write_report(sweep)
        except Exception as e:  # the runs are complete and valid: say how to retry rather than fail the sweep
            print(
                f"error: the sweep report failed ({type(e).__name__}: {e}); "
                f"retry with: python -m campaign.report {sweep}",
                file=sys.stderr,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m campaign.report",
        description=(
            "Write summary.json, report.html, report.md and plots/*.png for a campaign run directory, or for a sweep "
            "directory (the union of its runs plus the trade study)."
        ),
    )
    parser.add_argument(
        "path",
        help="run directory (holds samples/), sweep directory, or a Parquet file or directory "
        "with the campaign's column metadata; a path or a URI",
    )
    parser.add_argument(
        "--out", default=None, help="where to write, a path or a URI (default: PATH, or the folder of a Parquet file)"
    )
    parser.add_argument("--no-plots", action="store_true", help="statistics, report.md and report.html without figures")
    args = parser.parse_args(argv)
    if (Location.of(args.path) / "design.json").is_file():  # a design search: its own report, from its summary
        from ..design import rewrite_report

        rewrite_report(args.path)
        return 0
    try:
        analysis.Results.load(args.path)  # fails early, with the reason, on a missing or role-less dataset
    except (FileNotFoundError, analysis.MetadataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_report(args.path, out_dir=args.out, plots=not args.no_plots)
    return 0
