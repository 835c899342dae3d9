"""The landing site's darkness over a campaign's landing window and stay, to shade the report's calendar of
failures (the "when" figure): rovers without radioisotope heaters die in the dark, so a reader needs to see the
nights behind the failure dates.

Darkness is decided as the models decide it (:data:`campaign.models.power_thermal.DARK_DISK_FRACTION`: less than
1% of the solar disk above the horizon), from JPL DE421 (:func:`campaign.sites.sun_table`) at the surveyed point
with the site's nominal horizon, hour by hour. Each mission's own darkness differs a little (its horizon error
and its offset from the target move the horizon), which the report says under the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

STEP_HOURS = 1.0  # the surface models' step (conf/mission/*: surface.step_hours)


def site_and_window(config: Mapping) -> tuple[dict, str, float, float] | None:
    """``(site, window start UTC, window days, mission days)`` from a run's composed config, or None for a model
    without a surface stay."""
    mission = config.get("mission", {})
    site, surface = mission.get("site"), mission.get("surface", {})
    if not site or "landing_window_start_utc" not in surface:
        return None
    return ({k: v for k, v in site.items() if k != "uncertain"}, str(surface["landing_window_start_utc"]),
            float(surface["landing_window_days"]), float(surface["mission_days"]))


def darkness(configs: Sequence[Mapping]) -> dict | str:
    """The darkness periods for the runs' configs (one run, or every run of a sweep): a dict with
    ``window_start_utc``, ``window_days``, ``mission_days``, ``periods`` (``[start, end]`` in days after the
    window opened, each at least one step long), ``definition``; or why there is none (a string)."""
    found = [site_and_window(c) for c in configs]
    if not found or any(f is None for f in found):
        return "the model has no surface stay (no mission.site and landing window in the config)"
    if any(f != found[0] for f in found[1:]):
        return "the runs differ in site or landing window: each run's report shades its own"
    site, start, window_days, mission_days = found[0]
    from ..models.night_survival import horizon_profile, visible_disk
    from ..models.power_thermal import DARK_DISK_FRACTION
    from ..sites import sun_table

    begin = np.datetime64(start, "s")
    end = begin + np.timedelta64(int(round((window_days + mission_days) * 86400)), "s")
    table = sun_table(site, str(begin), str(end), step_hours=STEP_HOURS)
    horizon = horizon_profile(site["horizon_mean_deg"], site["horizon_amplitudes_deg"], site["horizon_phases_deg"])
    dark = visible_disk(table["sun_enu"], table["sun_distance_au"], horizon) < DARK_DISK_FRACTION
    edges = np.flatnonzero(np.diff(np.concatenate([[0], dark.astype(np.int8), [0]])))
    step_days = STEP_HOURS / 24.0
    periods = [[float(a * step_days), float(b * step_days)] for a, b in zip(edges[::2], edges[1::2])]
    return {"window_start_utc": start, "window_days": window_days, "mission_days": mission_days,
            "periods": periods, "latitude_deg": site["latitude_deg"], "longitude_deg": site["longitude_deg"],
            "definition": f"less than {100 * DARK_DISK_FRACTION:g}% of the solar disk above the site's nominal "
                          "horizon, at the surveyed point (JPL DE421, hourly)"}
