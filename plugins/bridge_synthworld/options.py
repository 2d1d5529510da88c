"""Options of the synthetic world's two models (no torch needed to read them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SynthworldOptions(BaseModel):
    """Options of ``synthworld-pixel`` and ``synthworld-wave``."""

    model_config = ConfigDict(extra="forbid")

    weights: Path | None = Field(
        None,
        description="A .safetensors weights file with its .yaml beside it (default: the weights shipped with the plugin).",
    )
    device: str = Field("cpu", description="Torch device to run the model on, e.g. `cpu` or `cuda`.")
