"""The on-disk embedding store: keys, parts, atomicity, gather."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

import bridge.data.cache as cache
from bridge.data.cache import EmbeddingStore, content_key, safe_name
from bridge.errors import BridgeError, ItemError
from bridge.data.sources import Item

DIM = 6


def _rows(count: int, seed: int = 0) -> np.ndarray:
    """``(count, DIM)`` float32 random rows."""
    return np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)


def _store(root: Path, **overrides: object) -> EmbeddingStore:
    arguments = {"mcr_id": "fake:model/v1", "fingerprint": "abc123", "modality": "text", "dim": DIM}
    arguments.update(overrides)
    return EmbeddingStore(root, **arguments)  # type: ignore[arg-type]


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_safe_name_keeps_safe_ids_and_separates_unsafe_ones():
    assert safe_name("ViT-B-32_openai.v1") == "ViT-B-32_openai.v1"
    slash, underscore = safe_name("a/b"), safe_name("a_b")
    assert underscore == "a_b"
    assert slash.startswith("a_b-") and slash != underscore
    assert set(safe_name("open_clip:ViT/B 32")) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert safe_name("..") not in ("..", ".")
    assert len(safe_name("x" * 500)) < 100


def test_content_key_depends_on_modality_and_content_not_path(tmp_path):
    first, second, other = tmp_path / "a.bin", tmp_path / "b.bin", tmp_path / "c.bin"
    first.write_bytes(b"same bytes")
    second.write_bytes(b"same bytes")
    other.write_bytes(b"other bytes")
    key = content_key("audio", Item("a", str(first), True))
    assert key == content_key("audio", Item("b", str(second), True))
    assert key != content_key("audio", Item("c", str(other), True))
    assert key != content_key("image", Item("a", str(first), True))
    assert key != content_key("audio", Item("t", "same bytes", False))
    assert content_key("text", Item("1", "hello", False)) == content_key("text", Item("2", "hello", False))
    first.write_bytes(b"edited")
    assert content_key("audio", Item("a", str(first), True)) != key


def test_content_key_of_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "gone.wav"
    with pytest.raises(ItemError, match="gone.wav: file not found"):
        content_key("audio", Item("g", str(missing), True))


def test_writer_splits_into_parts_and_gather_keeps_order_and_duplicates(tmp_path):
    store = _store(tmp_path)
    rows = _rows(7)
    keys = [f"k{i}" for i in range(7)]
    with store.writer(rank=3, part_size=3) as writer:
        writer.add(keys[:2], rows[:2])
        writer.add(keys[2:4], rows[2:4])
        writer.add(keys[4:], rows[4:])
    sizes = sorted(len(np.load(store.part_path(part))) for part in writer.parts)
    assert sizes == [1, 3, 3]
    assert all(part.startswith("part-3-") for part in writer.parts)

    reopened = _store(tmp_path)  # a fresh process sees the same parts
    assert len(reopened) == 7
    located = reopened.lookup(["k5", "nope"])
    assert list(located) == ["k5"]
    part, row = located["k5"]
    np.testing.assert_array_equal(np.load(reopened.part_path(part))[row], rows[5])

    wanted = ["k6", "k0", "k3", "k0", "k5"]
    out = reopened.gather(wanted, np.empty((5, DIM), dtype=np.float32))
    np.testing.assert_array_equal(out, rows[[6, 0, 3, 0, 5]])
    assert reopened.missing(["k1", "x", "k2", "x"]) == ["x", "x"]


def test_gather_into_a_path_makes_a_memmap(tmp_path):
    store = _store(tmp_path)
    rows = _rows(4, seed=1)
    with store.writer(part_size=2) as writer:
        writer.add(["a", "b", "c", "d"], rows)
    out = store.gather(["d", "a"], tmp_path / "view.npy")
    assert isinstance(out, np.memmap)
    np.testing.assert_array_equal(np.load(tmp_path / "view.npy"), rows[[3, 0]])


def test_gather_rejects_unknown_keys_and_wrong_outputs(tmp_path):
    store = _store(tmp_path)
    with store.writer() as writer:
        writer.add(["a"], _rows(1))
    with pytest.raises(BridgeError, match="key b is not cached"):
        store.gather(["a", "b"], np.empty((2, DIM), dtype=np.float32))
    with pytest.raises(BridgeError, match="float32"):
        store.gather(["a"], np.empty((1, DIM), dtype=np.float64))


def test_manifest_records_the_store_and_rejects_a_different_dim(tmp_path):
    store = _store(tmp_path)
    with store.writer() as writer:
        writer.add(["a"], _rows(1))
    manifest = json.loads(store.manifest_path.read_text())
    assert manifest == {
        "format": 1,
        "mcr_id": "fake:model/v1",
        "fingerprint": "abc123",
        "modality": "text",
        "dim": DIM,
        "dtype": "float32",
    }
    assert store.directory == tmp_path / safe_name("fake:model/v1") / "abc123" / "text"
    # a different dim under the same id and fingerprint is a corrupted/mislabelled cache
    with pytest.raises(BridgeError, match="manifest.json: cache manifest has dim 6, expected 4"):
        _store(tmp_path, dim=4)


def test_stores_of_other_fingerprints_and_modalities_are_separate(tmp_path):
    with _store(tmp_path).writer() as writer:
        writer.add(["a"], _rows(1))
    assert "a" in _store(tmp_path)
    assert "a" not in _store(tmp_path, fingerprint="def456")
    assert "a" not in _store(tmp_path, modality="image")


def test_writer_validates_shapes_and_values(tmp_path):
    store = _store(tmp_path)
    with store.writer() as writer:
        with pytest.raises(BridgeError, match=r"expected embeddings of shape \(2, 6\), got \(2, 5\)"):
            writer.add(["a", "b"], np.zeros((2, 5), dtype=np.float32))
        with pytest.raises(BridgeError, match="NaN"):
            writer.add(["a"], np.full((1, DIM), np.nan, dtype=np.float32))
    assert len(store) == 0


def test_crash_between_array_and_keys_leaves_no_visible_part(tmp_path, monkeypatch):
    store = _store(tmp_path)
    with store.writer(part_size=2) as writer:
        writer.add(["a", "b"], _rows(2))

    def crash(path: Path, keys: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cache, "_save_keys", crash)
    with pytest.raises(KeyboardInterrupt):
        with store.writer(part_size=2) as writer:
            writer.add(["c", "d", "e"], _rows(3, seed=2))
    monkeypatch.undo()

    orphans = [p for p in store.directory.glob("part-*.npy") if not p.with_suffix(".keys").exists()]
    assert len(orphans) == 2  # the full part and the exit flush both died before their keys
    fresh = _store(tmp_path)
    assert len(fresh) == 2 and fresh.missing(["a", "b", "c", "d", "e"]) == ["c", "d", "e"]
    assert len(fresh.complete_parts()) == 1

    assert fresh.clean() == []  # young debris may be another process's write in progress
    for orphan in orphans:
        _age(orphan, cache.STALE_AFTER_S + 5)
    stray_tmp = store.directory / ".part-0-x.npy.1234.tmp"
    stray_tmp.write_bytes(b"half")
    _age(stray_tmp, cache.STALE_AFTER_S + 5)
    assert sorted(fresh.clean()) == sorted([*orphans, stray_tmp])
    assert sorted(p.name for p in store.directory.iterdir()) == sorted(
        ["manifest.json", *(f"{part}.{ext}" for part in fresh.complete_parts() for ext in ("npy", "keys"))]
    )


def test_refresh_sees_parts_written_by_another_writer(tmp_path):
    reader = _store(tmp_path)
    assert len(reader) == 0
    with _store(tmp_path).writer(rank=1) as writer:
        writer.add(["x", "y"], _rows(2))
    assert "x" not in reader  # index is a snapshot until refreshed
    reader.refresh()
    assert reader.missing(["x", "y", "z"]) == ["z"]
