"""`bridge export`: items embedded into a saved space (or one member's MCR space) and written as an embedding folder.

The folder is in the clip-retrieval layout (:mod:`bridge.data.embedding_folder`):
``<modality>_emb/<modality>_emb_<k>.npy`` + ``metadata/metadata_<k>.parquet`` +
``bridge-export.json``, readable by embedding-reader and autofaiss, by
``bridge index --from-folder`` and by the `features` plugin (``folder:``).
Items are embedded a chunk at a time through the embedding cache, so a rerun
encodes nothing; the folder is written to a hidden sibling and renamed into
place when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bridge.data.embedding_folder import INFO_FILE, EmbeddingFolderWriter
from bridge.data.extract import SkippedItem, default_cache_dir
from bridge.data.sources import Item
from bridge.errors import BridgeError, shorten
from bridge.pipeline.embed_stream import AnySpace, ChunkEmbedder, describe
from bridge.progress import Reporter, SilentReporter


@dataclass
class ExportResult:
    """What :func:`export` wrote: ``count`` rows of dimension ``dim`` in ``shards`` shards under ``out``."""

    out: Path
    count: int
    dim: int
    shards: int
    skipped: list[SkippedItem] = field(default_factory=list)


def export(space: AnySpace, modality: str, items: Iterable[Item], out: str | Path, *, member: str | None = None, via: str | None = None,
           dtype: str = "float16", shard_rows: int = 100_000, cache_dir: str | Path | None = None, skip_bad_items: bool = False,
           reporter: Reporter | None = None, space_path: str | Path | None = None, total: int | None = None) -> ExportResult:
    """Embed ``items`` and write them to the embedding folder ``out``.

    Args:
        member: write this member's own MCR embeddings (what the cache holds) instead of joint-space ones.
        via: for a modality several members encode, embed through this member (default: all, averaged).
        dtype: ``float16`` (LAION's choice, half the size) or ``float32``.
        shard_rows: rows per shard.

    Raises:
        BridgeError: ``out`` exists and is not empty, the space has no ``modality``, or no item could be embedded.
    """
    target = Path(out).absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BridgeError(f"-o {shorten(str(target), 200)}: exists and is not an empty folder; choose another path")
    embedder = ChunkEmbedder(space, modality, Path(cache_dir) if cache_dir else default_cache_dir(), via=via, member=member,
                             skip_bad_items=skip_bad_items, reporter=reporter or SilentReporter())
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.exporting-{uuid.uuid4().hex[:8]}")
    try:
        writer = EmbeddingFolderWriter(staging, modality, embedder.dim, dtype, shard_rows)
        for chunk in embedder.chunks(items, total):
            writer.add(chunk.items, chunk.embeddings)
        count = writer.close()
        if count == 0:
            raise BridgeError(f"no {modality} item could be embedded (skipped {len(embedder.skipped)})")
        mcr = space.mcr(member) if member is not None else None
        info = {
            "format": "mcr-bridge-export", "format_version": 1, "modality": modality, "count": count, "dim": embedder.dim,
            "dtype": dtype, "shards": writer.shards, "space": describe(space, space_path), "member": member, "via": via,
            "mcr": None if mcr is None else {"id": mcr.id, "fingerprint": mcr.fingerprint},
            "normalized": True, "skipped": len(embedder.skipped),
        }
        (staging / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(target, count, embedder.dim, writer.shards, embedder.skipped)
