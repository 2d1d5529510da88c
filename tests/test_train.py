import torch
from torch.nn import functional as F

from bridge.methods.enhance import TrainingSet, add_noise, build_training_set
from bridge.core.projector import Projector
from bridge.recipes.schema import EnhanceConfig, ProjectorConfig, TrainingConfig
from bridge.methods.training import train_projectors


def _training_set(n: int = 256, dim_a: int = 12, dim_b: int = 10, seed: int = 0) -> TrainingSet:
    generator = torch.Generator().manual_seed(seed)
    latent = torch.randn(n, 6, generator=generator)
    a = F.normalize(latent @ torch.randn(6, dim_a, generator=generator), dim=-1)
    b = F.normalize(latent @ torch.randn(6, dim_b, generator=generator), dim=-1)
    memory_x = F.normalize(torch.randn(300, 6, generator=generator) @ torch.randn(6, dim_a, generator=generator), dim=-1)
    memory_y = F.normalize(torch.randn(300, 6, generator=generator) @ torch.randn(6, dim_b, generator=generator), dim=-1)
    return build_training_set(a, b, memory_x, memory_y, EnhanceConfig(memory_temperature=0.05))


PROJECTOR = ProjectorConfig(output_dim=8)
TRAINING = TrainingConfig(epochs=3, batch_size=64, lr=1e-2, seed=3)


def _weights(result):
    return {**{f"a.{k}": v for k, v in result.projector_a.state_dict().items()}, **{f"b.{k}": v for k, v in result.projector_b.state_dict().items()}}


def test_projector_architectures_and_normalised_output():
    features = torch.randn(5, 12)
    for architecture, n_linear in (("mlp2", 2), ("mlp1", 1), ("linear", 1)):
        projector = Projector(12, ProjectorConfig(architecture=architecture, output_dim=7)).eval()
        out = projector(features)
        assert out.shape == (5, 7)
        torch.testing.assert_close(out.norm(dim=-1), torch.ones(5))
        assert sum(isinstance(m, torch.nn.Linear) for m in projector.net) == n_linear
    hidden = Projector(12, ProjectorConfig(hidden_ratio=2.0, output_dim=7)).net[0]
    assert hidden.out_features == 24


def test_training_lowers_the_loss_and_is_deterministic():
    data = _training_set()
    first = train_projectors(data, PROJECTOR, TRAINING, noise_sigma=0.05)
    second = train_projectors(data, PROJECTOR, TRAINING, noise_sigma=0.05)
    assert first.history[-1]["loss"] < first.history[0]["loss"]
    for key, value in _weights(first).items():
        assert torch.equal(value, _weights(second)[key]), key
    different_seed = train_projectors(data, PROJECTOR, TRAINING.model_copy(update={"seed": 4}), noise_sigma=0.05)
    assert not torch.equal(_weights(first)["a.net.0.weight"], _weights(different_seed)["a.net.0.weight"])


def test_resume_after_interruption_gives_the_same_weights(tmp_path):
    data = _training_set()
    uninterrupted = train_projectors(data, PROJECTOR, TRAINING, noise_sigma=0.05)
    # "interrupted" after one epoch: a run configured for fewer epochs leaves the epoch-1 checkpoint behind
    train_projectors(data, PROJECTOR, TRAINING.model_copy(update={"epochs": 1}), 0.05, checkpoint_dir=tmp_path)
    assert (tmp_path / "epoch-0001.json").exists()
    resumed = train_projectors(data, PROJECTOR, TRAINING, 0.05, checkpoint_dir=tmp_path)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    for key, value in _weights(uninterrupted).items():
        torch.testing.assert_close(value, _weights(resumed)[key], atol=1e-6, rtol=1e-5, msg=key)


def test_checkpoints_of_another_configuration_are_not_resumed(tmp_path):
    data = _training_set()
    train_projectors(data, PROJECTOR, TRAINING.model_copy(update={"epochs": 2}), 0.05, checkpoint_dir=tmp_path)
    other = train_projectors(data, PROJECTOR, TRAINING.model_copy(update={"lr": 5e-3}), 0.05, checkpoint_dir=tmp_path)
    assert len(other.history) == 3 and other.history[0]["epoch"] == 1
    fresh = train_projectors(data, PROJECTOR, TRAINING.model_copy(update={"lr": 5e-3}), 0.05)
    torch.testing.assert_close(_weights(other)["a.net.0.weight"], _weights(fresh)["a.net.0.weight"])


def test_noise_keeps_unit_norm_and_scales_with_sigma():
    generator = torch.Generator().manual_seed(0)
    embeddings = F.normalize(torch.randn(2000, 512, generator=generator), dim=-1)
    small = add_noise(embeddings, 0.01, torch.Generator().manual_seed(1))
    large = add_noise(embeddings, 0.1, torch.Generator().manual_seed(1))
    torch.testing.assert_close(large.norm(dim=-1), torch.ones(2000))
    cos_small = (small * embeddings).sum(-1).mean().item()
    cos_large = (large * embeddings).sum(-1).mean().item()
    # noise norm ~ sigma * sqrt(d): cos = 1 / sqrt(1 + sigma^2 d)
    assert abs(cos_small - 1 / (1 + 0.01**2 * 512) ** 0.5) < 0.01
    assert abs(cos_large - 1 / (1 + 0.1**2 * 512) ** 0.5) < 0.02
    assert torch.equal(add_noise(embeddings, 0.0), embeddings)


def test_without_consistency_the_pseudo_embeddings_are_the_overlap_embeddings():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(10, 4, generator=generator), torch.randn(10, 3, generator=generator)
    data = build_training_set(a, b, torch.randn(5, 4), torch.randn(5, 3), EnhanceConfig(consistency=False))
    torch.testing.assert_close(data.pseudo_x, F.normalize(a, dim=-1))
    torch.testing.assert_close(data.pseudo_y, F.normalize(b, dim=-1))
