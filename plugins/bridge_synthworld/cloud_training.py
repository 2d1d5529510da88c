"""Training of ``synthworld-cloud`` against pixel's frozen image encoder, and its own evaluation.

As in ULIP, the point encoder learns from (point cloud, image) pairs of the
same scene (the world's ``mcr_train`` split) with a symmetric InfoNCE loss
and a learnable temperature; the image side is pixel's image encoder,
frozen, so its embeddings are computed once. Each step draws, per cloud, a
random subset of its stored points and flips each canonical axis with a
small probability (the frame's signs are ambiguous for symmetric shapes).
Training is deterministic on CPU for a seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from bridge import BridgeError
from bridge.evaluation.metrics import (
    chance_retrieval_metrics,
    relevance_matrix,
    retrieval_both_ways,
    zero_shot_accuracy,
)
from bridge.progress import Reporter, SilentReporter
from bridge_synthworld.cloud_mcr import CLOUD_ID, CloudCheckpoint, CloudMCR, pixel_fingerprint
from bridge_synthworld.cloud_model import CloudArchitecture, build_cloud, canonical_frame, sample_points
from bridge_synthworld.mcrs import PIXEL, SynthworldMCR, read_checkpoint
from bridge_synthworld.models import count_parameters
from bridge_synthworld.losses import info_nce
from bridge_synthworld.training import ENCODE_CHUNK, TrainingSchedule, zero_shot_prompts
from bridge_synthworld.world import Scene, World


class CloudTrainConfig(TrainingSchedule):
    """How ``synthworld-cloud`` is trained and evaluated."""

    epochs: int = Field(12, gt=0, description="Passes over the training scenes.")
    stored_points: int = Field(1024, gt=0, description="Points kept per training cloud; each step samples from them.")
    flip_probability: float = Field(0.15, ge=0, le=1, description="Chance of flipping each canonical axis per step.")
    initial_temperature: float = Field(0.07, gt=0, description="Initial InfoNCE temperature (learned from there).")
    eval_scenes: int = Field(480, ge=0, description="Scenes of split `eval` for the own-quality report (0: skip).")


@dataclass
class CloudTrainResult:
    """A trained cloud model and what was measured.

    Attributes:
        checkpoint: point encoder, pixel checkpoint, description (YAML content, with metrics).
        seconds: wall-clock seconds of rendering + training + evaluation.
    """

    checkpoint: CloudCheckpoint
    seconds: float


def _stored_clouds(world: World, scenes: list[Scene], count: int, reporter: Reporter) -> torch.Tensor:
    """Canonical-frame clouds of ``scenes``, ``count`` points each: float32 ``(N, count, 3)``."""
    clouds = np.empty((len(scenes), count, 3), dtype=np.float32)
    with reporter.task("rendering point clouds", total=len(scenes)) as task:
        for row, scene in enumerate(scenes):
            clouds[row] = sample_points(canonical_frame(world.render_cloud(scene)), count)
            task.advance()
    return torch.from_numpy(clouds)


def _image_embeddings(pixel: SynthworldMCR, world: World, scenes: list[Scene], reporter: Reporter) -> torch.Tensor:
    """Pixel's frozen image embeddings of ``scenes``: float32 ``(N, dim)``, rows L2-normalised."""
    chunks = []
    with reporter.task("embedding images with pixel", total=len(scenes)) as task:
        for start in range(0, len(scenes), ENCODE_CHUNK):
            chunk = scenes[start : start + ENCODE_CHUNK]
            chunks.append(pixel.encode("image", [pixel.prepare("image", world.render_image(s)) for s in chunk]))
            task.advance(len(chunk))
    return torch.cat(chunks)


def _learning_rate(step: int, total: int, config: CloudTrainConfig) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _augment(clouds: torch.Tensor, points: int, flip: float, generator: torch.Generator) -> torch.Tensor:
    """``(B, S, 3)`` stored clouds -> ``(B, points, 3)``: a random subset of each, axes flipped at random."""
    rows = torch.rand(clouds.shape[:2], generator=generator).argsort(dim=1)[:, :points]
    picked = torch.gather(clouds, 1, rows[:, :, None].expand(-1, -1, 3))
    signs = torch.where(torch.rand(len(clouds), 1, 3, generator=generator) < flip, -1.0, 1.0)
    return picked * signs


