"""Embedding folders (`bridge export`, the `features` plugin's `folder:`) and cross-modal search (`bridge index` / `bridge search`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("pyarrow")
pytest.importorskip("webdataset")

import bridge
from bad_inputs import bridge_cli, error_line
from bridge.data.embedding_folder import EmbeddingFolder
from bridge.data.sources import Item
from bridge.data.vector_index import choose_factory, exact_search, recall_at_k
from bridge.pipeline.embed_stream import ChunkEmbedder, open_space
from bridge_synthworld.files import write_png, write_wav
from scale_world import CLASSES, image, sound, write_bridge, write_shards

SHARDS = "shards/shard-{000000..000001}.tar"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A bridge, two tar shards of 12 samples, query files; the tests run in this folder."""
    root = tmp_path_factory.mktemp("scale")
    write_bridge(root / "bridge")
    write_shards(root / "shards")
    write_png(root / "query.png", image(4))
    write_wav(root / "query.wav", sound(4))
    previous = Path.cwd()
    os.chdir(root)
    yield root
    os.chdir(previous)


def shard_items(root: Path, member: str, label: str | None = "json:label"):
    from bridge.data.features import default_context
    from bridge.data.source_args import SourceOptions, parse_sources, stream_sources

    registry = bridge.Registry.from_environment()
    parts = parse_sources([SHARDS], "image" if member == "png" else "audio", root, SourceOptions(member=member, label=label))
    return stream_sources(parts, default_context(root, None, None, registry.source_type))


def test_index_build_load_and_search_finds_an_indexed_item_first(world, tmp_path):
    space = open_space(world / "bridge")
    built = bridge.Index.build(space, "image", shard_items(world, "png"), tmp_path / "images.index", space_path=world / "bridge")
    index = bridge.Index.load(tmp_path / "images.index")
    assert (len(index), index.dim, index.modality, index.info["factory"]) == (12, 128, "image", "Flat")
    [hits] = index.search(space, "image", [str(world / "query.png")], k=3)
    assert (hits[0].id, hits[0].label, hits[0].rank) == ("s00004", CLASSES[4 % 3], 1) and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.rank for h in hits] == [1, 2, 3] and hits[0].score >= hits[1].score >= hits[2].score
    audio_hits, text_hits = index.search(space, "audio", [str(world / "query.wav")], k=5), index.search(space, "text", ["a red square"], k=5)
    assert len(audio_hits[0]) == len(text_hits[0]) == 5
    assert built.search(space, "image", [str(world / "query.png")], k=1)[0][0].id == "s00004"


