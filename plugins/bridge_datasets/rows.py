"""Reading the rows of CSV and JSONL annotation files, streamed, with one-line errors.

Every problem is a :class:`bridge.BridgeError` naming the file and, where
there is one, the line: a missing file, a file that is not UTF-8, a missing
column or key, invalid JSON, an empty required value. Rows are yielded one
at a time, so a file is never held in memory twice.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge import BridgeError

Row = dict[str, Any]


def resolve(path: Path, base_dir: Path) -> Path:
    """``path`` made absolute against ``base_dir`` (``~`` expanded)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a file, else a BridgeError naming it."""
    if not path.is_file():
        raise BridgeError(f"{path}: {what} does not exist" if not path.exists() else f"{path}: {what} is not a file")
    return path


def require_folder(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else a BridgeError naming it."""
    if not path.is_dir():
        raise BridgeError(f"{path}: {what} does not exist" if not path.exists() else f"{path}: {what} is not a folder")
    return path


def table_rows(path: Path, required: tuple[str, ...] = ()) -> Iterator[tuple[int, Row]]:
    """(line number, row) of a ``.csv`` (with a header line) or ``.jsonl`` file, by suffix."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return csv_rows(path, required)
    if suffix in (".jsonl", ".ndjson"):
        return jsonl_rows(path, required)
    raise BridgeError(f"{path}: expected a .csv or .jsonl manifest")


def csv_rows(path: Path, required: tuple[str, ...] = ()) -> Iterator[tuple[int, Row]]:
    """(line number, row) of a CSV file whose first line names the columns; checks ``required`` columns.

    A UTF-8 byte-order mark is accepted (spreadsheets write one); column
    names are stripped of surrounding spaces.
    """
    require_file(path, "CSV file")
    line = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream)
            header = next(reader, None)
            if header is None:
                raise BridgeError(f"{path}: empty file; expected a header line naming the columns")
            header = [name.strip() for name in header]
            _check_columns(path, header, required)
            for cells in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) > len(header):
                    raise BridgeError(f"{path}:{line}: {len(cells)} values but the header names {len(header)} columns")
                yield line, dict(zip(header, cells))
    except UnicodeDecodeError as error:
        raise BridgeError(f"{path}: not UTF-8 text (undecodable byte after line {line}); save it as UTF-8") from error
    except csv.Error as error:
        raise BridgeError(f"{path}:{line + 1}: malformed CSV ({error})") from error


def _check_columns(path: Path, header: list[str], required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in header]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise BridgeError(f"{path}: missing column {names}; the header has: {', '.join(header) or 'nothing'}")


def jsonl_rows(path: Path, required: tuple[str, ...] = ()) -> Iterator[tuple[int, Row]]:
    """(line number, object) of a JSON-lines file; checks each object has the ``required`` keys."""
    require_file(path, "JSONL file")
    number = 0
    try:
        with path.open(encoding="utf-8") as stream:
            for number, text in enumerate(stream, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as error:
                    raise BridgeError(f"{path}:{number}: not valid JSON ({error.msg} at column {error.colno})") from error
                if not isinstance(row, dict):
                    raise BridgeError(f"{path}:{number}: expected one JSON object per line, got {type(row).__name__}")
                missing = [name for name in required if name not in row]
                if missing:
                    raise BridgeError(f"{path}:{number}: missing key {', '.join(repr(name) for name in missing)}")
                yield number, row
    except UnicodeDecodeError as error:
        raise BridgeError(f"{path}: not UTF-8 text (undecodable byte after line {number}); save it as UTF-8") from error


def cell(row: Row, column: str, path: Path, line: int) -> str:
    """The row's non-empty value in ``column``, as stripped text (numbers from JSON become text)."""
    value = row.get(column)
    text = "" if value is None else str(value).strip()
    if not text:
        raise BridgeError(f"{path}:{line}: empty {column!r}; every row needs one")
    return text


def optional_cell(row: Row, column: str | None) -> str | None:
    """The row's value in ``column`` as stripped text, or ``None`` when absent or empty."""
    if column is None:
        return None
    value = row.get(column)
    text = "" if value is None else str(value).strip()
    return text or None


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())
