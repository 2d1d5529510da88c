"""Embedding folders in the clip-retrieval layout, written and read shard by shard.

The layout the LAION embeddings are published in, and that embedding-reader
and autofaiss read::

    <root>/
        <modality>_emb/<modality>_emb_<k>.npy   (n_k, D) float16 or float32, k = 0000, 0001, ...
        metadata/metadata_<k>.parquet           n_k rows: id, path (file items) or text, label
        bridge-export.json                      what was exported (written by `bridge export`)

Row i of ``<modality>_emb_<k>.npy`` is row i of ``metadata_<k>.parquet``.
:class:`EmbeddingFolderWriter` streams rows in, a shard at a time, with
memory bounded by one chunk; :class:`EmbeddingFolder` reads either our
folders or clip-retrieval's (``img_emb`` for images), pairing shards by
their number ``k``. Parquet needs pyarrow (``pip install 'mcr-bridge[scale]'``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.core.yaml_io import shown
from bridge.data.manifests import require_pyarrow
from bridge.data.sources import Item
from bridge.errors import BridgeError, quoted

METADATA = "metadata"
INFO_FILE = "bridge-export.json"
DTYPES = ("float16", "float32")
ALIASES = {"image": ("image_emb", "img_emb")}
"""Embedding folders tried for a modality, in order (clip-retrieval names images `img_emb`)."""

_HEADER_BYTES = 128
_SHARD_NUMBER = re.compile(r"_(\d+)\.(npy|parquet)$")


def emb_folder_name(modality: str) -> str:
    """``<modality>_emb``: the folder of a modality's embedding shards."""
    return f"{modality}_emb"


