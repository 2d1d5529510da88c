"""The configuration of a projector: the model the projector owns (no torch needed to read it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

PositiveInt = Annotated[int, Strict(), Field(gt=0)]


class ProjectorConfig(BaseModel):
    """The projectors that map each MCR's space into the joint space."""

    model_config = ConfigDict(extra="forbid", strict=True)

    architecture: Literal["mlp2", "mlp1", "linear", "exmcr", "relative"] = Field(
        "mlp2",
        description=(
            "`mlp2`: Linear-BN-ReLU-Linear-BN (released CLIP-CLAP); `mlp1`: Linear-BN-ReLU "
            "(released CLIP-ULIP); `linear`: one Linear layer; `exmcr`: the Ex-MCR leaf head, an "
            "identity-initialised Linear then two Linear-BN-ReLU-Linear-BN blocks (strategy `extend` sets it); "
            "`relative`: softmax over the cosine similarities to `output_dim` stored anchors (strategy `pivot` sets it)."
        ),
    )
    hidden_ratio: float = Field(
        2.0, gt=0, le=64, description="Hidden width of `mlp2` (and of each `exmcr` block) as a multiple of its input dimension."
    )
    output_dim: PositiveInt = Field(512, le=65536, description="Dimension of the joint space.")
    relative_temperature: float = Field(
        0.1, gt=0, le=100, description="`relative`: temperature of the softmax over the anchor similarities (strategy `pivot`)."
    )
    init: Literal["default", "orthogonal"] = Field("default", description="Weight initialisation of the Linear layers.")
