"""Progress reporting for long work, independent of any front end.

Engine functions take a :class:`Reporter`; the CLI passes a rich-backed one,
the Python API and tests a silent one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class Task(Protocol):
    def advance(self, amount: float = 1) -> None: ...


class Reporter(Protocol):
    """Creates one progress task per stage and prints short messages."""

    def task(self, description: str, total: float | None) -> "contextmanager[Task]": ...

    def message(self, text: str) -> None: ...


class _SilentTask:
    def advance(self, amount: float = 1) -> None:
        pass


class SilentReporter:
    """Reports nothing (library use, tests)."""

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Task]:
        yield _SilentTask()

    def message(self, text: str) -> None:
        pass


class _RichTask:
    def __init__(self, progress: Progress, task_id):
        self._progress = progress
        self._task_id = task_id

    def advance(self, amount: float = 1) -> None:
        self._progress.advance(self._task_id, amount)


class RichReporter:
    """A progress bar per stage on a rich console (stderr by default)."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Task]:
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as progress:
            task_id = progress.add_task(description, total=total)
            yield _RichTask(progress, task_id)
            if total is not None:
                progress.update(task_id, completed=total)

    def message(self, text: str) -> None:
        self.console.print(text)