def _fit(model, clouds: torch.Tensor, images: torch.Tensor, points: int, config: CloudTrainConfig,
         reporter: Reporter) -> None:
    """Optimise the point encoder in place on ``clouds`` ``(N, S, 3)`` against frozen ``images`` ``(N, D)``."""
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = max(1, len(clouds) // config.batch_size)
    total = steps_per_epoch * config.epochs
    total = total if config.max_steps is None else min(config.max_steps, total)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    diagonal = torch.eye(config.batch_size, dtype=torch.bool)
    model.train()
    step = 0
    with reporter.task(f"training {CLOUD_ID}", total=total) as task:
        while step < total:
            order = torch.randperm(len(clouds), generator=generator)
            for start in range(0, steps_per_epoch * config.batch_size, config.batch_size):
                if step >= total:
                    break
                rows = order[start : start + config.batch_size]
                batch = _augment(clouds[rows], points, config.flip_probability, generator)
                for group in optimizer.param_groups:
                    group["lr"] = _learning_rate(step, total, config)
                embedded = model.embed("pointcloud", batch)
                loss = info_nce(embedded, images[rows], diagonal[: len(rows), : len(rows)], model.logit_scale())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                task.advance()
    model.eval()


def _embed_all(mcr, modality: str, items: list) -> torch.Tensor:
    prepared = [mcr.prepare(modality, item) for item in items]
    return torch.cat([mcr.encode(modality, prepared[s : s + ENCODE_CHUNK]) for s in range(0, len(prepared), ENCODE_CHUNK)])


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {key: round(float(metrics[key]), 4) for key in ("R@1", "R@5", "mAP")}


def evaluate_cloud(mcr: CloudMCR, world: World, eval_scenes: int) -> dict:
    """Own quality of the cloud model on ``eval_scenes`` scenes of the ``eval`` split.

    Clouds are matched against the scenes' images both ways (relevant: same
    main concept, and the same scene for ``cloud_to_image_instance``), and
    classified zero-shot against pixel's text embeddings of "a photo of
    <concept>" (the cloud space is pixel's image space, as in ULIP).

    Returns:
        ``{"eval_scenes", "pointcloud_to_image", "image_to_pointcloud", "pointcloud_to_image_instance":
        {"R@1", "R@5", "mAP"}, "zero_shot": {"template", "top1", "top3", "top5"}, "chance": {...}}``.
    """
    scenes = world.scenes("eval", eval_scenes)
    clouds = _embed_all(mcr, "pointcloud", [world.render_cloud(s) for s in scenes])
    images = _embed_all(mcr, "image", [world.render_image(s) for s in scenes])
    concepts = [str(s.main) for s in scenes]
    relevant = relevance_matrix(concepts, concepts)
    both = retrieval_both_ways(clouds, images, relevant)
    instance = retrieval_both_ways(clouds, images, torch.eye(len(scenes), dtype=torch.bool))
    pixel = SynthworldMCR(mcr.checkpoint.pixel)
    prompts = zero_shot_prompts(PIXEL, world)
    classes = _embed_all(pixel, "text", prompts)
    zero_shot = zero_shot_accuracy(clouds, classes, torch.tensor([s.main for s in scenes]), ks=(1, 3, 5))
    return {
        "eval_scenes": eval_scenes,
        "pointcloud_to_image": _rounded(both["forward"]),
        "image_to_pointcloud": _rounded(both["backward"]),
        "pointcloud_to_image_instance": _rounded(instance["forward"]),
        "zero_shot": {"template": "a photo of {}", **{k: round(v, 4) for k, v in zero_shot.items()}},
        "chance": {**_rounded(chance_retrieval_metrics(relevant)), "zero_shot_top1": round(1.0 / len(world.concepts), 4)},
    }


def train_cloud(config: CloudTrainConfig, pixel_weights: Path, architecture: CloudArchitecture | None = None,
                reporter: Reporter | None = None) -> CloudTrainResult:
    """Train the point encoder from scratch against the pixel model at ``pixel_weights``.

    Args:
        config: data, optimisation and evaluation settings.
        pixel_weights: the frozen pixel model; the checkpoint's YAML names
            it by file name (it must sit beside the written cloud weights).
        architecture: the point encoder's architecture (default: its defaults).
        reporter: progress reporting (default: silent).
    """
    reporter = reporter or SilentReporter()
    architecture = architecture or CloudArchitecture()
    started = time.perf_counter()
    pixel_checkpoint = read_checkpoint(PIXEL, Path(pixel_weights))
    pixel_world = pixel_checkpoint.description.get("world") or {}
    if pixel_world != {"seed": config.world_seed, "n_concepts": config.n_concepts}:
        raise BridgeError(f"{pixel_weights}: a pixel model of world {pixel_world}, not of world seed "
                          f"{config.world_seed} with {config.n_concepts} concepts; train pixel for that world first")
    pixel = SynthworldMCR(pixel_checkpoint)
    world = World(seed=config.world_seed, n_concepts=config.n_concepts)
    scenes = world.scenes("mcr_train", config.train_scenes)
    images = _image_embeddings(pixel, world, scenes, reporter)
    clouds = _stored_clouds(world, scenes, config.stored_points, reporter)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = build_cloud(architecture)
        with torch.no_grad():
            model.log_temperature.fill_(math.log(1.0 / config.initial_temperature))
        points = min(architecture.pointcloud.points, config.stored_points)
        _fit(model, clouds, images, points, config, reporter)
    description = {
        "model": CLOUD_ID,
        "world": {"seed": config.world_seed, "n_concepts": config.n_concepts},
        "architecture": architecture.model_dump(mode="json"),
        "image_model": {"model": PIXEL.id, "weights": Path(pixel_weights).name,
                        "fingerprint": pixel_fingerprint(Path(pixel_weights))},
        "training": config.model_dump(mode="json"),
        "parameters": count_parameters(model),
        "metrics": {},
    }
    checkpoint = CloudCheckpoint(model=model, pixel=pixel_checkpoint, architecture=architecture,
                                 description=description, fingerprint="unsaved")
    if config.eval_scenes:
        description["metrics"] = evaluate_cloud(CloudMCR(checkpoint), world, config.eval_scenes)
    return CloudTrainResult(checkpoint=checkpoint, seconds=time.perf_counter() - started)
