"""The `audiocaps` source: AudioCaps caption CSVs as text items, or their clips as audio items.

AudioCaps ships ``train.csv``, ``val.csv`` and ``test.csv`` with the columns
``audiocap_id, youtube_id, start_time, caption``; the audio itself is 10 s
of each YouTube video from ``start_time``, downloaded separately under a
name of your choosing (``audio_name``). A recipe names it as::

    overlap: {plugin: audiocaps, options: {csv: audiocaps/train.csv}}
    memory:
      audio: {plugin: audiocaps, options: {csv: audiocaps/train.csv, modality: audio,
                                          audio_folder: audiocaps/audio/train}}

Text items: id = ``audiocap_id``, value = the caption, label = ``youtube_id``.
Audio items (one per ``youtube_id``, first row wins): id = label =
``youtube_id``, value = the file ``audio_name`` names in ``audio_folder``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge import BridgeError, Item, SourceContext, SourceType
from bridge_datasets.missing import audiocaps_missing
from bridge_datasets.media import check_template, fill_template, media_file
from bridge_datasets.rows import cell, csv_rows, one_line, require_folder, resolve

COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")


class AudioCapsOptions(BaseModel):
    """Options of the `audiocaps` source."""

    model_config = ConfigDict(extra="forbid")

    csv: Path = Field(description="An AudioCaps CSV (`train.csv`, `val.csv` or `test.csv`), relative to the recipe.")
    modality: Literal["text", "audio"] = Field("text", description="`text`: one item per caption; `audio`: one item per clip.")
    audio_folder: Path | None = Field(None, description="Folder of the downloaded clips; needed for `modality: audio`.")
    audio_name: str = Field(
        "{youtube_id}.wav",
        description=(
            "File name of a clip inside `audio_folder`, with `{column}` placeholders filled from its row: "
            "`{youtube_id}`, `{start_time}`, `{audiocap_id}` (e.g. `Y{youtube_id}.wav`, `{youtube_id}_{start_time}.flac`)."
        ),
    )
    limit: int | None = Field(None, ge=1, description="Keep only the first N items.")
    check_files: bool = Field(True, description="Check every clip file exists (fails on the first missing one).")
    skip_missing: bool = Field(
        False,
        description="Leave out clips whose file does not exist instead of failing (YouTube-sourced sets always lack some).",
    )


def audiocaps_items(options: AudioCapsOptions, context: SourceContext) -> list[Item]:
    """The captions (or clips) of an AudioCaps CSV, in file order."""
    path = resolve(options.csv, context.base_dir)
    folder = None
    if options.modality == "audio":
        if options.audio_folder is None:
            raise BridgeError(f"audio_folder: needed for `modality: audio` of {path}; give the folder of the clips")
        check_template(options.audio_name, COLUMNS, "audio_name")
        folder = require_folder(resolve(options.audio_folder, context.base_dir), "AudioCaps audio folder")
    items: list[Item] = []
    seen: set[str] = set()
    for line, row in csv_rows(path, COLUMNS):
        where = f"{path}:{line}"
        clip = cell(row, "youtube_id", path, line)
        if folder is None:
            item_id = cell(row, "audiocap_id", path, line)
            caption = one_line(cell(row, "caption", path, line))
            item = Item(id=item_id, value=caption, is_file=False, label=clip)
        else:
            item_id = clip
            name = fill_template(options.audio_name, row, where)
            if options.skip_missing and not (folder / name).is_file():
                continue
            item = Item(id=clip, value=media_file(name, folder, options.check_files, where), is_file=True, label=clip)
        if item_id in seen:
            if folder is None:
                raise BridgeError(f"{where}: duplicate audiocap_id {item_id}")
            continue
        seen.add(item_id)
        items.append(item)
        if options.limit is not None and len(items) >= options.limit:
            break
    if not items:
        raise BridgeError(f"{path}: no rows; expected one caption a row")
    return items


SOURCE_TYPE = SourceType(
    name="audiocaps",
    items=audiocaps_items,
    missing_inputs=audiocaps_missing,
    options=AudioCapsOptions,
    summary="AudioCaps CSV: captions as text items (id = audiocap_id) or the clips as audio items (id = youtube_id).",
)
