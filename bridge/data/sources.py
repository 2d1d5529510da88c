"""Data sources: where the items of a corpus, a memory or an evaluation set come from.

A source yields :class:`Item` s: an id, a value (a text, or an absolute file
path) and an optional label. Built-in kinds, chosen by which key is present:

- ``{lines: captions.txt}`` — a text file, one item a line;
- ``{folder: clips/, glob: "*.wav"}`` — files in a folder;
- ``{manifest: items.csv, column: path}`` — a CSV, JSONL or parquet manifest
  with a path or text column and optional id and label columns, read row by
  row (:mod:`bridge.data.manifests`);
- ``{plugin: NAME, options: {...}}`` — a source type a plugin registered.

Relative paths resolve against the folder of the recipe that names them.
:func:`read_items` lists a source's items; :func:`iter_items` yields them one
at a time (a plugin's ``stream``, the manifest's rows), for consumers that
work in chunks (``bridge index``, ``bridge export``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from bridge.core.validation import LaxPath, validate_options
from bridge.core.yaml_io import read_text_file, require_path, shown
from bridge.data.manifests import manifest_rows
from bridge.errors import BridgeError, MissingInput, quoted, shorten


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
        source_type: looks up a plugin's source type by name (``Registry.source_type``);
            needed only for ``{plugin: ...}`` sources.
    """

    base_dir: Path
    cache_dir: Path
    reporter: Any = None
    source_type: Callable[[str], "SourceType"] | None = None


@dataclass(frozen=True)
class SourceType:
    """A data-source kind a plugin registers (``{plugin: name, options: ...}``).

    Attributes:
        name: the name recipes use.
        items: builds the items from validated options.
        options: pydantic model of the options.
        summary: one line for listings.
        stream: optional; yields the same items as ``items``, in the same
            order, one at a time (for sources too large to list in memory).
        share: optional ``(validated options, context, rank, world_size) -> items``: the items of reader
            ``rank`` among ``world_size``, reading only that reader's part of the data (e.g. every
            ``world_size``-th tar shard). The parts are disjoint and together hold exactly the items
            of ``items`` (in any order). ``bridge extract`` under torchrun uses it, so that no rank reads
            another's data; without it every rank lists every item and keeps its positions.
        missing_inputs: optional ``(validated options, context) -> list[MissingInput]``: the
            files and folders these options name that do not exist, each with how to get it,
            found without reading them (``recipe check`` and ``connect`` list them all at once).
    """

    name: str
    items: Callable[[Any, SourceContext], list[Item]]
    options: type[BaseModel]
    summary: str = ""
    stream: Callable[[Any, SourceContext], Iterator[Item]] | None = None
    share: Callable[[Any, SourceContext, int, int], Iterator[Item]] | None = None
    missing_inputs: Callable[[Any, SourceContext], list[MissingInput]] | None = None
    plugin: str = field(default="", compare=False)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LinesSource(_Strict):
    """A text file with one item per line (blank lines are ignored)."""

    lines: LaxPath = Field(description="Text file, one item a line; an item's id is its line number, so line i of two lists pair up.")
    files: bool = Field(False, description="Lines are file paths (relative to the list file) rather than texts.")


class FolderSource(_Strict):
    """Every file in a folder that matches a glob."""

    folder: LaxPath = Field(description="Folder to scan.")
    glob: str = Field("*", description="Glob pattern, e.g. `*.wav` or `**/*.png`.")
    label_from_parent: bool = Field(False, description="Use each file's parent folder name as its label.")


class ManifestSource(_Strict):
    """A CSV or JSONL file describing one item per row."""

    manifest: LaxPath = Field(description="A .csv (with header), .jsonl or .parquet file (read row by row).")
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


LINES_FILE_LIMIT = 2**31


