"""The `av-manifest` source: an audio–visual evaluation set (AVE, Flickr-SoundNet, VGGSS style).

One row per sample, in a ``.csv`` (header line) or ``.jsonl`` file:

| column | meaning |
| --- | --- |
| ``audio`` | the sample's audio clip (relative to the manifest) |
| ``image`` | its image, or the video frame to evaluate (relative to the manifest) |
| ``id`` | optional; default: the row's number (1, 2, ...) |
| ``label`` | optional class label (event category, ...) |
| ``x0, y0, x1, y1`` | optional sounding-object box in the image's pixels (x0, y0 the top-left corner) |

JSONL rows may instead give ``"boxes": [[x0, y0, x1, y1], ...]`` (several
annotated boxes). A recipe names the two sides as::

    query:  {plugin: av-manifest, options: {manifest: ave/test.csv, modality: audio}}
    target: {plugin: av-manifest, options: {manifest: ave/test.csv, modality: image}}

Both sides of a row share its id and label (``relevance: id`` pairs a clip
with its frame; ``relevance: label`` relates same-class samples). Boxes are
checked and returned by :func:`read_av_manifest` for localisation code;
items carry no boxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge import BridgeError, Item, SourceContext, SourceType
from bridge_datasets.missing import av_manifest_missing
from bridge_datasets.media import media_file
from bridge_datasets.rows import Row, cell, optional_cell, resolve, table_rows

BOX_COLUMNS = ("x0", "y0", "x1", "y1")
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class AVRow:
    """One sample of an audio–visual manifest.

    Attributes:
        id: the sample id. line: its line in the manifest.
        audio: absolute path of its audio clip (``None`` when the manifest has none).
        image: absolute path of its image or frame (``None`` when the manifest has none).
        label: its class label, if given.
        boxes: its annotated boxes, each (x0, y0, x1, y1) in image pixels; empty if none.
    """

    id: str
    line: int
    audio: str | None
    image: str | None
    label: str | None
    boxes: tuple[Box, ...] = ()


class AVManifestOptions(BaseModel):
    """Options of the `av-manifest` source."""

    model_config = ConfigDict(extra="forbid")

    manifest: Path = Field(description="The manifest, `.csv` or `.jsonl` (relative to the recipe); media paths in it are relative to it.")
    modality: Literal["audio", "image"] = Field(description="Which side of each row the items are: its `audio` clip or its `image`.")
    audio_column: str = Field("audio", description="Column holding the audio paths.")
    image_column: str = Field("image", description="Column holding the image or video-frame paths.")
    id_column: str = Field("id", description="Column holding the ids, when present (default ids: row numbers).")
    label_column: str = Field("label", description="Column holding the class labels, when present.")
    limit: int | None = Field(None, ge=1, description="Keep only the first N rows.")
    check_files: bool = Field(True, description="Check every file of the chosen modality exists (fails on the first missing one).")
    skip_missing: bool = Field(
        False, description="Leave out rows whose file of the chosen modality does not exist instead of failing."
    )


def read_av_manifest(
    path: Path,
    audio_column: str = "audio",
    image_column: str = "image",
    id_column: str = "id",
    label_column: str = "label",
    require: tuple[Literal["audio", "image"], ...] = (),
    check_files: bool = False,
    limit: int | None = None,
) -> list[AVRow]:
    """The rows of an audio–visual manifest, checked.

    Args:
        require: modalities every row must have a file for (their columns are required).
        check_files: check the required modalities' files exist.

    Raises:
        BridgeError: naming the file and line: missing column, empty value,
            duplicate id, bad box, missing file.
    """
    columns = {"audio": audio_column, "image": image_column}
    required = tuple(columns[modality] for modality in require)
    rows: list[AVRow] = []
    seen: dict[str, int] = {}
    for ordinal, (line, row) in enumerate(table_rows(path, required), start=1):
        where = f"{path}:{line}"
        sample_id = optional_cell(row, id_column) or str(ordinal)
        if sample_id in seen:
            raise BridgeError(f"{where}: duplicate id {sample_id!r} (first on line {seen[sample_id]})")
        seen[sample_id] = line
        files = {}
        for modality, column in columns.items():
            if modality in require:
                files[modality] = media_file(cell(row, column, path, line), path.parent, check_files, where)
            else:
                name = optional_cell(row, column)
                files[modality] = media_file(name, path.parent, False, where) if name else None
        label = optional_cell(row, label_column)
        rows.append(AVRow(sample_id, line, files["audio"], files["image"], label, _boxes(row, where)))
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise BridgeError(f"{path}: no rows; expected one sample a row")
    return rows


def _boxes(row: Row, where: str) -> tuple[Box, ...]:
    if "boxes" in row and row["boxes"] not in (None, ""):
        listed = row["boxes"]
        if not isinstance(listed, list):
            raise BridgeError(f"{where}: `boxes` must be a list of [x0, y0, x1, y1]")
        return tuple(_box(values, where) for values in listed)
    present = [column for column in BOX_COLUMNS if row.get(column) not in (None, "")]
    if not present:
        return ()
    if len(present) != len(BOX_COLUMNS):
        missing = ", ".join(column for column in BOX_COLUMNS if column not in present)
        raise BridgeError(f"{where}: box incomplete: {missing} empty; give all of x0, y0, x1, y1 or none")
    return (_box([row[column] for column in BOX_COLUMNS], where),)


def _box(values: object, where: str) -> Box:
    if not isinstance(values, (list, tuple)) or len(values) != 4:
        raise BridgeError(f"{where}: a box is four numbers [x0, y0, x1, y1], got {values!r}")
    try:
        x0, y0, x1, y1 = (float(value) for value in values)
    except (TypeError, ValueError) as error:
        raise BridgeError(f"{where}: box values must be numbers, got {list(values)!r}") from error
    if not all(math.isfinite(value) and value >= 0 for value in (x0, y0, x1, y1)) or x1 <= x0 or y1 <= y0:
        raise BridgeError(f"{where}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) must have 0 <= x0 < x1 and 0 <= y0 < y1")
    return (x0, y0, x1, y1)


def av_manifest_items(options: AVManifestOptions, context: SourceContext) -> list[Item]:
    """One item per row: its audio clip or its image, with the row's id and label."""
    path = resolve(options.manifest, context.base_dir)
    rows = read_av_manifest(
        path,
        audio_column=options.audio_column,
        image_column=options.image_column,
        id_column=options.id_column,
        label_column=options.label_column,
        require=(options.modality,),
        check_files=options.check_files and not options.skip_missing,
        limit=None if options.skip_missing else options.limit,
    )
    items = [Item(id=row.id, value=getattr(row, options.modality), is_file=True, label=row.label) for row in rows]
    if options.skip_missing:
        items = [item for item in items if Path(item.value).is_file()]
        if not items:
            raise BridgeError(f"{path}: none of the {options.modality} files listed exists")
    return items[: options.limit] if options.limit else items


SOURCE_TYPE = SourceType(
    name="av-manifest",
    items=av_manifest_items,
    missing_inputs=av_manifest_missing,
    options=AVManifestOptions,
    summary="Audio-visual evaluation manifest (CSV/JSONL: audio, image or frame, label, box): audio or image items.",
)
