"""Feature extraction: items -> MCR embeddings, through the on-disk cache.

:func:`extract` keys every item by its content, encodes only what the cache
lacks (in batches of ``mcr.batch_size(modality)``) while worker threads or
processes decode the next batches, writes the new embeddings as cache parts
as it goes, and assembles the result from the cache. Memory is bounded by a
few batches and a part, not by the data set; an interrupted run resumes from
the parts already written. A file that cannot be decoded, crashes its worker
process or takes longer than ``decode_timeout_s`` to decode is one
unreadable item: an error naming it, or with ``skip_bad_items`` an entry in
:attr:`Features.skipped`. The embeddings do not depend on the number or kind
of workers: batches are formed from the items in order, whatever finishes first.

Several processes fill one cache with :func:`extract_share`: each encodes
what the cache lacks of its own share of the items (the items at its
positions, :func:`share_of`, or a part a source read for it alone), writes
its own parts, and a later :func:`extract` assembles everything and encodes
nothing. The cached vectors do not depend on how the items were shared.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bridge.data.cache import DEFAULT_PART_SIZE, EmbeddingStore
from bridge.data.prepare import Failure, content_keys, decoding, item_name, prepared
from bridge.data.workers import (
    DEFAULT_DECODE_TIMEOUT_S,
    Workers,
    check_worker_settings,
    default_workers,
)
from bridge.errors import BridgeError, ItemError
from bridge.core.mcr import MCR
from bridge.progress import Reporter, SilentReporter
from bridge.data.sources import Item

VIEW_THRESHOLD_BYTES = 256 * 2**20
"""Results larger than this are memory-mapped files under ``<cache_dir>/views``."""


@dataclass(frozen=True)
class SkippedItem:
    """An item left out because it could not be read or decoded."""

    id: str
    value: str
    reason: str


@dataclass
class Features:
    """Embeddings of a list of items, in item order, skipped items left out.

    Attributes:
        ids: ``N`` item ids.
        labels: ``N`` item labels (``None`` where an item has none).
        embeddings: ``(N, D)`` float32; a read-only memmap when large.
        skipped: items left out (only with ``skip_bad_items``).
        encoded: distinct contents encoded by this call.
        cached: distinct contents found already cached.
    """

    ids: list[str]
    labels: list[str | None]
    embeddings: np.ndarray
    skipped: list[SkippedItem] = field(default_factory=list)
    encoded: int = 0
    cached: int = 0


def default_cache_dir() -> Path:
    """``$BRIDGE_CACHE`` if set (and not empty), else ``~/.cache/mcr-bridge``."""
    configured = os.environ.get("BRIDGE_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "mcr-bridge"


def store_for(mcr: MCR, modality: str, cache_dir: Path) -> EmbeddingStore:
    """The cache store of ``mcr``'s ``modality`` embeddings under ``cache_dir``."""
    return EmbeddingStore(Path(cache_dir), mcr.id, mcr.fingerprint, modality, mcr.dim)


@dataclass(frozen=True)
class _Decode:
    """How items are read and decoded: worker count and kind, time limit per item."""

    workers: int
    kind: str
    timeout_s: float | None


@dataclass
class _Plan:
    """What one call must do: per-item keys, hashing failures and the cache misses."""

    keys: list[str | None]
    failures: dict[int, str]
    misses: list[tuple[str, Item]]
    cached: int


def _plan(
    store: EmbeddingStore,
    modality: str,
    items: Sequence[Item],
    *,
    skip_bad_items: bool,
    decode: _Decode,
    reporter: Reporter,
) -> _Plan:
    """Hash every item's content (in ``decode.workers`` workers) and find which contents ``store`` lacks.

    Raises:
        ItemError: an item cannot be read and ``skip_bad_items`` is false.
    """
    keys: list[str | None] = []
    failures: dict[int, str] = {}
    results = content_keys(modality, items, decode.workers, decode.timeout_s, reporter)
    for index, (item, result) in enumerate(zip(items, results)):
        if isinstance(result, ItemError):
            if not skip_bad_items:
                raise ItemError(item_name(modality, item), result.reason) from result
            failures[index] = result.reason
            keys.append(None)
        else:
            keys.append(result)
    distinct: dict[str, Item] = {}
    for item, key in zip(items, keys):
        if key is not None:
            distinct.setdefault(key, item)
    found = store.lookup(list(distinct))
    misses = [(key, item) for key, item in distinct.items() if key not in found]
    return _Plan(keys=keys, failures=failures, misses=misses, cached=len(distinct) - len(misses))


def _as_float32(embeddings: torch.Tensor | np.ndarray) -> np.ndarray:
    """An encoder's ``(n, D)`` output as a float32 numpy array on the CPU."""
    if isinstance(embeddings, torch.Tensor):
        return embeddings.detach().to("cpu", torch.float32).numpy()
    return np.asarray(embeddings, dtype=np.float32)


