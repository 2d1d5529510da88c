"""The losses the synthworld models train with: symmetric InfoNCE and the residual-spread term.

InfoNCE aligns a batch's pairs; on its own, with small encoders and a world
whose captions say most of what the media show, it drives each embedding's
offset from its modality's centre to be almost the same for an image and its
caption (matched cosine ~0.7, against CLIP's ~0.3). Large pretrained
encoders keep much that the other modality does not say.
:func:`residual_spread` asks for that: it is the uniformity loss of Wang &
Isola (ICML 2020) applied to the *directions* of the offsets from the batch
centre, so it spreads a modality's items over its own cone without moving
or widening the cone (the modality gap stays).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SPREAD_SHARPNESS = 2.0
"""``t`` of the uniformity kernel ``exp(-t * |u - v|^2)`` (Wang & Isola's default)."""


def info_nce(media: torch.Tensor, text: torch.Tensor, same_text: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over a batch.

    Args:
        media: ``(B, D)`` normalised media embeddings.
        text: ``(B, D)`` normalised text embeddings of their captions.
        same_text: ``(B, B)`` bool, captions i and j are the same string
            (the diagonal is True); each row's positives share its mass.
        logit_scale: scalar ``1 / tau``.

    Returns:
        Scalar loss: mean of the media->text and text->media cross-entropies.
    """
    logits = logit_scale * media @ text.T
    targets = same_text.float() / same_text.float().sum(dim=1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets.T))


def residual_spread(embeddings: torch.Tensor) -> torch.Tensor:
    """How little a batch's offsets from its centre spread over directions (lower: more spread).

    ``log mean_{i != j} exp(-t |u_i - u_j|^2)`` with ``u_i`` the unit
    direction of ``embeddings[i] - mean(embeddings)`` and ``t`` =
    :data:`SPREAD_SHARPNESS`. Rows that are equal (the same caption twice)
    add a constant.

    Args:
        embeddings: ``(B, D)`` normalised embeddings of one modality, B >= 2.

    Returns:
        Scalar, at most 0.
    """
    directions = F.normalize(embeddings - embeddings.mean(dim=0, keepdim=True), dim=-1)
    squared_distances = 2.0 - 2.0 * directions @ directions.T
    off_diagonal = ~torch.eye(len(embeddings), dtype=torch.bool, device=embeddings.device)
    return torch.log(torch.exp(-SPREAD_SHARPNESS * squared_distances)[off_diagonal].mean())
