"""The on-disk embedding cache: memory-mappable parts with a manifest.

One store holds the embeddings one MCR (at one weights fingerprint) gave for
one modality, keyed by each item's content::

    <cache_dir>/<safe mcr id>/<fingerprint>/<modality>/
        manifest.json                  mcr id, fingerprint, modality, dim, dtype, format
        part-<rank>-<uuid>.npy         float32 (n, D), written by np.save
        part-<rank>-<uuid>.keys        n content keys, one a line, same order

A part is complete once its ``.keys`` file exists: both files are written
under temporary names and renamed, the keys file last, so a crash leaves at
most an ``.npy`` without keys, which is ignored (and removed once stale).
Parts are only ever added, each under a fresh uuid, so several processes
(ranks) can write to one store at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np

from bridge.errors import BridgeError, ItemError
from bridge.data.sources import Item

FORMAT_VERSION = 1
DEFAULT_PART_SIZE = 2048
STALE_AFTER_S = 600.0
"""Temporary files and key-less parts older than this are debris of a crashed run."""

_HASH_BLOCK = 1 << 20
_GATHER_CHUNK = 8192
_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 80


def safe_name(text: str) -> str:
    """``text`` made into one safe path component.

    Characters outside ``[A-Za-z0-9._-]`` become ``_``; when anything was
    replaced (or the name was empty, ``.``/``..`` or too long) a short hash of
    the original is appended so distinct ids never share a folder.
    """
    name = _SAFE_CHARS.sub("_", text)
    if name == text and name not in ("", ".", "..") and len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return f"{name[:_MAX_NAME]}-{digest}"


def content_key(modality: str, item: Item) -> str:
    """The cache key of one item: sha256 (hex) of its modality and content.

    The content is the text itself for text items and the file's bytes
    (streamed in blocks) for file items, so a file edited in place gets a new
    key and an unchanged one keeps its key wherever it lives.

    Raises:
        ItemError: a file item cannot be read (names the path).
    """
    digest = hashlib.sha256()
    digest.update(b"bridge-item-v1\0" + modality.encode("utf-8") + b"\0")
    if not item.is_file:
        digest.update(b"text\0" + item.value.encode("utf-8"))
        return digest.hexdigest()
    digest.update(b"file\0")
    try:
        with open(item.value, "rb") as handle:
            while block := handle.read(_HASH_BLOCK):
                digest.update(block)
    except FileNotFoundError as error:
        raise ItemError(item.value, "file not found") from error
    except OSError as error:
        raise ItemError(item.value, f"cannot read ({error.strerror or error})") from error
    return digest.hexdigest()


def _save_array(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as ``path`` (.npy) atomically: temp file, fsync, rename."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(temporary, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _save_keys(path: Path, keys: Sequence[str]) -> None:
    """Write ``keys`` one a line as ``path`` atomically: temp file, fsync, rename."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(temporary, "w", encoding="ascii") as handle:
        handle.write("".join(f"{key}\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class EmbeddingStore:
    """Cached embeddings of one (MCR id, fingerprint, modality), keyed by content key.

    The key index (every complete part's keys) is read lazily on first use;
    :meth:`refresh` re-reads it to see parts other processes wrote since.
    """

    def __init__(self, cache_dir: Path, mcr_id: str, fingerprint: str, modality: str, dim: int):
        if dim <= 0:
            raise BridgeError(f"MCR {mcr_id!r}: embedding dimension must be positive, got {dim}")
        self.mcr_id = mcr_id
        self.fingerprint = fingerprint
        self.modality = modality
        self.dim = dim
        self.directory = Path(cache_dir) / safe_name(mcr_id) / safe_name(fingerprint) / safe_name(modality)
        self._part_names: list[str] = []
        self._index: dict[str, tuple[int, int]] | None = None
        self._check_manifest()

    # -- manifest ---------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def _manifest(self) -> dict[str, object]:
        return {
            "format": FORMAT_VERSION,
            "mcr_id": self.mcr_id,
            "fingerprint": self.fingerprint,
            "modality": self.modality,
            "dim": self.dim,
            "dtype": "float32",
        }

    def _check_manifest(self) -> None:
        """Refuse a store whose manifest disagrees with this MCR (e.g. another dim)."""
        if not self.manifest_path.exists():
            return
        try:
            found = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise BridgeError(f"{self.manifest_path}: unreadable cache manifest ({error}); delete the folder") from error
        expected = self._manifest()
        for field in ("format", "mcr_id", "fingerprint", "modality", "dim", "dtype"):
            if found.get(field) != expected[field]:
                raise BridgeError(
                    f"{self.manifest_path}: cache manifest has {field} {found.get(field)!r}, expected "
                    f"{expected[field]!r}; delete the folder {self.directory}"
                )

    def _write_manifest(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.manifest_path.exists():
            return
        temporary = self.directory / f".manifest.{uuid.uuid4().hex[:8]}.tmp"
        temporary.write_text(json.dumps(self._manifest(), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.manifest_path)

    # -- index ------------------------------------------------------------

    def part_path(self, part: str) -> Path:
        """The ``.npy`` file of part ``part`` (a name like ``part-0-<uuid>``)."""
        return self.directory / f"{part}.npy"

    def complete_parts(self) -> list[str]:
        """Names of the parts that have both their ``.npy`` and ``.keys`` file, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(
            keys_file.stem
            for keys_file in self.directory.glob("part-*.keys")
            if keys_file.with_suffix(".npy").is_file()
        )

    def refresh(self) -> None:
        """Re-read the key index from disk (sees parts written by other processes)."""
        self._part_names = []
        self._index = {}
        for part in self.complete_parts():
            keys = (self.directory / f"{part}.keys").read_text(encoding="ascii").split()
            self._register(part, keys)

    def _loaded_index(self) -> dict[str, tuple[int, int]]:
        if self._index is None:
            self.refresh()
        assert self._index is not None
        return self._index

    def _register(self, part: str, keys: Sequence[str]) -> None:
        """Add a complete part's keys to the index (the first part holding a key wins)."""
        index = self._index
        if index is None:
            return  # not loaded yet: the first load reads the part from disk
        part_id = len(self._part_names)
        self._part_names.append(part)
        for row, key in enumerate(keys):
            index.setdefault(key, (part_id, row))

    def __len__(self) -> int:
        """How many distinct keys the store holds."""
        return len(self._loaded_index())

    def __contains__(self, key: object) -> bool:
        return key in self._loaded_index()

    def lookup(self, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        """Where each cached key lives: ``{key: (part name, row)}``; absent keys are left out."""
        index = self._loaded_index()
        found = {}
        for key in keys:
            location = index.get(key)
            if location is not None:
                found[key] = (self._part_names[location[0]], location[1])
        return found

    def missing(self, keys: Sequence[str]) -> list[str]:
        """The keys of ``keys`` not in the store, in order (duplicates kept)."""
        index = self._loaded_index()
        return [key for key in keys if key not in index]

    # -- reading ------------------------------------------------------------

    def gather(self, keys: Sequence[str], out: np.ndarray | Path | str) -> np.ndarray:
        """Copy the embeddings of ``keys`` into ``out``, row ``i`` for ``keys[i]``.

        Parts are memory-mapped and read one at a time in row order, at most
        ``8192`` rows at once, so memory beyond ``out`` stays bounded.
        Duplicate keys give duplicate rows.

        Args:
            keys: ``N`` content keys, all in the store.
            out: an ``(N, D)`` float32 array to fill, or a path where an
                ``(N, D)`` float32 ``.npy`` memmap is created.

        Returns:
            ``out`` (the memmap when a path was given), ``(N, D)`` float32.

        Raises:
            BridgeError: a key is not cached, ``out`` has the wrong shape, or a
                part file is damaged.
        """
        index = self._loaded_index()
        count = len(keys)
        locations = [index.get(key) for key in keys]
        for key, location in zip(keys, locations):
            if location is None:
                raise BridgeError(f"{self.directory}: key {key} is not cached")
        table = np.array(locations, dtype=np.int64).reshape(count, 2)
        part_ids, rows = table[:, 0], table[:, 1]
        target = self._output(out, count)
        order = np.lexsort((rows, part_ids))
        boundaries = np.flatnonzero(np.diff(part_ids[order])) + 1
        for positions in np.split(order, boundaries) if count else []:
            part = self._part_names[int(part_ids[positions[0]])]
            embeddings = self._open_part(part)
            for start in range(0, len(positions), _GATHER_CHUNK):
                chunk = positions[start : start + _GATHER_CHUNK]
                part_rows = rows[chunk]
                if int(part_rows.max()) >= embeddings.shape[0]:
                    raise BridgeError(f"{self.part_path(part)}: fewer rows than its keys file lists; delete both files")
                target[chunk] = embeddings[part_rows]
            del embeddings
        if isinstance(target, np.memmap):
            target.flush()
        return target

    def _output(self, out: np.ndarray | Path | str, count: int) -> np.ndarray:
        if isinstance(out, (str, Path)):
            return np.lib.format.open_memmap(Path(out), mode="w+", dtype=np.float32, shape=(count, self.dim))
        if out.shape != (count, self.dim) or out.dtype != np.float32:
            raise BridgeError(
                f"gather output must be float32 {(count, self.dim)}, got {out.dtype} {tuple(out.shape)}"
            )
        return out

    def _open_part(self, part: str) -> np.ndarray:
        path = self.part_path(part)
        try:
            embeddings = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise BridgeError(f"{path}: damaged cache part ({error}); delete it and its .keys file") from error
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim or embeddings.dtype != np.float32:
            raise BridgeError(
                f"{path}: expected float32 (n, {self.dim}), found {embeddings.dtype} {embeddings.shape}; "
                "delete it and its .keys file"
            )
        return embeddings

    # -- writing ------------------------------------------------------------

    def writer(self, rank: int = 0, part_size: int = DEFAULT_PART_SIZE) -> "PartWriter":
        """A writer that adds parts named ``part-<rank>-<uuid>`` (removes stale debris first)."""
        self._write_manifest()
        self.clean()
        return PartWriter(self, rank, part_size)

    def clean(self, older_than_s: float = STALE_AFTER_S) -> list[Path]:
        """Remove temporary files and key-less ``.npy`` parts older than ``older_than_s``.

        Younger ones may belong to a process writing right now, so they stay
        (they are ignored by lookups either way).

        Returns:
            The removed paths.
        """
        if not self.directory.is_dir():
            return []
        deadline = time.time() - older_than_s
        debris = [p for p in self.directory.glob(".*.tmp")]
        debris += [p for p in self.directory.glob("part-*.npy") if not p.with_suffix(".keys").exists()]
        removed = []
        for path in debris:
            try:
                if path.stat().st_mtime <= deadline:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:
                continue  # another process cleaned it first
        return removed

    def _add_part(self, rank: int, keys: Sequence[str], embeddings: np.ndarray) -> str:
        """Write one complete part (array first, keys last) and index it; returns its name."""
        part = f"part-{rank}-{uuid.uuid4().hex}"
        _save_array(self.part_path(part), embeddings)
        _save_keys(self.directory / f"{part}.keys", keys)
        self._register(part, keys)
        return part


class PartWriter:
    """Buffers embeddings and writes them to its store as parts of ``part_size`` rows.

    Use as a context manager: leaving it (also by an exception or
    KeyboardInterrupt) writes what is buffered, so only rows never handed to
    :meth:`add` are lost.
    """

    def __init__(self, store: EmbeddingStore, rank: int, part_size: int):
        if part_size <= 0:
            raise BridgeError(f"part_size must be positive, got {part_size}")
        if rank < 0:
            raise BridgeError(f"rank must be >= 0, got {rank}")
        self.store = store
        self.rank = rank
        self.part_size = part_size
        self.parts: list[str] = []
        self._keys: list[str] = []
        self._arrays: list[np.ndarray] = []
        self._buffered = 0

    def add(self, keys: Sequence[str], embeddings: np.ndarray) -> None:
        """Buffer ``embeddings`` (``(n, D)``, any float dtype) for ``keys`` (``n``); writes full parts."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape != (len(keys), self.store.dim):
            raise BridgeError(
                f"MCR {self.store.mcr_id!r} ({self.store.modality}): expected embeddings of shape "
                f"{(len(keys), self.store.dim)}, got {tuple(embeddings.shape)}"
            )
        if not np.isfinite(embeddings).all():
            raise BridgeError(f"MCR {self.store.mcr_id!r} ({self.store.modality}): encode returned NaN or infinite values")
        self._keys.extend(keys)
        self._arrays.append(embeddings)
        self._buffered += len(keys)
        while self._buffered >= self.part_size:
            self._write(self.part_size)

    def flush(self) -> None:
        """Write every buffered row as one part (nothing when the buffer is empty)."""
        if self._buffered:
            self._write(self._buffered)

    def _write(self, count: int) -> None:
        """Write the first ``count`` buffered rows as a part; they leave the buffer only once written."""
        buffered = np.concatenate(self._arrays) if len(self._arrays) > 1 else self._arrays[0]
        part = self.store._add_part(self.rank, self._keys[:count], buffered[:count])
        self.parts.append(part)
        rest = buffered[count:]
        self._arrays = [rest] if len(rest) else []
        self._keys = self._keys[count:]
        self._buffered -= count

    def __enter__(self) -> "PartWriter":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.flush()
