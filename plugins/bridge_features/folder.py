"""One modality's features from an embedding folder in the clip-retrieval layout (``folder:``).

The shards (``<modality>_emb/*_<k>.npy``) stay memory-mapped; the ids come
from one column of ``metadata/metadata_<k>.parquet`` (pyarrow), in shard
order. Reading goes through :class:`bridge.data.embedding_folder.EmbeddingFolder`,
which pairs the shards by number and checks their counts and dimensions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bridge import BridgeError
from bridge.data.embedding_folder import EmbeddingFolder
from bridge.errors import quoted


class ShardedRows:
    """``(N, D)`` rows spread over memory-mapped shards, read by global row index."""

    def __init__(self, arrays: list[np.ndarray]):
        self.arrays = arrays
        self.offsets = np.cumsum([0] + [len(array) for array in arrays])
        self.shape = (int(self.offsets[-1]), int(arrays[0].shape[1]))
        self.dtype = arrays[0].dtype
        self.ndim = 2

    def take(self, indices: list[int]) -> np.ndarray:
        """``(len(indices), D)`` float32 copies of the given rows."""
        rows = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        shard = np.searchsorted(self.offsets, rows, side="right") - 1
        for number in np.unique(shard):
            where = np.flatnonzero(shard == number)
            out[where] = self.arrays[number][rows[where] - self.offsets[number]]
        return out


def read_folder(folder: Path, modality: str, emb_folder: str | None, id_column: str) -> tuple[ShardedRows, list[str], list[Path], Path]:
    """The shards, the ids (one per row, unique), every file to fingerprint, and the metadata folder (for messages).

    Raises:
        BridgeError: the folder is not in the layout, the id column is missing, or an id is empty or repeated.
    """
    opened = EmbeddingFolder.open(folder, modality, emb_folder)
    columns = opened.columns()
    if id_column not in columns:
        raise BridgeError(f"{opened.shards[0].metadata}: no column {quoted(id_column)} for the ids; columns are {', '.join(columns)}")
    ids = [None if value is None else str(value) for value in opened.metadata([id_column]).column(id_column).to_pylist()]
    first_row: dict[str, int] = {}
    for row, item_id in enumerate(ids):
        if item_id is None or not item_id.strip():
            raise BridgeError(f"{folder}: metadata row {row} has an empty {quoted(id_column)}; every row needs an id")
        if item_id in first_row:
            raise BridgeError(f"{folder}: id {item_id[:80]!r} repeats (rows {first_row[item_id]} and {row}); ids must be unique")
        first_row[item_id] = row
    rows = ShardedRows([opened.array(shard) for shard in opened.shards])
    files = [path for shard in opened.shards for path in (shard.embeddings, shard.metadata)]
    return rows, ids, files, folder / "metadata"
