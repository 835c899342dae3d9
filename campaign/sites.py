"""Candidate landing sites: calibration of their parametric horizons to published illumination figures.

No measured horizon profile of the LUPEX candidate sites is public, so each site in ``conf/site/`` has a
parametric horizon (a mean elevation plus azimuthal harmonics, :func:`campaign.models.site.horizon_profile`)
whose *shape* is assumed and whose *mean* is calibrated: it is the value for which the time-averaged visible
fraction of the solar disk, computed with JPL DE421 over the period of the publication, equals the published
illumination percentage. ``python -m campaign.sites`` recomputes every calibration and prints the means to put in
the site files; ``tests/test_sites.py`` checks that the files reproduce their published figures.

Illumination is taken as the mean visible fraction of the solar disk (a partly hidden Sun counts partly), as in
Gläser et al.; studies that count "any part of the disk" would read a little higher.

Height. The published figure is for a height above the ground (``reference_height_m``: 2 m for Gläser et al., the
surface for Bussey et al.), and the profile is the horizon seen from there. Each site also gives the distance of the
terrain that sets its horizon (``horizon_distance_km``, optionally with harmonics of its log over azimuth), so that
an observer at another height ``h`` sees ``atan((z - h) / d) - d / (2 R)``, the terrain height ``z`` being fixed by
the profile at the reference height (:func:`campaign.models.site.horizon_at_height`). The solar array, a
tower on LUPEX (DATA.md), sees the horizon from ``mission.power.array_height_m``. Where a second figure from a
greater height is published, the distance scale is calibrated to it (bisection on the distance, the mean fixed by
the first figure): Connecting Ridge, 92.27% at 2 m and 95.65% at 10 m over 2017-2036 (Gläser et al. 2014), gives a
horizon 1.55 km away (a terrain ~50 m below the site's ground: the ridge's own flanks), and then 91.17% at 0 m,
93.64% at 5 m and 99.00% at 20 m. Night survival there (the same 20,000 missions at each height, ``python -m
campaign +experiment=night_survival run.samples=20000 mission.power.array_height_m=H``): P(100 days) 0.331 [0.325,
0.338] with the array at 2 m, 0.443 [0.436, 0.450] at 5 m, 0.638 [0.631, 0.644] at 10 m; the median longest darkness
of the stay 168 h, 146 h, 106 h; no mission of the 20,000 lived fewer days on a taller array. The other sites have
no second figure: their distances are ``assumed`` in their files (the two crater rims 5 km, between Connecting
Ridge's 1.55 km and their far crater walls; Malapert's summit 100 km, the plain below it; the edge of shadow a near
wall, 0.5-2 km), so their gain with height is a statement of that assumption. Beyond 10 m on Connecting Ridge the
model extrapolates: one distance at every azimuth, no farther terrain that would take over as the array rises.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .models import environment as env
from .models.site import (
    horizon_at_height,
    horizon_distance_profile,
    horizon_profile,
    visible_disk,
)

SITE_DIR = Path(__file__).resolve().parent.parent / "conf" / "site"


@dataclass(frozen=True)
class Target:
    """A published illumination figure (``percent`` seen from ``height_m`` above the ground, the site's
    ``reference_height_m``) and the period it covers; optionally a second figure for the same point from a
    greater height (``percent_high`` at ``height_high_m``), which calibrates the horizon's distance."""

    percent: float
    start_utc: str
    end_utc: str
    source: str
    height_m: float = 2.0
    percent_high: float | None = None
    height_high_m: float | None = None


TARGETS: dict[str, Target] = {
    "connecting_ridge": Target(
        92.27,
        "2017-01-01",
        "2036-01-01",
        "Gläser et al. 2014, Icarus 243: 92.27% at 2 m, 95.65% at 10 m height over 19 years (DATA.md)",
        height_m=2.0,
        percent_high=95.65,
        height_high_m=10.0,
    ),
    "shackleton_rim": Target(
        86.0,
        "2020-01-01",
        "2021-01-01",
        "Bussey et al. 2010: best point 88.74 S, 124.5 E lit 86% of 2020, at the surface (DATA.md)",
        height_m=0.0,
    ),
    "malapert_massif": Target(
        93.0,
        "2017-01-01",
        "2036-01-01",
        "Bryant 2009, JPL IPN PR 42-176: Malapert summit ~93% sun, Earth always in view (DATA.md); "
        "height not stated (assumed 2 m)",
    ),
    "de_gerlache_rim": Target(
        80.0,
        "2017-01-01",
        "2037-01-01",
        "assumed: inside the 77.1-88.0% that Gläser et al. 2018 give at 2 m for the best sites",
    ),
    "psr_edge": Target(
        55.0, "2017-01-01", "2036-01-01", "assumed: a site on the edge of a permanently shadowed region"
    ),
}
HEIGHTS_M = (0.0, 2.0, 5.0, 10.0, 20.0)  # array heights at which `python -m campaign.sites` reports illumination
HIGH_TOLERANCE_PCT = 0.3  # assumed: the second figure is met within this (percentage points) by one free parameter


