"""The two consoles of the command line, and printing user strings literally.

Every user string (a path, an item, an MCR id, an error) reaches the
terminal as data: :func:`plain` wraps it in a rich ``Text`` so ``[red]`` or
``[/x]`` inside it is printed as it is, never interpreted as markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)


def plain(text: object, style: str | None = None) -> Text:
    """``text`` as a rich ``Text`` that is printed literally."""
    return Text(str(text), style=style or "")


def say(*parts: object, style: str | None = None) -> None:
    """Print ``parts`` (joined by spaces) literally on stdout."""
    console.print(plain(" ".join(str(p) for p in parts), style), soft_wrap=True)


LINE_LIMIT = 1000
"""A warning or error longer than this is cut in the middle (its start names the file or key, its end the problem)."""


def one_line(text: str) -> str:
    """``text`` on one line, cut in the middle past :data:`LINE_LIMIT` characters."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if len(text) > LINE_LIMIT:
        text = f"{text[: LINE_LIMIT * 2 // 3]} … {text[-LINE_LIMIT // 3 :]}"
    return text


def warn(text: str) -> None:
    """One ``warning:`` line on stderr, printed literally."""
    error_console.print(Text("warning: ", style="yellow") + Text(one_line(text)), soft_wrap=True)


def fail(text: str) -> None:
    """One ``error:`` line on stderr, printed literally."""
    error_console.print(Text("error: ", style="bold red") + Text(one_line(text)), soft_wrap=True)


def detail(text: str) -> None:
    """One indented line on stderr below an ``error:`` line (an item of a list the error announced), printed literally."""
    error_console.print(Text("  " + one_line(text)), soft_wrap=True)


def fail_with_details(error: BaseException) -> None:
    """The ``error:`` line of ``error`` and, for an error that lists several inputs, one line per input below it."""
    fail(str(error))
    for line in getattr(error, "listed", ()):
        detail(line)