def resolve(path: Path, base_dir: Path) -> Path:
    """``path`` made absolute against ``base_dir`` (``~`` expanded)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(Path(base_dir).absolute() / path))


def source_key(spec: BaseModel | list[BaseModel]) -> str:
    """A stable text naming a source (or a list of sources), for caches of items and features."""
    if isinstance(spec, list):
        return "[" + ",".join(part.model_dump_json() for part in spec) + "]"
    return spec.model_dump_json()


def read_items(spec: BaseModel | list[BaseModel], context: SourceContext) -> list[Item]:
    """All items of a source, in a stable order.

    A list of sources is their items one source after the other, each id
    prefixed by the source's position (``0:17``, ``1:17``), so ids stay unique.
    """
    if isinstance(spec, list):
        return [
            Item(id=f"{index}:{item.id}", value=item.value, is_file=item.is_file, label=item.label)
            for index, part in enumerate(spec)
            for item in read_items(part, context)
        ]
    if isinstance(spec, LinesSource):
        return _lines(spec, context.base_dir)
    if isinstance(spec, FolderSource):
        return _folder(spec, context.base_dir)
    if isinstance(spec, ManifestSource):
        return _manifest(spec, context.base_dir)
    if isinstance(spec, PluginSource):
        if context.source_type is None:
            raise BridgeError(f"source plugin {quoted(spec.plugin)}: no plugin registry was given to read it")
        source_type = context.source_type(spec.plugin)
        options = validate_options(source_type.options, spec.options, f"source {quoted(spec.plugin)} options")
        return source_type.items(options, context)
    raise TypeError(f"not a source spec: {spec!r}")


def read_share(spec: BaseModel | list[BaseModel], context: SourceContext, rank: int, world_size: int) -> list[Item] | None:
    """Reader ``rank``'s part of a source's items among ``world_size`` readers, without holding the others.

    A plugin source whose type has a ``share`` reads only that part (a
    webdataset rank opens only its own shards). A manifest is streamed row by
    row, keeping rows ``rank, rank + world_size, ...``: every reader parses
    it, but none holds the others' items (a manifest of 10M rows is some GB
    of items). A list of sources can when every one can (ids prefixed as
    :func:`read_items` does). For any other source the answer is ``None``:
    list every item and keep a share of the positions instead.
    """
    if isinstance(spec, list):
        if not all(_can_share(part, context) for part in spec):
            return None
        parts = [read_share(part, context, rank, world_size) or [] for part in spec]
        return [Item(id=f"{index}:{item.id}", value=item.value, is_file=item.is_file, label=item.label)
                for index, part in enumerate(parts) for item in part]
    if not _can_share(spec, context):
        return None
    if isinstance(spec, ManifestSource):
        return _manifest_share(spec, context.base_dir, rank, world_size)
    source_type = context.source_type(spec.plugin)  # type: ignore[misc,union-attr]  # _can_share checked both
    options = validate_options(source_type.options, spec.options, f"source {quoted(spec.plugin)} options")  # type: ignore[union-attr]
    return list(source_type.share(options, context, rank, world_size))  # type: ignore[misc]


def _can_share(spec: BaseModel, context: SourceContext) -> bool:
    if isinstance(spec, ManifestSource):
        return True
    return isinstance(spec, PluginSource) and context.source_type is not None and context.source_type(spec.plugin).share is not None


def iter_items(spec: BaseModel, context: SourceContext) -> Iterator[Item]:
    """The items of a source one at a time, in :func:`read_items`' order.

    Manifests are read row by row and a plugin source with a ``stream`` is
    streamed; other sources are listed first (a folder must be sorted).
    """
    if isinstance(spec, ManifestSource):
        yield from _manifest_items(spec, context.base_dir)
        return
    if isinstance(spec, PluginSource) and context.source_type is not None:
        source_type = context.source_type(spec.plugin)
        if source_type.stream is not None:
            options = validate_options(source_type.options, spec.options, f"source {quoted(spec.plugin)} options")
            yield from source_type.stream(options, context)
            return
    yield from read_items(spec, context)


def _lines(spec: LinesSource, base_dir: Path) -> list[Item]:
    path = resolve(spec.lines, base_dir)
    items = []
    for number, line in enumerate(read_text_file(path, "lines file", limit=LINES_FILE_LIMIT).splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        value = str(resolve(Path(text), path.parent)) if spec.files else text
        items.append(Item(id=str(number), value=value, is_file=spec.files))
    if not items:
        raise BridgeError(f"{shown(path)}: no items (the file has no non-blank lines)")
    return items


def _folder(spec: FolderSource, base_dir: Path) -> list[Item]:
    folder = resolve(spec.folder, base_dir)
    if not require_path(folder, "folder"):
        raise BridgeError(f"{shown(folder)}: is a file, expected a folder")
    try:
        files = sorted(p for p in folder.glob(spec.glob) if _is_file(p))
    except (OSError, ValueError) as error:  # a symlink loop under ** patterns, a bad pattern
        raise BridgeError(f"{shown(folder)}: cannot list {quoted(spec.glob)} ({shorten(str(getattr(error, 'strerror', None) or error), 120)})") from error
    if not files:
        raise BridgeError(f"{shown(folder)}: no files match {quoted(spec.glob)}")
    items, first_file = [], {}
    for path in files:
        item_id = str(path.relative_to(folder).with_suffix(""))
        if item_id in first_file:  # dog.jpg and dog.png: one id, two contents
            raise BridgeError(f"{shown(folder)}: {quoted(first_file[item_id].name)} and {quoted(path.name)} have the same id "
                              f"{quoted(item_id)} (ids are paths without the extension); rename one or narrow the glob")
        first_file[item_id] = path
        items.append(Item(id=item_id, value=str(path), is_file=True, label=path.parent.name if spec.label_from_parent else None))
    return items


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (a dangling link or a link loop is not)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _manifest(spec: ManifestSource, base_dir: Path) -> list[Item]:
    items = list(_manifest_items(spec, base_dir))
    if not items:
        raise BridgeError(f"{shown(resolve(spec.manifest, base_dir))}: the manifest has no rows")
    return items


def _manifest_share(spec: ManifestSource, base_dir: Path, rank: int, world_size: int) -> list[Item]:
    """Rows ``rank, rank + world_size, ...`` of the manifest, streamed; every row is still checked."""
    share, rows = [], 0
    for position, item in enumerate(_manifest_items(spec, base_dir)):
        rows += 1
        if position % world_size == rank:
            share.append(item)
    if rows == 0:
        raise BridgeError(f"{shown(resolve(spec.manifest, base_dir))}: the manifest has no rows")
    return share


def _manifest_items(spec: ManifestSource, base_dir: Path) -> Iterator[Item]:
    """The manifest's items row by row; repeated ids are found with a set of the ids seen."""
    path = resolve(spec.manifest, base_dir)
    seen: set[str] = set()
    for number, row in manifest_rows(path):
        if number == 1:
            for column in (spec.column, spec.id_column, spec.label_column):
                if column is not None and column not in row:
                    raise BridgeError(f"{shown(path)}: no column {quoted(column)}; columns are {', '.join(quoted(c, 40) for c in list(row)[:10])}")
        raw = row.get(spec.column)
        if raw is None or str(raw).strip() == "":
            raise BridgeError(f"{shown(path)}: row {number} has an empty {quoted(spec.column)}")
        value = str(resolve(Path(str(raw)), path.parent)) if spec.is_file else str(raw)
        item_id = str(number)
        if spec.id_column:
            if row.get(spec.id_column) is None:
                raise BridgeError(f"{shown(path)}: row {number} has no {quoted(spec.id_column)}")
            item_id = str(row[spec.id_column])
        if item_id in seen:
            raise BridgeError(f"{shown(path)}: row {number} repeats id {quoted(item_id)}")
        seen.add(item_id)
        label = row.get(spec.label_column) if spec.label_column else None
        yield Item(id=item_id, value=value, is_file=spec.is_file, label=None if label is None else str(label))
