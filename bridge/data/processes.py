"""Worker processes for decoding: killed when they overrun the time limit, replaced when they crash.

:class:`ProcessWorkers` has the interface of
:class:`bridge.data.workers.ThreadWorkers`. Each worker process has its own
pipe and runs one item at a time; a dispatcher thread in the parent hands
out items, collects results, kills a worker whose item runs past the time
limit and starts a new one in its place. A worker that dies (a decoder
crash) fails only the item it held.

On Linux the workers are forked, so the function (an MCR's ``prepare``)
is inherited rather than pickled, as torch's DataLoader does; elsewhere
they are spawned and the function must be picklable. Workers ignore
Ctrl-C (the parent stops them), run torch with one thread, and exit when
their parent is gone. Tensors in results travel as numpy arrays (one copy
through the pipe, no shared-memory handles to manage).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from bridge.data.workers import Failure, Task, timeout_failure
from bridge.errors import BridgeError

_JOIN_S = 2.0
_PARENT_CHECK_S = 1.0


def _start_method() -> str:
    return "fork" if sys.platform.startswith("linux") else multiprocessing.get_start_method()


class _Packed:
    """A tensor sent between processes as a numpy array (``dtype`` names the torch dtype)."""

    __slots__ = ("array", "dtype")

    def __init__(self, array: Any, dtype: Any):
        self.array, self.dtype = array, dtype

    def __reduce__(self):
        return (_Packed, (self.array, self.dtype))


def _pack(value: Any) -> Any:
    """``value`` with its CPU tensors as numpy arrays and its failures' errors as plain exceptions."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.device.type == "cpu" and not value.requires_grad and value.dtype != torch.bfloat16:
            return _Packed(value.numpy(), None)
        return value
    if isinstance(value, Failure):
        error = value.error
        plain = RuntimeError(f"{type(error).__name__}: {error}") if error is not None else None
        return Failure(value.reason, plain)
    if isinstance(value, dict):
        return {key: _pack(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(_pack(item) for item in value)
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, _Packed):
        import torch

        return torch.from_numpy(value.array)
    if isinstance(value, dict):
        return {key: _unpack(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(_unpack(item) for item in value)
    return value


def _worker_main(connection: Connection, function: Callable[[Any], Any], parent: int) -> None:
    """A worker process: run ``function`` on each value received, send back ``(ok, payload)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)  # as DataLoader workers do: the parent's threads are the model's
    while True:
        while not connection.poll(_PARENT_CHECK_S):
            if os.getppid() != parent:
                return
        try:
            value = connection.recv()
        except EOFError:
            return
        if value is None:
            return
        try:
            message = (True, _pack(function(value)))
        except Exception as error:  # re-raised in the parent, with this traceback in its message
            message = (False, f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
        try:
            connection.send(message)
        except Exception as error:  # the result cannot be pickled: a problem of the function, not the item
            connection.send((False, f"its result cannot be sent between processes ({type(error).__name__}: {error})"))


class _Worker:
    def __init__(self, context: Any, function: Callable[[Any], Any]):
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, function, os.getpid()), name="bridge-decoding", daemon=True
        )
        self.process.start()
        child.close()
        self.task: Task | None = None

    def stop(self, kill: bool) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.connection.send(None)
            except OSError:
                pass
        self.process.join(_JOIN_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(_JOIN_S)
        self.connection.close()


def _exit_reason(process: Any) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class ProcessWorkers:
    """``count`` worker processes running ``function``; see the module docstring.

    Args:
        function: what to run on each value; with the fork start method
            (Linux) it need not be picklable.
        count: how many processes (>= 1).
        timeout_s: seconds a value may run in a worker (``None``: no limit).
        activity: how a time-out names the work, e.g. ``"decoding"``.
    """

    def __init__(self, function: Callable[[Any], Any], count: int, timeout_s: float | None, activity: str = "decoding"):
        self._function = function
        self._timeout_s = timeout_s
        self._activity = activity
        self._context = multiprocessing.get_context(_start_method())
        self._pending: deque[Task] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._error: BaseException | None = None
        self._wake_reader, self._wake_writer = self._context.Pipe(duplex=False)
        self._workers: list[_Worker] = []
        try:
            for _ in range(max(1, count)):
                self._workers.append(_Worker(self._context, function))
        except BaseException:
            for worker in self._workers:
                worker.stop(kill=True)
            raise
        self._dispatcher = threading.Thread(target=self._dispatch, name="bridge-dispatch", daemon=True)
        self._dispatcher.start()

    def submit(self, value: Any) -> Task:
        task = Task(value)
        with self._lock:
            if self._closed:
                raise BridgeError("the worker pool was closed")
            self._pending.append(task)
        self._wake()
        return task

    def wait(self, task: Task) -> Any:
        """The task's outcome (a :class:`Failure` after a time-out or a worker crash)."""
        while not task.done.wait(0.5):
            if self._error is not None:
                raise BridgeError(f"decoding workers stopped: {self._error}") from self._error
            if self._closed:
                raise BridgeError("the worker pool was closed")
        return task.result()

    def close(self) -> None:
        """Stop the dispatcher and every worker (a worker still busy is killed)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        self._dispatcher.join()
        for worker in self._workers:
            worker.stop(kill=worker.task is not None)
        self._wake_reader.close()
        self._wake_writer.close()

    def _wake(self) -> None:
        try:
            self._wake_writer.send_bytes(b"")
        except OSError:
            pass  # closed: the dispatcher has stopped

    def _dispatch(self) -> None:
        try:
            while not self._closed:
                self._assign()
                ready = wait(self._waitables(), self._seconds_to_deadline())
                if self._wake_reader in ready:
                    while self._wake_reader.poll():
                        self._wake_reader.recv_bytes()
                for index, worker in enumerate(self._workers):
                    if worker.connection in ready or worker.process.sentinel in ready:
                        self._collect(index, worker)
                self._expire()
        except BaseException as error:  # a bug here must not leave the caller waiting forever
            self._error = error

    def _waitables(self) -> list[Any]:
        busy = [worker.connection for worker in self._workers if worker.task is not None]
        return [self._wake_reader, *busy, *(worker.process.sentinel for worker in self._workers)]

    def _assign(self) -> None:
        for worker in self._workers:
            if worker.task is not None:
                continue
            with self._lock:
                if not self._pending:
                    return
                task = self._pending.popleft()
            worker.task = task
            task.start()
            try:
                worker.connection.send(task.value)
            except OSError:
                pass  # the worker died: its sentinel reports it and the task fails as a crash

    def _seconds_to_deadline(self) -> float | None:
        if self._timeout_s is None:
            return None
        starts = [worker.task.started_at for worker in self._workers if worker.task is not None]
        if not starts:
            return None
        return max(0.0, min(starts) + self._timeout_s - time.monotonic())  # type: ignore[type-var]

    def _collect(self, index: int, worker: _Worker) -> None:
        """Take a finished worker's result, or replace a worker that died."""
        if worker.connection.poll():
            try:
                ok, payload = worker.connection.recv()
            except (EOFError, OSError):
                ok, payload = None, None
            if ok is not None and worker.task is not None:
                task, worker.task = worker.task, None
                if ok:
                    task.finish(outcome=_unpack(payload))
                else:
                    task.finish(error=RuntimeError(f"{self._activity} in a worker process failed: {payload}"))
                return
        if worker.process.is_alive():
            return
        task, worker.task = worker.task, None
        reason = f"the decoder crashed (its worker process {_exit_reason(worker.process)})"
        worker.stop(kill=True)
        self._workers[index] = _Worker(self._context, self._function)
        if task is not None:
            task.finish(outcome=Failure(reason, RuntimeError(reason)))

    def _expire(self) -> None:
        if self._timeout_s is None:
            return
        now = time.monotonic()
        for index, worker in enumerate(self._workers):
            task = worker.task
            if task is None or task.started_at is None or now - task.started_at < self._timeout_s:
                continue
            worker.task = None
            worker.stop(kill=True)
            self._workers[index] = _Worker(self._context, self._function)
            task.finish(outcome=timeout_failure(self._activity, self._timeout_s))
