"""Media file paths named by annotation rows: resolved, optionally checked, built from templates."""

from __future__ import annotations

import re
from pathlib import Path

from bridge import BridgeError
from bridge_datasets.rows import Row

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def media_file(name: str, folder: Path, check: bool, where: str) -> str:
    """The absolute path of ``name`` (relative to ``folder``), checked to exist when ``check``.

    Args:
        name: a file name or relative (or absolute) path from an annotation.
        folder: what relative names resolve against.
        check: raise when the file does not exist.
        where: ``file:line`` of the annotation, for the message.
    """
    path = Path(name).expanduser()
    path = path if path.is_absolute() else folder / path
    if check and not path.is_file():
        raise BridgeError(f"{where}: media file {path} does not exist")
    return str(path.resolve())


def fill_template(template: str, row: Row, where: str) -> str:
    """``template`` with each ``{column}`` replaced by the row's value (no other formatting).

    Raises:
        BridgeError: a placeholder names no column of the row.
    """

    def value(match: re.Match[str]) -> str:
        column = match.group(1)
        if column not in row:
            raise BridgeError(f"{where}: the file-name template {template!r} names {{{column}}}, which is not a column here")
        return str(row[column]).strip()

    return PLACEHOLDER.sub(value, template)


def check_template(template: str, columns: tuple[str, ...], option: str) -> None:
    """Refuse a template with placeholders outside ``columns`` before any row is read."""
    unknown = [name for name in PLACEHOLDER.findall(template) if name not in columns]
    if unknown:
        raise BridgeError(
            f"{option}: {template!r} names {', '.join('{' + name + '}' for name in unknown)}; "
            f"it may use {', '.join('{' + name + '}' for name in columns)}"
        )
