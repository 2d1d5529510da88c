import math

import torch

from bridge.methods.losses import cmcr_losses, symmetric_infonce


def test_symmetric_infonce_matches_a_hand_computed_value():
    left = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    right = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    t = 0.5
    # logits = left @ right.T / t = [[1.2, 0], [1.6, 2]]
    row_loss = (-(1.2 - math.log(math.exp(1.2) + math.exp(0.0))) - (2.0 - math.log(math.exp(1.6) + math.exp(2.0)))) / 2
    column_loss = (-(1.2 - math.log(math.exp(1.2) + math.exp(1.6))) - (2.0 - math.log(math.exp(0.0) + math.exp(2.0)))) / 2
    expected = (row_loss + column_loss) / 2
    assert math.isclose(symmetric_infonce(left, right, t).item(), expected, rel_tol=1e-6)


def test_infonce_is_low_for_matching_and_high_for_shuffled_pairs():
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.nn.functional.normalize(torch.randn(64, 16, generator=generator), dim=-1)
    matched = symmetric_infonce(embeddings, embeddings, 0.05)
    shuffled = symmetric_infonce(embeddings, embeddings.roll(1, dims=0), 0.05)
    assert matched.item() < 0.5 < math.log(64) < shuffled.item()


def test_cmcr_losses_terms():
    generator = torch.Generator().manual_seed(1)
    a, b, x, y = (torch.nn.functional.normalize(torch.randn(8, 4, generator=generator), dim=-1) for _ in range(4))
    both = cmcr_losses(a, b, x, y, 0.1, pseudo_pair_loss=True)
    overlap_only = cmcr_losses(a, b, x, y, 0.1, pseudo_pair_loss=False)
    torch.testing.assert_close(both["inter"], symmetric_infonce(a, b, 0.1) + symmetric_infonce(x, y, 0.1))
    torch.testing.assert_close(overlap_only["inter"], symmetric_infonce(a, b, 0.1))
    torch.testing.assert_close(both["intra"], symmetric_infonce(a, x, 0.1) + symmetric_infonce(b, y, 0.1))
