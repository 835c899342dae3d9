"""Run directory and Parquet dataset: one file per shard, written atomically, with provenance in every file.

Layout of a run directory::

    run.json                 plan (samples, shard size, shards) and provenance, written before any shard
    samples/part-00000.parquet ...   one row per mission, explicit schema, file metadata under b"lupex"
    manifest.json            written last, once every shard is present: the run is complete
    summary.json             probabilities with intervals (campaign.analysis)

A shard file is written to ``samples/.part-NNNNN.tmp-<pid>`` (hidden, not ``*.parquet``, so readers skip it)
and renamed into place with ``os.replace``: a reader or a resumed run sees a whole file or none. On resume
each existing file is checked (readable footer, row count, sample range) and recomputed if it fails.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .models import Kind, MissionModel
from .models.outcomes import Outcome, Phase

RUN_FORMAT = "lupex-campaign-run/1"
METADATA_KEY = b"lupex"
SAMPLES_DIR = "samples"


class StoreError(RuntimeError):
    """The run directory cannot be used as asked (exists already, belongs to another campaign, ...)."""


@dataclass(frozen=True)
class Shard:
    id: int
    first: int
    count: int

    @property
    def filename(self) -> str:
        return f"part-{self.id:05d}.parquet"


def plan_shards(samples: int, shard_size: int) -> list[Shard]:
    """Contiguous shards of ``shard_size`` sample indices covering ``[0, samples)`` (the last may be short)."""
    return [Shard(i, first, min(shard_size, samples - first))
            for i, first in enumerate(range(0, samples, shard_size))]


# ------------------------------------------------------------------------------------------------ schema
_OUTCOME_NAMES = pa.array([o.name.lower() for o in Outcome])
_PHASE_NAMES = pa.array([p.name.lower() for p in Phase])


def _lookup(codes: Iterable[int]) -> np.ndarray:
    """code -> position in its dictionary (int8), as an array indexed by the code."""
    codes = [int(c) for c in codes]
    table = np.full(max(codes) + 1, -1, dtype=np.int8)
    table[codes] = np.arange(len(codes), dtype=np.int8)
    return table


_OUTCOME_LUT = _lookup(Outcome)
_PHASE_LUT = _lookup(Phase)


def _field_meta(**kv: object) -> dict[bytes, bytes]:
    return {k.encode(): str(v).encode() for k, v in kv.items() if v not in (None, "")}


def build_schema(model: MissionModel, variables: Iterable, precision: str) -> pa.Schema:
    """The explicit Arrow schema of a campaign's rows: index, sampled inputs, outcome, outputs."""
    real = pa.float64() if precision == "float64" else pa.float32()
    kinds = {Kind.FLOAT: real, Kind.INT: pa.int32(), Kind.BOOL: pa.bool_()}
    inputs = {f"{s.name}.{i.name}": i for s in model.sections for i in s.inputs}
    fields = [pa.field("sample_index", pa.int64(), nullable=False,
                       metadata=_field_meta(doc="Global index of the sampled mission (its identity)"))]
    for v in variables:
        decl = inputs[v.name]
        fields.append(pa.field(v.name, real, nullable=False, metadata=_field_meta(
            role="input", unit=decl.unit, doc=decl.doc, dist=v.kind.value, level=v.level.value)))
    fields += [
        pa.field("outcome", pa.int16(), nullable=False,
                 metadata=_field_meta(doc="First failure code (campaign.models.outcomes.Outcome); 0 = success")),
        pa.field("outcome_name", pa.dictionary(pa.int8(), pa.string()), nullable=False,
                 metadata=_field_meta(doc="Name of the outcome code")),
        pa.field("failed_phase", pa.dictionary(pa.int8(), pa.string()), nullable=False,
                 metadata=_field_meta(doc="Phase of the first failure ('complete' when none failed)")),
    ]
    for o in model.outputs:
        fields.append(pa.field(o.name, kinds[o.kind], nullable=o.valid_when is not None, metadata=_field_meta(
            role=o.role, unit=o.unit, doc=o.doc, valid_when=o.valid_when)))
    return pa.schema(fields)