def _encode_misses(
    mcr: MCR,
    modality: str,
    store: EmbeddingStore,
    misses: Sequence[tuple[str, Item]],
    *,
    rank: int,
    part_size: int,
    skip_bad_items: bool,
    decode: _Decode,
    reporter: Reporter,
    description: str,
) -> tuple[int, dict[str, str]]:
    """Encode ``misses`` batch by batch into ``store``, decoding up to two batches ahead in workers.

    Returns:
        How many contents were encoded, and ``{key: reason}`` of those skipped.
    """
    batch_size = max(1, int(mcr.batch_size(modality)))
    items = [item for _, item in misses]
    encoded = 0
    failed: dict[str, str] = {}
    with (
        reporter.task(description, total=len(misses)) as task,
        store.writer(rank, part_size) as writer,
        decoding(mcr, modality, items, decode.workers, decode.kind, decode.timeout_s) as pool,
    ):
        outcomes = prepared(mcr, modality, items, pool, ahead=_look_ahead(batch_size, pool, decode.workers))
        for start in range(0, len(misses), batch_size):
            keys: list[str] = []
            inputs: list[Any] = []
            for key, item in misses[start : start + batch_size]:
                outcome = next(outcomes)
                if isinstance(outcome, Failure):
                    if not skip_bad_items:
                        raise ItemError(item_name(modality, item), outcome.reason) from outcome.error
                    failed[key] = outcome.reason
                else:
                    keys.append(key)
                    inputs.append(outcome)
            if inputs:
                with torch.inference_mode():
                    embeddings = mcr.encode(modality, inputs)
                writer.add(keys, _as_float32(embeddings))
                encoded += len(keys)
            task.advance(len(misses[start : start + batch_size]))
    return encoded, failed


def _look_ahead(batch_size: int, pool: Workers | None, workers: int) -> int:
    """Items decoded ahead of the encoder: the next two batches, and at least two per worker."""
    if pool is None:
        return 1
    return max(2 * batch_size, 2 * workers)


def _view_path(store: EmbeddingStore, keys: Sequence[str], cache_dir: Path) -> Path:
    digest = hashlib.sha256(str(store.directory).encode("utf-8") + b"\0")
    for key in keys:
        digest.update(key.encode("ascii") + b"\n")
    return Path(cache_dir) / "views" / f"{digest.hexdigest()[:32]}.npy"


