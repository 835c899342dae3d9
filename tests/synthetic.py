"""Synthetic run directories written with the project's schema conventions (field metadata ``role``, ``unit``,
``level``, ``valid_when``; dictionary ``outcome_name`` and ``failed_phase``; null metrics where a phase was not
reached), with the landing, night and surface columns that the models of those phases will write. They let the
analysis and the report be tested before those models exist.

The toy mission: H3 ascent (epistemic reliability per outer draw), landing (slope and navigation error),
night survival (battery margin), 100 days on the surface, and a water goal. Every random number depends only on
the seed and ``sample_index``, never on the design value ``mission.surface.battery_capacity_wh``, so the runs of
a sweep share their sampled scenarios (common random numbers), as the real sampler guarantees.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MISSION_DAYS = 100.0
OUTCOMES = {
    0: ("success", "complete"),
    10: ("launch_vehicle_failure", "launch"),
    30: ("landing_slope_exceeded", "landing"),
    31: ("landing_off_target", "landing"),
    50: ("battery_depleted_at_night", "surface"),
    51: ("rover_wheel_failure", "surface"),
}


def _meta(**kv: object) -> dict[bytes, bytes]:
    return {k.encode(): str(v).encode() for k, v in kv.items() if v not in (None, "")}


def _field(name: str, typ: pa.DataType, **meta: object) -> pa.Field:
    return pa.field(name, typ, nullable=meta.get("valid_when") is not None, metadata=_meta(**meta))


SCHEMA = pa.schema(
    [
        pa.field("sample_index", pa.int64(), nullable=False, metadata=_meta(doc="Global index of the sampled mission")),
        _field(
            "launch.ascent_reliability",
            pa.float64(),
            role="input",
            unit="1",
            level="epistemic",
            dist="beta",
            doc="H3 ascent reliability",
        ),
        _field(
            "landing.nav_error_m",
            pa.float64(),
            role="input",
            unit="m",
            level="aleatory",
            dist="normal",
            doc="Navigation position error, downrange",
        ),
        _field(
            "landing.slope_deg",
            pa.float64(),
            role="input",
            unit="deg",
            level="aleatory",
            dist="uniform",
            doc="Local slope at touchdown",
        ),
        _field(
            "surface.insulation_error_frac",
            pa.float64(),
            role="input",
            unit="1",
            level="aleatory",
            dist="normal",
            doc="Relative error of the insulation conductance",
        ),
        _field(
            "surface.dust_frac",
            pa.float64(),
            role="input",
            unit="1",
            level="aleatory",
            dist="uniform",
            doc="Dust cover of the array (does not act in this toy model)",
        ),
        _field(
            "surface.battery_fade_frac",
            pa.float64(),
            role="input",
            unit="1",
            level="fixed",
            dist="fixed",
            doc="Battery capacity fade (fixed)",
        ),
        pa.field("outcome", pa.int16(), nullable=False, metadata=_meta(doc="First failure code; 0 = success")),
        pa.field("outcome_name", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        pa.field("failed_phase", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        _field("launch_ok", pa.bool_(), role="phase", doc="Ascent reached injection"),
        _field("landing_ok", pa.bool_(), role="phase", doc="Landed safely"),
        _field("surface_ok", pa.bool_(), role="phase", doc="Operated for the whole surface mission"),
        _field("water_goal", pa.bool_(), role="goal", doc="Water quantified at the target depth"),
        _field(
            "landing_downrange_m",
            pa.float64(),
            role="metric",
            unit="m",
            valid_when="launch_ok",
            doc="Touchdown position error, downrange",
        ),
        _field(
            "landing_crossrange_m",
            pa.float64(),
            role="metric",
            unit="m",
            valid_when="launch_ok",
            doc="Touchdown position error, crossrange",
        ),
        _field(
            "worst_night_energy_margin_wh",
            pa.float64(),
            role="metric",
            unit="Wh",
            valid_when="landing_ok",
            doc="Smallest battery energy margin over the nights",
        ),
        _field(
            "days_survived",
            pa.float64(),
            role="metric",
            unit="d",
            valid_when="landing_ok",
            doc="Days operated on the surface",
        ),
    ]
)


def simulate(
    n: int,
    seed: int = 0,
    inner_samples: int = 500,
    battery_capacity_wh: float = 1200.0,
    first: int = 0,
    epistemic: bool = True,
) -> dict[str, np.ndarray]:
    """Columns of missions ``first .. first + n - 1`` (every array of shape (n,))."""
    index = np.arange(first, first + n, dtype=np.int64)
    outer = index // inner_samples
    rng = np.random.default_rng([seed, first, n])  # same scenarios whatever the design value
    reliability = np.array([np.random.default_rng([seed, 7, int(o)]).beta(18.0, 2.0) for o in np.unique(outer)])
    reliability = reliability[outer - outer.min()] if epistemic else np.full(n, 0.9)
    nav = rng.normal(0.0, 40.0, n)
    slope = rng.uniform(0.0, 16.0, n)
    insulation = rng.normal(0.0, 0.15, n)
    dust = rng.uniform(0.0, 0.2, n)
    u_launch, u_water, u_wheel = rng.random(n), rng.random(n), rng.random(n)
    crossrange = rng.normal(0.0, 30.0, n)
    night_noise = rng.normal(0.0, 80.0, n)
    night_day = rng.uniform(10.0, 20.0, n)

    launch_ok = u_launch < reliability
    downrange = nav + rng.normal(0.0, 10.0, n)
    off_target = np.abs(downrange) > 110.0
    landing_ok = launch_ok & (slope < 12.0) & ~off_target
    margin = battery_capacity_wh - 1000.0 - 600.0 * insulation + night_noise
    wheel_day = -np.log(u_wheel) * 400.0  # exponential, mean 400 d
    battery_dies = margin < 0
    fail_day = np.where(battery_dies, night_day, wheel_day)
    surface_ok = landing_ok & (fail_day > MISSION_DAYS)
    days = np.where(landing_ok, np.minimum(fail_day, MISSION_DAYS), np.nan)

    outcome = np.zeros(n, dtype=np.int16)
    outcome[landing_ok & ~surface_ok] = np.where(battery_dies, 50, 51)[landing_ok & ~surface_ok]
    outcome[launch_ok & ~landing_ok] = np.where(slope >= 12.0, 30, 31)[launch_ok & ~landing_ok]
    outcome[~launch_ok] = 10
    return {
        "sample_index": index,
        "launch.ascent_reliability": reliability,
        "landing.nav_error_m": nav,
        "landing.slope_deg": slope,
        "surface.insulation_error_frac": insulation,
        "surface.dust_frac": dust,
        "surface.battery_fade_frac": np.full(n, 0.05),
        "outcome": outcome,
        "launch_ok": launch_ok,
        "landing_ok": landing_ok,
        "surface_ok": surface_ok,
        "water_goal": surface_ok & (u_water < 0.6),
        "landing_downrange_m": np.where(launch_ok, downrange, np.nan),
        "landing_crossrange_m": np.where(launch_ok, crossrange, np.nan),
        "worst_night_energy_margin_wh": np.where(landing_ok, margin, np.nan),
        "days_survived": days,
    }


RICH_SCHEMA = pa.schema(
    list(SCHEMA)
    + [
        _field(
            "miss_distance_m",
            pa.float64(),
            role="metric",
            unit="m",
            valid_when="launch_ok",
            doc="Distance of the touchdown point from the target",
        ),
        _field("altimeter_fault", pa.bool_(), role="metric", valid_when="launch_ok", doc="The altimeter faulted"),
        _field(
            "landing_day",
            pa.float64(),
            role="metric",
            unit="d",
            valid_when="landing_ok",
            doc="Landing time, days after the landing window opened",
        ),
    ]
)
RICH_SURFACE = {"landing_window_start_utc": "2028-12-01T00:00", "landing_window_days": 30.0, "mission_days": 100.0}


def enrich(columns: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """``columns`` with what the real landing and surface models add: km-scale outliers (a third of the
    off-target touchdowns, flagged as altimeter faults, thrown 1-8 km short), the miss distance, and a landing day
    in a 30-day window. Outcomes are unchanged: the outliers were failures already."""
    out = dict(columns)
    n = out["sample_index"].size
    rng = np.random.default_rng([seed, 99, n])
    launched = out["launch_ok"]
    fault = launched & (out["outcome"] == 31) & (rng.random(n) < 1 / 3)
    down = np.where(fault, -rng.uniform(1000.0, 8000.0, n), out["landing_downrange_m"])
    out["landing_downrange_m"] = down
    out["miss_distance_m"] = np.where(launched, np.hypot(down, out["landing_crossrange_m"]), np.nan)
    out["altimeter_fault"] = fault
    out["landing_day"] = np.where(out["landing_ok"], rng.uniform(0.0, 30.0, n), np.nan)
    return out


def table(columns: dict[str, np.ndarray], schema: pa.Schema = SCHEMA) -> pa.Table:
    codes = sorted(OUTCOMES)
    position = {c: i for i, c in enumerate(codes)}
    names = pa.array([OUTCOMES[c][0] for c in codes])
    phase_names = sorted({p for _, p in OUTCOMES.values()})
    phases = pa.array(phase_names)
    arrays = []
    for f in schema:
        if f.name == "outcome_name":
            idx = np.array([position[int(c)] for c in columns["outcome"]], dtype=np.int8)
            arrays.append(pa.DictionaryArray.from_arrays(pa.array(idx), names))
        elif f.name == "failed_phase":
            idx = np.array([phase_names.index(OUTCOMES[int(c)][1]) for c in columns["outcome"]], dtype=np.int8)
            arrays.append(pa.DictionaryArray.from_arrays(pa.array(idx), phases))
        else:
            v = np.asarray(columns[f.name])
            mask = np.isnan(v) if f.nullable and v.dtype.kind == "f" else None
            arrays.append(pa.array(v, type=f.type, mask=mask))
    return pa.Table.from_arrays(arrays, schema=schema)


def write_run(
    root: Path,
    n: int = 4000,
    seed: int = 0,
    inner_samples: int = 500,
    battery_capacity_wh: float = 1200.0,
    shards: int = 2,
    epistemic: bool = True,
    rich: bool = False,
) -> Path:
    """A complete run directory (run.json, samples/part-*.parquet, manifest.json) of ``n`` toy missions;
    ``epistemic=False`` fixes the ascent reliability (every input aleatory); ``rich=True`` adds the columns of
    :func:`enrich` and, in the config, a site (Connecting Ridge) and a landing window, as the surface models
    have them."""
    root = Path(root)
    (root / "samples").mkdir(parents=True, exist_ok=False)
    config = {
        "run": {"name": "toy", "samples": n, "seed": seed, "inner_samples": inner_samples, "output_dir": str(root)},
        "mission": {"model": "toy", "surface": {"battery_capacity_wh": battery_capacity_wh}},
    }
    if rich:
        import yaml

        site = yaml.safe_load(
            (Path(__file__).resolve().parent.parent / "conf" / "site" / "connecting_ridge.yaml").read_text()
        )
        config["mission"] |= {
            "site": site,
            "surface": config["mission"]["surface"] | RICH_SURFACE,
            "power": {"array_height_m": 2.0},
        }
    (root / "run.json").write_text(
        json.dumps(
            {
                "format": "lupex-campaign-run/1",
                "config": config,
                "model": "toy",
                "samples": n,
                "seed": seed,
                "sampler": "monte_carlo",
                "precision": "float64",
                "code_revision": "test",
            }
        )
    )
    bounds = np.linspace(0, n, shards + 1).astype(int)
    cols = simulate(n, seed, inner_samples, battery_capacity_wh, epistemic=epistemic)  # one stream, then shards
    cols = enrich(cols, seed) if rich else cols
    for s, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        pq.write_table(
            table({k: v[a:b] for k, v in cols.items()}, RICH_SCHEMA if rich else SCHEMA),
            root / "samples" / f"part-{s:05d}.parquet",
        )
    (root / "manifest.json").write_text(json.dumps({"rows": n}))
    return root
