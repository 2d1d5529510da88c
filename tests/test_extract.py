"""Feature extraction through the cache, with a counting fake MCR."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bridge.data.cache import EmbeddingStore
from bridge.errors import ItemError
from bridge.data.extract import default_cache_dir, extract, extract_share, share_of, store_for
from bridge.core.mcr import MCR
from bridge.data.sources import Item

DIM = 8


def text_vector(modality: str, text: str) -> np.ndarray:
    """The fake model's embedding of a text: a seeded random unit vector, ``(DIM,)``."""
    seed = int.from_bytes(hashlib.sha256(f"{modality}|{text}".encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(DIM)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def file_vector(values: np.ndarray) -> np.ndarray:
    """The fake model's embedding of a ``.npy`` file's ``(DIM,)`` content, normalised."""
    return (values / np.linalg.norm(values)).astype(np.float32)


class FakeMCR(MCR):
    """Encodes ``text``/``caption`` strings and ``vector`` .npy files; records every batch."""

    def __init__(self, fingerprint: str = "w1", batch: int = 4, interrupt_after: int | None = None):
        self.id = "fake:tiny/model v1"
        self.modalities = ("text", "caption", "vector")
        self.dim = DIM
        self.fingerprint = fingerprint
        self.batch = batch
        self.interrupt_after = interrupt_after
        self.batches: list[list[Any]] = []

    @property
    def encoded_inputs(self) -> list[Any]:
        return [entry for batch in self.batches for entry in batch]

    def batch_size(self, modality: str) -> int:
        return self.batch

    def prepare(self, modality: str, item: Any) -> Any:
        if modality == "vector":
            return np.load(item)  # raises ValueError on a corrupt file
        return item

    def encode(self, modality: str, inputs: Sequence[Any]) -> torch.Tensor:
        if self.interrupt_after is not None and len(self.batches) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.batches.append(list(inputs))
        if modality == "vector":
            rows = [file_vector(values) for values in inputs]
        else:
            rows = [text_vector(modality, text) for text in inputs]
        return torch.from_numpy(np.stack(rows))


def texts(count: int, prefix: str = "caption") -> list[Item]:
    return [Item(id=f"t{i}", value=f"{prefix} number {i}", is_file=False, label=f"c{i % 3}") for i in range(count)]


def vector_files(folder: Path, count: int, seed: int = 0) -> list[Item]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    items = []
    for i in range(count):
        path = folder / f"v{i}.npy"
        np.save(path, rng.standard_normal(DIM))
        items.append(Item(id=f"v{i}", value=str(path), is_file=True))
    return items


def expected(modality: str, items: Sequence[Item]) -> np.ndarray:
    """``(N, DIM)`` embeddings the fake model gives ``items``, computed without the cache."""
    if modality == "vector":
        return np.stack([file_vector(np.load(item.value)) for item in items])
    return np.stack([text_vector(modality, item.value) for item in items])


class RecordingReporter:
    """Records each progress task's description, total and advances."""

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.messages: list[str] = []

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Any]:
        record = {"description": description, "total": total, "done": 0}
        self.tasks.append(record)

        class _Task:
            def advance(self, amount: float = 1) -> None:
                record["done"] += amount

        yield _Task()

    def message(self, text: str) -> None:
        self.messages.append(text)


def test_first_run_encodes_second_run_hits_everything(tmp_path):
    items = texts(10)
    first_model = FakeMCR()
    reporter = RecordingReporter()
    first = extract(first_model, "text", items, tmp_path, reporter=reporter)
    assert (first.encoded, first.cached) == (10, 0)
    assert first.ids == [item.id for item in items]
    assert first.labels == [item.label for item in items]
    assert first.embeddings.dtype == np.float32 and first.embeddings.shape == (10, DIM)
    np.testing.assert_allclose(first.embeddings, expected("text", items), rtol=0, atol=1e-7)
    assert reporter.tasks == [{"description": "encode text with fake:tiny/model v1", "total": 10, "done": 10}]

    second_model = FakeMCR()
    second = extract(second_model, "text", items, tmp_path, reporter=RecordingReporter())
    assert second_model.batches == []
    assert (second.encoded, second.cached) == (0, 10)
    np.testing.assert_array_equal(second.embeddings, first.embeddings)


def test_encoding_uses_batches_of_the_model_batch_size(tmp_path):
    model = FakeMCR(batch=4)
    extract(model, "text", texts(10), tmp_path)
    assert [len(batch) for batch in model.batches] == [4, 4, 2]

    files_model = FakeMCR(batch=3)
    extract(files_model, "vector", vector_files(tmp_path / "v", 7), tmp_path, workers=2)
    assert [len(batch) for batch in files_model.batches] == [3, 3, 1]


def test_changed_source_re_encodes_exactly_what_changed(tmp_path):
    text_items = texts(6)
    file_items = vector_files(tmp_path / "files", 5)
    extract(FakeMCR(), "text", text_items, tmp_path)
    extract(FakeMCR(), "vector", file_items, tmp_path)

    text_items[2] = Item(id="t2", value="an edited caption", is_file=False)
    text_items.append(Item(id="t6", value="a new caption", is_file=False))
    changed_file = Path(file_items[3].value)
    new_values = np.arange(1, DIM + 1, dtype=np.float64)
    np.save(changed_file, new_values)

    text_model, file_model = FakeMCR(), FakeMCR()
    text_features = extract(text_model, "text", text_items, tmp_path)
    file_features = extract(file_model, "vector", file_items, tmp_path)
    assert text_model.encoded_inputs == ["an edited caption", "a new caption"]
    assert (text_features.encoded, text_features.cached) == (2, 5)
    assert len(file_model.encoded_inputs) == 1
    np.testing.assert_array_equal(file_model.encoded_inputs[0], new_values)
    assert (file_features.encoded, file_features.cached) == (1, 4)
    np.testing.assert_allclose(text_features.embeddings, expected("text", text_items), atol=1e-7)
    np.testing.assert_allclose(file_features.embeddings, expected("vector", file_items), atol=1e-7)


def test_other_fingerprint_or_modality_does_not_hit(tmp_path):
    items = texts(5)
    extract(FakeMCR(fingerprint="w1"), "text", items, tmp_path)

    new_weights = FakeMCR(fingerprint="w2")
    assert extract(new_weights, "text", items, tmp_path).encoded == 5
    assert len(new_weights.encoded_inputs) == 5

    other_modality = FakeMCR(fingerprint="w1")
    features = extract(other_modality, "caption", items, tmp_path)
    assert features.encoded == 5 and len(other_modality.encoded_inputs) == 5
    np.testing.assert_allclose(features.embeddings, expected("caption", items), atol=1e-7)


def test_interrupted_run_resumes_without_partial_parts(tmp_path):
    items = texts(20)
    interrupted = FakeMCR(batch=4, interrupt_after=3)  # 3 batches = 12 items encoded, then Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        extract(interrupted, "text", items, tmp_path, part_size=5)
    store = store_for(interrupted, "text", tmp_path)
    files = sorted(path.name for path in store.directory.iterdir())
    assert not [name for name in files if name.endswith(".tmp")]
    stems = {name.rsplit(".", 1)[0] for name in files if name.startswith("part-")}
    assert files == sorted(["manifest.json", *(f"{stem}.{ext}" for stem in stems for ext in ("npy", "keys"))])
    assert len(store) == 12

    resumed = FakeMCR(batch=4)
    features = extract(resumed, "text", items, tmp_path, part_size=5)
    assert resumed.encoded_inputs == [item.value for item in items[12:]]
    assert (features.encoded, features.cached) == (8, 12)
    np.testing.assert_allclose(features.embeddings, expected("text", items), atol=1e-7)


def test_two_shards_then_extract_encodes_nothing(tmp_path):
    items = texts(30)
    rank0, rank1 = FakeMCR(), FakeMCR()
    count0 = extract_share(rank0, "text", share_of(items, 0, 2), tmp_path, rank=0)
    count1 = extract_share(rank1, "text", share_of(items, 1, 2), tmp_path, rank=1)
    assert (count0.encoded, count0.cached, count0.missing) == (15, 0, 15)
    assert (count1.encoded, count1.cached, count1.missing) == (15, 0, 15)
    assert rank0.encoded_inputs == [item.value for item in items[0::2]]  # shares by position
    assert rank1.encoded_inputs == [item.value for item in items[1::2]]
    parts = store_for(rank0, "text", tmp_path).complete_parts()
    assert {part.split("-")[1] for part in parts} == {"0", "1"}

    again = extract_share(FakeMCR(), "text", share_of(items, 0, 2), tmp_path, rank=0)
    assert (again.encoded, again.cached, again.missing) == (0, 15, 0)
    final_model = FakeMCR()
    features = extract(final_model, "text", items, tmp_path)
    assert final_model.batches == [] and (features.encoded, features.cached) == (0, 30)
    np.testing.assert_allclose(features.embeddings, expected("text", items), atol=1e-7)


def test_a_rank_reads_only_its_own_share(tmp_path):
    """Rank 0 never opens rank 1's files: a file missing from rank 1's share is no error for rank 0."""
    items = vector_files(tmp_path / "files", 6)
    Path(items[3].value).unlink()  # position 3: rank 1's share of 2
    count = extract_share(FakeMCR(), "vector", share_of(items, 0, 2), tmp_path, rank=0)
    assert (count.encoded, count.skipped) == (3, 0)
    with pytest.raises(ItemError, match=r"v3\.npy: file not found"):
        extract_share(FakeMCR(), "vector", share_of(items, 1, 2), tmp_path, rank=1)


def test_a_content_in_two_ranks_shares_is_cached_once_for_readers(tmp_path):
    """The same text at positions of both shares: the rank that finds it uncached encodes it (both, when they
    run at once: the cache keeps the first part holding a key), and readers get one vector per key."""
    base = texts(4)
    items = [base[0], base[0], *base[1:]]  # positions 0 (rank 0's) and 1 (rank 1's): one content
    counts = [extract_share(FakeMCR(), "text", share_of(items, rank, 2), tmp_path, rank=rank) for rank in (0, 1)]
    assert [(count.encoded, count.cached) for count in counts] == [(3, 0), (1, 1)]  # rank 1 found rank 0's vector
    reader = FakeMCR()
    features = extract(reader, "text", items, tmp_path)
    assert reader.batches == [] and features.embeddings.shape[0] == 5
    np.testing.assert_allclose(features.embeddings, expected("text", items), atol=1e-7)


def test_missing_file_is_an_error_naming_its_path(tmp_path):
    items = vector_files(tmp_path / "files", 3)
    Path(items[1].value).unlink()
    with pytest.raises(ItemError, match=r"v1\.npy: file not found"):
        extract(FakeMCR(), "vector", items, tmp_path)


def test_undecodable_file_stops_the_run_but_keeps_earlier_batches(tmp_path):
    items = vector_files(tmp_path / "files", 9)
    Path(items[6].value).write_bytes(b"this is not an npy file")
    with pytest.raises(ItemError, match=r"v6\.npy: cannot decode \(ValueError"):
        extract(FakeMCR(batch=3), "vector", items, tmp_path)
    assert len(store_for(FakeMCR(), "vector", tmp_path)) == 6  # the two good batches were saved


def test_skip_bad_items_lists_and_leaves_them_out(tmp_path):
    items = vector_files(tmp_path / "files", 6)
    Path(items[1].value).unlink()
    Path(items[4].value).write_bytes(b"garbage")
    reporter = RecordingReporter()
    features = extract(FakeMCR(batch=2), "vector", items, tmp_path, skip_bad_items=True, reporter=reporter)
    assert [(s.id, s.value) for s in features.skipped] == [("v1", items[1].value), ("v4", items[4].value)]
    assert features.skipped[0].reason == "file not found"
    assert features.skipped[1].reason.startswith("cannot decode (ValueError")
    good = [items[i] for i in (0, 2, 3, 5)]
    assert features.ids == [item.id for item in good]
    np.testing.assert_allclose(features.embeddings, expected("vector", good), atol=1e-7)
    assert features.encoded == 4
    assert any("skipped 2" in message for message in reporter.messages)


def test_identical_contents_share_one_row_but_both_items_appear(tmp_path):
    items = [
        Item("a", "same text", False),
        Item("b", "other text", False),
        Item("c", "same text", False),
    ]
    model = FakeMCR()
    features = extract(model, "text", items, tmp_path)
    assert model.encoded_inputs == ["same text", "other text"]
    assert features.ids == ["a", "b", "c"] and features.encoded == 2
    np.testing.assert_array_equal(features.embeddings[0], features.embeddings[2])
    assert not np.array_equal(features.embeddings[0], features.embeddings[1])
    assert len(store_for(model, "text", tmp_path)) == 2


def test_large_results_are_memory_mapped_views_reused_across_runs(tmp_path):
    items = texts(12)
    first = extract(FakeMCR(), "text", items, tmp_path, view_threshold_bytes=0)
    assert isinstance(first.embeddings, np.memmap)
    assert Path(first.embeddings.filename).parent == tmp_path / "views"
    np.testing.assert_allclose(first.embeddings, expected("text", items), atol=1e-7)
    second = extract(FakeMCR(), "text", items, tmp_path, view_threshold_bytes=0)
    assert second.embeddings.filename == first.embeddings.filename
    reordered = extract(FakeMCR(), "text", items[::-1], tmp_path, view_threshold_bytes=0)
    assert reordered.embeddings.filename != first.embeddings.filename
    np.testing.assert_array_equal(reordered.embeddings, np.asarray(first.embeddings)[::-1])
    assert len(list((tmp_path / "views").iterdir())) == 2  # no temporary files left


def test_unsafe_mcr_id_gets_a_safe_folder(tmp_path):
    extract(FakeMCR(), "text", texts(2), tmp_path)
    store = store_for(FakeMCR(), "text", tmp_path)
    assert isinstance(store, EmbeddingStore)
    top = [path.name for path in tmp_path.iterdir()]
    assert len(top) == 1 and " " not in top[0] and "/" not in top[0] and ":" not in top[0]


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BRIDGE_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("BRIDGE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "mcr-bridge"
