"""The run store on any pyarrow filesystem: atomic writes under hidden temporary names, idempotent rewrites,
detection of damaged shards, and files and directories never world-writable."""

from __future__ import annotations

import os
import stat

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from campaign import store
from campaign.store import RunStore, Shard, StoreError, plan_shards


class RecordingHandler(pafs.FileSystemHandler):
    """A pyarrow filesystem (in memory, not local) that records every write, delete and move."""

    def __init__(self):
        self.inner = pafs._MockFileSystem()
        self.calls: list[tuple] = []

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def get_type_name(self):
        return "recording"

    def normalize_path(self, path):
        return path

    def get_file_info(self, paths):
        return self.inner.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.inner.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.inner.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.inner.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.inner.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        self.inner.delete_dir_contents("/", accept_root_dir=True)

    def delete_file(self, path):
        self.calls.append(("delete", path))
        self.inner.delete_file(path)

    def move(self, src, dest):
        self.calls.append(("move", src, dest))
        self.inner.move(src, dest)

    def copy_file(self, src, dest):
        self.inner.copy_file(src, dest)

    def open_input_stream(self, path):
        return self.inner.open_input_stream(path)

    def open_input_file(self, path):
        return self.inner.open_input_file(path)

    def open_output_stream(self, path, metadata):
        self.calls.append(("write", path))
        return self.inner.open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path, metadata):
        return self.inner.open_append_stream(path, metadata=metadata)


def shard_table(shard: Shard) -> pa.Table:
    index = np.arange(shard.first, shard.first + shard.count, dtype=np.int64)
    return pa.table({"sample_index": index, "x": index * 0.5})


def names(rs: RunStore) -> list[str]:
    return sorted(i.base_name for i in rs.fs.get_file_info(pafs.FileSelector(f"{rs.root}/samples")))


def read_bytes(fs: pafs.FileSystem, path: str) -> bytes:
    with fs.open_input_stream(path) as fh:
        return fh.read()


def test_writes_go_to_a_hidden_temporary_name_then_move_into_place_on_any_filesystem():
    handler = RecordingHandler()
    rs = RunStore("runs/a", filesystem=pafs.PyFileSystem(handler))
    rs.create({"samples": 10})
    shard = Shard(0, 0, 5)
    rs.write_shard(shard, shard_table(shard))
    writes = [c for c in handler.calls if c[0] == "write"]
    moves = [c for c in handler.calls if c[0] == "move"]
    assert [w[1] for w in writes] == [m[1] for m in moves]  # every file written is moved, nothing in place
    assert [m[2] for m in moves] == ["runs/a/run.json", "runs/a/samples/part-00000.parquet"]
    for _, tmp in writes:
        name = tmp.rsplit("/", 1)[1]
        assert name.startswith(".") and not name.endswith(".parquet"), name  # readers and resume skip it
    assert names(rs) == ["part-00000.parquet"]
    assert pq.read_table("runs/a/samples/part-00000.parquet", filesystem=rs.fs).equals(shard_table(shard))


