"""The strategy interface: how a joint space is trained from the members' cached features.

A strategy is registered by a plugin exactly like an MCR type::

    @bridge.hookimpl
    def register_strategies(register):
        register(bridge.StrategyType(name="connect", create=ConnectStrategy, aliases=("cmcr",)))

and chosen by a recipe (``strategy: connect``). The pipeline asks the
strategy which members get projectors and which memories it needs
(:meth:`Strategy.plan`), extracts and caches exactly those features, and
hands them to :meth:`Strategy.fit`. Evaluation, saving and the CLI are the
same for every strategy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from bridge.core.projector_config import ProjectorConfig
from bridge.methods.config import EnhanceConfig, TrainingConfig
from bridge.progress import Reporter

if TYPE_CHECKING:
    import numpy as np
    import torch

    from bridge.core.projector import Projector


@dataclass(frozen=True)
class MemberInfo:
    """What a strategy knows of one member before any feature is extracted.

    Attributes:
        name: the member's name in the recipe and the saved space.
        mcr_id: the MCR's id.
        modalities: what the MCR encodes.
        dim: D, its embedding dimension.
    """

    name: str
    mcr_id: str
    modalities: tuple[str, ...]
    dim: int


@dataclass(frozen=True)
class TrainingPlan:
    """What a strategy will train and which features it needs.

    Attributes:
        projected: members that get a projector (the others' embeddings are the joint space).
        memories: member → the modality of the unpaired memory it needs (``data.memory.<modality>``).
        dim: dimension of the joint space.
    """

    projected: tuple[str, ...]
    memories: dict[str, str]
    dim: int


@dataclass(frozen=True)
class TrainingFeatures:
    """Cached MCR features a strategy trains from.

    Attributes:
        overlap: member → ``(N, D_member)``; row i of every member is overlap item i.
        memory: member → ``(M_member, D_member)`` unpaired memory of its planned modality.
    """

    overlap: dict[str, "np.ndarray | torch.Tensor"]
    memory: dict[str, "np.ndarray | torch.Tensor"]


@dataclass(frozen=True)
class StrategySettings:
    """The recipe sections a strategy reads.

    Attributes:
        enhance, projector, training: the recipe's sections.
        device: torch device the work runs on (``cpu``, ``cuda``, ``cuda:1``).
    """

    enhance: EnhanceConfig
    projector: ProjectorConfig
    training: TrainingConfig
    device: str = "cpu"


@dataclass
class FitResult:
    """A trained strategy's projectors (eval mode, CPU) and what it reports of its training."""

    projectors: dict[str, "Projector"]
    history: list[dict[str, float]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


class Strategy(ABC):
    """One way of joining members into a space.

    Class attributes:
        display_name: the row name in result tables (``C-MCR``).
        ablations: component switches for ``bridge ablate``: variant name → recipe overrides.
        sweeps: hyper-parameter variants for ``bridge ablate`` (without ``--quick``).
    """

    display_name: ClassVar[str] = ""
    ablations: ClassVar[dict[str, dict[str, Any]]] = {}
    sweeps: ClassVar[dict[str, dict[str, Any]]] = {}

    @abstractmethod
    def plan(self, members: list[MemberInfo], overlap: str, memories: list[str], settings: StrategySettings) -> TrainingPlan:
        """Check the members fit this strategy and say what will be trained.

        Args:
            members: the recipe's members, in order.
            overlap: the shared modality.
            memories: the modalities the recipe gives memories for.

        Raises:
            BridgeError: naming the recipe key (``members``, ``data.memory``) that does not fit.
        """

    @abstractmethod
    def fit(
        self,
        features: TrainingFeatures,
        plan: TrainingPlan,
        settings: StrategySettings,
        reporter: Reporter,
        checkpoint_dir: Path | None = None,
    ) -> FitResult:
        """Train the planned projectors from unpaired features."""

    @abstractmethod
    def untrained(self, plan: TrainingPlan, members: dict[str, MemberInfo], settings: StrategySettings) -> dict[str, "Projector"]:
        """Freshly initialised projectors (the ``untrained`` reference row)."""

    @abstractmethod
    def fit_paired(
        self, paired: dict[str, "np.ndarray | torch.Tensor"], plan: TrainingPlan, settings: StrategySettings, reporter: Reporter
    ) -> FitResult:
        """The paired reference: the same projectors and budget trained on true pairs.

        Args:
            paired: member → ``(P, D_member)``, row i of every member one true pair.
        """


@dataclass(frozen=True)
class StrategyType:
    """What a plugin registers: a named strategy.

    Attributes:
        name: the name recipes use (``strategy: <name>``).
        create: builds the strategy object.
        aliases: other names recipes may use (``cmcr`` for ``connect``).
        summary: one line for listings.
    """

    name: str
    create: Callable[[], Strategy]
    aliases: tuple[str, ...] = ()
    summary: str = ""
    plugin: str = field(default="", compare=False)