def _npy_header(rows: int, dim: int, dtype: np.dtype) -> bytes:
    """A version 1.0 ``.npy`` header for ``(rows, dim)`` padded to a fixed 128 bytes (so it can be rewritten in place)."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (rows, dim)})
    body = text.encode("latin1")
    padding = _HEADER_BYTES - 10 - len(body) - 1
    if padding < 0:
        raise BridgeError(f"shape {(rows, dim)} does not fit a {_HEADER_BYTES}-byte .npy header")
    body += b" " * padding + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


class EmbeddingFolderWriter:
    """Writes ``(n, D)`` embeddings and their items as shards of at most ``shard_rows`` rows.

    Args:
        root: the folder (it must not exist yet, or be empty).
        modality: names the ``<modality>_emb`` folder and decides the metadata's value column
            (``text`` for the text modality, ``path`` otherwise).
        dim: D.
        dtype: ``float16`` (half the size, as LAION publishes) or ``float32``.
        shard_rows: rows per shard.
    """

    def __init__(self, root: Path, modality: str, dim: int, dtype: str = "float16", shard_rows: int = 100_000):
        if dtype not in DTYPES:
            raise BridgeError(f"--dtype: expected one of {', '.join(DTYPES)}, got {quoted(dtype)}")
        if shard_rows <= 0:
            raise BridgeError(f"--shard-rows: expected a positive number, got {shard_rows}")
        self.parquet = require_pyarrow("writing embedding-folder metadata")
        self.root = Path(root)
        self.modality = modality
        self.dim = dim
        self.dtype = np.dtype(dtype)
        self.shard_rows = shard_rows
        self.value_column = "text" if modality == "text" else "path"
        self.count = 0
        self.shards = 0
        self._npy: Any = None
        self._table: Any = None
        self._rows_in_shard = 0
        (self.root / emb_folder_name(modality)).mkdir(parents=True, exist_ok=True)
        (self.root / METADATA).mkdir(parents=True, exist_ok=True)

    def add(self, items: Sequence[Item], embeddings: np.ndarray) -> None:
        """Append ``(n, D)`` embeddings (any float dtype) for ``n`` items, opening new shards as needed."""
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or embeddings.shape != (len(items), self.dim):
            raise BridgeError(f"expected embeddings of shape {(len(items), self.dim)}, got {tuple(embeddings.shape)}")
        start = 0
        while start < len(items):
            if self._npy is None:
                self._open_shard()
            take = min(len(items) - start, self.shard_rows - self._rows_in_shard)
            self._write(items[start : start + take], embeddings[start : start + take])
            start += take
            if self._rows_in_shard == self.shard_rows:
                self._close_shard()

    def close(self) -> int:
        """Finish the last shard; returns how many rows were written."""
        if self._npy is not None:
            self._close_shard()
        return self.count

    def _open_shard(self) -> None:
        k = f"{self.shards:04d}"
        self._npy_path = self.root / emb_folder_name(self.modality) / f"{emb_folder_name(self.modality)}_{k}.npy"
        self._npy = open(self._npy_path, "wb")
        self._npy.write(_npy_header(self.shard_rows, self.dim, self.dtype))
        import pyarrow as pa

        schema = pa.schema([("id", pa.string()), (self.value_column, pa.string()), ("label", pa.string())])
        self._table = self.parquet.ParquetWriter(str(self.root / METADATA / f"{METADATA}_{k}.parquet"), schema)
        self._rows_in_shard = 0

    def _write(self, items: Sequence[Item], embeddings: np.ndarray) -> None:
        import pyarrow as pa

        self._npy.write(np.ascontiguousarray(embeddings, dtype=self.dtype).tobytes())
        columns = {"id": [i.id for i in items], self.value_column: [i.value for i in items], "label": [i.label for i in items]}
        self._table.write_table(pa.table(columns, schema=self._table.schema))
        self._rows_in_shard += len(items)
        self.count += len(items)

    def _close_shard(self) -> None:
        self._npy.seek(0)
        self._npy.write(_npy_header(self._rows_in_shard, self.dim, self.dtype))
        self._npy.close()
        self._table.close()
        self._npy = self._table = None
        self.shards += 1


@dataclass(frozen=True)
class Shard:
    """One embedding shard and its metadata: ``rows`` rows starting at global row ``offset``."""

    number: int
    embeddings: Path
    metadata: Path
    rows: int
    offset: int


class EmbeddingFolder:
    """A folder in the clip-retrieval layout, opened for reading (see the module docstring).

    Attributes:
        root: the folder.
        modality: the modality whose shards are read.
        shards: the shards in order of their number ``k``.
        dim: D.
        dtype: the shards' float dtype.
        count: N, rows over all shards.
    """

    def __init__(self, root: Path, modality: str, shards: list[Shard], dim: int, dtype: np.dtype):
        self.root, self.modality, self.shards, self.dim, self.dtype = root, modality, shards, dim, dtype
        self.count = sum(shard.rows for shard in shards)

    @classmethod
    def open(cls, root: str | Path, modality: str | None = None, emb_folder: str | None = None) -> "EmbeddingFolder":
        """Open ``root``; ``modality`` may be left out when the folder holds one ``*_emb`` folder.

        Raises:
            BridgeError: no such folder, no embedding shards, a shard without its metadata
                (or the reverse), counts that differ, or arrays that are not 2-D floats of one D.
        """
        root = Path(root)
        if not root.is_dir():
            raise BridgeError(f"{shown(root)}: {'is a file' if root.exists() else 'does not exist'}; expected an embedding folder")
        folder, modality = _emb_folder(root, modality, emb_folder)
        parquet = require_pyarrow("reading embedding-folder metadata")
        arrays = _numbered(folder, "npy")
        tables = _numbered(root / METADATA, "parquet") if (root / METADATA).is_dir() else {}
        if not arrays:
            raise BridgeError(f"{shown(folder)}: no embedding shards (*_<k>.npy)")
        shards, dim, dtype, offset = [], None, None, 0
        for number in sorted(arrays):
            if number not in tables:
                raise BridgeError(f"{shown(arrays[number])}: no metadata shard {METADATA}/{METADATA}_{number:04d}.parquet beside it")
            array = _open_npy(arrays[number])
            if dim is not None and (array.shape[1] != dim or array.dtype != dtype):
                raise BridgeError(f"{shown(arrays[number])}: {array.dtype} D={array.shape[1]}, but earlier shards are {dtype} D={dim}")
            dim, dtype = array.shape[1], array.dtype
            rows = parquet.ParquetFile(tables[number]).metadata.num_rows
            if rows != array.shape[0]:
                raise BridgeError(f"{shown(tables[number])}: {rows} rows, but {arrays[number].name} has {array.shape[0]}; expected one row per embedding")
            shards.append(Shard(number, arrays[number], tables[number], rows, offset))
            offset += rows
        stray = sorted(set(tables) - set(arrays))
        if stray:
            raise BridgeError(f"{shown(tables[stray[0]])}: no embedding shard with number {stray[0]} beside it in {folder.name}/")
        return cls(root, modality, shards, int(dim), dtype)  # type: ignore[arg-type]

    def array(self, shard: Shard) -> np.ndarray:
        """The shard's ``(rows, D)`` embeddings as a read-only memory map."""
        return _open_npy(shard.embeddings)

    def batches(self, rows: int = 65536) -> Iterator[tuple[int, np.ndarray]]:
        """``(first global row, (n, D) float32)`` over every shard, at most ``rows`` at a time."""
        for shard in self.shards:
            array = self.array(shard)
            for start in range(0, shard.rows, rows):
                yield shard.offset + start, np.asarray(array[start : start + rows], dtype=np.float32)

    def columns(self) -> list[str]:
        """The metadata's column names (from the first shard)."""
        parquet = require_pyarrow("reading embedding-folder metadata")
        return list(parquet.ParquetFile(self.shards[0].metadata).schema_arrow.names)

    def metadata(self, columns: Sequence[str] | None = None) -> Any:
        """Every shard's metadata (only ``columns``, if given) as one pyarrow table of N rows."""
        import pyarrow as pa

        parquet = require_pyarrow("reading embedding-folder metadata")
        tables = []
        for shard in self.shards:
            table = parquet.read_table(shard.metadata, columns=list(columns) if columns else None)
            tables.append(table)
        return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]

    def info(self) -> dict[str, Any]:
        """``bridge-export.json`` when present (written by `bridge export`), else ``{}``."""
        path = self.root / INFO_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, ValueError):
            return {}


