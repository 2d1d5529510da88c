"""The built-in closed-form strategy ``pivot``: relative representations over shared overlap anchors.

K overlap items are chosen as *anchors* (farthest-point sampling over all
members' embeddings of the overlap corpus, seeded by ``training.seed``;
K = ``projector.output_dim``). Every member represents an item by a softmax
over its cosine similarities to its own embeddings of those K anchors
(temperature ``projector.relative_temperature``), L2-normalised
(``relative`` projector; the anchors are a buffer in ``projectors.safetensors``). The same anchor means the same thing in
every member, so all members land in one K-dim space with no training: the
text-pivot baseline, turned into an embeddable space (Moschella et al.,
"Relative representations enable zero-shot latent space communication", ICLR 2023).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from bridge.core.projector import Projector
from bridge.core.projector_config import ProjectorConfig
from bridge.errors import BridgeError
from bridge.methods.exmcr import unit_tensor
from bridge.methods.procrustes import planned_memories
from bridge.methods.strategy import FitResult, MemberInfo, Strategy, StrategySettings, TrainingFeatures, TrainingPlan
from bridge.progress import Reporter

ANCHOR_COUNTS = (128, 512, 1024, 2048, 4096)
TEMPERATURES = (0.05, 0.1, 0.2)
MAX_CANDIDATES = 20_000


def choose_anchors(features: list[torch.Tensor], count: int, seed: int) -> torch.Tensor:
    """Indices ``(count,)`` of rows spread over the joint geometry of all members (greedy farthest point).

    Args:
        features: per member ``(N, D_member)`` unit rows, row i the same item.
        count: K; at most N.
    """
    n = features[0].shape[0]
    generator = torch.Generator().manual_seed(seed)
    candidates = torch.randperm(n, generator=generator)[:MAX_CANDIDATES]
    joint = torch.cat([f[candidates] for f in features], dim=1) / len(features) ** 0.5  # (C, sum D), unit rows
    chosen = [0]
    distance = 1 - joint @ joint[0]
    for _ in range(count - 1):
        index = int(distance.argmax())
        chosen.append(index)
        distance = torch.minimum(distance, 1 - joint @ joint[index])
    return candidates[torch.tensor(chosen)]


def relative_projector(anchors: torch.Tensor, temperature: float) -> Projector:
    """A ``relative`` projector over the anchor rows ``(K, D)`` (L2-normalised here)."""
    config = ProjectorConfig(architecture="relative", output_dim=anchors.shape[0], relative_temperature=temperature)
    projector = Projector(anchors.shape[1], config)
    with torch.no_grad():
        projector.net.anchors.copy_(F.normalize(anchors.float(), dim=-1))
    return projector.eval()


class PivotStrategy(Strategy):
    """Closed form: every member's items as softmax similarity profiles over the same K overlap anchors."""

    display_name: ClassVar[str] = "relative pivot"
    sweeps: ClassVar[dict[str, dict[str, Any]]] = {
        **{f"K = {k}": {"projector.output_dim": k} for k in ANCHOR_COUNTS},
        **{f"tau = {tau:g}": {"projector.relative_temperature": tau} for tau in TEMPERATURES},
    }

    def plan(self, members: list[MemberInfo], overlap: str, memories: list[str], settings: StrategySettings) -> TrainingPlan:
        return TrainingPlan(projected=tuple(m.name for m in members), memories=planned_memories(members, overlap, memories),
                            dim=settings.projector.output_dim)

    def _fit(self, rows: dict[str, Any], plan: TrainingPlan, settings: StrategySettings, key: str) -> dict[str, Projector]:
        units = {name: unit_tensor(rows[name]) for name in plan.projected}
        n, count = next(iter(units.values())).shape[0], settings.projector.output_dim
        if count > n:
            raise BridgeError(f"projector.output_dim: strategy 'pivot' uses {count} anchors, but {key} has only {n} items")
        index = choose_anchors(list(units.values()), count, settings.training.seed)
        tau = settings.projector.relative_temperature
        return {name: relative_projector(unit[index], tau) for name, unit in units.items()}

    def fit(
        self,
        features: TrainingFeatures,
        plan: TrainingPlan,
        settings: StrategySettings,
        reporter: Reporter,
        checkpoint_dir: Path | None = None,
    ) -> FitResult:
        projectors = self._fit(features.overlap, plan, settings, "data.overlap")
        overlap_items = len(next(iter(features.overlap.values())))
        return FitResult(projectors=projectors, facts={"overlap_items": overlap_items, "anchors": settings.projector.output_dim})

    def untrained(self, plan: TrainingPlan, members: dict[str, MemberInfo], settings: StrategySettings) -> dict[str, Projector]:
        """Random anchors, drawn independently per member (no shared meaning)."""
        generator = torch.Generator().manual_seed(settings.training.seed)
        tau = settings.projector.relative_temperature
        return {name: relative_projector(torch.randn(plan.dim, members[name].dim, generator=generator), tau) for name in plan.projected}

    def fit_paired(
        self, paired: dict[str, np.ndarray], plan: TrainingPlan, settings: StrategySettings, reporter: Reporter
    ) -> FitResult:
        """Anchors chosen among true pairs of the members' own modalities."""
        projectors = self._fit(paired, plan, settings, "evaluation.paired")
        return FitResult(projectors=projectors, facts={"pairs": len(next(iter(paired.values()))), "anchors": settings.projector.output_dim})