def _assemble(store: EmbeddingStore, keys: Sequence[str], cache_dir: Path, view_threshold_bytes: int) -> np.ndarray:
    """The ``(N, D)`` float32 embeddings of ``keys``: in memory, or a read-only memmap when large."""
    if len(keys) * store.dim * 4 <= view_threshold_bytes:
        return store.gather(keys, np.empty((len(keys), store.dim), dtype=np.float32))
    path = _view_path(store, keys, cache_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.npy.tmp")
        view = store.gather(keys, temporary)
        del view
        os.replace(temporary, path)
    view = np.load(path, mmap_mode="r")
    if view.shape != (len(keys), store.dim) or view.dtype != np.float32:
        raise BridgeError(f"{path}: cached view has shape {view.shape}, expected {(len(keys), store.dim)}; delete it")
    return view


def _check_arguments(
    mcr: MCR, modality: str, part_size: int, workers: int | None, worker_kind: str, decode_timeout_s: float | None
) -> _Decode:
    """Check :func:`extract`'s arguments before any work; returns the decoding settings they give."""
    mcr.check_modality(modality)
    if part_size <= 0:
        raise BridgeError(f"part_size must be positive, got {part_size}")
    count = default_workers() if workers is None else workers
    check_worker_settings(count, worker_kind, decode_timeout_s)
    return _Decode(count, worker_kind, decode_timeout_s)


def _encode_uncached(
    mcr: MCR, modality: str, items: Sequence[Item], cache_dir: Path, *, rank: int, skip_bad_items: bool, reporter: Reporter,
    description: str, part_size: int, workers: int | None, worker_kind: str, decode_timeout_s: float | None,
) -> tuple[EmbeddingStore, _Plan, int, dict[str, str]]:
    """Check the arguments, hash ``items`` and encode the contents the cache lacks into parts named by ``rank``.

    Returns:
        The store, the plan (keys, hashing failures, misses), how many contents were encoded, and
        ``{key: reason}`` of those skipped while decoding.
    """
    decode = _check_arguments(mcr, modality, part_size, workers, worker_kind, decode_timeout_s)
    store = store_for(mcr, modality, cache_dir)
    plan = _plan(store, modality, items, skip_bad_items=skip_bad_items, decode=decode, reporter=reporter)
    if not plan.misses:
        return store, plan, 0, {}
    encoded, failed = _encode_misses(mcr, modality, store, plan.misses, rank=rank, part_size=part_size,
                                     skip_bad_items=skip_bad_items, decode=decode, reporter=reporter, description=description)
    return store, plan, encoded, failed


def extract(
    mcr: MCR,
    modality: str,
    items: Sequence[Item],
    cache_dir: Path,
    *,
    skip_bad_items: bool = False,
    reporter: Reporter | None = None,
    description: str | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    workers: int | None = None,
    worker_kind: str = "threads",
    decode_timeout_s: float | None = DEFAULT_DECODE_TIMEOUT_S,
    view_threshold_bytes: int = VIEW_THRESHOLD_BYTES,
) -> Features:
    """Embed ``items`` with ``mcr``, encoding only what ``cache_dir`` does not hold yet.

    Args:
        mcr: the model; its ``id``, ``fingerprint`` and ``dim`` key the cache.
        modality: which of ``mcr.modalities`` the items are.
        items: ``N`` items (texts or file paths).
        cache_dir: root of the embedding cache (see :func:`default_cache_dir`).
        skip_bad_items: leave out (and list) unreadable items instead of raising.
        reporter: progress bars (default: silent).
        description: label of the encoding progress bar.
        part_size: rows per cache part; an interruption loses at most this many.
        workers: how many workers read and decode file items while the model
            encodes (default: the usable CPU cores, at most 8; 0: decode in
            this thread, one item at a time, with no time limit).
        worker_kind: ``"threads"`` (default) or ``"processes"``. Processes
            help only when ``mcr.prepare`` holds the GIL; they are forked on
            Linux (elsewhere ``mcr`` must be picklable), killed when an item
            overruns the time limit, and contain a decoder crash.
        decode_timeout_s: seconds one file may take to decode (or to read
            while hashing) before it counts as unreadable (``None``: no limit).
        view_threshold_bytes: results larger than this are returned as a
            read-only memmap under ``<cache_dir>/views``.

    Returns:
        :class:`Features` with ``(N', D)`` float32 embeddings, ``N'`` = ``N``
        minus the skipped items, in item order.

    Raises:
        ItemError: an item cannot be read or decoded (names its path) and
            ``skip_bad_items`` is false.
        BridgeError: bad arguments (``part_size``, ``workers``, ...).
    """
    reporter = reporter or SilentReporter()
    store, plan, encoded, failed = _encode_uncached(
        mcr, modality, items, cache_dir, rank=0, skip_bad_items=skip_bad_items, reporter=reporter,
        description=description or f"encode {modality} with {mcr.id}",
        part_size=part_size, workers=workers, worker_kind=worker_kind, decode_timeout_s=decode_timeout_s,
    )
    kept: list[int] = []
    skipped: list[SkippedItem] = []
    for index, (item, key) in enumerate(zip(items, plan.keys)):
        reason = plan.failures.get(index) if key is None else failed.get(key)
        if reason is None:
            kept.append(index)
        else:
            skipped.append(SkippedItem(id=item.id, value=item.value, reason=reason))
    if skipped:
        first = skipped[0]
        reporter.message(f"{modality}: skipped {len(skipped)} unreadable item(s), e.g. {first.value} ({first.reason})")
    keys = [plan.keys[index] for index in kept]
    return Features(
        ids=[items[index].id for index in kept],
        labels=[items[index].label for index in kept],
        embeddings=_assemble(store, keys, cache_dir, view_threshold_bytes),  # type: ignore[arg-type]
        skipped=skipped,
        encoded=encoded,
        cached=plan.cached,
    )


def share_of(items: Sequence[Item], rank: int, world_size: int) -> Sequence[Item]:
    """Rank ``rank``'s share of ``items`` among ``world_size``: positions ``rank, rank + world_size, ...``.

    Chosen by position, not by content key, so a rank hashes only its own
    files; the shares are disjoint and cover every position, and their sizes
    differ by at most one.
    """
    return items[rank::world_size]


@dataclass(frozen=True)
class ShardCounts:
    """What one rank's :func:`extract_share` did in its share: distinct contents it ``encoded``, found
    ``cached`` and ``missing`` when it started, and items ``skipped`` (unreadable or undecodable). Sum them
    over the ranks for the totals."""

    encoded: int
    cached: int
    missing: int
    skipped: int


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
    """Encode the uncached contents of ``items``, this rank's share, into ``cache_dir``; assemble nothing.

    The share does not depend on timing or on what other ranks already
    wrote, so ranks ``0..world_size-1`` (processes, or machines sharing
    ``cache_dir``) together encode every missing item; a content in two
    ranks' shares is encoded by both (the cache keeps the first part that
    holds it: same content, same vector). ``rank`` names this rank's cache
    parts (``part-<rank>-...``); the other arguments are :func:`extract`'s.

    Raises:
        ItemError: an item cannot be read or decoded and ``skip_bad_items`` is false.
    """
    _, plan, encoded, failed = _encode_uncached(
        mcr, modality, items, cache_dir, rank=rank, skip_bad_items=skip_bad_items, reporter=reporter or SilentReporter(),
        description=description or f"encode {modality} with {mcr.id} (rank {rank})",
        part_size=part_size, workers=workers, worker_kind=worker_kind, decode_timeout_s=decode_timeout_s,
    )
    return ShardCounts(encoded, plan.cached, len(plan.misses), len(plan.failures) + len(failed))
