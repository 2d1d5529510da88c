"""The authors' released CLIP–ULIP projector weights import and reproduce the release's forward pass."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.nn import functional as F

from bridge.errors import BridgeError
from bridge.core.release import convert_release, load_release

RELEASE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmcr-release" / "ulip_clip.pt"
pytestmark = pytest.mark.skipif(not RELEASE.exists(), reason="../shared/data/cmcr-release is not beside this checkout")


def release_forward(state: dict[str, torch.Tensor], head: str, features: torch.Tensor) -> torch.Tensor:
    """The release's Head: Linear → BatchNorm1d (eval) → ReLU, then L2-normalise — written out by hand."""
    hidden = F.linear(features, state[f"{head}.net.0.weight"], state[f"{head}.net.0.bias"])
    hidden = F.batch_norm(
        hidden, state[f"{head}.net.1.running_mean"], state[f"{head}.net.1.running_var"],
        state[f"{head}.net.1.weight"], state[f"{head}.net.1.bias"], training=False, eps=1e-5,
    )
    return F.normalize(F.relu(hidden), dim=-1)


def test_released_heads_reproduce_the_release_forward_pass(tmp_path):
    state = torch.load(RELEASE, map_location="cpu", weights_only=True)
    projectors, config = load_release(RELEASE)
    assert config.architecture == "mlp1" and config.output_dim == 512
    features = F.normalize(torch.randn(16, 512, generator=torch.Generator().manual_seed(0)), dim=-1)
    for head, role in (("Head_A", "a"), ("Head_B", "b")):
        with torch.no_grad():
            ours = projectors[role](features)
        torch.testing.assert_close(ours, release_forward(state, head, features), atol=1e-6, rtol=1e-5)
    out = tmp_path / "projectors.safetensors"
    convert_release(RELEASE, out)
    converted = load_file(str(out))
    torch.testing.assert_close(converted["b.net.0.weight"], state["Head_B.net.0.weight"])
    assert "a.net.1.running_var" in converted


def test_not_a_release_checkpoint(tmp_path):
    other = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(BridgeError, match="Head_A"):
        load_release(other)
    with pytest.raises(BridgeError, match="does not exist"):
        load_release(tmp_path / "missing.pt")
