"""The `coco-captions` source: COCO caption annotations as text items, or their images as image items.

A recipe names it as::

    overlap: {plugin: coco-captions, options: {annotations: coco/annotations/captions_train2017.json}}
    memory:
      image: {plugin: coco-captions, options: {annotations: coco/annotations/captions_train2017.json,
                                               modality: image, images: coco/train2017}}

Text items: id = the annotation id, value = the caption (whitespace
collapsed), label = the image id. Image items: id = label = the image id,
value = the file in ``images``. Text and image items of one file share
labels, so ``relevance: label`` pairs captions with their image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge import BridgeError, Item, SourceContext, SourceType
from bridge_datasets.missing import coco_missing
from bridge_datasets.media import media_file
from bridge_datasets.rows import one_line, require_file, require_folder, resolve


class CocoCaptionsOptions(BaseModel):
    """Options of the `coco-captions` source."""

    model_config = ConfigDict(extra="forbid")

    annotations: Path = Field(description="A COCO captions file, e.g. `annotations/captions_train2017.json` (relative to the recipe).")
    modality: Literal["text", "image"] = Field("text", description="`text`: one item per caption; `image`: one item per captioned image.")
    images: Path | None = Field(None, description="Folder of the image files (e.g. `train2017/`); needed for `modality: image`.")
    captions_per_image: int | None = Field(
        None, ge=1, description="Keep only the first K captions of each image (file order); default: all."
    )
    limit: int | None = Field(None, ge=1, description="Keep only the first N items.")
    check_files: bool = Field(True, description="Check every image file exists (fails on the first missing one).")


def coco_items(options: CocoCaptionsOptions, context: SourceContext) -> list[Item]:
    """The captions (or captioned images) of a COCO captions file, in file order."""
    path = require_file(resolve(options.annotations, context.base_dir), "COCO captions file")
    data = _read_json(path)
    captions = _captions(data, path)
    if options.modality == "text":
        items = _text_items(captions, options.captions_per_image)
    else:
        if options.images is None:
            raise BridgeError(f"images: needed for `modality: image` of {path}; give the folder of the image files")
        folder = require_folder(resolve(options.images, context.base_dir), "COCO images folder")
        items = _image_items(data, path, {image_id for _, image_id, _ in captions}, folder, options.check_files, options.limit)
    if not items:
        raise BridgeError(f"{path}: no {options.modality} items (no annotations with captions)")
    return items[: options.limit] if options.limit else items


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as stream:
            data = json.load(stream)
    except UnicodeDecodeError as error:
        raise BridgeError(f"{path}: not UTF-8 text; expected a COCO captions JSON file") from error
    except json.JSONDecodeError as error:
        raise BridgeError(f"{path}:{error.lineno}: not valid JSON ({error.msg} at column {error.colno})") from error
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise BridgeError(f"{path}: expected a COCO captions file: a JSON object with an `annotations` list")
    return data


def _captions(data: dict[str, Any], path: Path) -> list[tuple[str, str, str]]:
    """(annotation id, image id, caption) of every annotation, checked."""
    captions: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for index, annotation in enumerate(data["annotations"]):
        where = f"{path}: annotations[{index}]"
        if not isinstance(annotation, dict):
            raise BridgeError(f"{where}: expected an object with `id`, `image_id` and `caption`")
        for key in ("id", "image_id", "caption"):
            if key not in annotation or annotation[key] is None:
                raise BridgeError(f"{where}: missing `{key}`")
        annotation_id = str(annotation["id"])
        if annotation_id in seen:
            raise BridgeError(f"{where}: duplicate annotation id {annotation_id}")
        seen.add(annotation_id)
        caption = one_line(str(annotation["caption"]))
        if not caption:
            raise BridgeError(f"{where}: empty caption (annotation id {annotation_id})")
        captions.append((annotation_id, str(annotation["image_id"]), caption))
    return captions


def _text_items(captions: list[tuple[str, str, str]], per_image: int | None) -> list[Item]:
    counts: dict[str, int] = {}
    items = []
    for annotation_id, image_id, caption in captions:
        counts[image_id] = counts.get(image_id, 0) + 1
        if per_image is None or counts[image_id] <= per_image:
            items.append(Item(id=annotation_id, value=caption, is_file=False, label=image_id))
    return items


def _image_items(
    data: dict[str, Any], path: Path, captioned: set[str], folder: Path, check: bool, limit: int | None
) -> list[Item]:
    images = data.get("images")
    if not isinstance(images, list):
        raise BridgeError(f"{path}: no `images` list; image items need each image's `id` and `file_name`")
    items: list[Item] = []
    listed: set[str] = set()
    for index, image in enumerate(images):
        where = f"{path}: images[{index}]"
        if not isinstance(image, dict) or "id" not in image or not image.get("file_name"):
            raise BridgeError(f"{where}: expected an object with `id` and `file_name`")
        image_id = str(image["id"])
        if image_id not in captioned or image_id in listed:
            continue
        listed.add(image_id)
        value = media_file(str(image["file_name"]), folder, check, where)
        items.append(Item(id=image_id, value=value, is_file=True, label=image_id))
        if limit is not None and len(items) >= limit:
            break
    return items


SOURCE_TYPE = SourceType(
    name="coco-captions",
    items=coco_items,
    missing_inputs=coco_missing,
    options=CocoCaptionsOptions,
    summary="COCO captions JSON: captions as text items (id = annotation id) or captioned images as image items.",
)
