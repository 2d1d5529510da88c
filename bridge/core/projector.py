"""Projectors: map one MCR's space into the joint space.

Architectures follow the authors' released checkpoints (module names too, so
released weights import by renaming prefixes):

- ``mlp2`` (C-MCR CLIP–CLAP release, ``Head_X.net.*``): Linear(d, h) → BatchNorm1d → ReLU → Linear(h, d_out) → BatchNorm1d
- ``mlp1`` (C-MCR CLIP–ULIP release, ``Head_X.net.*``): Linear(d, d_out) → BatchNorm1d → ReLU
- ``linear``: Linear(d, d_out) (closed-form maps, e.g. strategy ``procrustes``)
- ``exmcr`` (Ex-MCR release ``ex_clap.pt``/``ex_ulip.pt``; keys ``Head1.*``, ``Head2.mlp{1,2}.net{1,2}.{0,1}.*``
  become ``net.Head1.*``, ``net.Head2.*``): Head1 = Linear(d, d_out) initialised to the
  identity (an isometry when d ≠ d_out), then Head2 = mlp1 → mlp2, each block
  net1 = Linear(d_out, h) → BatchNorm1d → ReLU, net2 = Linear(h, d_out) → BatchNorm1d
  (no activation between the blocks, no residual)
- ``relative`` (strategy ``pivot``): softmax over the cosine similarities to K stored
  anchors ``(K, d)`` (a buffer, ``net.anchors``) at ``relative_temperature``; d_out = K

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

    Attributes:
        config: the configuration it was built from (what ``bridge.yaml`` records).
    """

    def __init__(self, input_dim: int, config: ProjectorConfig):
        super().__init__()
        self.input_dim = input_dim
        self.output_dim = config.output_dim
        self.config = config
        self.net = _build(input_dim, config)
        if config.init == "orthogonal":
            for module in self.net.modules():
                if isinstance(module, nn.Linear) and not getattr(module, "keeps_identity_init", False):
                    nn.init.orthogonal_(module.weight)
                    nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(N, input_dim)`` → ``(N, output_dim)``, rows L2-normalised."""
        return F.normalize(self.net(features), dim=-1)


class ExMCRBlock(nn.Module):
    """One Ex-MCR MLP block: ``(N, d)`` → Linear(d, h) → BN → ReLU → Linear(h, d) → BN → ``(N, d)``."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net1 = nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.net2 = nn.Sequential(nn.Linear(hidden, dim), nn.BatchNorm1d(dim))
        for linear in (self.net1[0], self.net2[0]):
            nn.init.xavier_uniform_(linear.weight)  # as the release's Head2 ('xav')

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net2(self.net1(features))


class ExMCRMLP(nn.Module):
    """Ex-MCR's inter-space part (the release's ``Head2``): ``(N, d)`` → mlp1 → mlp2 → ``(N, d)``."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.mlp1 = ExMCRBlock(dim, hidden)
        self.mlp2 = ExMCRBlock(dim, hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp2(self.mlp1(features))


class ExMCRHead(nn.Module):
    """The Ex-MCR leaf head without its final normalisation: ``(N, d_leaf)`` → Head1 → Head2 → ``(N, d_base)``.

    ``Head1`` (intra-space: pulls the leaf's modalities together) is a Linear
    layer initialised to the identity when ``d_leaf == d_base`` and to a
    (semi-)orthogonal isometry otherwise; ``Head2`` (inter-space) maps into the base.
    """

    def __init__(self, input_dim: int, output_dim: int, hidden_ratio: float):
        super().__init__()
        self.Head1 = nn.Linear(input_dim, output_dim)
        self.Head1.keeps_identity_init = True
        with torch.no_grad():
            if input_dim == output_dim:
                nn.init.eye_(self.Head1.weight)
            else:
                nn.init.orthogonal_(self.Head1.weight)
            nn.init.zeros_(self.Head1.bias)
        self.Head2 = ExMCRMLP(output_dim, max(1, round(output_dim * hidden_ratio)))

    def intra(self, features: torch.Tensor) -> torch.Tensor:
        """``Head1`` alone: ``(N, d_leaf)`` → ``(N, d_base)`` (not normalised)."""
        return self.Head1(features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.Head2(self.Head1(features))


class RelativeHead(nn.Module):
    """Relative representation: ``(N, d)`` → ``softmax(x · anchors^T / temperature)`` ``(N, K)``.

    The anchors ``(K, d)`` (unit rows: one member's embeddings of K overlap items)
    are a buffer, saved with the weights. An item is described by *which*
    anchors it is close to, which survives a modality gap (a shift that lowers
    every similarity of one modality alike).
    """

    def __init__(self, input_dim: int, anchors: int, temperature: float):
        super().__init__()
        self.temperature = temperature
        self.register_buffer("anchors", torch.zeros(anchors, input_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(features @ self.anchors.T / self.temperature, dim=-1)


def _build(input_dim: int, config: ProjectorConfig) -> nn.Module:
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
    if config.architecture == "exmcr":
        return ExMCRHead(input_dim, output_dim, config.hidden_ratio)
    if config.architecture == "relative":
        return RelativeHead(input_dim, output_dim, config.relative_temperature)
    raise ValueError(f"unknown projector architecture {config.architecture!r}")