def test_ann_kinds_are_chosen_by_size_and_reach_the_exact_neighbours():
    assert choose_factory(50_000, 512).factory == "Flat"
    assert choose_factory(1_000_000, 128).factory == "IVF4096,Flat"
    assert choose_factory(20_000_000, 512).factory.endswith(",SQ8")
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 16)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, 4000)] + 0.3 * rng.standard_normal((4000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    items = [Item(str(i), f"v{i}", False) for i in range(len(vectors))]
    from bridge.data.embedding_folder import EmbeddingFolderWriter
    from bridge.pipeline.search import Index

    for kind in ("ivf", "hnsw"):
        folder = Path(f"vectors-{kind}")
        writer = EmbeddingFolderWriter(folder, "image", 16, "float32", shard_rows=1500)
        writer.add(items, vectors)
        writer.close()
        index = Index.from_folder(folder, f"{kind}.index", kind=kind)
        queries = vectors[:50] + 0.05 * rng.standard_normal((50, 16)).astype(np.float32)
        found = np.array([[hit.row for hit in hits] for hits in index.search_vectors(queries, 10)])
        _, truth = exact_search(lambda: EmbeddingFolder.open(folder).batches(1000), queries / np.linalg.norm(queries, axis=1, keepdims=True), 10)
        assert recall_at_k(found, truth) >= 0.9, kind


def test_export_then_the_features_plugin_reads_back_identical_embeddings(world, tmp_path):
    space = open_space(world / "bridge")
    result = bridge.export(space, "audio", shard_items(world, "wav", label="cls"), tmp_path / "audio-export", dtype="float32", shard_rows=5)
    assert (result.count, result.dim, result.shards) == (12, 128, 3)
    folder = EmbeddingFolder.open(tmp_path / "audio-export")
    assert (folder.modality, folder.count, [s.rows for s in folder.shards]) == ("audio", 12, [5, 5, 2])
    assert folder.metadata().column("label").to_pylist() == [str(i % 3) for i in range(12)]
    exported = np.concatenate([batch for _, batch in folder.batches()])
    expected = np.concatenate([c.embeddings for c in ChunkEmbedder(space, "audio", Path(os.environ["BRIDGE_CACHE"])).chunks(shard_items(world, "wav"))])
    assert np.array_equal(exported, expected)
    registry = bridge.Registry.from_environment()
    features = registry.load_mcr("features", {"id": "exported", "normalize": False, "modalities": {"audio": {"folder": str(tmp_path / "audio-export")}}})
    ids = [f"s{i:05d}" for i in (11, 0, 7)]
    read = features.encode("audio", [features.prepare("audio", i) for i in ids]).numpy()
    assert np.array_equal(read, exported[[11, 0, 7]])
    direct = space.embed("audio", [str(world / "query.wav")]).numpy()
    assert np.allclose(exported[4], direct[0], atol=1e-5)


def test_exported_folders_are_read_by_embedding_reader(world, tmp_path):
    embedding_reader = pytest.importorskip("embedding_reader")
    space = open_space(world / "bridge")
    bridge.export(space, "image", shard_items(world, "png"), tmp_path / "images", shard_rows=7)
    reader = embedding_reader.EmbeddingReader(str(tmp_path / "images" / "image_emb"), file_format="parquet_npy",
                                              metadata_folder=str(tmp_path / "images" / "metadata"), meta_columns=["id", "label"])
    assert (reader.count, reader.dimension) == (12, 128)


def test_cli_index_and_search_from_tar_shards_and_a_folder(world):
    result = bridge_cli("index", "bridge", "-m", "image", SHARDS, "--label", "json:label", "-o", "cli.index", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert "indexed 12 image vectors (D=128) as Flat" in result.stdout
    result = bridge_cli("search", "cli.index", "bridge", "-m", "image", "query.png", "-k", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "query: query.png" and lines[1].split()[:3] == ["1", "1.0000", "s00004"] and lines[1].endswith("[green]")
    result = bridge_cli("search", "cli.index", "bridge", "-m", "text", "a green square", "-k", "3", "--json")
    answer = json.loads(result.stdout)
    assert answer["query"] == "a green square" and [hit["rank"] for hit in answer["hits"]] == [1, 2, 3]
    Path("pictures").mkdir(exist_ok=True)
    for index in range(3):
        write_png(Path("pictures") / f"p{index}.png", image(index))
    result = bridge_cli("index", "bridge", "-m", "image", "pictures", "query.png", "-o", "folder.index")
    assert result.returncode == 0 and "indexed 4 image vectors" in result.stdout, result.stderr
    hits = bridge.Index.load("folder.index").search(open_space("bridge"), "image", ["query.png"], k=1)
    assert hits[0][0].id == "query.png"


def test_cli_errors_are_one_line(world):
    wave_only = bridge.Bridge.load("bridge")
    wave_only.spec.members.pop("pixel")
    wave_only.spec.overlap = None
    if not Path("wave-only").exists():
        bridge.Bridge(wave_only.spec, wave_only.projectors).save("wave-only")
    assert bridge_cli("index", "bridge", "-m", "image", SHARDS, "-o", "e.index").returncode == 0
    cases = [
        (("search", "no-such.index", "bridge", "-m", "audio", "query.wav"), ("no-such.index", "does not exist")),
        (("search", "shards", "bridge", "-m", "audio", "query.wav"), ("shards", "not an index folder")),
        (("search", "e.index", "bridge", "-m", "smell", "query.wav"), ("no modality 'smell'",)),
        (("search", "e.index", "wave-only", "-m", "image", "query.png"), ("built in space 'scale-test'",)),
        (("index", "wave-only", "-m", "image", SHARDS, "-o", "x.index"), ("no modality 'image'",)),
        (("index", "bridge", "-m", "image", "nope.png", "-o", "x.index"), ("nope.png", "does not exist")),
        (("index", "bridge", "-m", "image", "m.csv", "-o", "x.index"), ("m.csv", "--column")),
        (("index", "bridge", "-m", "image", "shards/shard-{000000..000009}.tar", "-o", "x.index"), ("shard-000002.tar", "does not exist")),
        (("export", "bridge", "-m", "image", SHARDS, "-o", "shards"), ("shards", "not an empty folder")),
        (("export", "bridge", "-m", "image", SHARDS, "-o", "y", "--raw", "wave"), ("not encoded by member 'wave'",)),
    ]
    Path("m.csv").write_text("path\nquery.png\n")
    for arguments, fragments in cases:
        error_line(bridge_cli(*arguments), *fragments)
