"""Contrastive training of the pixel and wave models, and their own-retrieval evaluation.

Each model learns only from its own pairs of the world's ``mcr_train``
split: pixel from (image, vision caption), wave from (audio, audio caption);
a fraction of the captions is swapped for the neutral-style caption of the
same scene so the text encoders also read neutral text. Neither model sees
the other's modality. Media go through the same quantisation as the world's
files (uint8 images, 16-bit audio), so training inputs equal decoded files.

The loss is symmetric InfoNCE with a learnable temperature; captions that are
the same string in one batch count as positives of each other (a property of
the text alone, no labels). A residual-spread term on the text embeddings
(``losses.py``) keeps the captions spread over their own cone, which gives the
models CLIP's low matched-pair cosine (docs/synthworld.md). Training is
deterministic on CPU for a seed.
"""

from __future__ import annotations

import io
import math
import time
import wave
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from bridge.evaluation.geometry import pair_report
from bridge.evaluation.metrics import (
    chance_retrieval_metrics,
    relevance_matrix,
    retrieval_both_ways,
    retrieval_metrics,
    zero_shot_accuracy,
)
from bridge.progress import Reporter, SilentReporter
from bridge_synthworld.captions import LEXICON, with_article
from bridge_synthworld.files import encode_wav
from bridge_synthworld.losses import info_nce, residual_spread
from bridge_synthworld.mcrs import PIXEL, Checkpoint, ModelKind, SynthworldMCR, Tokenizer
from bridge_synthworld.models import ContrastiveModel, count_parameters
from bridge_synthworld.tokenizers import TrigramTokenizer, WordTokenizer
from bridge_synthworld.world import Scene, World

ENCODE_CHUNK = 256
PCM_SCALE = 32767.0
"""Full scale of 16-bit PCM as ``files.read_wav`` decodes it."""


class TrainingSchedule(BaseModel):
    """The world and the optimisation schedule every synthworld model is trained with (pixel, wave, cloud)."""

    model_config = ConfigDict(extra="forbid")

    world_seed: int = Field(0, description="Seed of the synthetic world (concepts, renderers, splits).")
    n_concepts: int = Field(48, gt=1, description="Number of concepts in the world.")
    seed: int = Field(0, description="Seed of initialisation, shuffling and sampling (captions, point subsets).")
    train_scenes: int = Field(6144, gt=0, description="Scenes of split `mcr_train` to train on.")
    epochs: int = Field(10, gt=0, description="Passes over the training scenes.")
    max_steps: int | None = Field(None, gt=0, description="Stop after this many optimiser steps (default: all epochs).")
    batch_size: int = Field(128, gt=1, description="Pairs per InfoNCE batch.")
    learning_rate: float = Field(2e-3, gt=0, description="Peak AdamW learning rate (linear warm-up, cosine decay).")
    warmup_steps: int = Field(40, ge=0, description="Linear learning-rate warm-up steps.")
    weight_decay: float = Field(0.05, ge=0, description="AdamW weight decay.")


class TrainConfig(TrainingSchedule):
    """How the pixel or wave model is trained and evaluated."""

    augment_images: bool = Field(
        True, description="Randomly flip and quarter-turn training images (pixel only; captions name no sides)."
    )
    neutral_fraction: float = Field(
        0.3, ge=0, le=1, description="Chance that a pair uses the neutral caption instead of the styled one."
    )
    initial_temperature: float = Field(0.07, gt=0, description="Initial InfoNCE temperature (learned from there).")
    temperature_learning_rate: float = Field(
        0.1,
        gt=0,
        description="Peak learning rate of the log inverse temperature (same warm-up and decay, no weight decay). "
        "Fast, so that the logit scale reaches its cap of 100 early, as in CLIP, and the encoders keep their cones.",
    )
    spread: dict[Literal["media", "text"], Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {"text": 0.6},
        description="Weight of the residual-spread term (losses.residual_spread) on each batch's media and/or text "
        "embeddings; {} is plain InfoNCE. On the text it spreads the captions over their own cone, so each modality "
        "keeps what the other does not say and a matched pair's cosine comes down to CLIP's range (docs/synthworld.md).",
    )
    eval_scenes: int = Field(480, ge=0, description="Scenes of split `eval` for the own-retrieval report (0: skip).")


ZERO_SHOT_TEMPLATES = {"pixel": "a photo of {}", "wave": "the sound of {}"}
"""The caption template each model's zero-shot classification uses, filled with a concept's name and article."""


