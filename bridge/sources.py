"""Data sources: where the items of a corpus, a memory or an evaluation set come from.

A source yields :class:`Item` s: an id, a value (a text, or an absolute file
path) and an optional label. Built-in kinds, chosen by which key is present:

- ``{lines: captions.txt}`` — a text file, one item a line;
- ``{folder: clips/, glob: "*.wav"}`` — files in a folder;
- ``{manifest: items.csv, column: path}`` — a CSV or JSONL manifest with a
  path or text column and optional id and label columns;
- ``{plugin: NAME, options: {...}}`` — a source type a plugin registered.

Relative paths resolve against the folder of the recipe that names them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from bridge.errors import BridgeError


@dataclass(frozen=True)
class Item:
    """One data item.

    Attributes:
        id: unique within its source; pairs items across sources
            (``relevance: id``).
        value: the text itself, or an absolute file path.
        is_file: whether ``value`` is a file path.
        label: an optional class label (``relevance: label``, zero-shot).
    """

    id: str
    value: str
    is_file: bool
    label: str | None = None


@dataclass(frozen=True)
class SourceContext:
    """What a source needs besides its own options.

    Attributes:
        base_dir: folder relative paths resolve against (the recipe's).
        cache_dir: folder for generated or cached files.
        reporter: progress reporter for sources that do long work (e.g. generate files).
    """

    base_dir: Path
    cache_dir: Path
    reporter: Any = None


@dataclass(frozen=True)
class SourceType:
    """A data-source kind a plugin registers (``{plugin: name, options: ...}``).

    Attributes:
        name: the name recipes use.
        items: builds the items from validated options.
        options: pydantic model of the options.
        summary: one line for listings.
    """

    name: str
    items: Callable[[Any, SourceContext], list[Item]]
    options: type[BaseModel]
    summary: str = ""
    plugin: str = field(default="", compare=False)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinesSource(_Strict):
    """A text file with one item per line (blank lines are ignored)."""

    lines: Path = Field(description="Text file, one item a line; an item's id is its line number, so line i of two lists pair up.")
    files: bool = Field(False, description="Lines are file paths (relative to the list file) rather than texts.")


class FolderSource(_Strict):
    """Every file in a folder that matches a glob."""

    folder: Path = Field(description="Folder to scan.")
    glob: str = Field("*", description="Glob pattern, e.g. `*.wav` or `**/*.png`.")
    label_from_parent: bool = Field(False, description="Use each file's parent folder name as its label.")


class ManifestSource(_Strict):
    """A CSV or JSONL file describing one item per row."""

    manifest: Path = Field(description="A .csv (with header) or .jsonl file.")
    column: str = Field(description="Column holding the item: a file path (relative to the manifest) or a text.")
    is_file: bool = Field(True, description="Whether `column` holds file paths (false: texts).")
    id_column: str | None = Field(None, description="Column with item ids (default: row number).")
    label_column: str | None = Field(None, description="Column with class labels.")


class PluginSource(_Strict):
    """A source type registered by a plugin."""

    plugin: str = Field(description="Registered source name (see `bridge plugins`).")
    options: dict[str, Any] = Field(default_factory=dict, description="The source's own options.")


def _source_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("lines", "folder", "manifest", "plugin"):
            if key in value:
                return key
        return None
    return type(value).__name__.removesuffix("Source").lower()


SourceSpec = Annotated[
    Union[
        Annotated[LinesSource, Tag("lines")],
        Annotated[FolderSource, Tag("folder")],
        Annotated[ManifestSource, Tag("manifest")],
        Annotated[PluginSource, Tag("plugin")],
    ],
    Discriminator(
        _source_kind,
        custom_error_type="source_kind",
        custom_error_message="a source needs one of the keys `lines`, `folder`, `manifest` or `plugin`",
    ),
]


def resolve(path: Path, base_dir: Path) -> Path:
    """``path`` made absolute against ``base_dir`` (``~`` expanded)."""
    path = path.expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def read_items(spec: BaseModel, context: SourceContext) -> list[Item]:
    """All items of a source, in a stable order."""
    if isinstance(spec, LinesSource):
        return _lines(spec, context.base_dir)
    if isinstance(spec, FolderSource):
        return _folder(spec, context.base_dir)
    if isinstance(spec, ManifestSource):
        return _manifest(spec, context.base_dir)
    if isinstance(spec, PluginSource):
        from bridge.plugins import get_source_type, validate_options

        source_type = get_source_type(spec.plugin)
        options = validate_options(source_type.options, spec.options, f"source {spec.plugin!r} options")
        return source_type.items(options, context)
    raise TypeError(f"not a source spec: {spec!r}")


def _existing(path: Path, what: str) -> Path:
    if not path.exists():
        raise BridgeError(f"{path}: {what} does not exist")
    return path


def _lines(spec: LinesSource, base_dir: Path) -> list[Item]:
    path = _existing(resolve(spec.lines, base_dir), "lines file")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        value = str(resolve(Path(text), path.parent)) if spec.files else text
        items.append(Item(id=str(number), value=value, is_file=spec.files))
    if not items:
        raise BridgeError(f"{path}: no items (the file has no non-blank lines)")
    return items


def _folder(spec: FolderSource, base_dir: Path) -> list[Item]:
    folder = _existing(resolve(spec.folder, base_dir), "folder")
    files = sorted(p for p in folder.glob(spec.glob) if p.is_file())
    if not files:
        raise BridgeError(f"{folder}: no files match {spec.glob!r}")
    return [
        Item(
            id=str(p.relative_to(folder).with_suffix("")),
            value=str(p),
            is_file=True,
            label=p.parent.name if spec.label_from_parent else None,
        )
        for p in files
    ]


def _manifest_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise BridgeError(f"{path}:{number}: not valid JSON ({error.msg})") from error
            if not isinstance(row, dict):
                raise BridgeError(f"{path}:{number}: expected a JSON object per line")
            rows.append(row)
        return rows
    raise BridgeError(f"{path}: a manifest must be .csv or .jsonl")


def _manifest(spec: ManifestSource, base_dir: Path) -> list[Item]:
    path = _existing(resolve(spec.manifest, base_dir), "manifest")
    rows = _manifest_rows(path)
    if not rows:
        raise BridgeError(f"{path}: the manifest has no rows")
    for column in (spec.column, spec.id_column, spec.label_column):
        if column is not None and column not in rows[0]:
            raise BridgeError(f"{path}: no column {column!r}; columns are {', '.join(rows[0])}")
    items = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        raw = row.get(spec.column)
        if raw is None or str(raw).strip() == "":
            raise BridgeError(f"{path}: row {number} has an empty {spec.column!r}")
        value = str(resolve(Path(str(raw)), path.parent)) if spec.is_file else str(raw)
        item_id = str(row[spec.id_column]) if spec.id_column else str(number)
        if item_id in seen:
            raise BridgeError(f"{path}: row {number} repeats id {item_id!r}")
        seen.add(item_id)
        label = str(row[spec.label_column]) if spec.label_column else None
        items.append(Item(id=item_id, value=value, is_file=spec.is_file, label=label))
    return items
