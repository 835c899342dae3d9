"""Fingerprints of a run's results, to prove that a change of structure changed no number.

A fingerprint holds, for every dataset (``samples/``) under a run directory, one digest per column of the
dataset sorted by ``sample_index``, and one digest of every ``summary.json`` with its timing and provenance
fields removed. Each digest exists at two levels:

- ``exact``: the bytes of the values. Identical on the machine and library versions that recorded them.
- ``rounded``: floats rounded to 12 significant digits (float64) or 6 (float32) before hashing, integers and
  strings as they are. XLA compiles for the host's instruction set, so another CPU may move a transcendental's
  last bit; this level still catches any change a user could see.

``tests/data/fingerprints.json`` was recorded with ``python -m tests.fingerprint`` before the architecture
refactor began (its ``recorded_at`` names the commit; ``notes`` says what was re-recorded since, and why);
``tests/test_campaign_e2e.py`` compares every experiment's tiny run with it.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

RECORD = Path(__file__).resolve().parent / "data" / "fingerprints.json"
# fields of summary.json that say when, how fast, where or from which commit, not what was computed
VOLATILE = frozenset(
    {
        "code_revision",
        "seconds",
        "elapsed_s",
        "missions_per_s",
        "wall_s",
        "completed_utc",
        "started_utc",
        "created_utc",
        "run_dir",
    }
)
SIGNIFICANT = {np.dtype("float64"): 12, np.dtype("float32"): 6}


def _rounded(values: np.ndarray) -> np.ndarray:
    digits = SIGNIFICANT.get(values.dtype)
    if digits is None:
        return values
    return np.array([float(f"{v:.{digits - 1}e}") for v in values.tolist()], dtype=values.dtype)


def _digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:20]


def _column_digests(column: pa.ChunkedArray) -> dict[str, str]:
    array = column.combine_chunks()
    if pa.types.is_floating(array.type) or pa.types.is_integer(array.type) or pa.types.is_boolean(array.type):
        values = array.to_numpy(zero_copy_only=False)
        mask = np.asarray(array.is_null()).tobytes()
        return {"exact": _digest(values.tobytes() + mask), "rounded": _digest(_rounded(values).tobytes() + mask)}
    text = json.dumps(array.to_pylist(), default=str).encode()
    return {"exact": _digest(text), "rounded": _digest(text)}


def _clean(value, rounded: bool):
    if isinstance(value, dict):
        return {k: _clean(v, rounded) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v, rounded) for v in value]
    if rounded and isinstance(value, float) and np.isfinite(value) and value != 0:
        return float(f"{value:.11e}")
    return value


def fingerprint(run_dir: Path) -> dict:
    """Digests of every dataset and summary under ``run_dir``, keyed by their path relative to it."""
    run_dir = Path(run_dir)
    found: dict[str, dict] = {}
    for samples in sorted(run_dir.rglob("samples")):
        table = ds.dataset(samples, format="parquet").to_table().sort_by("sample_index")
        found[str(samples.relative_to(run_dir))] = {
            "rows": table.num_rows,
            "columns": {name: _column_digests(table.column(name)) for name in table.column_names},
        }
    for summary in sorted(run_dir.rglob("summary.json")):
        content = json.loads(summary.read_text())
        found[str(summary.relative_to(run_dir))] = {
            level: _digest(json.dumps(_clean(content, level == "rounded"), sort_keys=True).encode())
            for level in ("exact", "rounded")
        }
    return found


def platform_id() -> str:
    """What decides the exact digests: the CPU and the numerical libraries."""
    import jax
    import jaxlib

    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    return (
        f"{cpu} | {platform.machine()} | jax {jax.__version__} | jaxlib {jaxlib.__version__} | numpy {np.__version__}"
    )


def differences(recorded: dict, found: dict, level: str) -> list[str]:
    """Human-readable list of what differs between two fingerprints at ``level``."""
    out = []
    for key in sorted(set(recorded) | set(found)):
        a, b = recorded.get(key), found.get(key)
        if a is None or b is None:
            out.append(f"{key}: {'missing now' if b is None else 'new'}")
        elif "columns" in a:
            if a["rows"] != b["rows"]:
                out.append(f"{key}: {a['rows']} rows recorded, {b['rows']} now")
            for name in sorted(set(a["columns"]) | set(b["columns"])):
                ca, cb = a["columns"].get(name), b["columns"].get(name)
                if ca is None or cb is None or ca[level] != cb[level]:
                    out.append(f"{key}: column {name}")
        elif a[level] != b[level]:
            out.append(f"{key}: differs")
    return out


def main(argv: list[str]) -> None:
    """Record the fingerprints of tiny runs of every experiment (as tests/test_campaign_e2e.py runs them)."""
    import subprocess
    import tempfile

    from tests.helpers import EXPERIMENTS, REPO, run_cli, tiny_overrides

    names = argv or EXPERIMENTS
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {"experiments": {}}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    if set(names) >= set(EXPERIMENTS):
        record.update(recorded_at=commit, notes={})
    else:  # a partial re-recording: say so next to the original commit
        record.setdefault("notes", {}).update({n: f"re-recorded at {commit[:7]}" for n in names})
    record["platform"] = platform_id()
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_cli(
                f"+experiment={name}", "run.samples=300", "run.output_dir=tiny", *tiny_overrides(name), cwd=Path(tmp)
            )
            if result.returncode:
                raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
            record["experiments"][name] = fingerprint(Path(tmp) / "tiny")
        print(f"{name}: {len(record['experiments'][name])} files", flush=True)
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
