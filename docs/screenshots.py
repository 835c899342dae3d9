"""Redraw the README's two pictures of report.html (docs/report-headline.png, docs/report-when.png) from a run.

    python -m campaign +experiment=full_mission
    python docs/screenshots.py results/full_mission/<date>/<time>

Opens the run's report.html in headless Chromium (Debian's ``chromium``, as the report tests do) and captures the
page from its title to the end of the headline's first figure, and the "When" section to the end of its first figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser import Chromium, find_chromium  # noqa: E402

# x, y, width, height of a section (by id) in page coordinates, down to the end of its first figure; from the
# page's top when ``from_top``
BOX = """(() => {{
  const s = document.getElementById({id!r});
  const r = s.getBoundingClientRect();
  const f = s.querySelector("figure");
  const bottom = (f ? f.getBoundingClientRect().bottom : r.bottom) + window.scrollY;
  const top = {from_top} ? 0 : r.top + window.scrollY;
  return [r.left + window.scrollX - 12, top, r.width + 24, bottom - top + 12];
}})()"""


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not (Path(argv[0]) / "report.html").is_file():
        print("usage: python docs/screenshots.py RUN_DIR   (a run directory holding report.html)", file=sys.stderr)
        return 2
    binary = find_chromium()
    if binary is None:
        print("no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 1
    browser = Chromium(binary, width=820, height=900)
    try:
        page = browser.load((Path(argv[0]).resolve() / "report.html").as_uri())
        for name, section, from_top in (
            ("report-headline.png", "headline", "true"),
            ("report-when.png", "when", "false"),
        ):
            box = browser.evaluate(page, BOX.format(id=section, from_top=from_top))
            browser.screenshot(page, REPO / "docs" / name, clip=tuple(max(v, 0.0) for v in box))
            print(f"docs/{name}: {box[2]:.0f} x {box[3]:.0f} px")
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
