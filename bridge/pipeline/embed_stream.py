"""Items streamed into a saved space in chunks, through the embedding cache: what `export` and `index` share.

:class:`ChunkEmbedder` takes items one at a time (a generator from
:func:`bridge.data.sources.iter_items` never needs to be listed), encodes a
chunk at a time with :func:`bridge.data.extract.extract` (so only what the
cache lacks is encoded, and a rerun reads everything back from the cache),
and projects each chunk into the joint space. Memory is bounded by a chunk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from bridge.core.composed import Space
from bridge.core.space_file import is_space_directory
from bridge.core.registry import Registry
from bridge.core.space import Bridge
from bridge.data.extract import SkippedItem, extract
from bridge.data.sources import Item
from bridge.errors import BridgeError, quoted
from bridge.progress import Reporter, SilentReporter

AnySpace = Union[Bridge, Space]
CHUNK_ROWS = 8192


def open_space(path: str | Path, registry: Registry | None = None) -> AnySpace:
    """A saved bridge folder or a composed space folder (``space.yaml``), loaded for embedding."""
    registry = registry or Registry.from_environment()
    if is_space_directory(path):
        return Space.load(path, mcr_loader=registry.load_mcr)
    return Bridge.load(path, mcr_loader=registry.load_mcr)


def space_signature(space: AnySpace) -> str:
    """A digest of everything that places embeddings in ``space``: members' MCR ids and fingerprints, projector weights."""
    digest = hashlib.sha256(b"bridge-space-v1\0")
    bridges = space.bridges if isinstance(space, Space) else {"": space}
    for name, bridge in bridges.items():
        digest.update(f"bridge {name} dim {bridge.dim}\0".encode())
        for member, record in bridge.spec.members.items():
            digest.update(f"{member}\0{record.id}\0{record.fingerprint}\0{record.dim}\0".encode())
        for key, tensor in sorted(bridge.tensors().items()):
            digest.update(key.encode() + b"\0" + tensor.float().numpy().tobytes())
    if isinstance(space, Space):
        for key, projector in sorted(space.fitted.items()):
            for name, tensor in sorted(projector.state_dict().items()):
                digest.update(f"{key}.{name}\0".encode() + tensor.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()[:32]


@dataclass
class Chunk:
    """Embedded items: ``items[i]`` is row ``i`` of ``embeddings`` (``(n, D)`` float32, rows L2-normalised)."""

    items: list[Item]
    embeddings: np.ndarray


@dataclass
class ChunkEmbedder:
    """Embeds items into ``space`` (or, with ``member``, into that member's own MCR space) chunk by chunk.

    Attributes:
        space: the bridge or composed space.
        modality: the items' modality.
        cache_dir: the embedding cache.
        via: for a modality several members encode: embed through this one (default: all, averaged).
        member: export this member's MCR embeddings as they are (no projector) instead of the joint space.
        skip_bad_items: leave out unreadable items (listed in :attr:`skipped`) instead of stopping.
        chunk_rows: items per chunk.
        reporter: one progress task, advanced per chunk.
        skipped: the items left out so far.
    """

    space: AnySpace
    modality: str
    cache_dir: Path
    via: str | None = None
    member: str | None = None
    skip_bad_items: bool = False
    chunk_rows: int = CHUNK_ROWS
    reporter: Reporter = field(default_factory=SilentReporter)
    skipped: list[SkippedItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        members = self.space.members_for(self.modality)
        if self.member is not None:
            if self.member not in members:
                raise BridgeError(f"{quoted(self.modality)} is not encoded by member {quoted(self.member)}; it is encoded by {', '.join(members)}")
            self.members = [self.member]
        elif self.via is not None:
            if self.via not in members:
                raise BridgeError(f"{quoted(self.modality)} cannot be embedded via {quoted(self.via)}; it is encoded by {', '.join(members)}")
            self.members = [self.via]
        else:
            self.members = members

    @property
    def dim(self) -> int:
        """D of the output: the joint space's, or the member MCR's."""
        return self.space.mcr(self.member).dim if self.member is not None else self.space.dim

    def chunks(self, items: Iterable[Item], total: int | None = None) -> Iterator[Chunk]:
        """The items' embeddings, ``chunk_rows`` items at a time, skipped items left out."""
        stream = iter(items)
        with self.reporter.task(f"embed {self.modality}", total=total) as task:
            while batch := list(islice(stream, self.chunk_rows)):
                chunk = self._embed(batch)
                task.advance(len(batch))
                if chunk.items:
                    yield chunk

    def _embed(self, items: list[Item]) -> Chunk:
        features: dict[str, np.ndarray] = {}
        keep = np.ones(len(items), dtype=bool)
        masks = {}
        for member in self.members:
            mcr = self.space.mcr(member)
            found = extract(mcr, self.modality, items, self.cache_dir, skip_bad_items=self.skip_bad_items)
            bad = {(s.id, s.value) for s in found.skipped}
            mask = np.array([(item.id, item.value) not in bad for item in items], dtype=bool)
            self.skipped.extend(s for s in found.skipped if s not in self.skipped)
            features[member], masks[member] = np.asarray(found.embeddings), mask
            keep &= mask
        kept = [item for item, good in zip(items, keep) if good]
        if not kept:
            return Chunk([], np.empty((0, self.dim), dtype=np.float32))
        rows = {member: features[member][keep[masks[member]]] for member in self.members}
        if self.member is not None:
            embeddings = torch.nn.functional.normalize(torch.from_numpy(np.array(rows[self.member], dtype=np.float32)), dim=-1)
        else:
            tensors = {member: torch.from_numpy(np.array(value, dtype=np.float32)) for member, value in rows.items()}
            embeddings = self.space.embed_features(self.modality, tensors, via=self.via)
        return Chunk(kept, embeddings.detach().cpu().float().numpy())


def embed_queries(space: AnySpace, modality: str, queries: Iterable[Any], via: str | None = None) -> np.ndarray:
    """Query items (paths, texts) → ``(Q, D)`` float32 joint-space embeddings (not cached: queries are few)."""
    values = list(queries)
    if not values:
        raise BridgeError("no queries: give QUERY items or --from-file")
    return space.embed(modality, values, via=via).detach().cpu().float().numpy()


def describe(space: AnySpace, path: str | Path | None) -> dict[str, Any]:
    """What an export or index records about the space it came from."""
    return {
        "path": None if path is None else str(Path(path).resolve()),
        "name": space.name,
        "kind": "space" if isinstance(space, Space) else "bridge",
        "dim": space.dim,
        "signature": space_signature(space),
    }
