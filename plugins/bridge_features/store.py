"""Reading one modality's precomputed features: an (N, D) float table and its N row ids.

`.npy` files are memory-mapped (``np.load(mmap_mode="r")``, pickles refused),
so tables larger than memory work; `.safetensors` files are read with
safetensors' own loader. Every problem is a :class:`BridgeError` naming the
file and what was expected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open

from bridge import BridgeError
from bridge.errors import shorten
from bridge_features.folder import ShardedRows, read_folder
from bridge_features.ids import read_ids

HASH_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class FeatureTable:
    """One modality's features.

    Attributes:
        embeddings: ``(N, D)`` floating-point rows, a read-only memory map
            (``.npy``), a CPU tensor (``.safetensors``) or memory-mapped
            shards (:class:`bridge_features.folder.ShardedRows`, ``folder:``).
        ids: the N item ids, in row order.
        row_of_id: item id -> row index, N entries.
        embeddings_path: the file the rows come from.
        ids_path: the file the ids come from.
    """

    embeddings: np.ndarray | torch.Tensor | ShardedRows
    ids: tuple[str, ...]
    row_of_id: dict[str, int]
    embeddings_path: Path
    ids_path: Path

    @property
    def dim(self) -> int:
        """D, the embedding dimension."""
        return int(self.embeddings.shape[1])

    def rows(self, indices: list[int]) -> torch.Tensor:
        """``(len(indices), D)`` float32 CPU tensor of the given rows."""
        if isinstance(self.embeddings, torch.Tensor):
            return self.embeddings[torch.as_tensor(indices, dtype=torch.long)].float()
        if isinstance(self.embeddings, ShardedRows):
            return torch.from_numpy(self.embeddings.take(indices))
        selected = self.embeddings[np.asarray(indices, dtype=np.int64)]
        return torch.from_numpy(np.ascontiguousarray(selected, dtype=np.float32))


def read_feature_table(embeddings_path: Path, ids_path: Path, tensor: str | None = None) -> FeatureTable:
    """Load and check one modality's embeddings and ids.

    Raises:
        BridgeError: a file is missing or unreadable, the array is not a 2-D
            float array, ids are blank or repeated, or the counts differ.
    """
    embeddings = read_embeddings(embeddings_path, tensor)
    ids = read_ids(ids_path)
    if len(ids) != embeddings.shape[0]:
        raise BridgeError(
            f"{ids_path}: has {len(ids)} ids but {embeddings_path} has {embeddings.shape[0]} rows; expected one id per row"
        )
    row_of_id = {item_id: row for row, item_id in enumerate(ids)}
    return FeatureTable(embeddings, tuple(ids), row_of_id, embeddings_path, ids_path)


def read_folder_table(folder: Path, modality: str, emb_folder: str | None, id_column: str) -> tuple[FeatureTable, list[Path]]:
    """One modality's features from an embedding folder (``folder:``), and the files that fingerprint it."""
    rows, ids, files, metadata = read_folder(folder, modality, emb_folder, id_column)
    table = FeatureTable(rows, tuple(ids), {item_id: row for row, item_id in enumerate(ids)}, files[0].parent, metadata)
    return table, files


def read_embeddings(path: Path, tensor: str | None = None) -> np.ndarray | torch.Tensor:
    """The ``(N, D)`` floating-point array of a `.npy` or `.safetensors` file."""
    _require_file(path, "embeddings file")
    if path.suffix == ".npy":
        if tensor is not None:
            raise BridgeError(f"{path}: `tensor: {tensor}` only applies to .safetensors files")
        array = _load_npy(path)
        dtype_ok = np.issubdtype(array.dtype, np.floating)
    elif path.suffix == ".safetensors":
        array = _load_safetensors(path, tensor)
        dtype_ok = array.is_floating_point()
    else:
        raise BridgeError(f"{path}: expected an embeddings file ending in .npy or .safetensors")
    if array.ndim != 2:
        raise BridgeError(f"{path}: expected a 2-D (N, D) embeddings array, got shape {tuple(array.shape)}")
    if not dtype_ok:
        raise BridgeError(f"{path}: expected floating-point embeddings, got dtype {array.dtype}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise BridgeError(f"{path}: expected a non-empty (N, D) array, got shape {tuple(array.shape)}")
    return array


def files_digest(paths: list[Path], extra: list[str]) -> str:
    """First 16 hex digits of the sha256 over ``extra`` strings and the files' bytes, in order."""
    digest = hashlib.sha256()
    for text in extra:
        digest.update(text.encode("utf-8") + b"\0")
    for path in paths:
        with path.open("rb") as stream:
            while block := stream.read(HASH_BLOCK_BYTES):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _require_file(path: Path, what: str) -> None:
    try:
        exists = path.is_file()
    except OSError as error:  # a name too long, a symlink loop
        raise BridgeError(f"{shorten(str(path), 200)}: cannot read the {what} ({error.strerror or type(error).__name__})") from error
    if not exists:
        raise BridgeError(f"{shorten(str(path), 200)}: {what} does not exist")


def _load_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise BridgeError(f"{path}: expected a plain numeric .npy array; pickled or object data is refused ({error})") from error
    except OSError as error:
        raise BridgeError(f"{path}: cannot read the .npy file ({error})") from error
    if not isinstance(array, np.ndarray):
        raise BridgeError(f"{path}: expected one .npy array, got {type(array).__name__}")
    return array


def _load_safetensors(path: Path, tensor: str | None) -> torch.Tensor:
    try:
        with safe_open(str(path), framework="pt") as stored:
            names = list(stored.keys())
            if tensor is None and len(names) != 1:
                listing = ", ".join(names) or "none"
                raise BridgeError(f"{path}: holds {len(names)} tensors ({listing}); name one with `tensor:`")
            name = tensor if tensor is not None else names[0]
            if name not in names:
                raise BridgeError(f"{path}: no tensor named {name!r}; it holds {', '.join(names) or 'none'}")
            return stored.get_tensor(name)
    except SafetensorError as error:
        raise BridgeError(f"{path}: not a readable .safetensors file ({error})") from error
