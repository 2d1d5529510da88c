"""Cross-modal search: a FAISS index of one modality's joint-space embeddings, queried from any modality.

An index folder::

    INDEX/
        index.json                 format, modality, N, D, the FAISS factory and its tuned parameter, the space it was built in
        index.faiss                the FAISS index (faiss.write_index)
        metadata/metadata_<k>.parquet   row i of the index: id, path (or text), label
        <modality>_emb/...         the embeddings, only with keep_embeddings (then INDEX is also an export folder)

Python API::

    import bridge
    space = bridge.Bridge.load("runs/synthworld")
    index = bridge.Index.build(space, "image", items, out="runs/images.index")   # items: bridge.Item s (or a generator)
    hits = index.search(space, "audio", ["dog.wav"], k=10)                     # one list of Hit per query

A query is embedded in the same space as the index (any modality the space
holds), so audio finds images. Building streams the items through the
embedding cache chunk by chunk (:mod:`bridge.pipeline.embed_stream`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.data import vector_index
from bridge.data.embedding_folder import METADATA, EmbeddingFolder, EmbeddingFolderWriter, emb_folder_name, read_metadata
from bridge.data.extract import default_cache_dir
from bridge.data.sources import Item
from bridge.errors import BridgeError, quoted, shorten
from bridge.pipeline.embed_stream import AnySpace, ChunkEmbedder, describe, embed_queries, space_signature
from bridge.progress import Reporter, SilentReporter

INDEX_FILE = "index.json"
FAISS_FILE = "index.faiss"
FORMAT = "mcr-bridge-index"
STAGING_ROWS = 100_000


@dataclass(frozen=True)
class Hit:
    """One search result: ``rank`` (1 = best), cosine ``score``, the index ``row`` and its metadata."""

    rank: int
    score: float
    row: int
    id: str
    value: str | None
    label: str | None


class Index:
    """A FAISS index and its row table (see the module docstring). Build with :meth:`build`, open with :meth:`load`.

    Attributes:
        faiss_index: the FAISS index over N unit vectors of dimension D.
        metadata: a pyarrow table of N rows (``id``, ``path`` or ``text``, ``label``).
        info: what ``index.json`` holds.
        directory: the folder it was loaded from or built in (``None`` in memory).
    """

    def __init__(self, faiss_index: Any, metadata: Any, info: dict[str, Any], directory: Path | None = None):
        self.faiss_index, self.metadata, self.info, self.directory = faiss_index, _contiguous(metadata), info, directory
        self.skipped: list[Any] = []
        vector_index.set_parameter(faiss_index, info.get("parameter"), info.get("value"))

    @property
    def modality(self) -> str:
        return self.info["modality"]

    @property
    def dim(self) -> int:
        return int(self.info["dim"])

    def __len__(self) -> int:
        return int(self.faiss_index.ntotal)

    # ----- building ------------------------------------------------------------------------
    @classmethod
    def build(cls, space: AnySpace, modality: str, items: Iterable[Item], out: str | Path | None = None, *, kind: str = "auto",
              via: str | None = None, member: str | None = None, cache_dir: str | Path | None = None, skip_bad_items: bool = False,
              keep_embeddings: bool = False, reporter: Reporter | None = None, space_path: str | Path | None = None,
              total: int | None = None) -> "Index":
        """Embed ``items`` (``modality``) into ``space`` through the cache and index them.

        Args:
            out: the index folder to write (atomically); ``None`` keeps the index in memory only.
            kind: ``auto`` (by size), ``flat``, ``ivf``, ``ivf-sq8`` or ``hnsw``.
            via: for a modality several members encode, embed through this member.
            member: index this member's own MCR embeddings (no projector) instead of the joint space.
            keep_embeddings: keep the float32 embeddings in ``out`` (an export folder).
            space_path: the space's folder, recorded in ``index.json``.
            total: the number of items, if known (for progress).

        Raises:
            BridgeError: ``out`` exists and is not an index folder, the space has no ``modality``, no item could be read.
        """
        reporter = reporter or SilentReporter()
        vector_index.require_faiss()
        target = _check_output(out)
        embedder = ChunkEmbedder(space, modality, Path(cache_dir) if cache_dir else default_cache_dir(), via=via, member=member,
                                 skip_bad_items=skip_bad_items, reporter=reporter)
        staging = Path(tempfile.mkdtemp(prefix=".index-", dir=target.parent if target else None))
        try:
            writer = EmbeddingFolderWriter(staging, modality, embedder.dim, "float32", STAGING_ROWS)
            for chunk in embedder.chunks(items, total):
                writer.add(chunk.items, chunk.embeddings)
            if writer.close() == 0:
                raise BridgeError(f"no {modality} item could be embedded (skipped {len(embedder.skipped)})")
            info = {"space": describe(space, space_path), "member": member, "via": via, "skipped": len(embedder.skipped)}
            index = cls._from_staging(staging, modality, kind, info, keep_embeddings, reporter)
            index.skipped = embedder.skipped
            if target is None:
                return index
            _replace(staging, target)
            index.directory = target
            return index
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def from_folder(cls, folder: str | Path, out: str | Path, modality: str | None = None, *, kind: str = "auto",
                    reporter: Reporter | None = None) -> "Index":
        """Index an existing embedding folder (``bridge export``'s, or clip-retrieval's) without embedding anything."""
        reporter = reporter or SilentReporter()
        vector_index.require_faiss()
        source = EmbeddingFolder.open(folder, modality)
        target = _check_output(out)
        assert target is not None
        staging = Path(tempfile.mkdtemp(prefix=".index-", dir=target.parent))
        try:
            shutil.copytree(source.root / METADATA, staging / METADATA)
            export = source.info()
            info = {"space": export.get("space"), "member": export.get("member"), "via": export.get("via"), "skipped": 0,
                    "from_folder": str(source.root.resolve())}
            index = cls._index(source, staging, kind, info, reporter)
            _replace(staging, target)
            index.directory = target
            return index
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def _from_staging(cls, staging: Path, modality: str, kind: str, info: dict[str, Any], keep: bool, reporter: Reporter) -> "Index":
        folder = EmbeddingFolder.open(staging, modality)
        index = cls._index(folder, staging, kind, info, reporter)
        if not keep:
            shutil.rmtree(staging / emb_folder_name(modality))
        return index

    @classmethod
    def _index(cls, folder: EmbeddingFolder, staging: Path, kind: str, info: dict[str, Any], reporter: Reporter) -> "Index":
        faiss = vector_index.require_faiss()
        faiss_index, plan, facts = vector_index.build(lambda: folder.batches(), folder.count, folder.dim, kind, reporter=reporter)
        info = {"format": FORMAT, "format_version": 1, "modality": folder.modality, "dim": folder.dim, "count": folder.count,
                "kind": plan.kind, "metric": "inner_product", **facts, **info, "faiss_version": faiss.__version__}
        faiss.write_index(faiss_index, str(staging / FAISS_FILE))
        (staging / INDEX_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        return cls(faiss_index, read_metadata(staging), info)

    # ----- reading -------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: str | Path) -> "Index":
        """Open an index folder written by :meth:`build` (``bridge index``).

        Raises:
            BridgeError: the folder is missing, is not an index, or its files disagree.
        """
        directory = Path(directory)
        info = read_info(directory)
        faiss = vector_index.require_faiss()
        try:
            faiss_index = faiss.read_index(str(directory / FAISS_FILE))
        except RuntimeError as error:
            raise BridgeError(f"{directory / FAISS_FILE}: not a readable FAISS index ({shorten(str(error).splitlines()[-1], 160)})") from error
        metadata = read_metadata(directory)
        if faiss_index.ntotal != metadata.num_rows or faiss_index.d != info.get("dim"):
            raise BridgeError(
                f"{directory}: index.faiss holds {faiss_index.ntotal} vectors of D={faiss_index.d}, "
                f"metadata has {metadata.num_rows} rows and index.json says D={info.get('dim')}; rebuild the index"
            )
        return cls(faiss_index, metadata, info, directory)

    # ----- searching -----------------------------------------------------------------------
    def search(self, space: AnySpace, modality: str, queries: Iterable[Any], k: int = 10, *, via: str | None = None,
               check_space: bool = True) -> list[list[Hit]]:
        """The ``k`` nearest indexed items of each query (files or texts of ``modality``), embedded into ``space``.

        Raises:
            BridgeError: ``space`` is not the space the index was built in (unless ``check_space`` is false),
                or it does not encode ``modality``.
        """
        recorded = self.info.get("space") or {}
        if check_space and recorded.get("signature") and recorded["signature"] != space_signature(space):
            raise BridgeError(
                f"the index was built in space {quoted(recorded.get('name'))} ({shorten(str(recorded.get('path')), 120)}), "
                f"not in {quoted(space.name)}; give the bridge it was built with, or rebuild the index"
            )
        member = self.info.get("member")
        if member is not None:  # an index of one member's own MCR embeddings: queries go through that MCR only
            vectors = space.encode(member, modality, list(queries)).detach().cpu().float().numpy()
        else:
            vectors = embed_queries(space, modality, queries, via=via)
        return self.search_vectors(vectors, k)

    def search_vectors(self, vectors: np.ndarray, k: int = 10) -> list[list[Hit]]:
        """The ``k`` nearest rows of each of ``(Q, D)`` query vectors (L2-normalised here), best first."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise BridgeError(f"queries of shape (Q, {self.dim}) expected, got {tuple(vectors.shape)}")
        if k <= 0:
            raise BridgeError(f"-k: expected a positive number, got {k}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1))
        scores, rows = self.faiss_index.search(vectors, min(k, len(self)))
        valid = rows >= 0
        table = self.metadata.take(rows[valid]).to_pydict()  # one look-up for every query's rows
        value_column = "text" if "text" in table else "path"
        ids, values, labels = table["id"], table.get(value_column), table.get("label")
        hits: list[list[Hit]] = []
        position = 0
        for line_scores, line_rows, line_valid in zip(scores, rows, valid):
            count = int(line_valid.sum())
            hits.append([
                Hit(rank, float(score), int(row), str(ids[position + rank - 1]),
                    None if values is None else values[position + rank - 1], None if labels is None else labels[position + rank - 1])
                for rank, (score, row) in enumerate(zip(line_scores[line_valid], line_rows[line_valid]), start=1)
            ])
            position += count
        return hits


def _contiguous(table: Any) -> Any:
    """``table`` with each column in one chunk (row look-ups are ~30x faster), unless a column is too large for one."""
    try:
        return table.combine_chunks()
    except Exception:  # pyarrow.ArrowInvalid: more than 2 GB of strings in one column; keep the shards' chunks
        return table


def read_info(directory: Path) -> dict[str, Any]:
    """``index.json`` of an index folder, checked to be one."""
    path = directory / INDEX_FILE
    if not directory.is_dir():
        raise BridgeError(f"{shorten(str(directory), 200)}: index folder does not exist")
    if not path.is_file():
        raise BridgeError(f"{shorten(str(directory), 200)}: not an index folder (no {INDEX_FILE}); build one with `bridge index`")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BridgeError(f"{path}: unreadable index description ({shorten(str(error), 120)}); rebuild the index") from error
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise BridgeError(f"{path}: not an index description (format {quoted(info.get('format') if isinstance(info, dict) else None)})")
    return info


def _check_output(out: str | Path | None) -> Path | None:
    if out is None:
        return None
    target = Path(out).absolute()
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / INDEX_FILE).is_file())):
        raise BridgeError(f"-o {shorten(str(target), 200)}: exists and is not an index folder; choose another path")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _replace(staging: Path, target: Path) -> None:
    """Move the finished ``staging`` folder to ``target``, replacing an older index there."""
    retired = target.with_name(f".{target.name}.replaced-{uuid.uuid4().hex[:8]}")
    if target.exists():
        os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)
