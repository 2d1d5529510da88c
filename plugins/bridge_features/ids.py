"""The ids files of the `features` plugin (no torch: `recipe check` reads them too)."""

from __future__ import annotations

from pathlib import Path

from bridge import BridgeError


def read_ids(path: Path) -> list[str]:
    """The ids of a text file, one a line (surrounding spaces stripped; none blank, none repeated)."""
    if not path.is_file():
        raise BridgeError(f"{path}: ids file does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise BridgeError(f"{path}: expected a UTF-8 text file of ids, one a line ({error.reason})") from error
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        item_id = line.strip()
        if not item_id:
            raise BridgeError(f"{path}:{number}: blank line; expected one id a line")
        if item_id in first_line:
            raise BridgeError(f"{path}:{number}: duplicate id {item_id[:80]!r} (first on line {first_line[item_id]}); ids must be unique")
        first_line[item_id] = number
    return list(first_line)
