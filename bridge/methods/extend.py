"""The built-in strategy ``extend``: Ex-MCR (Zhang, Wang et al., NeurIPS 2024).

The recipe's **first member is the base**: its embeddings *are* the joint
space (no projector; its own cross-modal retrieval is kept bit for bit). The
second member, the *leaf*, gets the Ex-MCR head (``exmcr`` projector, hidden
width ``projector.hidden_ratio``) into the base space; ``projector.architecture``
and ``projector.output_dim`` do not apply (the space's dimension is the
base's). Training data: pseudo tuples from the centres ``enhance.centres``
(see :mod:`bridge.methods.exmcr`), noise on the leaf inputs, the dense
alignment objective plus ``training.intra_weight`` times the intra-leaf loss
on Head1. Several leaves extend one base by composing ``extend`` spaces
(:func:`bridge.compose`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bridge.core.projector import Projector
from bridge.methods.exmcr import ExtendSet, build_extend_set, make_head, train_head, unit_tensor
from bridge.methods.planning import base_and_leaves, memory_per_member, require_two
from bridge.methods.strategy import FitResult, MemberInfo, Strategy, StrategySettings, TrainingFeatures, TrainingPlan
from bridge.progress import Reporter

EXTEND_ABLATIONS: dict[str, dict[str, Any]] = {
    "full Ex-MCR": {},
    "overlap centre only": {"enhance.centres": ["overlap"]},
    "w/o leaf centre": {"enhance.centres": ["overlap", "base"]},
    "w/o base centre": {"enhance.centres": ["overlap", "leaf"]},
    "w/o memory consistency": {"enhance.consistency": False},
    "w/o dense alignment": {"training.dense_alignment": False},
    "w/o intra-leaf loss": {"training.intra_weight": 0.0},
    "w/o noise": {"enhance.noise": False},
}
NOISE_SIGMAS = (0.0, 0.04, 0.08, 0.12, 0.16, 0.24)
TEMPERATURES = (0.02, 0.05, 0.1)


class ExtendStrategy(Strategy):
    """Ex-MCR: extend the leaf member (second) into the base member's (first) space; the base is untouched."""

    display_name: ClassVar[str] = "Ex-MCR"
    ablations: ClassVar[dict[str, dict[str, Any]]] = EXTEND_ABLATIONS
    sweeps: ClassVar[dict[str, dict[str, Any]]] = {
        **{f"sigma = {sigma:g}": {"enhance.noise_sigma": sigma, "enhance.noise": sigma > 0} for sigma in NOISE_SIGMAS},
        **{f"tau = {tau:g}": {"training.temperature": tau} for tau in TEMPERATURES},
    }

    def plan(self, members: list[MemberInfo], overlap: str, memories: list[str], settings: StrategySettings) -> TrainingPlan:
        require_two(members, "extend")
        chosen = memory_per_member(members, overlap, memories)
        base, leaves = base_and_leaves(members)
        return TrainingPlan(projected=tuple(m.name for m in leaves), memories=chosen, dim=base.dim)

    def _roles(self, plan: TrainingPlan, names: list[str]) -> tuple[str, str]:
        (leaf,) = plan.projected
        base = next(name for name in names if name != leaf)
        return base, leaf

    def fit(
        self,
        features: TrainingFeatures,
        plan: TrainingPlan,
        settings: StrategySettings,
        reporter: Reporter,
        checkpoint_dir: Path | None = None,
    ) -> FitResult:
        """Build the pseudo tuples and train the leaf's head (``checkpoint_dir`` is unused: training takes seconds)."""
        base, leaf = self._roles(plan, list(features.overlap))
        data = build_extend_set(
            features.overlap[leaf], features.overlap[base], features.memory[leaf], features.memory[base],
            settings.enhance, reporter, device=settings.device,
        )
        head, history = self._train(data, settings, reporter)
        return FitResult(projectors={leaf: head}, history=history, facts={"overlap_items": len(features.overlap[leaf]),
                                                                          "pseudo_tuples": dict(data.centres)})

    def _train(self, data: ExtendSet, settings: StrategySettings, reporter: Reporter, intra: bool = True):
        sigma = settings.enhance.noise_sigma if settings.enhance.noise else 0.0
        training = settings.training if intra else settings.training.model_copy(update={"intra_weight": 0.0})
        return train_head(data, settings.projector.hidden_ratio, training, sigma, reporter, settings.device)

    def untrained(self, plan: TrainingPlan, members: dict[str, MemberInfo], settings: StrategySettings) -> dict[str, Projector]:
        (leaf,) = plan.projected
        return {leaf: make_head(members[leaf].dim, plan.dim, settings.projector.hidden_ratio, settings.training.seed).eval()}

    def fit_paired(
        self, paired: dict[str, np.ndarray], plan: TrainingPlan, settings: StrategySettings, reporter: Reporter
    ) -> FitResult:
        """The same head, noise and budget trained on true pairs (leaf's own modality, base's own modality)."""
        base, leaf = self._roles(plan, list(paired))
        leaf_own, base_own = unit_tensor(paired[leaf]), unit_tensor(paired[base])
        data = ExtendSet(leaf_own, leaf_own.clone(), base_own, base_own.clone(), {"paired": len(leaf_own)})
        head, history = self._train(data, settings, reporter, intra=False)
        return FitResult(projectors={leaf: head}, history=history, facts={"pairs": len(data)})
