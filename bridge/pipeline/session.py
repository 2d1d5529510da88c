"""A recipe opened for work: its members' MCRs loaded, its strategy planned, cached features at hand.

One :class:`Session` serves several trainings (an ablation's variants reuse
the loaded models and the extracted features).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bridge.core.artifact import MemberRecord, SpaceSpec
from bridge.core.mcr import MCR
from bridge.core.registry import Registry
from bridge.data.features import FeatureProvider, aligned_rows, default_context
from bridge.data.sources import resolve
from bridge.errors import BridgeError, quoted
from bridge.methods.strategy import MemberInfo, Strategy, StrategySettings, TrainingFeatures, TrainingPlan
from bridge.progress import Reporter, SilentReporter
from bridge.recipes.members import member_options
from bridge.recipes.schema import Recipe


def resolve_device(name: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; a named device must be present."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BridgeError(f"device: {quoted(name)} was asked for, but torch sees no CUDA device (use `auto` or `cpu`)")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise BridgeError(f"device: {quoted(name)} does not exist; torch sees {torch.cuda.device_count()} CUDA device(s)")
    if name == "mps" and not torch.backends.mps.is_available():
        raise BridgeError("device: 'mps' was asked for, but this torch build has no MPS device")
    return name


def settings_of(recipe: Recipe, device: str) -> StrategySettings:
    return StrategySettings(enhance=recipe.enhance, projector=recipe.projector, training=recipe.training, device=device)


@dataclass
class Session:
    """Loaded members, the planned strategy and a feature provider for one recipe folder."""

    recipe: Recipe
    base_dir: Path
    registry: Registry
    mcrs: dict[str, MCR]
    records: dict[str, MemberRecord]
    infos: dict[str, MemberInfo]
    strategy: Strategy
    plan: TrainingPlan
    provider: FeatureProvider
    reporter: Reporter
    device: str
    facts: dict[str, Any] = field(default_factory=dict)

    def settings(self, recipe: Recipe | None = None) -> StrategySettings:
        return settings_of(recipe or self.recipe, self.device)

    def spec(self, recipe: Recipe, projected: dict[str, Any]) -> SpaceSpec:
        """The ``bridge.yaml`` content of a space trained from ``recipe`` (each projector's own configuration)."""
        members = {
            name: record.model_copy(update={"projector": projected[name].config if name in projected else None})
            for name, record in self.records.items()
        }
        dim = next(iter(projected.values())).output_dim if projected else self.plan.dim  # a variant may change it
        return SpaceSpec(
            name=recipe.name, strategy=recipe.strategy, overlap=recipe.overlap, dim=dim, members=members,
            recipe=recipe.model_dump(mode="json"), recipe_dir=str(self.base_dir), versions=package_versions(),
        )

    def training_features(self) -> TrainingFeatures:
        """The overlap corpus through every member (rows aligned by id) and each planned memory."""
        recipe = self.recipe
        per_member = {name: self.provider.features(name, recipe.overlap, recipe.data.overlap) for name in self.infos}
        rows = aligned_rows(*per_member.values())
        if len(rows[0]) < 2:
            raise BridgeError("data.overlap: fewer than two usable items")
        overlap = {name: np.asarray(features.embeddings)[index] for (name, features), index in zip(per_member.items(), rows)}
        memory = {
            name: self.provider.features(name, modality, recipe.data.memory[modality]).embeddings
            for name, modality in self.plan.memories.items()
        }
        return TrainingFeatures(overlap=overlap, memory=memory)

    def paired_features(self) -> dict[str, np.ndarray]:
        """True pairs of the planned memory modalities, ``{member: (P, D_member)}`` aligned by id."""
        paired = self.recipe.evaluation.paired or {}
        if len(self.plan.memories) < 2:
            raise BridgeError(
                f"evaluation.baselines: strategy {quoted(self.recipe.strategy)} plans no per-member memories here, "
                "so there is nothing to pair for a paired_reference; remove it from the baselines"
            )
        for name, modality in self.plan.memories.items():
            if modality not in paired:
                raise BridgeError(f"evaluation.paired: the paired_reference baseline needs a paired source for {quoted(modality)}")
        per_member = {name: self.provider.features(name, modality, paired[modality]) for name, modality in self.plan.memories.items()}
        rows = aligned_rows(*per_member.values())
        if len(rows[0]) < 2:
            raise BridgeError("evaluation.paired: the paired sources share fewer than two ids")
        return {name: np.asarray(features.embeddings)[index] for (name, features), index in zip(per_member.items(), rows)}


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for package in ("mcr-bridge", "numpy", "pydantic"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def open_session(recipe: Recipe, base_dir: Path, registry: Registry, reporter: Reporter | None = None) -> Session:
    """Load the recipe's members, plan its strategy and prepare cached feature extraction."""
    reporter = reporter or SilentReporter()
    device = resolve_device(recipe.device)
    if recipe.threads is not None:
        torch.set_num_threads(recipe.threads)
    strategy = registry.strategy_type(recipe.strategy).create()
    cache_dir = resolve(recipe.cache_dir, base_dir) if recipe.cache_dir else None
    mcrs: dict[str, MCR] = {}
    records: dict[str, MemberRecord] = {}
    for name, spec in recipe.members.items():
        where = f"members.{name}"
        mcr_type = registry.mcr_type(spec.plugin)
        validated, options = member_options(mcr_type, spec.options, base_dir, f"{where}.options", cache_dir)
        mcr = mcr_type.load(validated)
        if recipe.overlap not in mcr.modalities:
            raise BridgeError(f"{where}: MCR {quoted(mcr.id)} does not encode the overlap modality {quoted(recipe.overlap)} (it encodes {', '.join(mcr.modalities)})")
        mcrs[name] = mcr.to(device)
        records[name] = MemberRecord(
            plugin=spec.plugin, options=options, id=mcr.id, fingerprint=mcr.fingerprint, modalities=list(mcr.modalities),
            dim=mcr.dim, projector=None,
        )
    infos = {name: MemberInfo(name=name, mcr_id=m.id, modalities=tuple(m.modalities), dim=m.dim) for name, m in mcrs.items()}
    settings = settings_of(recipe, device)
    plan = strategy.plan(list(infos.values()), recipe.overlap, list(recipe.data.memory), settings)
    context = default_context(base_dir, cache_dir, reporter, registry.source_type)
    provider = FeatureProvider(mcrs.__getitem__, context, recipe.data.skip_bad_items, reporter, recipe.data.decoding)
    return Session(recipe, base_dir, registry, mcrs, records, infos, strategy, plan, provider, reporter, device)
