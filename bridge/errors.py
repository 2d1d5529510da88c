"""User-facing errors, and how user-given strings are echoed in them.

Every problem a user can fix (a bad recipe key, a missing file, an unknown
plugin) is raised as a :class:`BridgeError` whose message is one line that
names the file, key or item and says what was expected. The CLI prints that
line literally (no markup) and exits non-zero; it never shows a traceback
unless ``--debug``.

User strings are data: :func:`shorten` and :func:`quoted` cut them to a
bounded length before they are echoed, so a 10 MB value or a YAML alias bomb
never becomes a 10 MB error line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ECHO_LIMIT = 80
"""Characters of a user value echoed in a message before it is cut."""


def shorten(text: str, limit: int = ECHO_LIMIT, count: bool = True) -> str:
    """``text`` on one line, cut to about ``limit`` characters (``…``, and the full length if ``count``, mark a cut)."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}…" + (f" ({len(text)} characters)" if count else "")


def quoted(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters; safe for huge or deeply nested values."""
    if isinstance(value, (dict, list, tuple, set)):
        text = _bounded_repr(value, limit)
    else:
        text = repr(value) if not isinstance(value, str) else repr(value[: limit * 2])
    return shorten(text, limit, count=False)


def _bounded_repr(value: Any, limit: int) -> str:
    """A repr that stops growing after ``limit`` characters (alias bombs expand to gigabytes)."""
    parts: list[str] = []
    size = 0

    def walk(node: Any, depth: int) -> None:
        nonlocal size
        if size > limit:
            return
        if depth > 8:
            parts.append("…")
            size += 1
            return
        if isinstance(node, dict):
            parts.append("{")
            for index, (key, item) in enumerate(node.items()):
                if size > limit:
                    break
                parts.append(("" if index == 0 else ", ") + repr(key)[:limit] + ": ")
                size += len(parts[-1])
                walk(item, depth + 1)
            parts.append("}")
        elif isinstance(node, (list, tuple, set)):
            parts.append("[")
            for index, item in enumerate(node):
                if size > limit:
                    break
                if index:
                    parts.append(", ")
                walk(item, depth + 1)
            parts.append("]")
        else:
            parts.append(repr(node)[: limit + 1])
        size += len(parts[-1])

    walk(value, 0)
    return "".join(parts)


class BridgeError(Exception):
    """A problem with the user's input, reported as one clear line."""


class ItemError(BridgeError):
    """One data item (a file, a line of a manifest) could not be read or decoded."""

    def __init__(self, item: str, reason: str):
        super().__init__(f"{shorten(item, 200)}: {reason}")
        self.item = item
        self.reason = reason


@dataclass(frozen=True)
class MissingInput:
    """One input a run needs that is not on this machine: what an MCR or source type's ``missing_inputs`` hook returns.

    Attributes:
        key: the option it concerns (``checkpoint``, ``csv``), or ``""`` when it is no option's value.
        path: where the file or folder is expected (absolute).
        how: what to download and where to put it, or how to make it.
    """

    key: str
    path: str
    how: str


class MissingInputs(BridgeError):
    """Everything a run needs that is not on this machine, found before any work (``recipe check``, ``connect``).

    :attr:`missing` holds one line per input: the recipe key, the path, and how to get it.
    ``str(error)`` is one line: that input's line when only one is missing, else a
    summary (``recipes/x.yaml: 9 inputs are missing (listed below)``) that the CLI
    prints as its ``error:`` line, with the inputs below it (:attr:`listed`).
    """

    def __init__(self, missing: list[str], where: str = ""):
        self.missing = list(missing)
        self.where = where
        prefix = f"{where}: " if where else ""
        if len(self.missing) == 1:
            super().__init__(f"{prefix}{self.missing[0]}")
        else:
            super().__init__(f"{prefix}{len(self.missing)} inputs are missing (listed below)")

    @property
    def listed(self) -> list[str]:
        """The lines to print below the error line (none when the error line is the only missing input)."""
        return self.missing if len(self.missing) > 1 else []

    def located(self, where: str) -> "MissingInputs":
        """The same inputs, the summary naming ``where`` (the recipe file)."""
        return MissingInputs(self.missing, where)