@dataclass
class TrainResult:
    """A trained model and what was measured.

    Attributes:
        checkpoint: model, tokenizer and description (YAML content, with metrics).
        seconds: wall-clock seconds of data rendering + training + evaluation.
    """

    checkpoint: Checkpoint
    seconds: float


def pcm16_round_trip(audio: np.ndarray) -> np.ndarray:
    """``audio`` as writing it with ``files.write_wav`` and reading it back gives it.

    Encodes with the world's own WAV encoder (16-bit PCM) and decodes the
    samples as ``files.read_wav`` does, without touching the disk.

    Args:
        audio: float ``(n,)`` in [-1, 1].

    Returns:
        float32 ``(n,)`` on the 16-bit grid.
    """
    with wave.open(io.BytesIO(encode_wav(audio)), "rb") as clip:
        pcm = np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2")
    return np.clip(pcm.astype(np.float32) / np.float32(PCM_SCALE), -1.0, 1.0)


def decoded_media(kind: ModelKind, world: World, scene: Scene) -> np.ndarray:
    """A scene's media exactly as decoding its file would give it.

    Returns:
        pixel: uint8 ``(64, 64, 3)``; wave: float32 ``(16000,)`` on the 16-bit grid.
    """
    if kind.modality == "image":
        return world.render_image(scene)
    return pcm16_round_trip(world.render_audio(scene))


def zero_shot_prompts(kind: ModelKind, world: World) -> list[str]:
    """One caption per concept for zero-shot classification, e.g. "a photo of an owl", "the sound of rain"."""
    template = ZERO_SHOT_TEMPLATES[kind.name]
    return [template.format(with_article(concept.name, LEXICON[index].mass)) for index, concept in enumerate(world.concepts)]


def new_tokenizer(kind: ModelKind, architecture: BaseModel, texts: list[str]) -> Tokenizer:
    """Pixel: a word vocabulary built from ``texts``; wave: the hashing tokenizer (``texts`` unused)."""
    text = architecture.text
    if kind is PIXEL:
        return WordTokenizer.build(texts, max_words=text.max_words)
    return TrigramTokenizer(buckets=text.buckets, max_words=text.max_words, max_trigrams=text.max_trigrams)


def _stored_media(
    kind: ModelKind, model: ContrastiveModel, world: World, scenes: list[Scene], reporter: Reporter
) -> torch.Tensor:
    """Training inputs kept in memory: images uint8 ``(N, 3, 64, 64)``; audio log-mel ``(N, mels, T)``.

    Rendered chunk by chunk, so raw waveforms of only one chunk are held at a time.
    """
    chunks = []
    with reporter.task(f"rendering {kind.modality} for {kind.id}", total=len(scenes)) as task:
        for start in range(0, len(scenes), ENCODE_CHUNK):
            chunk = scenes[start : start + ENCODE_CHUNK]
            inputs = [kind.to_input(decoded_media(kind, world, scene), scene.id) for scene in chunk]
            if kind.modality == "image":
                chunks.append(torch.stack(inputs))
            else:
                with torch.no_grad():
                    chunks.append(model.encoders["audio"].frontend(kind.to_batch(inputs)))
            task.advance(len(chunk))
    return torch.cat(chunks)


def _embed_stored(kind: ModelKind, model: ContrastiveModel, stored: torch.Tensor) -> torch.Tensor:
    """``(B, ...)`` stored training inputs -> ``(B, D)`` normalised media embeddings."""
    if kind.modality == "image":
        return model.embed("image", kind.to_batch(stored))
    return F.normalize(model.encoders["audio"].from_features(stored), dim=-1)


