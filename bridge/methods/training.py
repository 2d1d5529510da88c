"""Projector training: C-MCR's inter- and intra-MCR contrastive objective.

Deterministic on CPU: initialisation is seeded by ``training.seed``, and each
epoch's shuffling and noise by ``(seed, epoch)``, so a run resumed from an
epoch checkpoint ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from bridge.methods.enhance import TrainingSet, add_noise
from bridge.methods.losses import cmcr_losses
from bridge.progress import Reporter, SilentReporter
from bridge.core.projector import Projector
from bridge.core.safetensors_io import save_tensors
from bridge.core.projector_config import ProjectorConfig
from bridge.methods.config import TrainingConfig


@dataclass
class TrainResult:
    """Trained projectors and the per-epoch mean losses."""

    projector_a: Projector
    projector_b: Projector
    history: list[dict[str, float]] = field(default_factory=list)


def make_projectors(dim_a: int, dim_b: int, config: ProjectorConfig, seed: int) -> tuple[Projector, Projector]:
    """Freshly initialised (seeded) projectors for MCR A and MCR B."""
    torch.manual_seed(seed)
    return Projector(dim_a, config), Projector(dim_b, config)


def make_optimizer(parameters, config: TrainingConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(parameters, lr=config.lr, weight_decay=config.weight_decay, momentum=0.9)


def epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    """The random stream of one epoch (shuffling and noise)."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed * 1_000_003 + epoch)
    return generator


def train_projectors(
    data: TrainingSet,
    projector: ProjectorConfig,
    training: TrainingConfig,
    noise_sigma: float,
    checkpoint_dir: Path | None = None,
    reporter: Reporter | None = None,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Train f_A and f_B on the enhanced overlap corpus.

    Args:
        data: the aligned training rows (see :class:`TrainingSet`).
        noise_sigma: semantic-completion noise (0 turns it off).
        checkpoint_dir: where a checkpoint is written after every epoch; if it holds
            checkpoints of this same configuration, training resumes after the last one.
        device: torch device of the projectors and the data during training.

    Returns:
        The projectors (in eval mode, on the CPU) and the loss history.
    """
    reporter = reporter or SilentReporter()
    device = torch.device(device)
    projector_a, projector_b = make_projectors(data.overlap_a.shape[1], data.overlap_b.shape[1], projector, training.seed)
    projector_a.to(device).train()
    projector_b.to(device).train()
    optimizer = make_optimizer([*projector_a.parameters(), *projector_b.parameters()], training)
    tensors = [t.to(device) for t in (data.overlap_a, data.overlap_b, data.pseudo_x, data.pseudo_y)]
    history: list[dict[str, float]] = []
    start_epoch = 0
    config_key = _config_key(data, projector, training, noise_sigma) if checkpoint_dir is not None else ""
    if checkpoint_dir is not None:
        start_epoch, history = _resume(checkpoint_dir, config_key, projector_a, projector_b, optimizer)
        if start_epoch:
            reporter.message(f"resuming training after epoch {start_epoch} ({checkpoint_dir})")
    steps_per_epoch = _steps(len(data), training.batch_size)
    with reporter.task("train projectors", total=training.epochs * steps_per_epoch) as task:
        task.advance(start_epoch * steps_per_epoch)
        for epoch in range(start_epoch, training.epochs):
            generator = epoch_generator(training.seed, epoch, device)
            losses = _train_epoch(tensors, projector_a, projector_b, optimizer, training, noise_sigma, generator, task)
            history.append({"epoch": epoch + 1, **losses})
            if checkpoint_dir is not None:
                _save_checkpoint(checkpoint_dir, epoch + 1, config_key, projector_a, projector_b, optimizer, history)
    projector_a.eval().cpu()
    projector_b.eval().cpu()
    return TrainResult(projector_a, projector_b, history)


def _steps(n_items: int, batch_size: int) -> int:
    full, rest = divmod(n_items, batch_size)
    return full + (1 if rest >= 2 else 0)


def _train_epoch(tensors, projector_a, projector_b, optimizer, training: TrainingConfig, sigma, generator, task) -> dict[str, float]:
    overlap_a, overlap_b, pseudo_x, pseudo_y = tensors
    n_items = overlap_a.shape[0]
    order = torch.randperm(n_items, generator=generator, device=overlap_a.device)
    totals = {"loss": 0.0, "inter": 0.0, "intra": 0.0}
    steps = 0
    for start in range(0, n_items, training.batch_size):
        index = order[start : start + training.batch_size]
        if index.numel() < 2:
            break
        batch = [add_noise(t[index], sigma, generator) for t in (overlap_a, overlap_b, pseudo_x, pseudo_y)]
        parts = cmcr_losses(
            projector_a(batch[0]),
            projector_b(batch[1]),
            projector_a(batch[2]),
            projector_b(batch[3]),
            training.temperature,
            training.pseudo_pair_loss,
        )
        loss = parts["inter"] + training.intra_weight * parts["intra"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        totals["loss"] += loss.item()
        totals["inter"] += parts["inter"].item()
        totals["intra"] += parts["intra"].item()
        steps += 1
        task.advance(1)
    return {name: value / max(steps, 1) for name, value in totals.items()}


def _config_key(data: TrainingSet, projector: ProjectorConfig, training: TrainingConfig, sigma: float) -> str:
    """Identifies a training run: checkpoints of another configuration or data are never resumed."""
    digest = hashlib.sha256()
    digest.update(projector.model_dump_json().encode())
    digest.update(training.model_dump_json(exclude={"epochs"}).encode())
    digest.update(repr(sigma).encode())
    for tensor in (data.overlap_a, data.overlap_b, data.pseudo_x, data.pseudo_y):
        digest.update(tensor.detach().cpu().contiguous().numpy())
    return digest.hexdigest()[:16]


def _save_checkpoint(directory: Path, epoch: int, config_key: str, projector_a, projector_b, optimizer, history) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"a.{k}": v.detach().cpu().contiguous() for k, v in projector_a.state_dict().items()}
    tensors.update({f"b.{k}": v.detach().cpu().contiguous() for k, v in projector_b.state_dict().items()})
    optimizer_state = optimizer.state_dict()
    for index, state in optimizer_state["state"].items():
        for name, value in state.items():
            tensors[f"optimizer.{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    weights = directory / f"epoch-{epoch:04d}.safetensors"
    save_tensors(tensors, weights)
    meta = {"epoch": epoch, "config_key": config_key, "history": history, "param_groups": optimizer_state["param_groups"]}
    temporary = directory / f"epoch-{epoch:04d}.json.tmp"
    temporary.write_text(json.dumps(meta))
    temporary.replace(directory / f"epoch-{epoch:04d}.json")  # the JSON, written last, marks the checkpoint complete


def _resume(directory: Path, config_key: str, projector_a, projector_b, optimizer) -> tuple[int, list[dict[str, float]]]:
    if not directory.is_dir():
        return 0, []
    for meta_path in sorted(directory.glob("epoch-*.json"), reverse=True):
        meta = json.loads(meta_path.read_text())
        weights_path = meta_path.with_suffix(".safetensors")
        if meta.get("config_key") != config_key or not weights_path.exists():
            continue
        tensors = load_file(str(weights_path))
        projector_a.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("a.")})
        projector_b.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("b.")})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        return int(meta["epoch"]), list(meta["history"])
    return 0, []
