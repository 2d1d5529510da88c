"""The configuration of a projector: the model the projector owns (no torch needed to read it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

PositiveInt = Annotated[int, Strict(), Field(gt=0)]


class ProjectorConfig(BaseModel):
    """The projectors that map each MCR's space into the joint space."""

    model_config = ConfigDict(extra="forbid", strict=True)

    architecture: Literal["mlp2", "mlp1", "linear"] = Field(
        "mlp2",
        description=(
            "`mlp2`: Linear-BN-ReLU-Linear-BN (released CLIP-CLAP); `mlp1`: Linear-BN-ReLU "
            "(released CLIP-ULIP); `linear`: one Linear layer."
        ),
    )
    hidden_ratio: float = Field(2.0, gt=0, le=64, description="Hidden width of `mlp2` as a multiple of the input dimension.")
    output_dim: PositiveInt = Field(512, le=65536, description="Dimension of the joint space.")
    init: Literal["default", "orthogonal"] = Field("default", description="Weight initialisation of the Linear layers.")
