"""Worker pools that run one function per item with a time limit: threads, or processes.

:func:`run_ahead` is how extraction uses them: it yields each item's outcome
in item order, keeping up to ``ahead`` items submitted beyond the one the
caller is waiting for, so the workers decode the next batches while the
caller encodes the current one. Outcomes never depend on timing or on the
number of workers, except that an item whose function runs longer than the
time limit becomes a :class:`Failure` (``"decoding took longer than 60 s"``).

- :class:`ThreadWorkers` (the default): daemon threads. Image and audio
  decoders (PIL, libsndfile, soxr) and torch release the GIL, so threads
  decode in parallel without copying results between processes. A thread
  cannot be stopped: one that overruns the limit is abandoned (it finishes
  or hangs on its own, never blocking exit) and a fresh thread takes its
  place, so the pool keeps its size.
- :class:`~bridge.data.processes.ProcessWorkers`: worker processes, for
  decoders that hold the GIL. A worker that overruns the limit is killed and
  replaced; one that crashes (a decoder segfault) fails only its own item.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.errors import BridgeError

WORKER_KINDS = ("threads", "processes")
DEFAULT_DECODE_TIMEOUT_S = 60.0
"""Seconds one item may take to decode before it counts as unreadable."""
MAX_DEFAULT_WORKERS = 8
_POLL_S = 0.5


def default_workers() -> int:
    """The default number of decoding workers: the CPU cores this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_WORKERS, cores))


@dataclass(frozen=True)
class Failure:
    """An item whose decoding failed, timed out or crashed its worker; ``reason`` is shown to the user."""

    reason: str
    error: BaseException | None = None


def format_seconds(seconds: float) -> str:
    """``60.0`` -> ``"60 s"``, ``0.25`` -> ``"0.25 s"``."""
    return f"{seconds:g} s"


def check_worker_settings(workers: int, kind: str, timeout_s: float | None) -> None:
    """Raise a :class:`BridgeError` for a worker count, kind or time limit that cannot work."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise BridgeError(f"workers must be a whole number >= 0, got {workers!r}")
    if kind not in WORKER_KINDS:
        raise BridgeError(f"worker kind must be one of {', '.join(WORKER_KINDS)}, got {kind!r}")
    if timeout_s is not None and not timeout_s > 0:
        raise BridgeError(f"the decode time limit must be positive seconds (or none), got {timeout_s!r}")


class Task:
    """One submitted item: when it started, and its outcome once done (the first outcome set wins)."""

    __slots__ = ("value", "started_at", "started", "done", "outcome", "error", "_lock")

    def __init__(self, value: Any):
        self.value = value
        self.started_at: float | None = None
        self.started = threading.Event()
        self.done = threading.Event()
        self.outcome: Any = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.started.set()

    def finish(self, outcome: Any = None, error: BaseException | None = None) -> bool:
        """Set the outcome (or the exception to re-raise) unless one is set already; whether this one counts."""
        with self._lock:
            if self.done.is_set():
                return False
            self.outcome, self.error = outcome, error
            self.done.set()
            return True

    def result(self) -> Any:
        """The outcome, or the function's exception re-raised in the caller."""
        if self.error is not None:
            raise self.error
        return self.outcome


class Workers(Protocol):
    """A pool running its function on submitted values; :meth:`wait` gives a task's outcome."""

    def submit(self, value: Any) -> Task: ...

    def wait(self, task: Task) -> Any: ...

    def close(self) -> None: ...


def timeout_failure(activity: str, timeout_s: float) -> Failure:
    reason = f"{activity} took longer than {format_seconds(timeout_s)}"
    return Failure(reason, TimeoutError(reason))


class ThreadWorkers:
    """``count`` daemon threads running ``function``; a task over ``timeout_s`` is abandoned and its thread replaced.

    Args:
        function: what to run on each submitted value (exceptions reach :meth:`wait`'s caller).
        count: how many threads run at once (>= 1).
        timeout_s: seconds a task may run once started (``None``: no limit).
        activity: how a time-out names the work, e.g. ``"decoding"``.
    """

    _serial = itertools.count()

    def __init__(self, function: Callable[[Any], Any], count: int, timeout_s: float | None, activity: str = "decoding"):
        self._function = function
        self._timeout_s = timeout_s
        self._activity = activity
        self._queue: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._closed = False
        self._live = 0
        self._lock = threading.Lock()
        for _ in range(max(1, count)):
            self._spawn()

    def _spawn(self) -> None:
        with self._lock:
            self._live += 1
        name = f"bridge-{self._activity.replace(' ', '-')}-{next(self._serial)}"
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None or self._closed:
                break
            task.start()
            try:
                counted = task.finish(outcome=self._function(task.value))
            except BaseException as error:  # handed to the waiting caller, which re-raises it
                counted = task.finish(error=error)
            if not counted:  # abandoned after the time limit: a replacement thread already runs
                break
        with self._lock:
            self._live -= 1

    def submit(self, value: Any) -> Task:
        task = Task(value)
        self._queue.put(task)
        return task

    def wait(self, task: Task) -> Any:
        """The task's outcome; a :class:`Failure` once it has run longer than the time limit.

        Tasks start in submission order and the caller waits for them in
        that order, so every task before this one has finished or been
        abandoned (and its thread replaced): this one starts as soon as a
        thread is free.
        """
        while not task.started.wait(_POLL_S):
            if self._closed:
                raise BridgeError("the worker pool was closed")
        if self._timeout_s is None:
            task.done.wait()
            return task.result()
        assert task.started_at is not None
        remaining = task.started_at + self._timeout_s - time.monotonic()
        if not task.done.wait(max(remaining, 0.0)) and task.finish(outcome=timeout_failure(self._activity, self._timeout_s)):
            self._spawn()
        return task.result()

    def close(self) -> None:
        """Drop queued tasks and let idle threads end (a thread busy with a task ends after it)."""
        self._closed = True
        with self._lock:
            live = self._live
        for _ in range(live):
            self._queue.put(None)


def run_ahead(
    workers: Workers | None,
    function: Callable[[Any], Any],
    values: Iterable[Any],
    pooled: Callable[[Any], bool],
    ahead: int,
) -> Iterator[Any]:
    """``function(value)`` for each value, in order; pooled values run in ``workers``, up to ``ahead`` early.

    Values for which ``pooled(value)`` is false (texts: cheap) and all values
    when ``workers`` is ``None`` run in the caller's thread when reached,
    with no time limit.
    """
    pending: deque[tuple[Any, Task | None]] = deque()
    source = iter(values)
    exhausted = False
    while True:
        while not exhausted and len(pending) < max(1, ahead):
            value = next(source, _END)
            if value is _END:
                exhausted = True
                break
            use_pool = workers is not None and pooled(value)
            pending.append((value, workers.submit(value) if use_pool else None))  # type: ignore[union-attr]
        if not pending:
            return
        value, task = pending.popleft()
        yield function(value) if task is None else workers.wait(task)  # type: ignore[union-attr]


_END = object()
