"""A minimal bridge plugin: an MCR that embeds text (and "names") by hashed character trigrams.

It is not a useful model; it shows every part a plugin needs: an options model
with described fields, an MCR subclass, and the `register_mcrs` hook.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch.nn import functional as F

import bridge


class CharHashOptions(BaseModel):
    """Options of the `charhash` MCR."""

    model_config = ConfigDict(extra="forbid")

    dim: int = Field(64, gt=0, description="Embedding dimension.")
    lowercase: bool = Field(True, description="Lower-case the text before hashing.")


class CharHashMCR(bridge.MCR):
    """Encodes the modalities `text` and `name` (the same way) as normalised trigram counts."""

    modalities = ("text", "name")

    def __init__(self, options: CharHashOptions):
        self.options = options
        self.dim = options.dim
        self.id = f"charhash-{options.dim}"
        self.fingerprint = hashlib.sha256(options.model_dump_json().encode()).hexdigest()[:16]

    def prepare(self, modality: str, item: str) -> str:
        text = str(item)
        return text.lower() if self.options.lowercase else text

    def encode(self, modality: str, inputs: Sequence[str]) -> torch.Tensor:
        """``(N, dim)`` rows L2-normalised."""
        out = torch.zeros(len(inputs), self.dim)
        for row, text in enumerate(inputs):
            padded = f"  {text} "
            for start in range(len(padded) - 2):
                out[row, zlib.crc32(padded[start : start + 3].encode()) % self.dim] += 1.0
        return F.normalize(out, dim=-1)


@bridge.hookimpl
def register_mcrs(register):
    register(
        bridge.MCRType(
            name="charhash",
            load=CharHashMCR,
            options=CharHashOptions,
            modalities=CharHashMCR.modalities,
            summary="Character-trigram hashing (an example plugin).",
        )
    )
