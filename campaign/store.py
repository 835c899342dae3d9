"""Run directory and Parquet dataset: one file per shard, written atomically, with provenance in every file.

Layout of a run directory::

    run.json                 plan (samples, shard size, shards) and provenance, written before any shard
    samples/part-00000.parquet ...   one row per mission, explicit schema, file metadata under b"lupex"
    manifest.json            written last, once every shard is present: the run is complete
    summary.json             probabilities with intervals (campaign.analysis)

A shard file is written to ``samples/.part-NNNNN.tmp-<pid>-<random>`` (hidden, not ``*.parquet``, so readers
skip it) and moved into place (``os.replace`` locally): a reader or a resumed run sees a whole file or none.
On resume each existing file is checked (readable footer, row count, sample range) and recomputed if it fails.
The run directory may also be a URI on any pyarrow filesystem (object storage, HDFS, a shared mount); by
default the driver writes every file, and with ``cluster.direct_write`` the shard tasks write their own files
there (:class:`RunStore`). Local files and directories are created without write permission for others.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from .columns import Column
from .provenance import code_revision, command_line, versions  # noqa: F401  (re-exported: campaign.design calls store.versions() and co.)

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
    return [Shard(i, first, min(shard_size, samples - first)) for i, first in enumerate(range(0, samples, shard_size))]


# ------------------------------------------------------------------------------------------------ schema
_LABEL_INDEX = pa.int8()


def _arrow_type(column: Column, real: pa.DataType) -> pa.DataType:
    return {
        "index": pa.int64(),
        "code": pa.int16(),
        "label": pa.dictionary(_LABEL_INDEX, pa.string()),
        "real": real,
        "int": pa.int32(),
        "bool": pa.bool_(),
    }[column.kind]


@cache
def _labels(labels: tuple[tuple[int, str], ...]) -> tuple[np.ndarray, pa.Array]:
    """A label column's lookup (code -> position in its dictionary, int8, -1 for no label) and its dictionary."""
    codes = [code for code, _ in labels]
    table = np.full(max(codes) + 1, -1, dtype=np.int8)
    table[codes] = np.arange(len(codes), dtype=np.int8)
    return table, pa.array([name for _, name in labels])


@dataclass(frozen=True)
class Layout:
    """The columns of a campaign's dataset in file order (:func:`campaign.declarations.dataset_columns`), and
    the campaign's precision, which decides the width of its real columns."""

    columns: tuple[Column, ...]
    precision: str

    @property
    def schema(self) -> pa.Schema:
        """The explicit Arrow schema of the rows (field metadata from :meth:`Column.metadata`)."""
        real = pa.float32() if self.precision == "float32" else pa.float64()
        return pa.schema(
            [
                pa.field(
                    c.name,
                    _arrow_type(c, real),
                    nullable=c.nullable,
                    metadata={k.encode(): v.encode() for k, v in c.metadata().items()},
                )
                for c in self.columns
            ]
        )

    def table(self, values: Mapping[str, np.ndarray], metadata: Mapping[str, object]) -> pa.Table:
        """An Arrow table of one shard from its ``values`` (a NumPy array per column, label columns excepted),
        with ``metadata`` as JSON under ``b"lupex"``: a label column names the codes of its source column, and a
        column whose ``valid_when`` flag is false (a phase never reached) is null."""
        schema = self.schema
        arrays = []
        for c, f in zip(self.columns, schema):
            if c.kind == "label":
                lut, names = _labels(c.labels)
                codes = np.asarray(values[c.source], dtype=np.int16) // c.divisor
                arrays.append(pa.DictionaryArray.from_arrays(pa.array(lut[codes], _LABEL_INDEX), names))
            else:
                mask = None if c.valid_when is None else ~np.asarray(values[c.valid_when], dtype=bool)
                arrays.append(pa.array(np.asarray(values[c.name]), type=f.type, mask=mask))
        meta = {METADATA_KEY: json.dumps(metadata, sort_keys=True, default=str).encode()}
        return pa.Table.from_arrays(arrays, schema=schema.with_metadata(meta))


# -------------------------------------------------------------------------------------------- run store
FILE_MODE = 0o664  # before the umask: never world-writable, whatever the umask (group as the umask allows)
DIR_MODE = 0o775


def is_uri(location: str | os.PathLike) -> bool:
    """True for a URI (``s3://``, ``gs://``, ``hdfs://``, ``file://``, ...), False for a local path."""
    return "://" in str(location)


