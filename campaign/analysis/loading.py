"""Open results for analysis: a run directory, a sweep of runs, or any Parquet dataset, on any pyarrow filesystem.

:meth:`Results.load` is the one loader of the analysis. It accepts

* a run directory (it holds ``samples/``), as a local path or a URI (``file:///...``, ``s3://...``, ``gs://...``);
* a sweep directory (``<sweep>/<job number>/samples/``): the union of its runs, ordered by job number;
* any Parquet file or directory of Parquet files (exported, filtered, written by another tool).

Column roles (``input``, ``phase``, ``goal``, ``metric``) come from the field metadata the campaign writes
(``role``, ``unit``, ``level=aleatory|epistemic``, ``valid_when``). A dataset without that metadata needs the
roles named (``Results.load(path, inputs=[...], phases=[...], goals=[...], metrics=[...])``); without either,
loading fails with a message that says so, rather than returning an analysis of nothing.
"""

from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from ..columns import COLUMN_ROLES, COLUMN_ROLES_KEY

SAMPLES_DIR = "samples"
ROLES = ("input", "phase", "goal", "metric")


class MetadataError(ValueError):
    """A dataset whose columns carry no roles, and none were named."""


@dataclass(frozen=True)
class Location:
    """A path on a pyarrow filesystem, and how the user wrote it (``uri``: a local path or a URI)."""

    fs: pafs.FileSystem
    path: str
    uri: str

    @classmethod
    def of(cls, where: object, filesystem: pafs.FileSystem | None = None) -> Location:
        """``where`` as a location: a URI (``scheme://...``) on its filesystem, else a local path made absolute."""
        text = str(where)
        if filesystem is not None:
            return cls(filesystem, text.rstrip("/"), text.rstrip("/"))
        if "://" in text:
            fs, path = pafs.FileSystem.from_uri(text)
            return cls(fs, path.rstrip("/"), text.rstrip("/"))
        path = posixpath.abspath(posixpath.expanduser(text))
        return cls(pafs.LocalFileSystem(), path, path)

    def __truediv__(self, name: str) -> Location:
        return Location(self.fs, f"{self.path}/{name}", f"{self.uri}/{name}")

    def __str__(self) -> str:
        return self.uri

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def parent(self) -> Location:
        return Location(self.fs, posixpath.dirname(self.path), self.uri.rsplit("/", 1)[0])

    @property
    def local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def kind(self) -> pafs.FileType:
        return self.fs.get_file_info(self.path).type

    def is_dir(self) -> bool:
        return self.kind() == pafs.FileType.Directory

    def is_file(self) -> bool:
        return self.kind() == pafs.FileType.File

    def children(self) -> list[Location]:
        """The entries of this directory (none when it is not one), sorted by name."""
        if not self.is_dir():
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        return [self / posixpath.basename(i.path) for i in sorted(infos, key=lambda i: i.path)]

    def read_json(self) -> dict:
        """The JSON object in this file, or ``{}`` when it is absent or unreadable."""
        try:
            with self.fs.open_input_stream(self.path) as fh:
                return json.loads(fh.read())
        except (OSError, json.JSONDecodeError):
            return {}

    def write_bytes(self, data: bytes) -> None:
        """Write this file whole: a hidden temporary name moved into place (atomic locally and on object stores)."""
        parent, name = posixpath.split(self.path)
        self.fs.create_dir(parent, recursive=True)
        tmp = f"{parent}/.{name}.tmp"
        with self.fs.open_output_stream(tmp) as out:
            out.write(data)
        self.fs.move(tmp, self.path)


def run_dirs(path: object, filesystem: pafs.FileSystem | None = None) -> list[Location]:
    """The run directories under ``path``: ``[path]`` for a run directory (it holds ``samples/``), else the runs
    of a sweep (``<sweep>/<job number>/``, each holding ``samples/``), ordered by job number. Raises
    :class:`FileNotFoundError` when there is neither."""
    root = Location.of(path, filesystem)
    if (root / SAMPLES_DIR).is_dir():
        return [root]
    runs = [c for c in root.children() if (c / SAMPLES_DIR).is_dir()]
    if not runs:
        raise FileNotFoundError(f"{root} holds no results: neither samples/ nor run directories with samples/")
    return sorted(runs, key=lambda r: (int(r.name) if r.name.isdigit() else math.inf, r.name))


