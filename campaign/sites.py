"""Candidate landing sites: calibration of their parametric horizons to published illumination figures.

No measured horizon profile of the LUPEX candidate sites is public, so each site in ``conf/site/`` has a
parametric horizon (a mean elevation plus azimuthal harmonics, :func:`campaign.models.night_survival.horizon_profile`)
whose *shape* is assumed and whose *mean* is calibrated: it is the value for which the time-averaged visible
fraction of the solar disk, computed with JPL DE421 over the period of the publication, equals the published
illumination percentage. ``python -m campaign.sites`` recomputes every calibration and prints the means to put in
the site files; ``tests/test_sites.py`` checks that the files reproduce their published figures.

Illumination is taken as the mean visible fraction of the solar disk (a partly hidden Sun counts partly), as in
Gläser et al.; studies that count "any part of the disk" would read a little higher.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .models import environment as env
from .models.night_survival import horizon_profile, visible_disk

SITE_DIR = Path(__file__).resolve().parent.parent / "conf" / "site"


@dataclass(frozen=True)
class Target:
    """A published illumination figure and the period it covers."""

    percent: float
    start_utc: str
    end_utc: str
    source: str


TARGETS: dict[str, Target] = {
    "connecting_ridge": Target(92.27, "2017-01-01", "2036-01-01",
                               "Gläser et al. 2014, Icarus 243: 92.27% at 2 m height over 19 years (DATA.md)"),
    "shackleton_rim": Target(86.0, "2020-01-01", "2021-01-01",
                             "Bussey et al. 2010: best point 88.74 S, 124.5 E lit 86% of 2020 (DATA.md)"),
    "malapert_massif": Target(93.0, "2017-01-01", "2036-01-01",
                              "Bryant 2009, JPL IPN PR 42-176: Malapert summit ~93% sun, Earth always in view (DATA.md)"),
    "de_gerlache_rim": Target(80.0, "2017-01-01", "2037-01-01",
                              "assumed: inside the 77.1-88.0% that Gläser et al. 2018 give at 2 m for the best sites"),
    "psr_edge": Target(55.0, "2017-01-01", "2036-01-01", "assumed: a site on the edge of a permanently shadowed region"),
}


def load_site(name: str) -> dict:
    """The site's config (``conf/site/<name>.yaml``) as a plain dict."""
    return yaml.safe_load((SITE_DIR / f"{name}.yaml").read_text())


def sun_table(site: dict, start_utc: str, end_utc: str, step_hours: float = 2.0) -> dict[str, np.ndarray]:
    utc = np.arange(np.datetime64(start_utc), np.datetime64(end_utc), np.timedelta64(int(step_hours * 3600), "s"))
    return env.site_directions(site["latitude_deg"], site["longitude_deg"], site["height_m"], env.utc_to_tdb_jd(utc))


def illumination_percent(site: dict, table: dict[str, np.ndarray], mean_deg: float | None = None) -> float:
    """Mean visible percentage of the solar disk over ``table`` for the site's horizon (or another mean)."""
    mean = site["horizon_mean_deg"] if mean_deg is None else mean_deg
    horizon = horizon_profile(mean, site["horizon_amplitudes_deg"], site["horizon_phases_deg"])
    return 100.0 * float(visible_disk(table["sun_enu"], table["sun_distance_au"], horizon).mean())


def calibrate(name: str, tolerance_pct: float = 0.005) -> float:
    """The horizon mean (deg) for which the site reproduces its published illumination (bisection: a higher
    horizon never lets more light through)."""
    site, target = load_site(name), TARGETS[name]
    table = sun_table(site, target.start_utc, target.end_utc)
    lo, hi = -8.0, 8.0
    while hi - lo > 1e-4:
        mid = 0.5 * (lo + hi)
        if illumination_percent(site, table, mid) > target.percent:
            lo = mid
        else:
            hi = mid
    mean = round(0.5 * (lo + hi), 4)
    achieved = illumination_percent(site, table, mean)
    if abs(achieved - target.percent) > max(tolerance_pct, 0.05):
        raise RuntimeError(f"{name}: cannot reach {target.percent}% (best {achieved:.2f}%)")
    return mean


def main(argv: list[str]) -> int:
    names = argv or sorted(TARGETS)
    for name in names:
        mean = calibrate(name)
        print(f"{name}: horizon_mean_deg = {mean}   # calibrated to {TARGETS[name].percent}% ({TARGETS[name].source})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
