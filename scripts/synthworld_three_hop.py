"""Audio <-> point-cloud retrieval with no audio-point-cloud pair anywhere (issue 8 item 6).

Composes two saved ``extend`` bridges that share the base ``synthworld-pixel``:
wave extended into pixel through text (``recipes/synthworld_extend.yaml``)
and cloud extended into pixel through images
(``recipes/synthworld_cloud_extend.yaml``), so audio goes wave -> its head ->
pixel's space and point clouds go cloud -> its head -> pixel's space. It
measures audio <-> point-cloud retrieval on the world's ``eval`` scenes
(relevant: same main concept) against chance and a paired reference: the
C-MCR projectors (mlp2, the synthworld.yaml settings) trained on 6,000 true
(audio, point cloud) pairs of the ``paired`` split, its noise chosen on the
``val`` split, never on the test scenes.

    python scripts/synthworld_three_hop.py runs/synthworld-extend runs/synthworld-cloud-extend [--out runs/three-hop]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

import bridge
from bridge.core.projector_config import ProjectorConfig
from bridge.evaluation.metrics import chance_retrieval_metrics, relevance_matrix, retrieval_both_ways
from bridge.methods.config import EnhanceConfig, TrainingConfig
from bridge.methods.enhance import build_training_set
from bridge.methods.training import train_projectors
from bridge_synthworld.training import pcm16_round_trip
from bridge_synthworld.world import World

CHUNK = 256
NOISE_CHOICES = (0.0, 0.04, 0.12)
PROJECTOR = ProjectorConfig(architecture="mlp2", hidden_ratio=2.0, output_dim=128)
TRAINING = TrainingConfig(epochs=12, batch_size=512, lr=2e-3, weight_decay=1e-4, temperature=0.05,
                          intra_weight=0.0, pseudo_pair_loss=False, seed=0)


def media(world: World, split: str, count: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Audio (as its WAV file decodes) and point clouds of the first ``count`` scenes of ``split``, and their labels."""
    scenes = world.scenes(split, count)
    audio = [pcm16_round_trip(world.render_audio(scene)) for scene in scenes]
    clouds = [world.render_cloud(scene) for scene in scenes]
    return audio, clouds, [str(scene.main) for scene in scenes]


def features(mcr, modality: str, items: list) -> torch.Tensor:
    """``(N, D)`` raw MCR embeddings."""
    return torch.cat([mcr.encode(modality, [mcr.prepare(modality, x) for x in items[s : s + CHUNK]])
                      for s in range(0, len(items), CHUNK)])


def rounded(metrics: dict) -> dict:
    return {key: round(float(metrics[key]), 4) for key in ("R@1", "R@5", "mAP")}


def paired_reference(wave, cloud, world: World) -> tuple[dict, float, dict]:
    """Projectors trained on true (audio, point cloud) pairs; the noise with the best val mAP. Returns (test rows, noise, val mAPs)."""
    audio, clouds, _ = media(world, "paired", 6000)
    x, y = features(wave, "audio", audio), features(cloud, "pointcloud", clouds)
    val_audio, val_clouds, val_labels = media(world, "val", 480)
    val_x, val_y = features(wave, "audio", val_audio), features(cloud, "pointcloud", val_clouds)
    val_relevant = relevance_matrix(val_labels, val_labels)
    trained, scores = {}, {}
    for sigma in NOISE_CHOICES:
        data = build_training_set(x, y, x, y, EnhanceConfig(consistency=False, noise_sigma=sigma))
        result = train_projectors(data, PROJECTOR, TRAINING, sigma)
        trained[sigma] = result
        with torch.no_grad():
            both = retrieval_both_ways(result.projector_a(val_x), result.projector_b(val_y), val_relevant)
        scores[sigma] = round(float(both["forward"]["mAP"] + both["backward"]["mAP"]) / 2, 4)
    best = max(NOISE_CHOICES, key=lambda s: scores[s])
    return trained[best], best, scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wave_bridge", type=Path, help="saved bridge of recipes/synthworld_extend.yaml")
    parser.add_argument("cloud_bridge", type=Path, help="saved bridge of recipes/synthworld_cloud_extend.yaml")
    parser.add_argument("--out", type=Path, default=None, help="folder for the composed space and three_hop.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        space = bridge.compose([args.wave_bridge, args.cloud_bridge], name="sound-and-shape")
    except bridge.BridgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    world = World(seed=0)
    audio, clouds, labels = media(world, "eval", 960)
    relevant = relevance_matrix(labels, labels)
    with torch.no_grad():
        composed = retrieval_both_ways(space.embed("audio", audio), space.embed("pointcloud", clouds), relevant)
    wave, cloud = (space.mcr(member) for member in ("wave", "cloud"))
    reference, sigma, val_scores = paired_reference(wave, cloud, world)
    with torch.no_grad():
        paired = retrieval_both_ways(reference.projector_a(features(wave, "audio", audio)),
                                     reference.projector_b(features(cloud, "pointcloud", clouds)), relevant)
    report = {
        "test_scenes": 960,
        "composed space (no audio-pointcloud pair)": {"audio->pointcloud": rounded(composed["forward"]),
                                                       "pointcloud->audio": rounded(composed["backward"])},
        "paired reference (6000 true pairs)": {"audio->pointcloud": rounded(paired["forward"]),
                                               "pointcloud->audio": rounded(paired["backward"])},
        "paired reference noise_sigma (chosen on val)": sigma,
        "paired reference val mAP by noise_sigma": {str(k): v for k, v in val_scores.items()},
        "chance": rounded(chance_retrieval_metrics(relevant)),
    }
    mean_map = {name: (rows["audio->pointcloud"]["mAP"] + rows["pointcloud->audio"]["mAP"]) / 2
                for name, rows in report.items() if isinstance(rows, dict) and "audio->pointcloud" in rows}
    composed_map, paired_map = mean_map.values()
    report["composed mAP / paired mAP"] = round(composed_map / paired_map, 4)
    print(json.dumps(report, indent=1))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        space.save(args.out / "space")
        (args.out / "three_hop.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
