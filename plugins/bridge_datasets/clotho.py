"""The `clotho` source: Clotho caption CSVs as text items, or their clips as audio items.

Clotho (v2.1) ships ``clotho_captions_{development,validation,evaluation}.csv``
with the columns ``file_name, caption_1 ... caption_5`` beside the folders
of WAV files of the same split. A recipe names it as::

    overlap: {plugin: clotho, options: {csv: clotho/clotho_captions_development.csv}}
    memory:
      audio: {plugin: clotho, options: {csv: clotho/clotho_captions_development.csv, modality: audio,
                                       audio_folder: clotho/development}}

Text items: id = ``FILE#K`` (K the caption column's number, 1-5), value =
the caption, label = the file name. Audio items: id = label = the file
name, value = that file in ``audio_folder``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge import BridgeError, Item, SourceContext, SourceType
from bridge_datasets.missing import clotho_missing
from bridge_datasets.media import media_file
from bridge_datasets.rows import cell, csv_rows, one_line, optional_cell, require_folder, resolve

CAPTION_COLUMNS = tuple(f"caption_{number}" for number in range(1, 6))


class ClothoOptions(BaseModel):
    """Options of the `clotho` source."""

    model_config = ConfigDict(extra="forbid")

    csv: Path = Field(description="A Clotho captions CSV, e.g. `clotho_captions_development.csv` (relative to the recipe).")
    modality: Literal["text", "audio"] = Field("text", description="`text`: one item per caption; `audio`: one item per clip.")
    audio_folder: Path | None = Field(None, description="Folder of the split's WAV files; needed for `modality: audio`.")
    captions: list[int] = Field(
        [1, 2, 3, 4, 5], min_length=1, description="Which caption columns to use (`caption_1` ... `caption_5`), e.g. `[1]`."
    )
    limit: int | None = Field(None, ge=1, description="Keep only the first N items.")
    check_files: bool = Field(True, description="Check every clip file exists (fails on the first missing one).")


def clotho_items(options: ClothoOptions, context: SourceContext) -> list[Item]:
    """The captions (or clips) of a Clotho captions CSV, in file order."""
    path = resolve(options.csv, context.base_dir)
    columns = _caption_columns(options.captions)
    folder = None
    if options.modality == "audio":
        if options.audio_folder is None:
            raise BridgeError(f"audio_folder: needed for `modality: audio` of {path}; give the folder of the clips")
        folder = require_folder(resolve(options.audio_folder, context.base_dir), "Clotho audio folder")
    items: list[Item] = []
    seen: set[str] = set()
    for line, row in csv_rows(path, ("file_name", *columns)):
        where = f"{path}:{line}"
        file_name = cell(row, "file_name", path, line)
        if file_name in seen:
            raise BridgeError(f"{where}: duplicate file_name {file_name!r}")
        seen.add(file_name)
        if folder is not None:
            items.append(Item(id=file_name, value=media_file(file_name, folder, options.check_files, where), is_file=True, label=file_name))
        else:
            for number, column in zip(options.captions, columns):
                caption = optional_cell(row, column)
                if caption is None:
                    raise BridgeError(f"{where}: empty {column!r} for {file_name!r}")
                items.append(Item(id=f"{file_name}#{number}", value=one_line(caption), is_file=False, label=file_name))
        if options.limit is not None and len(items) >= options.limit:
            break
    if not items:
        raise BridgeError(f"{path}: no rows; expected one clip a row")
    return items[: options.limit] if options.limit else items


def _caption_columns(numbers: list[int]) -> tuple[str, ...]:
    wrong = [number for number in numbers if not 1 <= number <= len(CAPTION_COLUMNS)]
    if wrong or len(set(numbers)) != len(numbers):
        raise BridgeError(f"captions: expected distinct caption numbers from 1 to {len(CAPTION_COLUMNS)}, got {numbers}")
    return tuple(CAPTION_COLUMNS[number - 1] for number in numbers)


SOURCE_TYPE = SourceType(
    name="clotho",
    items=clotho_items,
    missing_inputs=clotho_missing,
    options=ClothoOptions,
    summary="Clotho captions CSV: captions as text items (id = FILE#K) or the clips as audio items (id = file name).",
)
