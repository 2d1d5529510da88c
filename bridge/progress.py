"""Progress reporting for long work: the small callback interface the engine talks to.

Engine functions take a :class:`Reporter`; the CLI passes a rich-backed one
(``bridge.cli.progress``), the Python API and tests a silent one. Nothing
below the CLI imports a presentation library.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Task(Protocol):
    """One running stage; ``advance`` adds completed units."""

    def advance(self, amount: float = 1) -> None: ...


class Reporter(Protocol):
    """Creates one progress task per stage and prints short messages (user text is shown literally)."""

    def task(self, description: str, total: float | None) -> AbstractContextManager[Task]: ...

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
