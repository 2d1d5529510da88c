"""A rich progress bar per stage: the CLI's :class:`~bridge.progress.Reporter`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from bridge.errors import shorten
from bridge.progress import Task


class _RichTask:
    def __init__(self, progress: Progress, task_id):
        self._progress = progress
        self._task_id = task_id

    def advance(self, amount: float = 1) -> None:
        self._progress.advance(self._task_id, amount)


class RichReporter:
    """Progress bars and messages on a rich console (stderr by default); labels are printed literally."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True, highlight=False)

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Task]:
        columns = (
            TextColumn("{task.description}", markup=False, style="bold"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as progress:
            task_id = progress.add_task(shorten(description, 100), total=total)
            yield _RichTask(progress, task_id)
            if total is not None:
                progress.update(task_id, completed=total)

    def message(self, text: str) -> None:
        self.console.print(Text(shorten(text, 400)), soft_wrap=True)