def augment_images(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image of uint8 ``(B, 3, H, W)`` (H = W) under a random one of the 8 flips / quarter turns."""
    turns = torch.randint(0, 4, (len(images),), generator=generator)
    flips = torch.rand(len(images), generator=generator) < 0.5
    images = torch.where(flips[:, None, None, None], images.flip(3), images)
    out = images.clone()
    for turn in range(1, 4):
        rows = turns == turn
        out[rows] = torch.rot90(images[rows], turn, dims=(2, 3))
    return out


def _same_rows(ids: torch.Tensor) -> torch.Tensor:
    """``(B, ...)`` token ids -> ``(B, B)`` bool, rows with identical ids."""
    flat = ids.reshape(ids.shape[0], -1)
    return (flat[:, None, :] == flat[None, :, :]).all(dim=2)


def _schedule(step: int, total: int, config: TrainConfig) -> float:
    """The fraction of each peak learning rate at ``step`` of ``total``: linear warm-up, then cosine decay."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _fit(
    kind: ModelKind,
    model: ContrastiveModel,
    media: torch.Tensor,
    captions: tuple[torch.Tensor, torch.Tensor],
    config: TrainConfig,
    reporter: Reporter,
) -> None:
    """Optimise ``model`` in place on ``media`` (N, ...) and (styled, neutral) caption ids (N, ...)."""
    styled, neutral = captions
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = max(1, len(media) // config.batch_size)
    total = steps_per_epoch * config.epochs if config.max_steps is None else min(config.max_steps, steps_per_epoch * config.epochs)
    encoders = [parameter for name, parameter in model.named_parameters() if name != "log_temperature"]
    optimizer = torch.optim.AdamW(
        [
            {"params": encoders, "weight_decay": config.weight_decay, "peak": config.learning_rate},
            {"params": [model.log_temperature], "weight_decay": 0.0, "peak": config.temperature_learning_rate},
        ],
        lr=config.learning_rate,
    )
    model.train()
    step = 0
    with reporter.task(f"training {kind.id}", total=total) as task:
        while step < total:
            order = torch.randperm(len(media), generator=generator)
            for batch_start in range(0, steps_per_epoch * config.batch_size, config.batch_size):
                if step >= total:
                    break
                rows = order[batch_start : batch_start + config.batch_size]
                use_neutral = torch.rand(len(rows), generator=generator) < config.neutral_fraction
                mask = use_neutral.view(-1, *([1] * (styled.dim() - 1)))
                ids = torch.where(mask, neutral[rows], styled[rows])
                for group in optimizer.param_groups:
                    group["lr"] = group["peak"] * _schedule(step, total, config)
                batch = media[rows]
                if config.augment_images and kind.modality == "image":
                    batch = augment_images(batch, generator)
                embedded = {"media": _embed_stored(kind, model, batch), "text": model.embed("text", ids)}
                loss = info_nce(embedded["media"], embedded["text"], _same_rows(ids), model.logit_scale())
                for role, weight in sorted(config.spread.items()):
                    loss = loss + weight * residual_spread(embedded[role])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                task.advance()
    model.eval()


def _embed_all(mcr: SynthworldMCR, modality: str, items: list) -> torch.Tensor:
    prepared = [mcr.prepare(modality, item) for item in items]
    chunks = [mcr.encode(modality, prepared[start : start + ENCODE_CHUNK]) for start in range(0, len(prepared), ENCODE_CHUNK)]
    return torch.cat(chunks)


def _rounded(metrics: dict[str, float], keys: tuple[str, ...] = ("R@1", "R@5", "mAP")) -> dict[str, float]:
    return {key: round(float(metrics[key]), 4) for key in keys}


def evaluate_own_retrieval(mcr: SynthworldMCR, world: World, eval_scenes: int, split: str = "eval") -> dict:
    """Own retrieval of a synthworld MCR on the first ``eval_scenes`` scenes of ``split`` (default ``eval``).

    Media of ``eval_scenes`` scenes are matched against their styled
    captions (relevance: same main concept), both ways, retrieved from their
    neutral captions, and classified zero-shot against one templated caption
    per concept name. Scenes hold several objects, so media are also matched
    to their own scene's caption (relevance: same scene), and zero-shot
    accuracy is also given on the single-object scenes. The geometry of the
    media and their styled captions (:func:`bridge.evaluation.geometry.pair_report`)
    is measured on the same scenes.

    Returns:
        ``{"eval_scenes", "<m>_to_text", "text_to_<m>", "neutral_text_to_<m>", "<m>_to_text_scene":
        {"R@1", "R@5", "mAP"}, "zero_shot": {"template", "top1", "top5", "top1_single_object"},
        "chance": {"R@1", "R@5", "mAP", "zero_shot_top1", "scene_R@1"},
        "geometry": {"centroid_gap", "matched_cosine", "mean_cosine": {"<m>", "text"}}}``.
    """
    kind = mcr.kind
    scenes = world.scenes(split, eval_scenes)
    media = _embed_all(mcr, kind.modality, [decoded_media(kind, world, scene) for scene in scenes])
    texts = _embed_all(mcr, "text", [world.caption(scene, kind.caption_style) for scene in scenes])
    concepts = [str(scene.main) for scene in scenes]
    relevant = relevance_matrix(concepts, concepts)
    both = retrieval_both_ways(media, texts, relevant)
    neutral = _embed_all(mcr, "text", [world.caption(scene, "neutral") for scene in scenes])
    from_neutral = retrieval_metrics(neutral, media, relevant)
    class_embeddings = _embed_all(mcr, "text", zero_shot_prompts(kind, world))
    labels = torch.tensor([scene.main for scene in scenes])
    zero_shot = zero_shot_accuracy(media, class_embeddings, labels, ks=(1, 5))
    single = torch.tensor([len(scene.objects) == 1 and scene.objects[0].count == 1 for scene in scenes])
    single_top1 = zero_shot_accuracy(media[single], class_embeddings, labels[single], ks=(1,))["top1"]
    by_scene = retrieval_metrics(media, texts, torch.eye(len(scenes), dtype=torch.bool))
    return {
        "eval_scenes": eval_scenes,
        f"{kind.modality}_to_text": _rounded(both["forward"]),
        f"text_to_{kind.modality}": _rounded(both["backward"]),
        f"neutral_text_to_{kind.modality}": _rounded(from_neutral),
        f"{kind.modality}_to_text_scene": _rounded(by_scene),
        "zero_shot": {
            "template": ZERO_SHOT_TEMPLATES[kind.name],
            "top1": round(zero_shot["top1"], 4),
            "top5": round(zero_shot["top5"], 4),
            "top1_single_object": round(single_top1, 4),
        },
        "chance": {**_rounded(chance_retrieval_metrics(relevant)), "zero_shot_top1": round(1.0 / len(world.concepts), 4),
                   "scene_R@1": round(1.0 / max(1, len(scenes)), 4)},
        "geometry": _rounded_geometry(media, texts, kind.modality, [scene.id for scene in scenes]),
    }


def _rounded_geometry(media: torch.Tensor, texts: torch.Tensor, modality: str, ids: list[str]) -> dict:
    """The geometry report of ``(N, D)`` media and their ``(N, D)`` captions (row i of each is scene ``ids[i]``)."""
    report = pair_report({modality: media, "text": texts}, {modality: ids, "text": ids})
    geometry = next(iter(report.values()))
    return {
        "centroid_gap": round(geometry["centroid_gap"], 4),
        "matched_cosine": round(geometry["matched_cosine"], 4),
        "mean_cosine": {name: round(value, 4) for name, value in geometry["mean_cosine"].items()},
    }


def _caption_ids(tokenizer: Tokenizer, captions: list[str]) -> torch.Tensor:
    return torch.from_numpy(np.stack([tokenizer.encode(caption) for caption in captions]))


def train(
    kind: ModelKind,
    config: TrainConfig,
    architecture: BaseModel | None = None,
    reporter: Reporter | None = None,
) -> TrainResult:
    """Train one synthworld model from scratch and measure its own retrieval.

    Args:
        kind: ``PIXEL`` or ``WAVE``.
        config: data, optimisation and evaluation settings.
        architecture: the kind's architecture model (default: its defaults).
        reporter: progress reporting (default: silent).

    Returns:
        The trained checkpoint (``description["metrics"]`` holds the
        evaluation, empty when ``config.eval_scenes`` is 0) and the time taken.
    """
    reporter = reporter or SilentReporter()
    architecture = architecture or kind.architecture()
    started = time.perf_counter()
    world = World(seed=config.world_seed, n_concepts=config.n_concepts)
    scenes = world.scenes("mcr_train", config.train_scenes)
    styled_text = [world.caption(scene, kind.caption_style) for scene in scenes]
    neutral_text = [world.caption(scene, "neutral") for scene in scenes]
    tokenizer = new_tokenizer(kind, architecture, styled_text + neutral_text + zero_shot_prompts(kind, world))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = kind.build(architecture, tokenizer)
        with torch.no_grad():
            model.log_temperature.fill_(math.log(1.0 / config.initial_temperature))
        media = _stored_media(kind, model, world, scenes, reporter)
        captions = (_caption_ids(tokenizer, styled_text), _caption_ids(tokenizer, neutral_text))
        _fit(kind, model, media, captions, config, reporter)
    description = {
        "model": kind.id,
        "world": {"seed": config.world_seed, "n_concepts": config.n_concepts},
        "architecture": architecture.model_dump(mode="json"),
        "tokenizer": tokenizer.config(),
        "training": config.model_dump(mode="json"),
        "parameters": count_parameters(model),
        "metrics": {},
    }
    checkpoint = Checkpoint(kind=kind, model=model, tokenizer=tokenizer, description=description, fingerprint="unsaved")
    if config.eval_scenes:
        description["metrics"] = evaluate_own_retrieval(SynthworldMCR(checkpoint), world, config.eval_scenes)
    return TrainResult(checkpoint=checkpoint, seconds=time.perf_counter() - started)

