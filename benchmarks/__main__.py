"""``python -m benchmarks``: measure, print the tables, write the JSON (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path

from benchmarks import harness


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--preset",
        choices=sorted(harness.PRESETS),
        default="full",
        help="full: the measurements of benchmarks/README.md (~15-25 min on 2 cores); tiny: "
        "seconds, checks the plumbing only",
    )
    parser.add_argument(
        "--workers",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        help="Ray worker counts for the scaling study, e.g. 1,2,4 (the largest is used elsewhere)",
    )
    parser.add_argument("--window", type=float, help="seconds each throughput measurement is sized to")
    parser.add_argument("--precisions", type=lambda s: tuple(s.split(",")), help="of float32,float64,mixed")
    parser.add_argument(
        "--peers", type=lambda s: tuple(x for x in s.split(",") if x), help="numpy,openturns,monaco (empty: none)"
    )
    parser.add_argument(
        "--memory-sizes",
        type=lambda s: tuple(int(float(x)) for x in s.split(",")),
        help="launch-model campaign sizes, e.g. 1e5,1e6,1e7",
    )
    parser.add_argument(
        "--only",
        type=lambda s: tuple(s.split(",")),
        help=f"sections to measure, of {','.join(harness.SECTIONS)} (scaling implies engine)",
    )
    parser.add_argument(
        "--experiment",
        help="experiment to measure (default night_survival; the peers also run "
        "full_mission; for any other, e.g. drill_campaign, pass --peers '')",
    )
    parser.add_argument("--out", type=Path, help="JSON file to write (default benchmarks/results/<time>.json)")
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="measure nothing: print the tables of an earlier run's JSON (e.g. benchmarks/results/"
        "2026-11-21_full.json)",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        data = json.loads(args.from_json.read_text())
        print(
            harness.format_report(
                harness.Report(**{k: v for k, v in data.items() if k in harness.Report.__dataclass_fields__})
            )
        )
        return 0

    settings = harness.PRESETS[args.preset]
    changes = {
        "experiment": args.experiment,
        "workers": args.workers,
        "window_s": args.window,
        "precisions": args.precisions,
        "peers": args.peers,
        "memory_sizes": args.memory_sizes,
        "sections": args.only,
    }
    settings = dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})
    if settings.peers and "peers" in settings.sections:
        try:
            harness.peer_model(settings)
        except ValueError as e:
            parser.error(str(e))
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731  (progress; the tables go to stdout)
    report = harness.run(settings, log=log)
    print(harness.format_report(report))
    out = args.out or Path(__file__).resolve().parent / "results" / f"{datetime.now():%Y-%m-%d_%H-%M-%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dataclasses.asdict(report), indent=2) + "\n")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