class RunStore:
    """A campaign's run directory (see the module docstring): a local path, or a URI on any filesystem pyarrow
    supports (``s3://bucket/lupex/run1``, ``gs://...``, ``hdfs://...``, ``file:///shared/...``).

    Every write goes to a hidden temporary name (``.<name>.tmp-<pid>-<random>``: skipped by dataset readers and
    never mistaken for a shard) and is then moved into place. Locally the file is created without write
    permission for others, fsynced and renamed atomically (``os.replace``); on object storage the move makes
    the whole object appear at once. Writing a shard again (a retried task, a resumed run) writes the same
    bytes under the same name, so the store is idempotent; leftover temporary files are removed on resume and
    when the run completes.

    ``filesystem`` (optional) gives the pyarrow filesystem explicitly, ``root`` being a path in it.
    """

    def __init__(self, root: str | os.PathLike, filesystem: pafs.FileSystem | None = None):
        if filesystem is not None:
            self.fs, self._base = filesystem, str(root).rstrip("/")
            self.root: Path | str = self._base
        elif is_uri(root):
            self.fs, self._base = pafs.FileSystem.from_uri(str(root))
            self.root = str(root).rstrip("/")
        else:
            self.root = Path(root).resolve()
            self.fs, self._base = pafs.LocalFileSystem(), str(self.root)
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        self.samples = self.root / SAMPLES_DIR if isinstance(self.root, Path) else f"{self.root}/{SAMPLES_DIR}"

    @property
    def location(self) -> str:
        """The run directory as a string that any process can open (an absolute path or a URI)."""
        return str(self.root)

    def _path(self, *parts: str) -> str:
        return "/".join([self._base, *parts])

    def _is_file(self, path: str) -> bool:
        return self.fs.get_file_info(path).type == pafs.FileType.File

    def _list(self, path: str) -> list[pafs.FileInfo]:
        return self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))

    @property
    def run_file(self) -> str:
        return self._path("run.json")

    @property
    def manifest_file(self) -> str:
        return self._path("manifest.json")

    def exists(self) -> bool:
        return self._is_file(self.run_file)

    def read_run(self) -> dict:
        try:
            with self.fs.open_input_stream(self.run_file) as fh:
                return json.loads(fh.read())
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(f"{self.run_file} cannot be read: {e}") from e

    def is_complete(self) -> bool:
        return self._is_file(self.manifest_file)

    def create(self, run_info: Mapping[str, object]) -> None:
        """Start a new run: the directory must not hold another run's files."""
        if any(info.base_name not in (".hydra",) for info in self._list(self._base)):
            raise StoreError(
                f"{self.root} already exists and is not empty: choose another run.output_dir, "
                "or add run.resume=true to complete the run in it"
            )
        self._makedirs(self._path(SAMPLES_DIR))
        self._write_json("run.json", {"format": RUN_FORMAT, "created_utc": _now(), **run_info})

    def completed(self, plan: list[Shard], log=print) -> set[int]:
        """Ids of shards whose files are whole and match the plan; anything else is removed for recomputation."""
        by_name = {s.filename: s for s in plan}
        done: set[int] = set()
        self._makedirs(self._path(SAMPLES_DIR))
        for info in sorted(self._list(self._path(SAMPLES_DIR)), key=lambda i: i.base_name):
            if info.base_name.startswith("."):
                self.fs.delete_file(info.path)  # a write interrupted before its move
                continue
            shard = by_name.get(info.base_name)
            problem = "does not belong to the plan" if shard is None else _check_shard_file(self.fs, info.path, shard)
            if problem or shard is None:  # (a file of no shard always has a problem)
                log(f"  removing {info.base_name}: {problem}; it will be recomputed")
                self.fs.delete_file(info.path)
            else:
                done.add(shard.id)
        return done

    def write_shard(self, shard: Shard, table: pa.Table) -> str:
        """Write one shard's table atomically (hidden temporary name, then a move into place)."""
        final = self._path(SAMPLES_DIR, shard.filename)
        categorical = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
        with self._atomic(final) as out:
            # Dictionary encoding only where values repeat: on random floats it costs time and space.
            pq.write_table(
                table, out, compression="zstd", use_dictionary=categorical, row_group_size=max(1, table.num_rows)
            )
        return final

    def confirm_shard(self, shard: Shard, written: object = None) -> None:
        """Check a shard file that a task wrote itself (``cluster.direct_write``) as the driver sees it."""
        problem = _check_shard_file(self.fs, self._path(SAMPLES_DIR, shard.filename), shard)
        if problem:
            raise StoreError(
                f"shard {shard.id}, written by a task to {self.samples}/{shard.filename}, {problem} "
                "as the driver reads it: with cluster.direct_write=true, run.output_dir must be "
                "storage that every node and the driver share (a shared path or a URI)"
            )

    def read_columns(self, shard: Shard, names: Iterable[str]) -> dict[str, np.ndarray]:
        """Columns ``names`` of one written shard, as NumPy arrays (what an adaptive campaign needs on resume)."""
        table = pq.read_table(self._path(SAMPLES_DIR, shard.filename), columns=list(names), filesystem=self.fs)
        return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}

    def discard_beyond(self, plan: list[Shard], log=print) -> None:
        """Remove shard files that ``plan`` does not hold (shards an adaptive campaign computed ahead of the look
        at which it stopped), so the dataset is exactly the planned missions."""
        keep = {s.filename for s in plan}
        extra = sorted(i.path for i in self._list(self._path(SAMPLES_DIR)) if i.base_name not in keep)
        for path in extra:
            self.fs.delete_file(path)
        if extra:
            log(f"  discarded {len(extra)} shard(s) computed ahead of the stopping look")

    def write_manifest(self, plan: list[Shard], extra: Mapping[str, object] | None = None) -> None:
        """Mark the run complete: every planned shard is present (checked) and listed; ``extra`` adds keys (an
        adaptive campaign's ``stop`` record)."""
        present = {info.base_name for info in self._list(self._path(SAMPLES_DIR))}
        missing = [s.filename for s in plan if s.filename not in present]
        if missing:
            raise StoreError(f"cannot complete {self.root}: missing {', '.join(missing[:5])}")
        for name in present:
            if name.startswith("."):  # left by a task that died mid-write and was retried
                self.fs.delete_file(self._path(SAMPLES_DIR, name))
        self._write_json(
            "manifest.json",
            {
                "format": RUN_FORMAT,
                "completed_utc": _now(),
                "rows": sum(s.count for s in plan),
                "shards": [
                    {"file": f"{SAMPLES_DIR}/{s.filename}", "first_sample": s.first, "rows": s.count} for s in plan
                ],
                **(extra or {}),
            },
        )

    def write_summary(self, summary: Mapping[str, object]) -> str:
        return self._write_json("summary.json", summary)

    def _write_json(self, name: str, obj: object) -> str:
        path = self._path(name)
        with self._atomic(path) as out:
            out.write((json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())
        return path

    @contextmanager
    def _atomic(self, final: str):
        """A writable file for ``final``, created under a hidden temporary name and moved into place on success
        (removed on failure)."""
        directory, name = final.rsplit("/", 1)
        tmp = f"{directory}/.{name.removesuffix('.parquet')}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            if self.local:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
                with os.fdopen(fd, "wb") as fh:
                    yield fh
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, final)
            else:
                with self.fs.open_output_stream(tmp) as out:
                    yield out
                self.fs.move(tmp, final)
        except BaseException:
            try:
                self.fs.delete_file(tmp)
            except Exception:  # nothing was created, or the storage is gone: the error that matters is raised
                pass
            raise

    def _makedirs(self, path: str) -> None:
        """Create ``path`` and its missing parents; locally none of them, nor the run directory, world-writable."""
        if not self.local:
            self.fs.create_dir(path, recursive=True)
            return
        missing = []
        p = Path(path)
        while not p.exists():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            try:
                os.mkdir(d, DIR_MODE)
            except FileExistsError:
                pass
        for d in (Path(self._base), Path(path)):  # made by someone else (Hydra's sweep job directory, ...)
            mode = d.stat().st_mode
            if mode & 0o002:
                os.chmod(d, mode & 0o7775)


def _check_shard_file(fs: pafs.FileSystem, path: str, shard: Shard) -> str | None:
    try:
        meta = pq.read_metadata(path, filesystem=fs)
        if meta.num_rows != shard.count:
            return f"has {meta.num_rows} rows, expected {shard.count}"
        index = pq.read_table(path, columns=["sample_index"], filesystem=fs).column(0).to_numpy()
    except Exception as e:  # any unreadable (or missing) file is recomputed, whatever pyarrow raises
        return f"is unreadable ({type(e).__name__}: {e})"
    expected = np.arange(shard.first, shard.first + shard.count)
    if not np.array_equal(index, expected):
        return "holds other sample indices than planned"
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
