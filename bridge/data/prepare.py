"""Decoding items ahead of the encoder: content keys, ``prepare`` in worker threads, failures per item.

Helpers of :mod:`bridge.data.extract`: files are hashed and decoded in a
small thread pool while the model encodes the previous batch; an item that
cannot be read becomes a :class:`Failure` naming its reason instead of
stopping other work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

from bridge.core.mcr import MCR
from bridge.data.cache import content_key
from bridge.data.sources import Item
from bridge.errors import ItemError, shorten
from bridge.progress import Reporter

HASH_PROGRESS_MIN_FILES = 2000
"""Show a progress bar for content hashing from this many file items on."""

_HASH_CHUNK = 1024


@dataclass(frozen=True)
class Failure:
    """A ``prepare`` that failed on one item."""

    reason: str
    error: Exception


def item_name(modality: str, item: Item) -> str:
    """How errors name an item: its path, or its id and (shortened) text."""
    if item.is_file:
        return item.value
    return f"{modality} item {shorten(repr(item.id), 60)} ({shorten(repr(item.value), 60)})"


@contextmanager
def thread_pool(workers: int) -> Iterator[ThreadPoolExecutor | None]:
    """A pool of ``workers`` threads (``None`` for 0) that drops queued work on exit."""
    if workers <= 0:
        yield None
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bridge-prepare")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _key_or_error(modality: str, item: Item) -> str | ItemError:
    try:
        return content_key(modality, item)
    except ItemError as error:
        return error


def content_keys(
    modality: str, items: Sequence[Item], pool: ThreadPoolExecutor | None, reporter: Reporter
) -> list[str | ItemError]:
    """The content key (or the read error) of every item, in order.

    Texts are hashed in this thread; files, chunk by chunk, in ``pool``.
    """
    key = partial(_key_or_error, modality)
    file_count = sum(item.is_file for item in items)
    if file_count == 0:
        return [key(item) for item in items]
    run = pool.map if pool is not None else map
    results: list[str | ItemError] = []
    total = file_count if file_count >= HASH_PROGRESS_MIN_FILES else None
    with reporter.task(f"hash {modality} files", total=total) if total else nullcontext() as task:
        for start in range(0, len(items), _HASH_CHUNK):
            chunk = items[start : start + _HASH_CHUNK]
            results.extend(run(key, chunk))
            if task is not None:
                task.advance(sum(item.is_file for item in chunk))
    return results


def prepare_item(mcr: MCR, modality: str, item: Item) -> Any:
    """``mcr.prepare`` of one item, or a :class:`_Failure` when a file cannot be decoded."""
    try:
        return mcr.prepare(modality, item.value)
    except ItemError as error:
        return Failure(error.reason, error)
    except Exception as error:  # any decoder error on a file is that item's problem
        if not item.is_file:
            raise
        return Failure(f"cannot decode ({type(error).__name__}: {error})", error)


def prepared_batches(
    mcr: MCR, modality: str, batches: Sequence[Sequence[tuple[str, Item]]], pool: ThreadPoolExecutor | None
) -> Iterator[tuple[Sequence[tuple[str, Item]], list[Any]]]:
    """Each batch with its prepared inputs; the next batch of files is decoded in ``pool`` meanwhile."""
    prepare = partial(prepare_item, mcr, modality)

    def start(batch: Sequence[tuple[str, Item]]) -> Callable[[], list[Any]]:
        items = [item for _, item in batch]
        if pool is None or not any(item.is_file for item in items):
            return lambda: [prepare(item) for item in items]
        running = pool.map(prepare, items)
        return lambda: list(running)

    pending = start(batches[0]) if batches else None
    for number, batch in enumerate(batches):
        current = pending
        pending = start(batches[number + 1]) if number + 1 < len(batches) else None
        yield batch, current()
