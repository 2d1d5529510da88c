"""The ``synthworld`` data-source type: a split of the synthetic world as items.

A recipe names it as::

    {plugin: synthworld, options: {split: eval, modality: audio, count: 480, seed: 0}}

Items of different modalities from the same split and count share ids (the
scene ids): that is what ``relevance: id`` pairs; labels are the main
concept names (``relevance: label``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge import Item, SourceContext, SourceType
from bridge.data.sources import resolve
from bridge_synthworld.files import materialize
from bridge_synthworld.world import World

Split = Literal["mcr_train", "overlap", "image_memory", "audio_memory", "paired", "eval", "val"]
SourceModality = Literal["image", "audio", "pointcloud", "text", "text:neutral", "text:vision", "text:audio"]


class SynthworldSourceOptions(BaseModel):
    """Options of the ``synthworld`` source."""

    model_config = ConfigDict(extra="forbid")

    split: Split = Field(description="Which split's scenes (splits never share a scene).")
    modality: SourceModality = Field(
        description=(
            "`image` (64x64 PNG files), `audio` (1 s 16 kHz WAV files), `pointcloud` (NPY files of 1,024-2,048 "
            "float32 (x, y, z) points), or captions: `text` / `text:neutral` "
            "(concept names only, for the overlap corpus), `text:vision`, `text:audio`."
        )
    )
    count: int = Field(gt=0, description="Number of scenes (the first `count` of the split).")
    seed: int = Field(0, ge=0, description="World seed: which concepts look and sound how, and which scenes exist.")
    root: Path | None = Field(
        None,
        description="Folder of the generated files (relative to the recipe); default: the cache folder's `synthworld`.",
    )


def synthworld_items(options: SynthworldSourceOptions, context: SourceContext) -> list[Item]:
    """The items of one split and modality, generating (once) the files they point to."""
    root = resolve(options.root, context.base_dir) if options.root is not None else context.cache_dir / "synthworld"
    return materialize(World(options.seed), options.split, options.count, options.modality, root, progress=context.reporter)


SOURCE_TYPE = SourceType(
    name="synthworld",
    items=synthworld_items,
    options=SynthworldSourceOptions,
    summary="Synthetic audio-image-text scenes with known concepts (PNG, WAV, captions in three styles).",
)