def shard_table(columns: Mapping[str, np.ndarray], model: MissionModel, schema: pa.Schema,
                metadata: Mapping[str, object]) -> pa.Table:
    """An Arrow table of one shard: outputs of phases never reached become null (``valid_when``)."""
    outcome = np.asarray(columns["outcome"], dtype=np.int16)
    arrays = []
    for f in schema:
        if f.name in ("outcome_name", "failed_phase"):
            lut, names = (_OUTCOME_LUT, _OUTCOME_NAMES) if f.name == "outcome_name" else (_PHASE_LUT, _PHASE_NAMES)
            codes = outcome if f.name == "outcome_name" else outcome // 10
            arrays.append(pa.DictionaryArray.from_arrays(pa.array(lut[codes], pa.int8()), names))
        else:
            values = np.asarray(columns[f.name])
            valid_when = (f.metadata or {}).get(b"valid_when")
            mask = None if valid_when is None else ~np.asarray(columns[valid_when.decode()], dtype=bool)
            arrays.append(pa.array(values, type=f.type, mask=mask))
    meta = {METADATA_KEY: json.dumps(metadata, sort_keys=True, default=str).encode()}
    return pa.Table.from_arrays(arrays, schema=schema.with_metadata(meta))


# ------------------------------------------------------------------------------------------- provenance
def code_revision() -> str:
    """Git revision of the package source (``+dirty`` when modified), or ``unknown`` outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("lupex-campaign", "jax", "jaxlib", "ray", "numpy", "pyarrow", "hydra-core"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


# -------------------------------------------------------------------------------------------- run store
def _write_json_atomic(path: Path, obj: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


class RunStore:
    """A campaign's run directory (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.samples = self.root / SAMPLES_DIR

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    @property
    def manifest_file(self) -> Path:
        return self.root / "manifest.json"

    def exists(self) -> bool:
        return self.run_file.exists()

    def read_run(self) -> dict:
        try:
            return json.loads(self.run_file.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(f"{self.run_file} cannot be read: {e}") from e

    def is_complete(self) -> bool:
        return self.manifest_file.exists()

    def create(self, run_info: Mapping[str, object]) -> None:
        """Start a new run: the directory must not hold another run's files."""
        if self.root.exists() and any(p.name not in (".hydra",) for p in self.root.iterdir()):
            raise StoreError(f"{self.root} already exists and is not empty: choose another run.output_dir, "
                             "or add run.resume=true to complete the run in it")
        self.samples.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(self.run_file, {"format": RUN_FORMAT, "created_utc": _now(), **run_info})

    def completed(self, plan: list[Shard], log=print) -> set[int]:
        """Ids of shards whose files are whole and match the plan; anything else is removed for recomputation."""
        by_name = {s.filename: s for s in plan}
        done: set[int] = set()
        if not self.samples.exists():
            self.samples.mkdir(parents=True)
            return done
        for path in sorted(self.samples.iterdir()):
            if path.name.startswith("."):
                path.unlink()  # a write interrupted before its rename
                continue
            shard = by_name.get(path.name)
            problem = "does not belong to the plan" if shard is None else _check_shard_file(path, shard)
            if problem:
                log(f"  removing {path.name}: {problem}; it will be recomputed")
                path.unlink()
            else:
                done.add(shard.id)
        return done

    def write_shard(self, shard: Shard, table: pa.Table) -> Path:
        """Write one shard's table atomically (temporary hidden name, then ``os.replace``)."""
        final = self.samples / shard.filename
        tmp = self.samples / f".{shard.filename.removesuffix('.parquet')}.tmp-{os.getpid()}"
        categorical = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
        # Dictionary encoding only where values repeat: on random floats it costs time and space.
        pq.write_table(table, tmp, compression="zstd", use_dictionary=categorical,
                       row_group_size=max(1, table.num_rows))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        return final

    def write_manifest(self, plan: list[Shard]) -> None:
        """Mark the run complete: every planned shard is present (checked) and listed."""
        missing = [s.filename for s in plan if not (self.samples / s.filename).exists()]
        if missing:
            raise StoreError(f"cannot complete {self.root}: missing {', '.join(missing[:5])}")
        _write_json_atomic(self.manifest_file, {
            "format": RUN_FORMAT,
            "completed_utc": _now(),
            "rows": sum(s.count for s in plan),
            "shards": [{"file": f"{SAMPLES_DIR}/{s.filename}", "first_sample": s.first, "rows": s.count}
                       for s in plan],
        })

    def write_summary(self, summary: Mapping[str, object]) -> Path:
        path = self.root / "summary.json"
        _write_json_atomic(path, summary)
        return path


def _check_shard_file(path: Path, shard: Shard) -> str | None:
    try:
        meta = pq.read_metadata(path)
        if meta.num_rows != shard.count:
            return f"has {meta.num_rows} rows, expected {shard.count}"
        index = pq.read_table(path, columns=["sample_index"]).column(0).to_numpy()
    except Exception as e:  # any unreadable file is recomputed, whatever pyarrow raises
        return f"is unreadable ({type(e).__name__}: {e})"
    expected = np.arange(shard.first, shard.first + shard.count)
    if not np.array_equal(index, expected):
        return "holds other sample indices than planned"
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def command_line() -> list[str]:
    return [os.path.basename(sys.executable), *sys.argv]
