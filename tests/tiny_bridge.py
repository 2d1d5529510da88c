"""A two-member bridge small enough to build in a test: no MCR, no training, random projectors."""

from __future__ import annotations

import torch

from bridge.core.artifact import MemberRecord, SpaceSpec
from bridge.core.projector import Projector
from bridge.core.projector_config import ProjectorConfig
from bridge.core.space import Bridge


def tiny_space(seed: int = 0) -> Bridge:
    """Two members (dims 6 and 5) with `mlp2` projectors into a 4-d space; no MCR is loaded."""
    config = ProjectorConfig(output_dim=4)
    members = {
        name: MemberRecord(plugin="features", options={}, id=f"mcr-{name}", fingerprint="0" * 16, modalities=["text", modality],
                           dim=dim, projector=config)
        for name, modality, dim in (("a", "image", 6), ("b", "audio", 5))
    }
    spec = SpaceSpec(name="tiny", strategy="connect", overlap="text", dim=4, members=members)
    torch.manual_seed(seed)
    return Bridge(spec, {name: Projector(record.dim, config) for name, record in members.items()})
