"""Contrastive losses of C-MCR."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def symmetric_infonce(left: torch.Tensor, right: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between paired rows.

    Args:
        left, right: ``(B, d)`` L2-normalised embeddings; row i of each is a positive pair,
            every other row a negative.
        temperature: tau; logits are cosine similarities / tau.

    Returns:
        Scalar: mean of the left→right and right→left cross-entropies.
    """
    logits = left @ right.T / temperature
    targets = torch.arange(left.shape[0], device=left.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def cmcr_losses(
    overlap_a: torch.Tensor,
    overlap_b: torch.Tensor,
    pseudo_x: torch.Tensor,
    pseudo_y: torch.Tensor,
    temperature: float,
    pseudo_pair_loss: bool = True,
) -> dict[str, torch.Tensor]:
    """The C-MCR loss terms for one batch of projected embeddings.

    Args:
        overlap_a: ``(B, d)`` f_A(a_i), the overlap items through MCR A's projector.
        overlap_b: ``(B, d)`` f_B(b_i).
        pseudo_x: ``(B, d)`` f_A(x_i), pseudo embeddings of A's other modality.
        pseudo_y: ``(B, d)`` f_B(y_i).

    Returns:
        ``inter`` (overlap pair [+ pseudo pair]) and ``intra`` (A: a vs x, B: b vs y).
    """
    inter = symmetric_infonce(overlap_a, overlap_b, temperature)
    if pseudo_pair_loss:
        inter = inter + symmetric_infonce(pseudo_x, pseudo_y, temperature)
    intra = symmetric_infonce(overlap_a, pseudo_x, temperature) + symmetric_infonce(overlap_b, pseudo_y, temperature)
    return {"inter": inter, "intra": intra}
