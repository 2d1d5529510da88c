"""The composed-space folder format: ``space.yaml`` (bridges by path, links) + ``links.safetensors`` (fitted maps).

See :mod:`bridge.core.composed` for what the links mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SPACE_FILE = "space.yaml"
LINKS_FILE = "links.safetensors"


class LinkRecord(BaseModel):
    """How one bridge's joint space is carried into its parent's."""

    model_config = ConfigDict(extra="forbid", strict=True)

    parent: str = Field(description="The bridge it is attached to.")
    through: str = Field(description="Id of the MCR both bridges hold.")
    kind: Literal["identity", "projector", "fitted"] = Field(description="How the space is carried (see `bridge.core.composed`).")


class SpaceFile(BaseModel):
    """The content of ``space.yaml``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: Literal["mcr-bridge-space"] = Field("mcr-bridge-space", description="What this folder is.")
    format_version: Literal[1] = Field(1, description="Space folder format.")
    name: str = Field(min_length=1, max_length=200, description="Name of the space.")
    bridges: dict[str, str] = Field(min_length=1, description="Bridge name → its folder (relative to the space folder, or absolute); the first is the root.")
    links: dict[str, LinkRecord] = Field(
        default_factory=dict, description="Every bridge but the root → how it joins (derived from the bridges when left out)."
    )
    recipe: dict[str, Any] | None = Field(None, description="The resolved space recipe it was composed from (`bridge compose`), if any.")
    recipe_dir: str | None = Field(None, description="Folder that recipe's relative paths resolve against.")


def is_space_directory(directory: str | Path) -> bool:
    """Whether ``directory`` holds a composed space (``space.yaml``) rather than a bridge."""
    return (Path(directory) / SPACE_FILE).is_file()
