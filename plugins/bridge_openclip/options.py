"""Options of the `openclip` MCR type: which open_clip model, which weights, how to run it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Precision = Literal["fp32", "amp", "amp_bf16"]


class OpenClipOptions(BaseModel):
    """Options of the `openclip` MCR type."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(
        description=(
            "open_clip architecture name (e.g. `ViT-B-32`, `ViT-B-32-quickgelu`; see `open_clip.list_models()`), "
            "or `local-dir:PATH` (a folder holding `open_clip_config.json` and the weights, e.g. "
            "`open_clip_model.safetensors`), or `hf-hub:ORG/REPO` (an open_clip repository on the Hugging Face hub)."
        )
    )
    pretrained: str | None = Field(
        None,
        description=(
            "The weights of a plain architecture name: an open_clip pretrained tag (e.g. `openai`, "
            "`laion2b_s34b_b79k`; see `open_clip.list_pretrained()`) or a checkpoint file (`.safetensors`, or a "
            "`.pt`/`.bin` state dict, loaded with weights_only=True), relative to the recipe. Ignored (must be "
            "empty) with `local-dir:` and `hf-hub:` names, which carry their own weights."
        ),
    )
    quick_gelu: bool | None = Field(
        None,
        description=(
            "Force QuickGELU activations. Default: what the pretrained tag was trained with (`openai` weights "
            "need it), else the architecture's own setting."
        ),
    )
    download: bool = Field(
        False,
        description=(
            "Allow downloading a pretrained tag's or `hf-hub:` weights that are not cached yet. Off: nothing "
            "goes to the network (`HF_HUB_OFFLINE=1` unless you set it), and missing weights are one error "
            "line saying what to download and where to put it."
        ),
    )
    download_dir: Path | None = Field(
        None,
        description=(
            "Where open_clip keeps downloaded weights (its `cache_dir`); default: the Hugging Face cache "
            "(`$HF_HOME/hub`) for hub-hosted tags and `~/.cache/clip` for URL-hosted ones."
        ),
    )
    precision: Precision = Field(
        "fp32",
        description=(
            "`fp32`, or autocast on CUDA devices: `amp` (float16) or `amp_bf16` (bfloat16). Weights stay "
            "float32; on CPU every setting runs in float32."
        ),
    )
    batch_size: int = Field(64, gt=0, description="Images or texts encoded at once.")
    cache_dir: Path | None = Field(
        None,
        description=(
            "Folder of `fingerprints.json`, where weight-file hashes are remembered by (path, size, mtime); "
            "default: the recipe's `cache_dir`, else `$BRIDGE_CACHE` or `~/.cache/mcr-bridge`."
        ),
    )
    base_dir: Path | None = Field(
        None,
        description="Folder that relative paths in `pretrained` and `local-dir:` resolve against (the recipe's folder).",
    )
