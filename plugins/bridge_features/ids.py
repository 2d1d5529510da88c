"""The ids files of the `features` plugin (no torch: `recipe check` reads them too)."""

from __future__ import annotations

from pathlib import Path

from bridge import BridgeError
from bridge.errors import shorten


def read_ids(path: Path) -> list[str]:
    """The ids of a text file, one a line (surrounding spaces stripped; none blank, none repeated)."""
    where = shorten(str(path), 200)
    try:
        if not path.is_file():
            raise BridgeError(f"{where}: ids file does not exist")
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise BridgeError(f"{where}: expected a UTF-8 text file of ids, one a line ({error.reason})") from error
    except OSError as error:  # a name too long, a symlink loop, no permission
        raise BridgeError(f"{where}: cannot read the ids file ({error.strerror or type(error).__name__})") from error
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        item_id = line.strip()
        if not item_id:
            raise BridgeError(f"{where}:{number}: blank line; expected one id a line")
        if item_id in first_line:
            raise BridgeError(f"{where}:{number}: duplicate id {item_id[:80]!r} (first on line {first_line[item_id]}); ids must be unique")
        first_line[item_id] = number
    return list(first_line)
