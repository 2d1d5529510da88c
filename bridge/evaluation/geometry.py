"""The geometry of a space: how far apart its modalities sit (the "modality gap") and how tight each one is.

For real CLIP on COCO, a matched image–caption pair has cosine ≈ 0.3, each
modality lies in a narrow cone (mean within-modality cosine well above 0.3)
and the image and text centroids are ≈ 0.8 apart (Liang et al., NeurIPS 2022,
"Mind the Gap"). C-MCR's noise and intra-MCR loss exist because of that gap;
this report measures it for every member's own space and for the joint space::

    {"<member> (<mcr id>)": {"image|text": {"centroid_gap": 0.82, "matched_cosine": 0.31,
                                             "mean_cosine": {"image": 0.52, "text": 0.61}}, ...},
     "joint": {...}}
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import torch
from torch.nn import functional as F

from bridge.core.space import Bridge
from bridge.data.features import FeatureProvider, aligned_rows
from bridge.evaluation.baselines import as_tensor


def mean_cosine(embeddings: torch.Tensor) -> float:
    """Mean cosine over all pairs ``i != j`` of the rows of ``(N, d)`` embeddings (N >= 2), in O(N d)."""
    unit = F.normalize(embeddings.double(), dim=-1)
    n = unit.shape[0]
    total = unit.sum(dim=0)
    return float((total @ total - n) / (n * (n - 1)))


def centroid_gap(left: torch.Tensor, right: torch.Tensor) -> float:
    """Euclidean distance between the centroids of two sets of L2-normalised rows ``(N, d)``, ``(M, d)``."""
    return float((F.normalize(left.double(), dim=-1).mean(dim=0) - F.normalize(right.double(), dim=-1).mean(dim=0)).norm())


def matched_cosine(left: torch.Tensor, right: torch.Tensor) -> float:
    """Mean cosine of row i of ``left`` with row i of ``right`` (both ``(N, d)``)."""
    return float((F.normalize(left.double(), dim=-1) * F.normalize(right.double(), dim=-1)).sum(dim=-1).mean())


def pair_report(embeddings: dict[str, torch.Tensor], ids: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Every modality pair ``"<m1>|<m2>"`` (sorted) of one space.

    Args:
        embeddings: modality → ``(N_m, d)`` embeddings in that space.
        ids: modality → the ``N_m`` item ids (pairs sharing ids give ``matched_cosine``).
    """
    report = {}
    usable = sorted(m for m, e in embeddings.items() if e.shape[0] >= 2)
    for first, second in combinations(usable, 2):
        position = {item: row for row, item in enumerate(ids[second])}
        shared = [(row, position[item]) for row, item in enumerate(ids[first]) if item in position]
        matched = None
        if len(shared) >= 2:
            rows_first = torch.tensor([a for a, _ in shared])
            rows_second = torch.tensor([b for _, b in shared])
            matched = matched_cosine(embeddings[first][rows_first], embeddings[second][rows_second])
        report[f"{first}|{second}"] = {
            "centroid_gap": centroid_gap(embeddings[first], embeddings[second]),
            "matched_cosine": matched,
            "mean_cosine": {first: mean_cosine(embeddings[first]), second: mean_cosine(embeddings[second])},
        }
    return report


def evaluate_geometry(space: Bridge, provider: FeatureProvider, sources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The geometry report of every member's own space and of the joint space (key ``joint``).

    Args:
        sources: modality → source spec of the items to measure on.
    """
    report: dict[str, dict[str, Any]] = {}
    joint_embeddings: dict[str, torch.Tensor] = {}
    joint_ids: dict[str, list[str]] = {}
    for modality, spec in sources.items():
        members = [m for m in space.members if modality in space.spec.members[m].modalities]
        if not members:
            continue
        per_member = [provider.features(member, modality, spec) for member in members]
        rows = aligned_rows(*per_member)
        features = {member: as_tensor(f.embeddings)[r] for member, f, r in zip(members, per_member, rows)}
        joint_embeddings[modality] = space.embed_features(modality, features).cpu()
        joint_ids[modality] = [per_member[0].ids[i] for i in rows[0]]
    for member in space.members:
        record = space.spec.members[member]
        own = {m: sources[m] for m in record.modalities if m in sources}
        embeddings, ids = {}, {}
        for modality, spec in own.items():
            features = provider.features(member, modality, spec)
            embeddings[modality], ids[modality] = as_tensor(features.embeddings), list(features.ids)
        report[f"{member} ({record.id})"] = pair_report(embeddings, ids)
    report["joint"] = pair_report(joint_embeddings, joint_ids)
    return report
