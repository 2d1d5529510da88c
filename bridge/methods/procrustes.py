"""The built-in closed-form strategy ``procrustes``: one linear map fitted on the overlap, no gradient training.

The recipe's first member is the base (kept as it is, like ``extend``); every
other member gets a ``linear`` projector into the base space fitted on the
overlap corpus: after centring both sides, a scaled orthogonal map (orthogonal
Procrustes through an SVD; semi-orthogonal when the dimensions differ) or an
unconstrained least-squares map (``training.procrustes``). The centring is
folded into the bias: ``f(x) = normalize((x - mu_x) W + mu_y)``. It is the
standard strong baseline of the embedding-alignment literature; it sees no
memory, so it maps a member's other modality only as well as its overlap's
geometry carries over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from bridge.core.projector import Projector
from bridge.core.linear_map import fit_linear_map, linear_projector
from bridge.core.projector_config import ProjectorConfig
from bridge.methods.planning import base_and_leaves, memory_per_member
from bridge.methods.strategy import FitResult, MemberInfo, Strategy, StrategySettings, TrainingFeatures, TrainingPlan
from bridge.progress import Reporter

MODES: dict[str, dict[str, Any]] = {
    "orthogonal": {"training.procrustes": "orthogonal"},
    "least squares": {"training.procrustes": "least_squares"},
}


def planned_memories(members: list[MemberInfo], overlap: str, memories: list[str]) -> dict[str, str]:
    """The recipe's memories when they give one per member (only the paired reference uses them), else none."""
    return memory_per_member(members, overlap, memories) if len(memories) == len(members) else {}


class ProcrustesStrategy(Strategy):
    """Closed form: each further member mapped into the first member's space by a centred linear map fitted on the overlap."""

    display_name: ClassVar[str] = "Procrustes"
    ablations: ClassVar[dict[str, dict[str, Any]]] = MODES
    sweeps: ClassVar[dict[str, dict[str, Any]]] = MODES

    def plan(self, members: list[MemberInfo], overlap: str, memories: list[str], settings: StrategySettings) -> TrainingPlan:
        base, leaves = base_and_leaves(members)
        return TrainingPlan(projected=tuple(m.name for m in leaves), memories=planned_memories(members, overlap, memories), dim=base.dim)

    @staticmethod
    def _base(plan: TrainingPlan, names) -> str:
        return next(name for name in names if name not in plan.projected)

    def fit(
        self,
        features: TrainingFeatures,
        plan: TrainingPlan,
        settings: StrategySettings,
        reporter: Reporter,
        checkpoint_dir: Path | None = None,
    ) -> FitResult:
        base = self._base(plan, features.overlap)
        mode = settings.training.procrustes
        projectors = {leaf: linear_projector(*fit_linear_map(features.overlap[leaf], features.overlap[base], mode)) for leaf in plan.projected}
        return FitResult(projectors=projectors, facts={"overlap_items": len(features.overlap[base]), "map": mode})

    def untrained(self, plan: TrainingPlan, members: dict[str, MemberInfo], settings: StrategySettings) -> dict[str, Projector]:
        """Random (semi-)orthogonal maps with no centring."""
        torch.manual_seed(settings.training.seed)
        config = ProjectorConfig(architecture="linear", output_dim=plan.dim, init="orthogonal")
        return {leaf: Projector(members[leaf].dim, config).eval() for leaf in plan.projected}

    def fit_paired(
        self, paired: dict[str, np.ndarray], plan: TrainingPlan, settings: StrategySettings, reporter: Reporter
    ) -> FitResult:
        """The same closed form fitted on true pairs of the members' own modalities."""
        base = self._base(plan, paired)
        mode = settings.training.procrustes
        projectors = {leaf: linear_projector(*fit_linear_map(paired[leaf], paired[base], mode)) for leaf in plan.projected}
        return FitResult(projectors=projectors, facts={"pairs": len(paired[base]), "map": mode})
