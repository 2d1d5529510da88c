"""The synthworld models' training losses: InfoNCE and the residual-spread term."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from bridge_synthworld.losses import info_nce, residual_spread
from bridge_synthworld.training import TrainConfig


def cone(directions: torch.Tensor, centre_weight: float = 3.0) -> torch.Tensor:
    """``(B, D)`` unit rows: a fixed centre plus the given offsets, normalised (a narrow cone when the weight is large)."""
    centre = torch.zeros(directions.shape[1])
    centre[0] = centre_weight
    return F.normalize(centre + directions, dim=-1)


def test_residual_spread_ignores_where_the_cone_is_and_how_wide():
    """The term sees only the directions of the offsets from the batch centre: moving or scaling them changes nothing."""
    generator = torch.Generator().manual_seed(0)
    offsets = torch.randn(32, 16, generator=generator)
    embeddings = cone(offsets)
    shifted = embeddings + torch.randn(16, generator=generator)
    assert residual_spread(shifted).item() == pytest.approx(residual_spread(embeddings).item(), abs=1e-5)
    assert residual_spread(3.0 * embeddings).item() == pytest.approx(residual_spread(embeddings).item(), abs=1e-5)


def test_residual_spread_is_lower_for_offsets_in_many_directions():
    generator = torch.Generator().manual_seed(1)
    spread = cone(torch.randn(64, 32, generator=generator))
    two_ways = torch.zeros(64, 32)
    two_ways[:32, 1], two_ways[32:, 2] = 1.0, 1.0  # every offset along one of two directions
    clustered = cone(two_ways + 0.01 * torch.randn(64, 32, generator=generator))
    assert residual_spread(spread) < residual_spread(clustered) - 1.0
    assert residual_spread(spread) <= 0.0
    # identical rows (the same caption twice) add a constant, not a NaN
    assert math.isfinite(residual_spread(torch.cat([spread, spread[:4]])).item())


def test_residual_spread_gradient_spreads_offsets_without_moving_the_centre():
    """One gradient step on the term leaves the batch mean where it was (to first order) and spreads the offsets."""
    generator = torch.Generator().manual_seed(2)
    raw = torch.zeros(48, 24)
    raw[:, 1] = 1.0
    raw = (raw + 0.3 * torch.randn(48, 24, generator=generator)).requires_grad_()
    residual_spread(raw).backward()
    stepped = raw.detach() - 0.05 * raw.grad
    assert torch.allclose(raw.grad.sum(dim=0), torch.zeros(24), atol=1e-5)
    assert residual_spread(stepped) < residual_spread(raw.detach())


def test_info_nce_is_lowest_when_each_row_matches_its_own_caption():
    generator = torch.Generator().manual_seed(3)
    media = F.normalize(torch.randn(8, 16, generator=generator), dim=-1)
    same = torch.eye(8, dtype=torch.bool)
    scale = torch.tensor(100.0)
    aligned = info_nce(media, media, same, scale)
    shuffled = info_nce(media, media.roll(1, dims=0), same, scale)
    assert aligned < 0.01 < shuffled


def test_train_config_spread_defaults_to_text_and_refuses_other_roles():
    assert TrainConfig().spread == {"text": 0.6}
    assert TrainConfig(spread={}).spread == {}
    with pytest.raises(ValueError, match="spread"):
        TrainConfig(spread={"image": 0.5})
    with pytest.raises(ValueError, match="spread"):
        TrainConfig(spread={"text": -0.1})
