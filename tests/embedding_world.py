"""A synthetic *embedding* world for end-to-end tests: latent concepts seen through two MCR spaces.

Concept k has a latent vector z_k. MCR A (dim 48) sees text and image, MCR B
(dim 32) sees text and audio, each through its own random linear map, with a
modality gap (a constant offset per modality) and per-item noise. Everything
is written as `features`-plugin files plus a recipe, so a test runs the real
pipeline: sources → cache → consistency → training → evaluation → artifact.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import yaml

N_CONCEPTS = 24
LATENT = 16


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def write_world(
    root: Path, seed: int = 0, n_overlap: int = 3000, n_memory: int = 1500, n_eval: int = 240, n_paired: int = 600, with_cloud: bool = False
) -> Path:
    """Write the feature files and `recipe.yaml` under ``root``; returns the recipe path.

    ``with_cloud`` adds MCR C (dim 40: image and point cloud, ULIP's role), drawn after everything
    else so the rest is unchanged: `image_overlap.txt` (images both A and C see),
    `pointcloud_memory.txt`, and point clouds of the eval, paired and val scenes
    (`pointcloud_paired.txt` pairs them with `audio_paired.txt`).
    """
    rng = np.random.default_rng(seed)
    concepts = rng.normal(size=(N_CONCEPTS, LATENT))
    maps = {"a": rng.normal(size=(LATENT, 48)), "b": rng.normal(size=(LATENT, 32))}
    gaps = {(mcr, modality): rng.normal(size=maps[mcr].shape[1]) * 2.0 for mcr, modality in (("a", "text"), ("a", "image"), ("b", "text"), ("b", "audio"))}

    def embed(mcr: str, modality: str, latents: np.ndarray) -> np.ndarray:
        signal = latents @ maps[mcr] + gaps[(mcr, modality)]
        return _unit(signal + rng.normal(size=signal.shape) * 1.0)

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, N_CONCEPTS, size=count)
        return labels, concepts[labels] + 0.4 * rng.normal(size=(count, LATENT))

    files: dict[tuple[str, str], tuple[list[str], list[np.ndarray]]] = {}

    def add(mcr: str, modality: str, ids: list[str], latents: np.ndarray) -> None:
        entry = files.setdefault((mcr, modality), ([], []))
        entry[0].extend(ids)
        entry[1].append(embed(mcr, modality, latents))

    labels, latents = draw(n_overlap)
    overlap_ids = [f"text-{i}" for i in range(n_overlap)]
    add("a", "text", overlap_ids, latents)
    add("b", "text", overlap_ids, latents)
    class_ids = [f"concept-{k}" for k in range(N_CONCEPTS)]
    add("a", "text", class_ids, concepts)
    add("b", "text", class_ids, concepts)
    for mcr, modality in (("a", "image"), ("b", "audio")):
        _, memory_latents = draw(n_memory)
        add(mcr, modality, [f"{modality}-memory-{i}" for i in range(n_memory)], memory_latents)
    eval_labels, eval_latents = draw(n_eval)  # the same scenes seen as image and as audio
    add("a", "image", [f"eval-{i}" for i in range(n_eval)], eval_latents)
    add("b", "audio", [f"eval-{i}" for i in range(n_eval)], eval_latents)
    _, paired_latents = draw(n_paired)
    add("a", "image", [f"paired-{i}" for i in range(n_paired)], paired_latents)
    add("b", "audio", [f"paired-{i}" for i in range(n_paired)], paired_latents)
    val_labels, val_latents = draw(n_eval)  # a validation split of its own (drawn last: earlier data unchanged)
    add("a", "image", [f"val-{i}" for i in range(n_eval)], val_latents)
    add("b", "audio", [f"val-{i}" for i in range(n_eval)], val_latents)

    if with_cloud:
        maps["c"] = rng.normal(size=(LATENT, 40))
        gaps.update({("c", modality): rng.normal(size=40) * 2.0 for modality in ("image", "pointcloud")})
        _, image_latents = draw(n_overlap)
        image_ids = [f"image-overlap-{i}" for i in range(n_overlap)]
        add("a", "image", image_ids, image_latents)
        add("c", "image", image_ids, image_latents)
        _, cloud_latents = draw(n_memory)
        add("c", "pointcloud", [f"pointcloud-memory-{i}" for i in range(n_memory)], cloud_latents)
        for split, split_latents in (("eval", eval_latents), ("paired", paired_latents), ("val", val_latents)):
            add("c", "pointcloud", [f"{split}-{i}" for i in range(len(split_latents))], split_latents)
        root.mkdir(parents=True, exist_ok=True)
        (root / "image_overlap.txt").write_text("\n".join(image_ids) + "\n")
        (root / "pointcloud_memory.txt").write_text("\n".join(f"pointcloud-memory-{i}" for i in range(n_memory)) + "\n")
        (root / "pointcloud_paired.txt").write_text("\n".join(f"paired-{i}" for i in range(n_paired)) + "\n")

    root.mkdir(parents=True, exist_ok=True)
    for (mcr, modality), (ids, blocks) in files.items():
        np.save(root / f"{mcr}_{modality}.npy", np.concatenate(blocks))
        (root / f"{mcr}_{modality}.ids").write_text("\n".join(ids) + "\n")
    (root / "overlap.txt").write_text("\n".join(overlap_ids) + "\n")
    for modality in ("image", "audio"):
        (root / f"{modality}_memory.txt").write_text("\n".join(f"{modality}-memory-{i}" for i in range(n_memory)) + "\n")
        (root / f"{modality}_paired.txt").write_text("\n".join(f"paired-{i}" for i in range(n_paired)) + "\n")
    for split, split_labels in (("eval", eval_labels), ("val", val_labels)):
        with (root / f"{split}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "label"])
            writer.writerows((f"{split}-{i}", f"concept-{label}") for i, label in enumerate(split_labels))

    def mcr(name: str, modality: str) -> dict:
        return features_mcr(name, ("text", modality))

    def eval_source(split: str = "eval") -> dict:
        return {"manifest": f"{split}.csv", "column": "id", "is_file": False, "id_column": "id", "label_column": "label"}

    recipe = {
        "name": "embedding-world",
        "mcr_a": mcr("a", "image"),
        "mcr_b": mcr("b", "audio"),
        "overlap": "text",
        "data": {
            "overlap": {"lines": "overlap.txt"},
            "memory": {"image": {"lines": "image_memory.txt"}, "audio": {"lines": "audio_memory.txt"}},
        },
        "enhance": {"memory_temperature": 0.02, "noise_sigma": 0.05},
        "projector": {"output_dim": 32},
        "training": {"epochs": 8, "batch_size": 256, "lr": 3e-3, "temperature": 0.05},
        "evaluation": {
            "retrieval": [
                {"name": "audio-image", "query_modality": "audio", "query": eval_source(),
                 "target_modality": "image", "target": eval_source(), "relevance": "label"},
            ],
            "validation": [
                {"name": "audio-image (val)", "query_modality": "audio", "query": eval_source("val"),
                 "target_modality": "image", "target": eval_source("val"), "relevance": "label"},
            ],
            "zeroshot": [
                {"name": "audio-classes", "modality": "audio", "items": eval_source(), "prompts": ["{}"]},
            ],
            "baselines": ["chance", "untrained", "text_pivot", "oracle"],
            "paired": {"image": {"lines": "image_paired.txt"}, "audio": {"lines": "audio_paired.txt"}},
        },
        "output": "bridge-out",
        "cache_dir": "cache",
    }
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def features_mcr(name: str, modalities: tuple[str, ...], mcr_id: str | None = None) -> dict:
    """A recipe member: MCR ``name``'s feature files (`<name>_<modality>.npy` / `.ids`) as a `features` model."""
    return {
        "plugin": "features",
        "options": {
            "id": mcr_id or f"world-{name}",
            "modalities": {m: {"embeddings": f"{name}_{m}.npy", "ids": f"{name}_{m}.ids"} for m in modalities},
        },
    }