def read_metadata(root: Path) -> Any:
    """The metadata shards of ``root`` (``metadata/metadata_<k>.parquet``, in order of k) as one pyarrow table."""
    import pyarrow as pa

    parquet = require_pyarrow("reading embedding-folder metadata")
    tables = _numbered(root / METADATA, "parquet") if (root / METADATA).is_dir() else {}
    if not tables:
        raise BridgeError(f"{shown(root / METADATA)}: no metadata shards (metadata_<k>.parquet)")
    parts = [parquet.read_table(tables[number]) for number in sorted(tables)]
    return pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]


def _emb_folder(root: Path, modality: str | None, emb_folder: str | None) -> tuple[Path, str]:
    if emb_folder is not None:
        folder = root / emb_folder
        if not folder.is_dir():
            raise BridgeError(f"{shown(folder)}: embedding folder does not exist")
        return folder, modality or emb_folder.removesuffix("_emb")
    found = sorted(p.name for p in root.glob("*_emb") if p.is_dir())
    if modality is None:
        if len(found) != 1:
            listing = ", ".join(found) or "none"
            raise BridgeError(f"{shown(root)}: expected one <modality>_emb folder, found {listing}; name the modality")
        return root / found[0], "image" if found[0] == "img_emb" else found[0].removesuffix("_emb")
    for name in ALIASES.get(modality, (emb_folder_name(modality),)):
        if (root / name).is_dir():
            return root / name, modality
    raise BridgeError(f"{shown(root)}: no {emb_folder_name(modality)} folder (it has {', '.join(found) or 'none'})")


def _numbered(folder: Path, suffix: str) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for path in folder.glob(f"*.{suffix}"):
        match = _SHARD_NUMBER.search(path.name)
        if match is None:
            continue
        number = int(match.group(1))
        if number in found:
            raise BridgeError(f"{shown(path)}: shard number {number} is also {found[number].name}")
        found[number] = path
    return found


def _open_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BridgeError(f"{shown(path)}: not a readable .npy array ({error})") from error
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating) or array.shape[1] == 0:
        raise BridgeError(f"{shown(path)}: expected a 2-D (n, D) float array, got {array.dtype} {tuple(array.shape)}")
    return array
