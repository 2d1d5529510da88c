"""One rank's share of an extraction: several processes (or machines) fill one cache together.

Each of ``world_size`` ranks encodes the uncached contents of its share and
writes its own cache parts; a later :func:`bridge.data.extract.extract`
assembles every item from the cache and encodes nothing. Two ways to get a share:

- :func:`extract_shard`: every rank is given all the items and keeps those
  at positions ``rank, rank + world_size, ...`` (:func:`share_of`), hashing
  and decoding only those;
- :func:`extract_share`: the rank is given its share already, e.g. read from
  its own tar shards by a source that can list one reader's part
  (:func:`bridge.data.sources.read_share`), so that no rank reads another's data.

The cached vectors do not depend on how the items were shared: the cache is
keyed by content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bridge.core.mcr import MCR
from bridge.data.cache import DEFAULT_PART_SIZE
from bridge.data.extract import check_extract_arguments, encode_misses, plan_extraction, store_for
from bridge.data.sources import Item
from bridge.data.workers import DEFAULT_DECODE_TIMEOUT_S
from bridge.errors import BridgeError
from bridge.progress import Reporter, SilentReporter


@dataclass(frozen=True)
class ShardCounts:
    """What one rank's call did in its share: distinct contents it ``encoded``, found ``cached`` and
    ``missing`` when it started, and items ``skipped`` (unreadable or undecodable). Sum them over the ranks
    for the totals."""

    encoded: int
    cached: int
    missing: int
    skipped: int


def share_of(items: Sequence[Item], rank: int, world_size: int) -> Sequence[Item]:
    """Rank ``rank``'s share of ``items`` among ``world_size``: positions ``rank, rank + world_size, ...``.

    Chosen by position, not by content key, so a rank hashes only its own
    files; the shares are disjoint and cover every position, and their sizes
    differ by at most one.
    """
    return items[rank::world_size]


def extract_share(
    mcr: MCR,
    modality: str,
    items: Sequence[Item],
    cache_dir: Path,
    *,
    rank: int,
    skip_bad_items: bool = False,
    reporter: Reporter | None = None,
    description: str | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    workers: int | None = None,
    worker_kind: str = "threads",
    decode_timeout_s: float | None = DEFAULT_DECODE_TIMEOUT_S,
) -> ShardCounts:
    """Encode the uncached contents of ``items``, which are this rank's share already, into ``cache_dir``.

    ``rank`` names this rank's cache parts (``part-<rank>-...``); the other
    arguments are :func:`~bridge.data.extract.extract`'s.

    Raises:
        ItemError: an item cannot be read or decoded and ``skip_bad_items`` is false.
    """
    decode = check_extract_arguments(mcr, modality, part_size, workers, worker_kind, decode_timeout_s)
    reporter = reporter or SilentReporter()
    store = store_for(mcr, modality, cache_dir)
    plan = plan_extraction(store, modality, items, skip_bad_items=skip_bad_items, decode=decode, reporter=reporter)
    if not plan.misses:
        return ShardCounts(0, plan.cached, 0, len(plan.failures))
    encoded, failed = encode_misses(
        mcr,
        modality,
        store,
        plan.misses,
        rank=rank,
        part_size=part_size,
        skip_bad_items=skip_bad_items,
        decode=decode,
        reporter=reporter,
        description=description or f"encode {modality} with {mcr.id} (rank {rank})",
    )
    return ShardCounts(encoded, plan.cached, len(plan.misses), len(plan.failures) + len(failed))


def extract_shard(
    mcr: MCR,
    modality: str,
    items: Sequence[Item],
    cache_dir: Path,
    *,
    rank: int,
    world_size: int,
    skip_bad_items: bool = False,
    reporter: Reporter | None = None,
    description: str | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    workers: int | None = None,
    worker_kind: str = "threads",
    decode_timeout_s: float | None = DEFAULT_DECODE_TIMEOUT_S,
) -> ShardCounts:
    """Encode the uncached contents of this rank's share of ``items`` (:func:`share_of`) into ``cache_dir``.

    The share does not depend on timing or on what other ranks already
    wrote, so ``world_size`` processes (or machines sharing ``cache_dir``)
    running this with ranks ``0..world_size-1`` together encode every
    missing item; only a content that appears at positions of two ranks'
    shares is encoded by both (the cache keeps the first part that holds it:
    same content, same vector).

    Raises:
        ItemError: an item of this rank's share cannot be read or decoded and
            ``skip_bad_items`` is false.
        BridgeError: ``rank`` is not in ``0..world_size-1``.
    """
    if world_size <= 0 or not 0 <= rank < world_size:
        raise BridgeError(f"rank must be in 0..world_size-1, got rank {rank} of world size {world_size}")
    return extract_share(
        mcr, modality, share_of(items, rank, world_size), cache_dir, rank=rank, skip_bad_items=skip_bad_items,
        reporter=reporter, description=description or f"encode {modality} with {mcr.id} (rank {rank}/{world_size})",
        part_size=part_size, workers=workers, worker_kind=worker_kind, decode_timeout_s=decode_timeout_s,
    )