def load_site(name: str) -> dict:
    """The site's config (``conf/site/<name>.yaml``) as a plain dict."""
    return yaml.safe_load((SITE_DIR / f"{name}.yaml").read_text())


def sun_table(site: dict, start_utc: str, end_utc: str, step_hours: float = 2.0) -> dict[str, np.ndarray]:
    """The Sun's direction in the site's ENU frame (``sun_enu``, shape (n, 3)) and distance (``sun_distance_au``,
    (n,)) every ``step_hours`` from ``start_utc`` to ``end_utc`` (DE421; see
    :func:`campaign.models.environment.site_directions`)."""
    utc = np.arange(np.datetime64(start_utc), np.datetime64(end_utc), np.timedelta64(int(step_hours * 3600), "s"))
    return env.site_directions(
        site["latitude_deg"], site["longitude_deg"], site["reference_height_m"], env.utc_to_tdb_jd(utc)
    )


def horizon(
    site: dict, height_m: float | None = None, mean_deg: float | None = None, distance_km: float | None = None
) -> np.ndarray:
    """The site's nominal horizon profile (deg, shape (HORIZON_SAMPLES,)) seen from ``height_m`` above the ground
    (default: its reference height, where it is the calibrated profile itself), optionally with another mean or
    distance scale (km) than the site file's."""
    mean = site["horizon_mean_deg"] if mean_deg is None else mean_deg
    reference = horizon_profile(mean, site["horizon_amplitudes_deg"], site["horizon_phases_deg"])
    if height_m is None:
        return reference
    distance = horizon_distance_profile(
        site["horizon_distance_km"] if distance_km is None else distance_km,
        site["horizon_distance_log_amplitudes"],
        site["horizon_distance_phases_deg"],
    )
    return horizon_at_height(reference, distance, site["reference_height_m"], height_m)


def illumination_percent(
    site: dict,
    table: dict[str, np.ndarray],
    mean_deg: float | None = None,
    height_m: float | None = None,
    distance_km: float | None = None,
) -> float:
    """Mean visible percentage of the solar disk over ``table`` (:func:`sun_table`) for the site's horizon seen
    from ``height_m`` (default: the reference height), or with another mean (deg) or distance scale (km)."""
    profile = horizon(site, height_m, mean_deg, distance_km)
    return 100.0 * float(visible_disk(table["sun_enu"], table["sun_distance_au"], profile).mean())


def calibrate(name: str, tolerance_pct: float = 0.005) -> float:
    """The horizon mean (deg) for which the site reproduces its published illumination at its reference height
    (bisection: a higher horizon never lets more light through)."""
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


def calibrate_distance(name: str, mean_deg: float | None = None, table: dict | None = None) -> float:
    """The horizon's distance scale (km) for which the site, its mean fixed (``mean_deg``, default the site
    file's) by the figure at its reference height, also reproduces its second figure (``percent_high`` at
    ``height_high_m``), by bisection on the log of the distance: raising the observer by a fixed height lowers
    a nearer horizon more, so the illumination from the greater height falls as the distance grows. Raises if
    no distance between 1 m and 500 km reaches it within :data:`HIGH_TOLERANCE_PCT`."""
    site, target = load_site(name), TARGETS[name]
    if target.percent_high is None:
        raise ValueError(f"{name}: no second published figure to calibrate the horizon's distance to")
    table = sun_table(site, target.start_utc, target.end_utc) if table is None else table

    def at(km: float) -> float:
        return illumination_percent(site, table, mean_deg, target.height_high_m, km)

    lo, hi = np.log(1e-3), np.log(500.0)
    while hi - lo > 1e-4:
        mid = 0.5 * (lo + hi)
        if at(np.exp(mid)) > target.percent_high:
            lo = mid
        else:
            hi = mid
    distance = float(f"{np.exp(0.5 * (lo + hi)):.4g}")
    achieved = at(distance)
    if abs(achieved - target.percent_high) > HIGH_TOLERANCE_PCT:
        raise RuntimeError(
            f"{name}: cannot reach {target.percent_high}% at {target.height_high_m} m (best {achieved:.2f}%)"
        )
    return distance


def main(argv: list[str]) -> int:
    names = argv or sorted(TARGETS)
    for name in names:
        target, site = TARGETS[name], load_site(name)
        mean = calibrate(name)
        print(
            f"{name}: horizon_mean_deg = {mean}   # calibrated to {target.percent}% at {target.height_m:g} m "
            f"({target.source})"
        )
        table = sun_table(site, target.start_utc, target.end_utc)
        if target.percent_high is not None:
            distance = calibrate_distance(name, mean, table)
            print(
                f"{name}: horizon_distance_km = {distance}   # calibrated to {target.percent_high}% at "
                f"{target.height_high_m:g} m"
            )
        else:
            distance = site["horizon_distance_km"]
            print(f"{name}: horizon_distance_km = {distance}   # assumed (no second figure): see the site file")
        lit = ", ".join(f"{h:g} m {illumination_percent(site, table, mean, h, distance):.2f}%" for h in HEIGHTS_M)
        print(f"{name}: illumination {target.start_utc} to {target.end_utc} with the array at {lit}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
