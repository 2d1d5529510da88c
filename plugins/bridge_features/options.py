"""Options of the `features` MCR: which precomputed embedding files stand for which modality."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FeatureFiles(BaseModel):
    """The precomputed embeddings of one modality and the ids of their rows: two files, or an embedding folder."""

    model_config = ConfigDict(extra="forbid")

    embeddings: Path | None = Field(
        None, description="A `.npy` float array of shape (N, D) (memory-mapped, never unpickled) or a `.safetensors` file."
    )
    ids: Path | None = Field(None, description="Text file with one item id a line: line i names row i of `embeddings` (N lines).")
    tensor: str | None = Field(
        None, description="Name of the tensor in a `.safetensors` file (needed only when it holds more than one)."
    )
    folder: Path | None = Field(
        None,
        description=(
            "Instead of `embeddings` and `ids`: an embedding folder in the clip-retrieval layout (`bridge export`'s, or "
            "published ones such as LAION's): `<modality>_emb/*_<k>.npy` + `metadata/metadata_<k>.parquet`, memory-mapped."
        ),
    )
    emb_folder: str | None = Field(
        None, description="With `folder`: the sub-folder holding the `.npy` shards (default: `<modality>_emb`, or `img_emb` for images)."
    )
    id_column: str = Field("id", description="With `folder`: the metadata column whose values are the item ids (e.g. `key`, `caption`).")

    @model_validator(mode="after")
    def _one_layout(self) -> "FeatureFiles":
        if self.folder is not None:
            if self.embeddings is not None or self.ids is not None or self.tensor is not None:
                raise ValueError("give either `folder` or `embeddings` and `ids`, not both")
        elif self.embeddings is None or self.ids is None:
            raise ValueError("give `embeddings` and `ids` (two files), or `folder` (an embedding folder)")
        elif self.emb_folder is not None or self.id_column != "id":
            raise ValueError("`emb_folder` and `id_column` apply only with `folder`")
        return self


class FeaturesOptions(BaseModel):
    """Options of the `features` MCR type."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The MCR id these features stand for, e.g. `clip-vit-b32-features`.")
    modalities: dict[str, FeatureFiles] = Field(
        min_length=1, description="One set of feature files per modality, keyed by modality (e.g. `image`, `text`)."
    )
    normalize: bool = Field(True, description="L2-normalise every embedding row when it is read.")
    fingerprint: str | None = Field(
        None,
        description=(
            "Use this string as the weights fingerprint instead of hashing every file (for very large published sets); "
            "change it whenever the files change, or the cache returns stale embeddings."
        ),
    )
    base_dir: Path | None = Field(
        None,
        description=(
            "Folder that relative `embeddings`, `ids` and `folder` paths resolve against (a recipe's folder); "
            "default: the current working directory."
        ),
    )
