"""The `webdataset` source (tar shards, streamed) and manifests read row by row (CSV, JSONL, parquet)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("webdataset")

import bridge
import bridge_webdataset
from bridge.data.sources import ManifestSource, PluginSource, SourceContext, iter_items, read_items
from bridge_synthworld.files import encode_png
from scale_world import CLASSES, image, write_shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shards")
    write_shards(folder)
    return folder


def context(base: Path, cache: Path) -> SourceContext:
    registry = bridge.Registry.from_plugins({"webdataset": bridge_webdataset})
    return SourceContext(base_dir=base, cache_dir=cache, source_type=registry.source_type)


def source(**options) -> PluginSource:
    return PluginSource(plugin="webdataset", options=options)


def test_image_members_become_content_addressed_files_with_keys_and_json_labels(shards, tmp_path):
    items = read_items(source(shards="shard-{000000..000001}.tar", member="png", label="json:label"), context(shards, tmp_path))
    assert [item.id for item in items] == [f"s{i:05d}" for i in range(12)]
    assert [item.label for item in items] == [CLASSES[i % 3] for i in range(12)]
    assert all(item.is_file for item in items)
    first = Path(items[0].value)
    data = encode_png(image(0))
    assert first.read_bytes() == data and first.name == f"{hashlib.sha256(data).hexdigest()}.png"
    assert first.parent.parent == tmp_path / "webdataset-members"
    stamp = first.stat().st_mtime_ns
    again = read_items(source(shards="shard-{000000..000001}.tar", member="png", label="json:label"), context(shards, tmp_path))
    assert again == items and first.stat().st_mtime_ns == stamp  # a rerun writes nothing


def test_text_members_are_texts_labels_from_a_member_and_the_stream_is_lazy(shards, tmp_path):
    options = {"shards": [str(shards / "shard-000001.tar"), "shard-000000.tar"], "member": ["caption", "txt"], "label": "cls"}
    stream = iter_items(source(**options), context(shards, tmp_path))
    first = next(stream)
    assert (first.id, first.value, first.is_file, first.label) == ("s00006", "a red square number 6", False, "0")
    assert len([first, *stream]) == 12
    limited = read_items(source(shards="shard-000000.tar", member="txt", limit=4), context(shards, tmp_path))
    assert [item.id for item in limited] == ["s00000", "s00001", "s00002", "s00003"]
    nested = read_items(source(shards="shard-000000.tar", member="wav", label="json:meta.n"), context(shards, tmp_path))
    assert nested[5].label == "5" and nested[5].value.endswith(".wav")


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    "options, fragments",
    [
        ({"shards": "nope-{0..3}.tar", "member": "png"}, ("nope-0.tar", "tar shard does not exist")),
        ({"shards": "partial.tar", "member": "png"}, ("partial.tar", "sample 'b'", "has no member png")),
        ({"shards": "partial.tar", "member": "png", "label": "cls"}, ("partial.tar", "sample 'a'", "has no label 'cls'")),
        ({"shards": ["partial.tar", "partial.tar"], "member": "png", "missing": "skip"}, ("sample 'a'", "repeats the key")),
        ({"shards": "broken.tar", "member": "png"}, ("broken.tar", "not a readable tar shard")),
        ({"shards": "partial.tar", "member": "txt", "missing": "skip"}, ("partial.tar", "sample 'b'", "not UTF-8")),
        ({"shards": "partial.tar", "member": "jpg", "missing": "skip"}, ("partial.tar", "no sample of the 1 shard(s) has a member jpg")),
    ],
)
def test_bad_shards_are_one_line_naming_the_shard_and_sample(tmp_path, options, fragments):
    _tar(tmp_path / "partial.tar", {"a.png": encode_png(image(1)), "b.txt": b"\xff\xfe", "b.json": b"{}"})
    (tmp_path / "broken.tar").write_bytes(b"this is not a tar file at all" * 40)
    with pytest.raises(bridge.BridgeError) as raised:
        read_items(source(**options), context(tmp_path, tmp_path / "cache"))
    message = str(raised.value)
    assert "\n" not in message and all(fragment in message for fragment in fragments), message


def test_missing_skip_leaves_samples_without_the_member_out(tmp_path):
    _tar(tmp_path / "partial.tar", {"a.png": encode_png(image(1)), "b.json": b"{}", "c.png": encode_png(image(2))})
    items = read_items(source(shards="partial.tar", member="png", missing="skip"), context(tmp_path, tmp_path / "cache"))
    assert [item.id for item in items] == ["a", "c"]


def test_options_are_checked_by_the_registry_in_one_line(tmp_path):
    for options, fragment in (({"member": "png"}, "shards: required key is missing"), ({"shards": "x.tar", "member": ".png"}, "without a dot")):
        with pytest.raises(bridge.BridgeError, match=fragment):
            read_items(source(**options), context(tmp_path, tmp_path))


# ----- manifests, streamed ------------------------------------------------------------------------

ROWS = [{"path": f"clips/{i}.wav", "key": f"k{i}", "label": f"c{i % 2}"} for i in range(5)]


def _manifests(folder: Path) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_path = folder / "m.csv"
    csv_path.write_text("path,key,label\n" + "".join(f"{r['path']},{r['key']},{r['label']}\n" for r in ROWS))
    jsonl_path = folder / "m.jsonl"
    jsonl_path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    parquet_path = folder / "m.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), parquet_path, row_group_size=2)
    return {"csv": csv_path, "jsonl": jsonl_path, "parquet": parquet_path}


def test_csv_jsonl_and_parquet_manifests_give_the_same_items_row_by_row(tmp_path):
    pytest.importorskip("pyarrow")
    found = {}
    for kind, path in _manifests(tmp_path).items():
        spec = ManifestSource(manifest=path, column="path", id_column="key", label_column="label")
        found[kind] = read_items(spec, context(tmp_path, tmp_path))
        assert list(iter_items(spec, context(tmp_path, tmp_path))) == found[kind]
    assert found["csv"] == found["jsonl"] == found["parquet"]
    assert found["csv"][3] == bridge.Item(id="k3", value=str(tmp_path / "clips" / "3.wav"), is_file=True, label="c1")


def test_a_streamed_manifest_yields_rows_before_a_bad_one_and_then_one_error_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"path": "a.wav"}\n{"path": "b.wav"}\nnot json\n')
    stream = iter_items(ManifestSource(manifest=path, column="path"), context(tmp_path, tmp_path))
    assert [next(stream).id, next(stream).id] == ["1", "2"]
    with pytest.raises(bridge.BridgeError, match=r"m.jsonl:3: not valid JSON"):
        next(stream)
    (tmp_path / "x.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(bridge.BridgeError, match="x.parquet: not a readable parquet file"):
        read_items(ManifestSource(manifest=tmp_path / "x.parquet", column="path"), context(tmp_path, tmp_path))


def _share(shards_folder: Path, cache: Path, rank: int, world_size: int, **options) -> list:
    from bridge.data.sources import read_share

    return read_share(source(**options), context(shards_folder, cache), rank, world_size)


def test_each_reader_reads_only_its_own_shards_and_the_parts_are_the_whole(tmp_path):
    folder = tmp_path / "shards"
    write_shards(folder, shards=4, per_shard=3)
    options = {"shards": "shard-{000000..000003}.tar", "member": "png", "label": "json:label"}
    whole = read_items(source(**options), context(folder, tmp_path / "cache"))
    parts = [_share(folder, tmp_path / "cache", rank, 2, **options) for rank in (0, 1)]
    assert [item.id for item in parts[0]] == ["s00000", "s00001", "s00002", "s00006", "s00007", "s00008"]  # shards 0 and 2
    assert sorted(parts[0] + parts[1], key=lambda item: item.id) == whole  # same items, same files, same labels
    # rank 0 never opens rank 1's shards: break one of them and rank 0 still reads its part
    (folder / "shard-000001.tar").write_bytes(b"not a tar")
    assert _share(folder, tmp_path / "cache", 0, 2, **options) == parts[0]
    with pytest.raises(bridge.BridgeError, match=r"shard-000001\.tar: not a readable tar shard"):
        _share(folder, tmp_path / "cache", 1, 2, **options)


def test_more_readers_than_shards_and_a_limit_still_split_the_items_exactly(shards, tmp_path):
    options = {"shards": "shard-{000000..000001}.tar", "member": "txt"}
    assert [len(_share(shards, tmp_path, rank, 3, **options)) for rank in range(3)] == [6, 6, 0]
    limited = {**options, "limit": 5}
    parts = [_share(shards, tmp_path, rank, 2, **limited) for rank in (0, 1)]
    assert [item.id for item in parts[0]] == ["s00000", "s00002", "s00004"]
    assert [item.id for item in parts[1]] == ["s00001", "s00003"]


def test_sources_that_cannot_read_a_part_say_so(tmp_path):
    from bridge.data.sources import FolderSource, read_share

    (tmp_path / "a.txt").write_text("x")
    assert read_share(FolderSource(folder=str(tmp_path)), context(tmp_path, tmp_path), 0, 2) is None
    mixed = [source(shards="x.tar", member="txt"), FolderSource(folder=str(tmp_path))]
    assert read_share(mixed, context(tmp_path, tmp_path), 0, 2) is None  # nothing read: the folder cannot be split


def test_a_manifest_is_shared_by_row_without_holding_the_other_rows(tmp_path):
    from bridge.data.sources import read_share

    rows = "".join(f"{i},clip{i}.wav,{CLASSES[i % 3]}\n" for i in range(7))
    (tmp_path / "items.csv").write_text("id,path,label\n" + rows, encoding="utf-8")
    spec = ManifestSource(manifest="items.csv", column="path", id_column="id", label_column="label")
    whole = read_items(spec, context(tmp_path, tmp_path))
    parts = [read_share(spec, context(tmp_path, tmp_path), rank, 3) for rank in range(3)]
    assert [[item.id for item in part] for part in parts] == [["0", "3", "6"], ["1", "4"], ["2", "5"]]
    assert sorted((item for part in parts for item in part), key=lambda item: int(item.id)) == whole
    (tmp_path / "empty.csv").write_text("id,path,label\n", encoding="utf-8")
    with pytest.raises(bridge.BridgeError, match="the manifest has no rows"):
        read_share(ManifestSource(manifest="empty.csv", column="path"), context(tmp_path, tmp_path), 1, 3)


class _Recorder:
    """A reporter that records each task's description, total and advances."""

    def __init__(self):
        self.tasks = []

    def task(self, description, total):
        from contextlib import contextmanager

        recorder = self

        class _Task:
            def advance(self, amount=1):
                recorder.tasks[-1][2] += amount

        @contextmanager
        def opened():
            recorder.tasks.append([description, total, 0])
            yield _Task()

        return opened()

    def message(self, text):
        pass


def test_reading_shards_into_a_list_shows_progress_per_shard(tmp_path):
    from dataclasses import replace

    from bridge.data.sources import read_share

    write_shards(tmp_path / "shards", shards=4, per_shard=2)
    recorder = _Recorder()
    reading = replace(context(tmp_path / "shards", tmp_path / "cache"), reporter=recorder)
    assert len(read_items(source(shards="shard-{000000..000003}.tar", member="txt"), reading)) == 8
    assert len(read_share(source(shards="shard-{000000..000003}.tar", member="txt"), reading, 1, 2)) == 4
    assert recorder.tasks == [["read 4 webdataset shard(s)", 4, 4], ["read 2 webdataset shard(s) (rank 1/2)", 2, 2]]
