"""Options of the `features` MCR: which precomputed embedding files stand for which modality."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class FeatureFiles(BaseModel):
    """The precomputed embeddings of one modality and the ids of their rows."""

    model_config = ConfigDict(extra="forbid")

    embeddings: Path = Field(
        description="A `.npy` float array of shape (N, D) (memory-mapped, never unpickled) or a `.safetensors` file."
    )
    ids: Path = Field(description="Text file with one item id a line: line i names row i of `embeddings` (N lines).")
    tensor: str | None = Field(
        None, description="Name of the tensor in a `.safetensors` file (needed only when it holds more than one)."
    )


class FeaturesOptions(BaseModel):
    """Options of the `features` MCR type."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The MCR id these features stand for, e.g. `clip-vit-b32-features`.")
    modalities: dict[str, FeatureFiles] = Field(
        min_length=1, description="One set of feature files per modality, keyed by modality (e.g. `image`, `text`)."
    )
    normalize: bool = Field(True, description="L2-normalise every embedding row when it is read.")
    base_dir: Path | None = Field(
        None,
        description=(
            "Folder that relative `embeddings` and `ids` paths resolve against (a recipe's folder); "
            "default: the current working directory."
        ),
    )
