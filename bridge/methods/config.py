"""The settings the built-in gradient strategies own: semantic enhancement and projector training.

Recipes refer to these models (``enhance:``, ``training:``); they do not import torch.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

Int = Annotated[int, Strict()]
Centre = Literal["overlap", "leaf", "base"]


class EnhanceConfig(BaseModel):
    """Semantic enhancement of the features before training (C-MCR section 3)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    consistency: bool = Field(True, description="Build pseudo embeddings of the non-overlapping modalities from the memories.")
    memory_temperature: float = Field(0.01, gt=0, description="Softmax temperature tau_mem of the memory aggregation.")
    noise: bool = Field(True, description="Add semantic-completion noise to every projector input during training.")
    noise_sigma: float = Field(0.04, ge=0, le=100, description="Standard deviation of the Gaussian noise per coordinate.")
    chunk_size: Int = Field(8192, gt=0, le=2**24, description="Memory rows per chunk of the streamed (online) softmax.")
    query_chunk_size: Int = Field(4096, gt=0, le=2**24, description="Query rows processed together by the streamed softmax.")
    centres: list[Centre] = Field(
        ["overlap", "leaf", "base"],
        min_length=1,
        description=(
            "Strategy `extend`: where its pseudo pairs start: `overlap` items, the `leaf` member's memory, the `base` "
            "member's memory (each retrieves the other modalities through the memories)."
        ),
    )


class TrainingConfig(BaseModel):
    """Projector training."""

    model_config = ConfigDict(extra="forbid", strict=True)

    epochs: Int = Field(20, gt=0, le=100_000, description="Passes over the overlap corpus.")
    batch_size: Int = Field(1024, gt=1, le=2**24, description="Overlap items per step (the InfoNCE negatives).")
    optimizer: Literal["adamw", "adam", "sgd"] = Field("adamw", description="Optimiser.")
    lr: float = Field(1e-3, gt=0, le=100, description="Learning rate.")
    weight_decay: float = Field(1e-4, ge=0, description="Weight decay.")
    temperature: float = Field(0.02, gt=0, description="InfoNCE temperature tau.")
    intra_weight: float = Field(0.1, ge=0, description="lambda: weight of the intra-MCR loss.")
    pseudo_pair_loss: bool = Field(True, description="Use the inter-MCR loss on the pseudo pairs (x_i, y_i).")
    dense_alignment: bool = Field(
        True,
        description=(
            "Strategy `extend`: contrast both leaf embeddings (its own modality, the overlap) with both base embeddings "
            "(overlap, pseudo base modality); false: only overlap with overlap and leaf modality with base modality."
        ),
    )
    procrustes: Literal["orthogonal", "least_squares"] = Field(
        "orthogonal", description="Strategy `procrustes`: a scaled orthogonal map or an unconstrained least-squares map (after centring)."
    )
    seed: Int = Field(0, ge=0, lt=2**32, description="Seed of initialisation, shuffling and noise.")