def _parquet(where: Location) -> ds.Dataset:
    """The Parquet dataset at a file or a directory. In a directory, the ``*.parquet`` files below it (a report
    or a note written beside them is not data), or every file when none is so named; hidden files (``.``, ``_``:
    writes in progress) never."""
    if not where.is_dir():
        return ds.dataset(where.path, format="parquet", filesystem=where.fs)
    infos = where.fs.get_file_info(pafs.FileSelector(where.path, recursive=True))
    hidden = lambda path: any(part.startswith((".", "_")) for part in posixpath.relpath(path, where.path).split("/"))  # noqa: E731
    files = sorted(i.path for i in infos if i.type == pafs.FileType.File and not hidden(i.path))
    named = [f for f in files if f.endswith(".parquet")]
    if not (named or files):
        raise FileNotFoundError(
            f"{where} holds no results: no samples/, no run directories with samples/, no Parquet files"
        )
    return ds.dataset(named or files, format="parquet", filesystem=where.fs)


def _flatten(d: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# Config leaves that say where or how a run was executed, not what was simulated.
_NOT_DESIGN = ("run.output_dir", "run.resume", "run.progress", "run.shard_size", "cluster")


def swept_keys(configs: Sequence[Mapping]) -> list[str]:
    """The config leaves (dotted keys) whose values differ between the composed configs of a sweep's runs, less
    those that only say where or how a run was executed (output directory, progress, cluster, shard size)."""
    flat = [_flatten(c) for c in configs]
    keys = sorted(set().union(*flat)) if flat else []
    return [
        k
        for k in keys
        if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1
        and not any(k == p or k.startswith(p + ".") for p in _NOT_DESIGN)
    ]


def _metadata_error(where: Location, names: Sequence[str]) -> MetadataError:
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return MetadataError(
        f"{where} has no column roles: its Parquet fields carry no 'role' metadata (input, phase, goal, metric), "
        "so nothing says which columns are sampled inputs and which are outcomes. A campaign's own results carry "
        "them; for any other dataset name them, e.g. Results.load(path, inputs=['launch.ascent_reliability'], "
        f"phases=['launch_ok'], goals=['reached_100_days'], metrics=['days_survived']). Columns: {shown}"
    )


@dataclass
class Results:
    """A results dataset (one run, the union of a sweep's runs, or any Parquet dataset) read column by column.

    Rows are ordered by (run, ``sample_index``) (row order where there is no ``sample_index``). ``job`` (shape (n,),
    int) is the position of each row's run in ``runs``; ``outer`` (shape (n,), int) is its epistemic outer index
    ``sample_index // inner_samples``. Column metadata (role, unit, level, valid_when) comes from the Parquet field
    metadata, or from the roles named to :meth:`load`.
    """

    runs: list[Location]
    schema: pa.Schema
    run_info: list[dict]
    _parts: list[ds.Dataset] = field(repr=False)
    _roles: dict[str, str] = field(repr=False, default_factory=dict)
    _order: np.ndarray | None = field(repr=False, default=None)
    _cache: dict = field(repr=False, default_factory=dict)

    @classmethod
    def load(
        cls,
        path: object,
        *,
        filesystem: pafs.FileSystem | None = None,
        inputs: Sequence[str] | None = None,
        phases: Sequence[str] | None = None,
        goals: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
    ) -> Results:
        """Open a run directory, a sweep directory, or a Parquet file or directory (see the module docstring).

        ``inputs``, ``phases``, ``goals``, ``metrics``: column names that take these roles, replacing the field
        metadata (needed for a dataset that has none: :class:`MetadataError` otherwise). Phases are taken in the
        order given (flight order)."""
        root = Location.of(path, filesystem)
        if not root.is_dir() and not root.is_file():
            raise FileNotFoundError(f"{root} does not exist")
        if (root / "design.json").is_file() and not (root / SAMPLES_DIR).is_dir():
            raise FileNotFoundError(
                f"{root} is a design search: its candidates' missions are runs under "
                f"{root / 'candidates'} (load that directory), one row per candidate is "
                f"{root / 'designs.parquet'}"
            )
        try:
            runs = run_dirs(root.uri, root.fs if filesystem is not None else None)
            parts = [_parquet(r / SAMPLES_DIR) for r in runs]
        except FileNotFoundError:
            runs, parts = [root], [_parquet(root)]
        schema = parts[0].schema
        named = {"input": inputs, "phase": phases, "goal": goals, "metric": metrics}
        roles = {n: r for r, names in named.items() for n in (names or ())}
        unknown = sorted(set(roles) - set(schema.names))
        if unknown:
            raise KeyError(
                f"{root} has no column(s) {', '.join(map(repr, unknown))}; columns: " + ", ".join(schema.names)
            )
        res = cls(
            runs=runs, schema=schema, run_info=[(r / "run.json").read_json() for r in runs], _parts=parts, _roles=roles
        )
        if not any(res.meta(f.name, "role") in ROLES for f in schema):
            raise _metadata_error(root, schema.names)
        counts = [p.count_rows() for p in parts]
        if "sample_index" in schema.names:
            index = np.concatenate([p.to_table(columns=["sample_index"]).column(0).to_numpy() for p in parts])
        else:
            index = np.concatenate([np.arange(c, dtype=np.int64) for c in counts])
        job = np.concatenate([np.full(c, j, dtype=np.int64) for j, c in enumerate(counts)])
        key = job * (int(index.max(initial=0)) + 1) + index
        if np.any(np.diff(key) < 0):
            res._order = np.argsort(key, kind="stable")
            index, job = index[res._order], job[res._order]
        res._cache["sample_index"], res._cache["__job"] = index, job
        return res

    # ------------------------------------------------------------------ metadata
    def meta(self, name: str, key: str) -> str:
        """Field metadata ``key`` of column ``name`` (``""`` when absent); ``role`` as named to :meth:`load`."""
        if key == "role" and self._roles:
            return self._roles.get(name, "")
        return (self.schema.field(name).metadata or {}).get(key.encode(), b"").decode()

    def unit(self, name: str) -> str:
        return self.meta(name, "unit")

    def column_for(self, role: str) -> str:
        """The name of the column that carries ``role`` (a key of :data:`campaign.columns.COLUMN_ROLES`, e.g.
        ``survival_days``), whether or not this dataset has it (check with :meth:`has`): as the dataset's
        metadata declares it (``column_roles`` in the ``b"lupex"`` file metadata), else as the models name it."""
        if "__column_roles" not in self._cache:
            meta = (self.schema.metadata or {}).get(b"lupex")
            declared = json.loads(meta).get(COLUMN_ROLES_KEY) if meta else None
            self._cache["__column_roles"] = {**COLUMN_ROLES, **(declared or {})}
        try:
            return self._cache["__column_roles"][role]
        except KeyError:
            raise KeyError(f"no column role {role!r}; roles: {', '.join(sorted(COLUMN_ROLES))}") from None

    def has(self, *names: str) -> bool:
        return all(n in self.schema.names for n in names)

    def _role(self, role: str) -> list[str]:
        if self._roles:  # in the order named (phases in flight order)
            return [n for n, r in self._roles.items() if r == role]
        return [f.name for f in self.schema if self.meta(f.name, "role") == role]

    @property
    def inputs(self) -> list[str]:
        return self._role("input")

    @property
    def phases(self) -> list[str]:
        return self._role("phase")

    @property
    def goals(self) -> list[str]:
        return self._role("goal")

    @property
    def flags(self) -> list[str]:
        """Phase flags (in flight order) then goal flags."""
        return self.phases + self.goals

    @property
    def metrics(self) -> list[str]:
        """Numeric (integer or floating) metric columns."""
        return [
            n
            for n in self._role("metric")
            if pa.types.is_floating(self.schema.field(n).type) or pa.types.is_integer(self.schema.field(n).type)
        ]

    @property
    def n(self) -> int:
        return int(self._cache["sample_index"].size)

    @property
    def job(self) -> np.ndarray:
        return self._cache["__job"]

    @property
    def inner_samples(self) -> int:
        """Missions per epistemic outer draw (``config.run.inner_samples`` of run.json; 1, every mission its own
        draw, when absent)."""
        values = {
            int(i["config"]["run"]["inner_samples"])
            for i in self.run_info
            if "inner_samples" in i.get("config", {}).get("run", {})
        }
        return values.pop() if len(values) == 1 else 1

    @property
    def outer(self) -> np.ndarray:
        """Epistemic outer index of every row, unique across the runs of a sweep: shape (n,), int64."""
        index = self._cache["sample_index"]
        per_run = int(index.max(initial=0)) // self.inner_samples + 1
        return self.job * per_run + index // self.inner_samples

    @property
    def saltelli_design(self) -> dict | None:
        """The radial design of a dataset sampled with ``sampler=saltelli`` (every run's run.json says so, all with
        one design), else None: ``level`` (``epistemic``: a row of the design is an outer draw; ``aleatory``: a
        mission), ``inputs`` (the design's columns, in order), ``d``, ``rows_per_block`` (d + 2) and
        ``missions_per_block``. Read from run.json (``saltelli_design``, written when the run is created:
        :func:`campaign.sampling.saltelli_layout`); for a run.json without it, rebuilt from the inputs' field
        metadata as the sampler chose it (the epistemic inputs whose ``dist`` is not ``fixed`` when there are any,
        else such aleatory inputs, in column order, which is the campaign's)."""
        if "__saltelli" not in self._cache:
            self._cache["__saltelli"] = self._saltelli_design()
        return self._cache["__saltelli"]

    def _saltelli_design(self) -> dict | None:
        if not self.run_info or any(i.get("sampler") != "saltelli" for i in self.run_info):
            return None
        stored = [i.get("saltelli_design") for i in self.run_info]
        if all(stored):
            return stored[0] if all(s == stored[0] for s in stored) else None
        varying = [i for i in self.inputs if self.meta(i, "dist") not in ("", "fixed")]
        for level in ("epistemic", "aleatory"):
            inputs = [i for i in varying if self.meta(i, "level") == level]
            if inputs:
                d = len(inputs)
                per_row = self.inner_samples if level == "epistemic" else 1
                return {
                    "level": level,
                    "inputs": inputs,
                    "d": d,
                    "rows_per_block": d + 2,
                    "missions_per_block": (d + 2) * per_row,
                }
        return None

    @property
    def clusters(self) -> np.ndarray:
        """The independent units of the sampling design, shape (n,), int64: rows that share a label are dependent
        and intervals must treat them as one unit, unique across the runs of a sweep. Each epistemic outer draw
        (:attr:`outer`) by default; for a Saltelli design (:attr:`saltelli_design`) each block, whose rows share
        the coordinates of its base points A and B (``sample_index // missions_per_block``: at the epistemic level
        ``outer // (d + 2)``, at the aleatory level ``sample_index // (d + 2)``)."""
        design = self.saltelli_design
        if design is None:
            return self.outer
        index = self._cache["sample_index"]
        per_block = int(design["missions_per_block"])
        per_run = int(index.max(initial=0)) // per_block + 1
        return self.job * per_run + index // per_block

    @property
    def epistemic_inputs(self) -> list[str]:
        """The epistemic inputs that vary in this dataset (their missions share a state of knowledge per draw)."""
        return [i for i in self.inputs if self.meta(i, "level") == "epistemic" and np.ptp(self.column(i)) > 0]

    @property
    def stop(self) -> dict | None:
        """The record of a single run that stopped at a target precision (``stop`` of its manifest.json), or
        None (a fixed-size run, a sweep, a foreign dataset)."""
        if len(self.runs) != 1 or not self.run_info[0]:
            return None
        return (self.runs[0] / "manifest.json").read_json().get("stop")

    def complete(self, job: int) -> bool:
        """Whether run ``job`` finished (its manifest.json exists); a foreign dataset counts as complete."""
        return not self.run_info[job] or (self.runs[job] / "manifest.json").is_file()

    # ------------------------------------------------------------------ columns
    def column(self, name: str) -> np.ndarray:
        """Column ``name`` as a NumPy array of shape (n,), in row order: flags as bool (null as False), strings and
        dictionaries as str objects, numbers as float64 with NaN for null (a phase never reached)."""
        if name not in self._cache:
            typ = self.schema.field(name).type
            chunks = pa.chunked_array(
                [c for p in self._parts for c in p.to_table(columns=[name]).column(0).chunks], type=typ
            )
            if pa.types.is_boolean(typ):
                values = pc.fill_null(chunks, False).to_numpy(zero_copy_only=False).astype(bool)
            elif pa.types.is_dictionary(typ) or pa.types.is_string(typ):
                values = pc.cast(chunks, pa.string()).to_numpy(zero_copy_only=False).astype(object)
            else:
                values = pc.cast(chunks, pa.float64()).to_numpy(zero_copy_only=False).astype(float)
            if self._order is not None:
                values = values[self._order]
            self._cache[name] = values
        return self._cache[name]

    def valid(self, name: str) -> np.ndarray:
        """Where column ``name`` is defined (not null): bool, shape (n,)."""
        v = self.column(name)
        return ~np.isnan(v) if v.dtype.kind == "f" else np.ones(v.shape, dtype=bool)
