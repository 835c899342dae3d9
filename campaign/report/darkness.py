"""The landing site's darkness over a campaign's landing window and stay, to shade the report's calendar of
failures (the "when" figure): rovers without radioisotope heaters die in the dark, so a reader needs to see the
nights behind the failure dates.

Darkness is decided as the models decide it (:data:`campaign.models.power_thermal.DARK_DISK_FRACTION`: less than
1% of the solar disk above the horizon, seen from the solar array's height, ``power.array_height_m``), from JPL
DE421 (:func:`campaign.sites.sun_table`) at the surveyed point with the site's nominal horizon
(:func:`campaign.sites.horizon`), hour by hour. Each mission's own darkness differs a little (its horizon error
and its offset from the target move the horizon), which the report says under the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

STEP_HOURS = 1.0  # the surface models' step (conf/mission/*: surface.step_hours)


def site_and_window(config: Mapping) -> tuple[dict, str, float, float, float | None] | None:
    """``(site, window start UTC, window days, mission days, array height m)`` from a run's composed config (the
    height None where the config has none: the site's reference height), or None for a model without a surface
    stay."""
    mission = config.get("mission", {})
    site, surface = mission.get("site"), mission.get("surface", {})
    if not site or "landing_window_start_utc" not in surface:
        return None
    height = mission.get("power", {}).get("array_height_m")
    return (
        {k: v for k, v in site.items() if k != "uncertain"},
        str(surface["landing_window_start_utc"]),
        float(surface["landing_window_days"]),
        float(surface["mission_days"]),
        None if height is None else float(height),
    )


def darkness(configs: Sequence[Mapping]) -> dict | str:
    """The darkness periods for the runs' configs (one run, or every run of a sweep): a dict with
    ``window_start_utc``, ``window_days``, ``mission_days``, ``periods`` (``[start, end]`` in days after the
    window opened, each at least one step long), ``definition``; or why there is none (a string)."""
    found = [site_and_window(c) for c in configs]
    complete = [f for f in found if f is not None]
    if not found or len(complete) < len(found):
        return "the model has no surface stay (no mission.site and landing window in the config)"
    if any(f != complete[0] for f in complete[1:]):
        return "the runs differ in site or landing window: each run's report shades its own"
    site, start, window_days, mission_days, height = complete[0]
    from ..models.power_thermal import DARK_DISK_FRACTION
    from ..models.site import visible_disk
    from ..sites import horizon as site_horizon
    from ..sites import sun_table

    begin = np.datetime64(start, "s")
    end = begin + np.timedelta64(int(round((window_days + mission_days) * 86400)), "s")
    table = sun_table(site, str(begin), str(end), step_hours=STEP_HOURS)
    horizon = site_horizon(site, height_m=height)
    dark = visible_disk(table["sun_enu"], table["sun_distance_au"], horizon) < DARK_DISK_FRACTION
    edges = np.flatnonzero(np.diff(np.concatenate([[0], dark.astype(np.int8), [0]])))
    step_days = STEP_HOURS / 24.0
    periods = [[float(a * step_days), float(b * step_days)] for a, b in zip(edges[::2], edges[1::2])]
    return {
        "window_start_utc": start,
        "window_days": window_days,
        "mission_days": mission_days,
        "periods": periods,
        "latitude_deg": site["latitude_deg"],
        "longitude_deg": site["longitude_deg"],
        "array_height_m": height,
        "definition": f"less than {100 * DARK_DISK_FRACTION:g}% of the solar disk above the site's nominal "
        "horizon, at the surveyed point"
        + (f", seen from the array's {height:g} m" if height is not None else "")
        + " (JPL DE421, hourly)",
    }