def test_rewriting_a_shard_is_idempotent_and_resume_recomputes_only_damaged_files():
    rs = RunStore("runs/b", filesystem=pafs.PyFileSystem(RecordingHandler()))
    rs.create({"samples": 20})
    plan = plan_shards(20, 5)
    for s in plan[:3]:
        rs.write_shard(s, shard_table(s))
    first = read_bytes(rs.fs, "runs/b/samples/part-00000.parquet")
    rs.write_shard(plan[0], shard_table(plan[0]))  # a retried task, a resumed run
    assert read_bytes(rs.fs, "runs/b/samples/part-00000.parquet") == first
    assert names(rs) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]

    # What a killed run can leave: a torn shard, a temporary file, a file from another plan.
    torn = read_bytes(rs.fs, "runs/b/samples/part-00001.parquet")
    with rs.fs.open_output_stream("runs/b/samples/part-00001.parquet") as out:
        out.write(torn[: len(torn) // 2])
    with rs.fs.open_output_stream("runs/b/samples/.part-00003.tmp-1-abcd") as out:
        out.write(b"partial")
    with rs.fs.open_output_stream("runs/b/samples/part-00007.parquet") as out:
        out.write(first)
    log: list[str] = []
    assert rs.completed(plan, log=log.append) == {0, 2}
    assert names(rs) == ["part-00000.parquet", "part-00002.parquet"]
    assert any("part-00001.parquet" in line and "unreadable" in line for line in log)
    assert any("part-00007.parquet" in line and "does not belong" in line for line in log)

    with pytest.raises(StoreError, match="missing part-00001.parquet"):
        rs.write_manifest(plan)
    for s in plan[1:]:
        rs.write_shard(s, shard_table(s))
    with rs.fs.open_output_stream("runs/b/samples/.part-00002.tmp-2-ef01") as out:  # a retried task's leftover
        out.write(b"partial")
    rs.write_manifest(plan)
    assert names(rs) == [s.filename for s in plan]
    assert rs.is_complete()


def test_a_shard_a_task_wrote_where_the_driver_cannot_see_it_is_an_error():
    rs = RunStore("runs/c", filesystem=pafs.PyFileSystem(RecordingHandler()))
    rs.create({"samples": 5})
    with pytest.raises(StoreError, match="storage that every node and the driver share"):
        rs.confirm_shard(Shard(0, 0, 5), 5)
    rs.write_shard(Shard(0, 0, 5), shard_table(Shard(0, 0, 5)))
    rs.confirm_shard(Shard(0, 0, 5), 5)


def test_a_failed_write_leaves_neither_the_file_nor_its_temporary(tmp_path, monkeypatch):
    rs = RunStore(tmp_path / "run")
    rs.create({"samples": 5})

    def torn_write(table, where, **kwargs):
        where.write(b"PAR1 and then the disk filled")
        raise OSError("No space left on device")

    monkeypatch.setattr(store.pq, "write_table", torn_write)
    with pytest.raises(OSError, match="No space"):
        rs.write_shard(Shard(0, 0, 5), shard_table(Shard(0, 0, 5)))
    assert os.listdir(tmp_path / "run" / "samples") == []


def test_local_results_are_never_world_writable_whatever_the_umask(tmp_path):
    hydra_made = tmp_path / "results" / "sweep" / "0"
    hydra_made.mkdir(parents=True)
    os.chmod(hydra_made, 0o777)  # what another tool creates under umask 0
    old = os.umask(0)
    try:
        rs = RunStore(hydra_made)
        rs.create({"samples": 5})
        rs.write_shard(Shard(0, 0, 5), shard_table(Shard(0, 0, 5)))
        rs.write_manifest([Shard(0, 0, 5)])
        rs.write_summary({"missions": 5})
        fresh = RunStore(tmp_path / "new" / "deep" / "run")
        fresh.create({"samples": 5})
    finally:
        os.umask(old)
    paths = [p for root in (tmp_path / "results", tmp_path / "new") for p in [root, *root.rglob("*")]]
    assert len(paths) >= 10
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert not mode & 0o002, f"{p} is world-writable ({oct(mode)})"
    assert stat.S_IMODE((hydra_made / "samples" / "part-00000.parquet").stat().st_mode) == 0o664
    assert stat.S_IMODE((hydra_made / "summary.json").stat().st_mode) == 0o664


def test_a_file_uri_is_the_same_run_directory_as_its_path(tmp_path):
    by_uri = RunStore(f"file://{tmp_path}/run")
    assert by_uri.local and by_uri.location == f"file://{tmp_path}/run"
    by_uri.create({"samples": 5})
    by_uri.write_shard(Shard(0, 0, 5), shard_table(Shard(0, 0, 5)))
    by_path = RunStore(tmp_path / "run")
    assert by_path.exists() and by_path.completed([Shard(0, 0, 5)]) == {0}


def test_the_layout_writes_the_columns_it_is_handed_labels_nulls_and_metadata_included():
    from campaign.columns import Column

    layout = store.Layout(
        (
            Column("sample_index", "index", "identity"),
            Column("x", "real", "an input", role="input", unit="m", extra=(("dist", "normal"), ("level", "aleatory"))),
            Column("code", "code", "a code"),
            Column("group", "label", "the code's tens", source="code", divisor=10, labels=((0, "none"), (2, "two"))),
            Column("ok", "bool", "a flag", role="phase"),
            Column("depth", "real", "only where ok", role="metric", unit="km", valid_when="ok"),
        ),
        precision="float32",
    )
    values = {
        "sample_index": np.arange(3),
        "x": np.array([1.0, 2.0, 3.0]),
        "code": np.array([0, 21, 20]),
        "ok": np.array([True, False, True]),
        "depth": np.array([0.5, 9.0, 1.5]),
    }
    table = layout.table(values, {"seed": 7})
    assert table.schema.names == ["sample_index", "x", "code", "group", "ok", "depth"]
    assert [str(f.type) for f in table.schema] == [
        "int64",
        "float",
        "int16",
        "dictionary<values=string, indices=int8, ordered=0>",
        "bool",
        "float",
    ]
    assert [f.nullable for f in table.schema] == [False] * 5 + [True]
    assert table.schema.field("x").metadata == {
        b"role": b"input",
        b"unit": b"m",
        b"doc": b"an input",
        b"dist": b"normal",
        b"level": b"aleatory",
    }
    assert table.schema.field("depth").metadata[b"valid_when"] == b"ok"
    assert table.column("group").to_pylist() == ["none", "two", "two"]
    assert table.column("depth").to_pylist() == [0.5, None, 1.5]
    assert table.schema.metadata == {b"lupex": b'{"seed": 7}'}
    with pytest.raises(ValueError, match="'group'"):
        Column("group", "label", "no labels", source="code")


def test_the_store_imports_neither_the_models_nor_jax():
    import subprocess
    import sys

    code = (
        "import sys, campaign.store; bad = sorted(m for m in sys.modules if m == 'jax' or "
        "m.startswith('campaign.models')); print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
