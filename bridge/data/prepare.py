"""Reading and decoding items for extraction: content keys, ``MCR.prepare`` in workers, one failure per item.

Helpers of :mod:`bridge.data.extract`. Files are hashed in worker threads
and decoded in worker threads or processes (:mod:`bridge.data.workers`)
while the model encodes earlier batches. An item that cannot be read, whose
decoder fails, crashes its worker process or runs past the time limit
becomes a :class:`Failure` naming the reason instead of stopping other work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import Any

from bridge.core.mcr import MCR
from bridge.data.cache import content_key
from bridge.data.sources import Item
from bridge.data.processes import ProcessWorkers
from bridge.data.workers import Failure, ThreadWorkers, Workers, run_ahead
from bridge.errors import ItemError, shorten
from bridge.progress import Reporter

__all__ = ["Failure", "content_keys", "decoding", "item_name", "prepare_item", "prepared"]

HASH_PROGRESS_MIN_FILES = 2000
"""Show a progress bar for content hashing from this many file items on."""

_HASH_AHEAD = 256


def item_name(modality: str, item: Item) -> str:
    """How errors name an item: its path, or its id and (shortened) text."""
    if item.is_file:
        return item.value
    return f"{modality} item {shorten(repr(item.id), 60)} ({shorten(repr(item.value), 60)})"


def _is_file(item: Item) -> bool:
    return item.is_file


def _key_or_error(modality: str, item: Item) -> str | ItemError:
    try:
        return content_key(modality, item)
    except ItemError as error:
        return error


def content_keys(
    modality: str, items: Sequence[Item], workers: int, timeout_s: float | None, reporter: Reporter
) -> list[str | ItemError]:
    """The content key (or the read error) of every item, in order.

    Texts are hashed in this thread; files in ``workers`` threads (in this
    thread for 0), each within ``timeout_s`` seconds.
    """
    key = partial(_key_or_error, modality)
    file_count = sum(item.is_file for item in items)
    if file_count == 0:
        return [key(item) for item in items]
    pool = ThreadWorkers(key, workers, timeout_s, activity="reading the file") if workers > 0 else None
    results: list[str | ItemError] = []
    show = file_count >= HASH_PROGRESS_MIN_FILES
    try:
        with reporter.task(f"hash {modality} files", total=file_count) if show else nullcontext() as task:
            for item, outcome in zip(items, run_ahead(pool, key, items, _is_file, _HASH_AHEAD)):
                if isinstance(outcome, Failure):
                    outcome = ItemError(item.value, outcome.reason)
                results.append(outcome)
                if task is not None and item.is_file:
                    task.advance(1)
    finally:
        if pool is not None:
            pool.close()
    return results


def prepare_item(mcr: MCR, modality: str, item: Item) -> Any:
    """``mcr.prepare`` of one item, or a :class:`Failure` when a file cannot be decoded."""
    try:
        return mcr.prepare(modality, item.value)
    except ItemError as error:
        return Failure(error.reason, error)
    except Exception as error:  # any decoder error on a file is that item's problem
        if not item.is_file:
            raise
        return Failure(f"cannot decode ({type(error).__name__}: {error})", error)


@contextmanager
def decoding(
    mcr: MCR, modality: str, items: Sequence[Item], workers: int, kind: str, timeout_s: float | None
) -> Iterator[Workers | None]:
    """Workers running ``prepare_item`` for ``mcr``'s ``modality``; ``None`` for 0 workers or no file items.

    Worker processes are started here (forked, on Linux), so only when
    there is a file to decode; all workers are stopped on exit.
    """
    if workers <= 0 or not any(item.is_file for item in items):
        yield None
        return
    prepare = partial(prepare_item, mcr, modality)
    pool: Workers
    if kind == "processes":
        pool = ProcessWorkers(prepare, workers, timeout_s, activity="decoding")
    else:
        pool = ThreadWorkers(prepare, workers, timeout_s, activity="decoding")
    try:
        yield pool
    finally:
        pool.close()


def prepared(
    mcr: MCR, modality: str, items: Sequence[Item], pool: Workers | None, ahead: int
) -> Iterator[Any]:
    """Each item's prepared input (or :class:`Failure`), in order; files are decoded in ``pool``, ``ahead`` early."""
    return run_ahead(pool, partial(prepare_item, mcr, modality), items, _is_file, ahead)
