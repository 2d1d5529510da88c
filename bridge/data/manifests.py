"""Manifest rows read one at a time: CSV, JSONL and parquet files of any size.

:func:`manifest_rows` yields ``(row number, row)`` without holding the file in
memory: text files are decoded line by line, parquet files batch by batch
(through pyarrow, an optional dependency: ``pip install 'mcr-bridge[scale]'``).
Every problem is one :class:`~bridge.errors.BridgeError` line naming the file
and, for text files, the line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge.core.yaml_io import require_path, shown
from bridge.errors import BridgeError

TEXT_SUFFIXES = (".csv", ".jsonl", ".ndjson")
SUFFIXES = (*TEXT_SUFFIXES, ".parquet")
PARQUET_BATCH_ROWS = 65536


def manifest_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(1-based row number, row)`` of a ``.csv`` (header line first), ``.jsonl`` or ``.parquet`` manifest.

    Raises:
        BridgeError: the file is missing, a folder, of another kind, not
            UTF-8, not valid CSV/JSON, or parquet without pyarrow installed.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        require_path(path, "manifest")
        raise BridgeError(f"{shown(path)}: a manifest must be .csv, .jsonl or .parquet")
    if require_path(path, "manifest"):
        raise BridgeError(f"{shown(path)}: is a folder, expected a manifest")
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix == ".parquet":
        return _parquet_rows(path)
    return _jsonl_rows(path)


def text_lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """``(1-based line number, line with its end)`` of a UTF-8 text file, decoded line by line."""
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise BridgeError(f"{shown(path)}: cannot read the {what} ({error.strerror or type(error).__name__})") from error
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise BridgeError(
                    f"{shown(path)}:{number}: not UTF-8 text (byte {raw[error.start]:#04x}); save the {what} as UTF-8"
                ) from error
            yield number, line.removeprefix("\ufeff") if number == 1 else line


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    lines = (line for _, line in text_lines(path, "manifest"))
    reader = csv.DictReader(lines)
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            yield number, row
    except csv.Error as error:
        raise BridgeError(f"{shown(path)}: not a valid CSV file (row {number + 1}: {error})") from error


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in text_lines(path, "manifest"):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise BridgeError(f"{shown(path)}:{number}: not valid JSON ({error.msg})") from error
        if not isinstance(row, dict):
            raise BridgeError(f"{shown(path)}:{number}: expected a JSON object per line")
        yield number, row


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    parquet = require_pyarrow(f"{shown(path)}: reading a parquet manifest")
    try:
        stream = parquet.ParquetFile(path)
    except Exception as error:  # pyarrow raises ArrowInvalid / OSError for a damaged or foreign file
        raise BridgeError(f"{shown(path)}: not a readable parquet file ({str(error).splitlines()[0][:160]})") from error
    number = 0
    for batch in stream.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        for row in batch.to_pylist():
            number += 1
            yield number, row


def require_pyarrow(purpose: str) -> Any:
    """``pyarrow.parquet``, or a one-line error saying how to install it."""
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise BridgeError(f"{purpose} needs pyarrow: pip install 'mcr-bridge[scale]' ({error})") from error
    return parquet
