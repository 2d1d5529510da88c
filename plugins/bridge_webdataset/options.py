"""Options of the `webdataset` source: which tar shards, which member is the item, where labels are."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TEXT_EXTENSIONS = ("txt", "text", "caption", "cap")
"""Members with these extensions are texts (their UTF-8 content is the item); any other member is a file."""

DEFAULT_MEMBERS = {
    "image": ("jpg", "jpeg", "png", "webp", "bmp"),
    "audio": ("flac", "wav", "mp3", "ogg"),
    "text": ("txt", "caption", "text"),
}
"""The members a modality's items are taken from when ``member`` is not given (the first present wins)."""


class WebDatasetOptions(BaseModel):
    """Options of the `webdataset` source type."""

    model_config = ConfigDict(extra="forbid")

    shards: str | list[str] = Field(
        description=(
            "Tar shards: a path, a brace pattern such as `data/{000000..000999}.tar`, or a list of them "
            "(relative to the recipe); read in the order given, one sample at a time."
        )
    )
    member: str | list[str] = Field(
        description=(
            "The member extension(s) that hold the item, e.g. `jpg`, `[jpg, png]`, `flac` or `txt` (the first "
            "one a sample has is taken). Text members (`txt`, `text`, `caption`, `cap`) give text items; others "
            "are written once to a content-addressed folder and given as files."
        )
    )
    label: str | None = Field(
        None,
        description=(
            "Where a sample's label is: a member extension whose text is the label (`cls`, `label.txt`), or "
            "`json:FIELD` for a field of the `json` member (dots reach nested fields: `json:meta.class`)."
        ),
    )
    missing: Literal["error", "skip"] = Field(
        "error", description="A sample without any `member` (or without its label): stop with an error naming it, or leave it out."
    )
    files_dir: Path | None = Field(
        None,
        description="Folder where file members are written, named by their sha256 (default: `<cache_dir>/webdataset-members`).",
    )
    limit: int | None = Field(None, gt=0, description="Read at most this many samples (the first ones, in shard order).")

    @field_validator("member")
    @classmethod
    def _extensions(cls, value: str | list[str]) -> list[str]:
        members = [value] if isinstance(value, str) else list(value)
        if not members or any(not m or m.startswith(".") or "/" in m for m in members):
            raise ValueError("give member extensions without a dot, e.g. `jpg` or `[jpg, png]`")
        return [m.lower() for m in members]

    @field_validator("shards")
    @classmethod
    def _shards(cls, value: str | list[str]) -> list[str]:
        shards = [value] if isinstance(value, str) else list(value)
        if not shards or any(not s.strip() for s in shards):
            raise ValueError("give at least one shard path or brace pattern")
        return shards

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or value == "json:"):
            raise ValueError("give a member extension (`cls`) or `json:FIELD`")
        return value
