"""report.html as a reader gets it: opened in headless Chromium (every image loads, no console error, no request
leaves the file, a screenshot that is not blank), for a run and a sweep; its sections in reading order and
composable; and the landing figure, which must frame the safe-landing ellipse and count the outliers.

One synthetic run (every column the landing and surface models write, a real site and landing window) and one
synthetic sweep serve the whole module, and one browser process opens both reports.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest

from campaign import analysis, report
from campaign.report import html as html_doc
from campaign.report import sections
from tests import synthetic
from tests.browser import Chromium, find_chromium


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = synthetic.write_run(tmp_path_factory.mktemp("html") / "run", n=4000, seed=1, rich=True)
    report.write_report(run, log=lambda _: None)
    return run


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    sweep = tmp_path_factory.mktemp("html") / "sweep"
    for job, capacity in enumerate((1000.0, 1200.0)):
        synthetic.write_run(sweep / str(job), n=2000, seed=4, battery_capacity_wh=capacity)
    for job in ("0", "1"):  # each design's own report (what the sweep's links point to), figures aside
        report.write_report(sweep / job, plots=False, log=lambda _: None)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    report.write_report(sweep, log=lambda _: None)
    return sweep


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium (.ci/run installs it)")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    chromium = Chromium(binary)
    yield chromium
    chromium.close()


def not_blank(png: bytes) -> tuple[float, float]:
    """(standard deviation of the grey levels, share of pixels that are not near-white) of a PNG."""
    import matplotlib.image as mpimg

    pixels = mpimg.imread(io.BytesIO(png), format="png")[..., :3].mean(axis=-1)
    return float(pixels.std()), float(np.mean(pixels < 0.9))


def check_page(browser: Chromium, page_path: Path, images: int, tmp_path: Path) -> None:
    url = page_path.resolve().as_uri()
    page = browser.load(url)
    assert page.errors == [], page.errors
    leaving = [r for r in page.requests if not (r == url or r.startswith("data:"))]
    assert leaving == [], f"requests beyond the file: {leaving}"
    state = browser.evaluate(page, "[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(state) == images, state
    assert all(complete and w >= 300 and h >= 150 for complete, w, h in state), state
    assert browser.evaluate(page, "document.querySelectorAll('section h2').length") >= 3
    std, ink = not_blank(browser.screenshot(page, tmp_path / "shot.png"))
    assert std > 0.05 and ink > 0.03, (std, ink)


def test_run_report_opens_offline_with_every_image_and_no_console_error(run_dir, browser, tmp_path):
    import json

    summary = json.loads((run_dir / "summary.json").read_text())
    check_page(browser, run_dir / "report.html", len(summary["report"]["plots"]), tmp_path)


def test_sweep_report_opens_offline_with_every_image_and_no_console_error(sweep_dir, browser, tmp_path):
    import json

    summary = json.loads((sweep_dir / "summary.json").read_text())
    page = (sweep_dir / "report.html").read_text()
    shown = len(re.findall(r"<img ", page))
    assert 1 <= shown <= len(summary["report"]["plots"])  # a sweep shows the trade curves, not the union's plots
    check_page(browser, sweep_dir / "report.html", shown, tmp_path)


def test_report_html_is_one_file_that_loads_nothing(run_dir):
    page = (run_dir / "report.html").read_text()
    assert "<script" not in page.lower() and "@import" not in page and "url(" not in page
    for attr in re.findall(r'\b(?:src|href)="([^"]*)"', page):
        assert attr.startswith(("data:image/png;base64,", "#", "report.")) or "://" not in attr, attr
    assert "default-src 'none'" in page  # the page itself forbids any load but its own inline images
    assert "@media print" in page


def test_run_report_sections_come_in_reading_order(run_dir):
    page = (run_dir / "report.html").read_text()
    titles = re.findall(r"<h2>([^<]+)</h2>", page)
    assert titles[:5] == ["Headline", "Why it fails", "When", "Where it lands", "What drives it"], titles
    assert titles[-2:] == ["Convergence", "Provenance"], titles
    headline = page[page.index('id="headline"') : page.index('id="why-it-fails"')]
    assert "water_goal" in headline and "95% interval" in headline and "P across states of knowledge" in headline
    when = page[page.index('id="when"') : page.index('id="where-it-lands"')]
    assert "darkness" in when and "2028-12-01" in when


def test_sweep_report_leads_with_the_designs_and_links_their_reports(sweep_dir):
    page = (sweep_dir / "report.html").read_text()
    titles = re.findall(r"<h2>([^<]+)</h2>", page)
    assert titles[0] == "Headline" and "Trade study" in titles and "Convergence" not in titles
    for job in ("0", "1"):
        assert f'href="{job}/report.html"' in page and (sweep_dir / job / "report.html").is_file()
    assert "battery_capacity_wh=1000.0" in page and "battery_capacity_wh=1200.0" in page


def test_a_section_is_added_or_replaced_by_one_call(run_dir, monkeypatch):
    import json

    summary = json.loads((run_dir / "summary.json").read_text())
    monkeypatch.setattr(sections, "BUILDERS", list(sections.BUILDERS))
    ctx = sections.Context(summary)
    assert "What it takes" not in [s.title for s in sections.build(ctx)]  # the hook shows nothing by itself
    report.add_section(
        lambda c: html_doc.Section("What it takes", markdown="Battery **5 kWh** for P >= 0.9."), title="What it takes"
    )
    report.add_section(lambda c: html_doc.Section("Extra", html="<p>x</p>"), title="Extra", before="Provenance")
    titles = [s.title for s in sections.build(ctx)]
    assert titles.index("What it takes") == titles.index("What drives it") + 1
    assert titles[-2:] == ["Extra", "Provenance"]
    page = html_doc.render("t", sections.build(ctx))
    assert "<strong>5 kWh</strong>" in page


def test_landing_figure_frames_the_safe_ellipse_and_counts_the_outliers(run_dir):
    res = analysis.Results.load(run_dir)
    summary = report.write_report(run_dir, plots=False, log=lambda _: None)
    fig = report.landing_figure(res, summary)
    core, outliers = fig.axes[:2]
    e = summary["landing"]["ellipse99"]
    pts = report.plots.ellipse_points(e)
    (x0, x1), (y0, y1) = core.get_xlim(), core.get_ylim()
    assert x0 < pts[:, 0].min() and pts[:, 0].max() < x1 and y0 < pts[:, 1].min() and pts[:, 1].max() < y1
    assert np.ptp(pts[:, 0]) >= (x1 - x0) / 3 and np.ptp(pts[:, 1]) >= (y1 - y0) / 3
    x, y = res.column("landing_downrange_m"), res.column("landing_crossrange_m")
    reached = ~np.isnan(x)
    beyond = int((reached & ((x < x0) | (x > x1) | (y < y0) | (y > y1))).sum())
    faults = int(res.column("altimeter_fault").sum())
    assert beyond >= faults > 0  # the synthetic run's altimeter faults land kilometres away
    assert f"{beyond:,} of {int(reached.sum()):,} touchdowns lie beyond this frame" in core.get_title()
    # Every touchdown, the farthest included, is on the outlier view, and the fault is named with its count.
    assert outliers.get_xscale() == "log" and outliers.get_xlim()[1] >= np.nanmax(res.column("miss_distance_m"))
    shown = sum(len(c.get_offsets()) for c in outliers.collections)
    assert shown >= int(reached.sum())
    labels = [t.get_text() for t in outliers.get_yticklabels()]
    assert any(t.startswith("altimeter fault") and f"{faults:,} touchdowns" in t for t in labels), labels
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_markdown_keeps_the_goals_inputs_that_matter_and_no_meaningless_rows(run_dir):
    import json

    md = (run_dir / "report.md").read_text()
    assert "| start" not in md and "[report.html](report.html)" in md
    conditional = json.loads((run_dir / "summary.json").read_text())["conditional"]
    assert list(conditional) == ["landing_ok | launch_ok", "surface_ok | landing_ok"]  # the first phase has none
    section = md[md.index("## What drives it") : md.index("## Epistemic spread")]
    assert "| water_goal | `landing.slope_deg`" in section  # the toy's slope limit decides most landings
    assert "`surface.dust_frac`" not in section.split("| metric |")[0]  # an input that does not act is not listed
    assert "| landing_day |" not in section  # the toy's landing day depends on no input: not a table row


@pytest.fixture(scope="module")
def design_dir(tmp_path_factory) -> Path:
    """A design search's report (campaign.design_report) from the synthetic evaluator of tests/test_design.py."""
    from campaign import design
    from campaign.analysis import Location, json_safe
    from campaign.design_report import write_design_report
    from tests.test_design import Synthetic, settings

    d = settings()
    ev = Synthetic(d, np.random.default_rng(3).exponential(2.0, 2000))
    section = {
        "variable": d.variable,
        "goal": d.goal,
        "target": d.target,
        "confidence": d.confidence,
        "direction": d.direction,
        "missions_per_candidate": 2000,
        "resolution": d.resolution,
        **design.search(ev),
        "candidates_evaluated": len(ev.cache),
        "missions": 2000 * len(ev.cache),
        "seconds": 1.0,
    }
    summary = {
        "run": {
            "name": "toy_search",
            "model": "toy",
            "seed": 1,
            "samples": 2000,
            "sampler": "monte_carlo",
            "precision": "float64",
            "code_revision": "test",
        },
        "design": section,
    }
    root = tmp_path_factory.mktemp("html") / "search"
    root.mkdir()
    write_design_report(Location.of(root), json_safe(summary), log=lambda _: None)
    return root


def test_design_search_report_says_what_it_takes_in_html(design_dir, browser, tmp_path):
    page = (design_dir / "report.html").read_text()
    titles = re.findall(r"<h2>([^<]+)</h2>", page)
    assert titles[0] == "What it takes" and "Provenance" in titles
    assert "reaches P(reached_100_days) &gt;= 0.9" in page
    check_page(browser, design_dir / "report.html", 1, tmp_path)  # the design curve
    import json

    # and the hook of a campaign's report renders the same section from a design search's summary
    summary = json.loads((design_dir / "summary.json").read_text())
    figures = {name: (design_dir / path).read_bytes() for name, path in summary["report"]["plots"].items()}
    section = sections.what_it_takes(sections.Context(summary, figures))
    assert section is not None and "data:image/png;base64," in section.html
