"""The built-in strategy ``connect``: C-MCR (Wang et al., NeurIPS 2023).

Two members that share the overlap modality (e.g. CLIP and CLAP through
text) each get a projector into a new joint space. Training data: the
overlap corpus through both members, and for each member pseudo embeddings
of its other modality aggregated from an unpaired memory (semantic
consistency), with Gaussian noise on every input (semantic completion);
the loss is inter-MCR InfoNCE (overlap pairs, pseudo pairs) plus lambda
times intra-MCR InfoNCE.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bridge.core.projector import Projector
from bridge.methods.enhance import build_training_set
from bridge.methods.planning import memory_per_member, require_two
from bridge.methods.strategy import (
    FitResult,
    MemberInfo,
    Strategy,
    StrategySettings,
    TrainingFeatures,
    TrainingPlan,
)
from bridge.methods.training import make_projectors, train_projectors
from bridge.progress import Reporter

COMPONENT_ABLATIONS: dict[str, dict[str, Any]] = {
    "full C-MCR": {},
    "w/o memory consistency": {"enhance.consistency": False},
    "w/o noise": {"enhance.noise": False},
    "w/o intra-MCR loss": {"training.intra_weight": 0.0},
    "w/o pseudo-pair inter loss": {"training.pseudo_pair_loss": False},
}
NOISE_SIGMAS = (0.0, 0.02, 0.04, 0.08, 0.12, 0.16, 0.24, 0.32)
MEMORY_TEMPERATURES = (0.003, 0.01, 0.03, 0.1)


class ConnectStrategy(Strategy):
    """C-MCR: connect two MCRs through their overlap modality with two trained projectors."""

    display_name: ClassVar[str] = "C-MCR"
    ablations: ClassVar[dict[str, dict[str, Any]]] = COMPONENT_ABLATIONS
    sweeps: ClassVar[dict[str, dict[str, Any]]] = {
        **{f"sigma = {sigma:g}": {"enhance.noise_sigma": sigma, "enhance.noise": sigma > 0} for sigma in NOISE_SIGMAS},
        **{f"tau_mem = {tau:g}": {"enhance.memory_temperature": tau} for tau in MEMORY_TEMPERATURES},
    }

    def plan(self, members: list[MemberInfo], overlap: str, memories: list[str], settings: StrategySettings) -> TrainingPlan:
        require_two(members, "connect")
        chosen = memory_per_member(members, overlap, memories)
        return TrainingPlan(projected=tuple(m.name for m in members), memories=chosen, dim=settings.projector.output_dim)

    def fit(
        self,
        features: TrainingFeatures,
        plan: TrainingPlan,
        settings: StrategySettings,
        reporter: Reporter,
        checkpoint_dir: Path | None = None,
    ) -> FitResult:
        first, second = plan.projected
        data = build_training_set(
            features.overlap[first], features.overlap[second], features.memory[first], features.memory[second],
            settings.enhance, reporter, device=settings.device,
        )
        sigma = settings.enhance.noise_sigma if settings.enhance.noise else 0.0
        trained = train_projectors(data, settings.projector, settings.training, sigma, checkpoint_dir, reporter, settings.device)
        return FitResult(
            projectors={first: trained.projector_a, second: trained.projector_b},
            history=trained.history,
            facts={"overlap_items": len(data)},
        )

    def untrained(self, plan: TrainingPlan, members: dict[str, MemberInfo], settings: StrategySettings) -> dict[str, Projector]:
        first, second = plan.projected
        a, b = make_projectors(members[first].dim, members[second].dim, settings.projector, settings.training.seed)
        return {first: a.eval(), second: b.eval()}

    def fit_paired(
        self, paired: dict[str, np.ndarray], plan: TrainingPlan, settings: StrategySettings, reporter: Reporter
    ) -> FitResult:
        """The same projectors, noise and schedule, trained on true pairs of the two non-overlap modalities."""
        first, second = plan.projected
        x, y = paired[first], paired[second]
        data = build_training_set(x, y, x, y, settings.enhance.model_copy(update={"consistency": False}))
        training = settings.training.model_copy(update={"pseudo_pair_loss": False, "intra_weight": 0.0})
        sigma = settings.enhance.noise_sigma if settings.enhance.noise else 0.0
        trained = train_projectors(data, settings.projector, training, sigma, reporter=reporter, device=settings.device)
        return FitResult(projectors={first: trained.projector_a, second: trained.projector_b}, history=trained.history,
                         facts={"pairs": len(data)})

