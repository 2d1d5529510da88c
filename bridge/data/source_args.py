"""Sources named on the command line (`bridge index`, `bridge export`): each argument becomes a source or an item.

| argument | source |
| --- | --- |
| ``'{folder: clips, glob: "*.wav"}'`` (starts with ``{``) | any source, as a recipe writes it (YAML flow mapping) |
| ``shards/{000000..000099}.tar``, ``x.tar`` | the `webdataset` plugin's tar shards, ``member`` from ``--member`` or the modality's usual extensions |
| a folder | every file with one of the modality's usual extensions (or ``--glob``), below it |
| ``x.csv``, ``x.jsonl``, ``x.parquet`` | a manifest; ``--column`` names the path (or text) column |
| ``x.txt`` | a list, one item a line: texts for the text modality, file paths otherwise |
| another existing file | that one file (its id is the argument) |
| anything else | a text, for the text modality (its id is the text); otherwise an error |

:func:`parse_sources` checks every argument before anything is loaded;
:func:`stream_sources` then yields the items one at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from bridge.core.validation import format_error
from bridge.core.yaml_io import parse_yaml, shown
from bridge.data.manifests import SUFFIXES as MANIFEST_SUFFIXES
from bridge.data.sources import FolderSource, Item, LinesSource, ManifestSource, PluginSource, SourceContext, SourceSpec, iter_items, resolve
from bridge.errors import BridgeError, quoted, shorten

EXTENSIONS = {
    "image": ("jpg", "jpeg", "png", "webp", "bmp"),
    "audio": ("flac", "wav", "mp3", "ogg"),
    "text": ("txt", "caption", "text"),
}
"""A modality's usual file extensions: folder globs and tar members when none are given."""

TAR = re.compile(r"\.(tar|tar\.gz|tgz)$", re.IGNORECASE)


@dataclass(frozen=True)
class SourceOptions:
    """Command-line options that shape the sources: ``--column``, ``--id-column``, ``--label-column``, ``--glob``, ``--member``, ``--label``."""

    column: str | None = None
    id_column: str | None = None
    label_column: str | None = None
    glob: str | None = None
    member: str | list[str] | None = None
    label: str | None = None


Part = BaseModel | Item


def parse_sources(arguments: Sequence[str], modality: str, base_dir: Path, options: SourceOptions = SourceOptions()) -> list[Part]:
    """Each argument as a source spec or a literal item, checked (files exist, options given) without reading any item.

    Raises:
        BridgeError: no arguments, an argument that is none of the kinds above, a manifest without ``--column``.
    """
    if not arguments:
        raise BridgeError("no sources: give SOURCE arguments (folders, tar shards, manifests, lists, files or texts)")
    return [_part(argument, modality, base_dir, options) for argument in arguments]


def stream_sources(parts: Sequence[Part], context: SourceContext) -> Iterator[Item]:
    """The items of every part, in order, one at a time."""
    for part in parts:
        if isinstance(part, Item):
            yield part
        elif isinstance(part, _MultiFolder):
            for glob in part.globs:
                yield from iter_items(FolderSource(folder=part.folder, glob=glob), context)
        else:
            yield from iter_items(part, context)


def _part(argument: str, modality: str, base_dir: Path, options: SourceOptions) -> Part:
    where = f"source {quoted(shorten(argument, 120))}"
    if argument.lstrip().startswith("{"):
        return _spec(parse_yaml(argument, where), where)
    if TAR.search(argument):
        shard_options: dict[str, Any] = {"shards": argument, "member": options.member or list(_extensions(modality, "--member"))}
        if options.label is not None:
            shard_options["label"] = options.label
        return PluginSource(plugin="webdataset", options=shard_options)
    path = resolve(Path(argument), base_dir)
    if path.is_dir():
        if modality == "text":
            raise BridgeError(f"{shown(path)}: a folder is not a text source; give a .txt list (one text a line), a manifest with --column, or tar shards")
        if options.glob is not None:
            return FolderSource(folder=path, glob=options.glob)
        globs = [f"**/*.{extension}" for extension in _extensions(modality, "--glob") if next(path.glob(f"**/*.{extension}"), None)]
        if not globs:
            raise BridgeError(f"{shown(path)}: no {modality} files ({', '.join(EXTENSIONS[modality])}) below it; give --glob")
        return _MultiFolder(folder=path, globs=globs)
    suffix = path.suffix.lower()
    if suffix in MANIFEST_SUFFIXES:
        if options.column is None:
            raise BridgeError(f"{shown(path)}: a manifest needs --column (the column of paths or texts)")
        return ManifestSource(manifest=path, column=options.column, is_file=modality != "text", id_column=options.id_column,
                              label_column=options.label_column)
    if suffix == ".txt" and path.is_file():
        return LinesSource(lines=path, files=modality != "text")
    if path.is_file():
        return Item(id=argument, value=str(path), is_file=True)
    if modality == "text":
        return Item(id=argument, value=argument, is_file=False)
    raise BridgeError(f"{shown(path)}: file does not exist (a {modality} source is a folder, tar shards, a manifest, a list or a file)")


def _spec(data: Any, where: str) -> BaseModel:
    if not isinstance(data, dict):
        raise BridgeError(f"{where}: expected a mapping such as '{{folder: clips, glob: \"*.wav\"}}'")
    try:
        return TypeAdapter(SourceSpec).validate_python(data)
    except ValidationError as error:
        raise BridgeError(f"{where}: {format_error(error)}") from error


def _extensions(modality: str, option: str) -> tuple[str, ...]:
    if modality not in EXTENSIONS:
        raise BridgeError(f"modality {quoted(modality)} has no usual file extensions; give {option}")
    return EXTENSIONS[modality]


class _MultiFolder(BaseModel):
    """A folder's files of several extensions, in the order of ``globs`` (each sorted)."""

    folder: Path
    globs: list[str]
