"""Options of the `laionclap` MCR type: which LAION-CLAP checkpoint and architecture."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TextModel = Literal["roberta", "bert", "bart"]


class LaionClapOptions(BaseModel):
    """Options of the `laionclap` MCR type."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    checkpoint: Path = Field(
        description=(
            "A LAION-CLAP checkpoint file as released (e.g. `630k-audioset-fusion-best.pt`, the one C-MCR used, "
            "with `fusion: true`), relative to the recipe. laion_clap's own loader reads it (torch.load)."
        )
    )
    fusion: bool = Field(
        False,
        description=(
            "The checkpoint is a feature-fusion model (`*-fusion-*.pt`): clips longer than 10 s are seen whole "
            "(a shrunk global view plus three 10 s local views). Off: longer clips are cut to their middle 10 s."
        ),
    )
    amodel: str = Field(
        "HTSAT-tiny",
        description="Audio encoder architecture the checkpoint was trained with: `HTSAT-tiny` (the released 630k models), `HTSAT-base`, ...",
    )
    tmodel: TextModel = Field("roberta", description="Text encoder the checkpoint was trained with (`roberta` for the released models).")
    batch_size: int = Field(32, gt=0, description="Audio clips or texts encoded at once.")
    cache_dir: Path | None = Field(
        None,
        description=(
            "Folder of `fingerprints.json`, where checkpoint hashes are remembered by (path, size, mtime); "
            "default: the recipe's `cache_dir`, else `$BRIDGE_CACHE` or `~/.cache/mcr-bridge`."
        ),
    )
    base_dir: Path | None = Field(None, description="Folder a relative `checkpoint` resolves against (the recipe's folder).")
