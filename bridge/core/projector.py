"""Projectors: map one MCR's space into the joint space.

Architectures follow the authors' released checkpoints (module names too, so
released weights import by renaming ``Head_A.``/``Head_B.`` prefixes):

- ``mlp2`` (CLIP–CLAP release): Linear(d, h) → BatchNorm1d → ReLU → Linear(h, d_out) → BatchNorm1d
- ``mlp1`` (CLIP–ULIP release): Linear(d, d_out) → BatchNorm1d → ReLU
- ``linear``: Linear(d, d_out)

Outputs are L2-normalised.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from bridge.core.projector_config import ProjectorConfig


class Projector(nn.Module):
    """One MCR's projector into the joint space.

    Args:
        input_dim: D, the MCR's embedding dimension.
        config: architecture and output dimension d.
    """

    def __init__(self, input_dim: int, config: ProjectorConfig):
        super().__init__()
        self.input_dim = input_dim
        self.output_dim = config.output_dim
        self.net = _build(input_dim, config)
        if config.init == "orthogonal":
            for module in self.net:
                if isinstance(module, nn.Linear):
                    nn.init.orthogonal_(module.weight)
                    nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, input_dim)`` → ``(N, output_dim)``, rows L2-normalised."""
        return F.normalize(self.net(features), dim=-1)


def _build(input_dim: int, config: ProjectorConfig) -> nn.Sequential:
    output_dim = config.output_dim
    if config.architecture == "mlp2":
        hidden = max(1, round(input_dim * config.hidden_ratio))
        return nn.Sequential(
            nn.Linear(input_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, output_dim),
            nn.BatchNorm1d(output_dim),
        )
    if config.architecture == "mlp1":
        return nn.Sequential(nn.Linear(input_dim, output_dim), nn.BatchNorm1d(output_dim), nn.ReLU())
    if config.architecture == "linear":
        return nn.Sequential(nn.Linear(input_dim, output_dim))
    raise ValueError(f"unknown projector architecture {config.architecture!r}")
