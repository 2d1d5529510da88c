"""What every joint space does with its members: embed raw items or features, averaging a shared modality.

:class:`~bridge.core.space.Bridge` (one saved bridge) and
:class:`~bridge.core.composed.Space` (bridges composed through a shared MCR)
both derive from :class:`JointEmbedding`; each supplies ``members_for``,
``encode`` and ``project``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F

from bridge.core.mcr import Modality
from bridge.errors import BridgeError, quoted


class JointEmbedding:
    """Embedding into a joint space through named members (subclasses give the three primitives)."""

    def members_for(self, modality: Modality) -> list[str]:
        """The members that encode ``modality`` (raises when none does)."""
        raise NotImplementedError

    def encode(self, member: str, modality: Modality, items: Sequence[Any], batch_size: int | None = None) -> torch.Tensor:
        """Raw items through ``member``'s MCR → ``(N, D_member)``."""
        raise NotImplementedError

    def project(self, member: str, features: torch.Tensor) -> torch.Tensor:
        """``member``'s features ``(N, D_member)`` → joint-space embeddings ``(N, dim)``, rows L2-normalised."""
        raise NotImplementedError

    def embed(self, modality: Modality, items: Sequence[Any], via: str | None = None) -> torch.Tensor:
        """Embed raw items (file paths, texts, arrays) into the joint space.

        Args:
            modality: e.g. ``"audio"``.
            items: ``N`` things the MCR's ``prepare`` accepts.
            via: for a modality several members encode (the overlap): one member's name, or
                ``None`` for the normalised mean over all of them.

        Returns:
            ``(N, dim)`` float32, rows L2-normalised.
        """
        members = self.choose_members(modality, via)
        return mean_direction([self.project(member, self.encode(member, modality, list(items))) for member in members])

    def embed_features(self, modality: Modality, features: dict[str, torch.Tensor], via: str | None = None) -> torch.Tensor:
        """Like :meth:`embed` from precomputed MCR features ``{member: (N, D_member)}`` → ``(N, dim)``."""
        members = self.choose_members(modality, via)
        missing = [member for member in members if member not in features]
        if missing:
            raise BridgeError(f"features of {quoted(modality)} through member {quoted(missing[0])} are needed")
        return mean_direction([self.project(member, features[member]) for member in members])

    def choose_members(self, modality: Modality, via: str | None) -> list[str]:
        """The members that embed ``modality``: all that encode it, or only ``via``."""
        members = self.members_for(modality)
        if via is None:
            return members
        if via not in members:
            raise BridgeError(f"{quoted(modality)} cannot be embedded via {quoted(via)}; it is encoded by {', '.join(members)}")
        return [via]

    @staticmethod
    def similarity(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """Cosine similarities ``(N_left, N_right)`` of joint-space embeddings ``(N_left, d)``, ``(N_right, d)``."""
        return F.normalize(left, dim=-1) @ F.normalize(right, dim=-1).T


def mean_direction(embeddings: list[torch.Tensor]) -> torch.Tensor:
    """The normalised mean of several ``(N, d)`` embeddings of the same items (one is returned as it is)."""
    if len(embeddings) == 1:
        return embeddings[0]
    return F.normalize(torch.stack(embeddings).mean(dim=0), dim=-1)
