"""`bridge connect`: extract → enhance → train → evaluate → save, from a recipe.

The engine behind the CLI command, usable from Python::

    from bridge.connect import connect
    result = connect("recipes/synthworld.yaml")
    result.metrics["retrieval"]["audio-image"]["C-MCR"]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bridge.artifact import Bridge, BridgeSpec, MCRRecord, package_versions
from bridge.enhance import TrainingSet, build_training_set
from bridge.errors import BridgeError
from bridge.evaluate import evaluate
from bridge.mcr import MCR
from bridge.plugins import get_mcr_type, recipe_mcr_options
from bridge.progress import Reporter, SilentReporter
from bridge.provider import FeatureProvider, aligned_rows, default_context
from bridge.recipe import Recipe, load_recipe
from bridge.sources import resolve
from bridge.train import make_projectors, train_projectors

TRAINED = "C-MCR"
UNTRAINED = "untrained"
ORACLE = "oracle"


@dataclass
class ConnectResult:
    """What a `connect` run produced."""

    bridge: Bridge
    output: Path
    metrics: dict[str, Any]
    skipped: list = field(default_factory=list)


def load_recipe_mcrs(recipe: Recipe, base_dir: Path) -> tuple[dict[str, MCR], dict[str, dict[str, Any]]]:
    """Load MCR A and MCR B; returns them and their resolved options (paths absolute) by role."""
    mcrs, options = {}, {}
    for role, spec in (("a", recipe.mcr_a), ("b", recipe.mcr_b)):
        where = f"mcr_{role}"
        mcr_type = get_mcr_type(spec.plugin)
        validated, options[role] = recipe_mcr_options(mcr_type, spec.options, base_dir, f"{where}.options")
        mcr = mcr_type.load(validated)
        if recipe.overlap not in mcr.modalities:
            raise BridgeError(f"{where}: MCR {mcr.id!r} does not encode the overlap modality {recipe.overlap!r} (it encodes {', '.join(mcr.modalities)})")
        mcrs[role] = mcr.to(recipe.training.device)
    return mcrs, options


def memory_roles(recipe: Recipe, mcrs: dict[str, MCR]) -> dict[str, str]:
    """Role → the non-overlapping modality whose memory it uses (each MCR needs exactly one)."""
    chosen: dict[str, str] = {}
    for modality in recipe.data.memory:
        roles = [role for role, mcr in mcrs.items() if modality in mcr.modalities]
        if len(roles) != 1:
            raise BridgeError(f"data.memory.{modality}: the modality must be encoded by exactly one of the two MCRs (found {len(roles)})")
        if roles[0] in chosen:
            raise BridgeError(f"data.memory: MCR {roles[0]!r} has two memories ({chosen[roles[0]]!r} and {modality!r}); give one")
        chosen[roles[0]] = modality
    for role in ("a", "b"):
        if role not in chosen:
            others = [m for m in mcrs[role].modalities if m != recipe.overlap]
            raise BridgeError(f"data.memory: MCR {mcrs[role].id!r} needs a memory of {' or '.join(others)}")
    return chosen


def build_spec(recipe: Recipe, base_dir: Path, mcrs: dict[str, MCR], options: dict[str, dict]) -> BridgeSpec:
    records = {
        role: MCRRecord(
            plugin=spec.plugin, options=options[role], id=mcrs[role].id, fingerprint=mcrs[role].fingerprint,
            modalities=list(mcrs[role].modalities), dim=mcrs[role].dim,
        )
        for role, spec in (("a", recipe.mcr_a), ("b", recipe.mcr_b))
    }
    return BridgeSpec(
        name=recipe.name, method=recipe.method, overlap=recipe.overlap, mcrs=records, projector=recipe.projector,
        recipe=recipe.model_dump(mode="json"), recipe_dir=str(base_dir), versions=package_versions(),
    )


def training_features(recipe: Recipe, provider: FeatureProvider, memories: dict[str, str]) -> dict[str, np.ndarray]:
    """Encode the overlap corpus through both MCRs and each memory through its MCR.

    Returns:
        ``overlap_a (N, D_a)``, ``overlap_b (N, D_b)`` (rows aligned by item id),
        ``memory_a (M_x, D_a)``, ``memory_b (M_y, D_b)``.
    """
    overlap_a = provider.features("a", recipe.overlap, recipe.data.overlap)
    overlap_b = provider.features("b", recipe.overlap, recipe.data.overlap)
    rows_a, rows_b = aligned_rows(overlap_a, overlap_b)
    if len(rows_a) < 2:
        raise BridgeError("data.overlap: fewer than two usable items")
    features = {"overlap_a": np.asarray(overlap_a.embeddings)[rows_a], "overlap_b": np.asarray(overlap_b.embeddings)[rows_b]}
    for role, modality in memories.items():
        features[f"memory_{role}"] = provider.features(role, modality, recipe.data.memory[modality]).embeddings
    return features


def train_oracle(recipe: Recipe, provider: FeatureProvider, memories: dict[str, str], reporter: Reporter) -> dict:
    """Projectors trained on true X–Y pairs (same capacity and schedule): an upper bound."""
    paired = recipe.evaluation.paired or {}
    missing = [memories[r] for r in ("a", "b") if memories[r] not in paired]
    if missing:
        raise BridgeError(f"evaluation.paired: the oracle baseline needs a paired source for {missing[0]!r}")
    x = provider.features("a", memories["a"], paired[memories["a"]])
    y = provider.features("b", memories["b"], paired[memories["b"]])
    rows_x, rows_y = aligned_rows(x, y)
    if len(rows_x) < 2:
        raise BridgeError("evaluation.paired: the two sources share fewer than two ids")
    pairs = build_training_set(np.asarray(x.embeddings)[rows_x], np.asarray(y.embeddings)[rows_y], x.embeddings, y.embeddings,
                               recipe.enhance.model_copy(update={"consistency": False}))
    training = recipe.training.model_copy(update={"pseudo_pair_loss": False, "intra_weight": 0.0})
    sigma = recipe.enhance.noise_sigma if recipe.enhance.noise else 0.0
    result = train_projectors(pairs, recipe.projector, training, sigma, reporter=reporter)
    return {"a": result.projector_a, "b": result.projector_b}


def connect(
    recipe_path: str | Path,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
    output: Path | None = None,
) -> ConnectResult:
    """Run a recipe end to end and save the bridge.

    Args:
        recipe_path: the YAML recipe.
        overrides: dotted-key overrides, e.g. ``{"training.seed": 1}``.
        output: the bridge directory (default: the recipe's ``output``).
    """
    recipe, base_dir = load_recipe(recipe_path, overrides)
    return connect_recipe(recipe, base_dir, reporter=reporter, output=output)


@dataclass
class Session:
    """Loaded MCRs and a feature provider for one recipe folder: reused across trainings (ablations)."""

    recipe: Recipe
    base_dir: Path
    mcrs: dict[str, MCR]
    options: dict[str, dict[str, Any]]
    memories: dict[str, str]
    provider: FeatureProvider
    reporter: Reporter


def open_session(recipe: Recipe, base_dir: Path, reporter: Reporter | None = None) -> Session:
    """Load the recipe's MCRs and prepare cached feature extraction."""
    reporter = reporter or SilentReporter()
    mcrs, options = load_recipe_mcrs(recipe, base_dir)
    memories = memory_roles(recipe, mcrs)
    context = default_context(base_dir, resolve(recipe.cache_dir, base_dir) if recipe.cache_dir else None, reporter)
    provider = FeatureProvider(mcrs.__getitem__, context, recipe.data.skip_bad_items, reporter)
    return Session(recipe, base_dir, mcrs, options, memories, provider, reporter)


def fit(session: Session, recipe: Recipe, checkpoint_dir: Path | None = None) -> tuple[Bridge, dict[str, Any]]:
    """Enhance and train with ``recipe``'s settings on the session's (cached) features.

    Returns:
        The trained bridge and training facts (loss history, corpus size).
    """
    features = training_features(recipe, session.provider, session.memories)
    data: TrainingSet = build_training_set(
        features["overlap_a"], features["overlap_b"], features["memory_a"], features["memory_b"], recipe.enhance, session.reporter
    )
    sigma = recipe.enhance.noise_sigma if recipe.enhance.noise else 0.0
    trained = train_projectors(data, recipe.projector, recipe.training, sigma, checkpoint_dir, session.reporter)
    spec = build_spec(recipe, session.base_dir, session.mcrs, session.options)
    bridge = Bridge(spec, {"a": trained.projector_a, "b": trained.projector_b}, session.mcrs)
    return bridge, {"history": trained.history, "overlap_items": len(data)}


def connect_recipe(recipe: Recipe, base_dir: Path, reporter: Reporter | None = None, output: Path | None = None) -> ConnectResult:
    """:func:`connect` for an already-validated recipe."""
    started = time.perf_counter()
    session = open_session(recipe, base_dir, reporter)
    output = output or resolve(recipe.output, base_dir)
    bridge, training = fit(session, recipe, output / "checkpoints")
    systems = reference_systems(recipe, bridge.spec, session.mcrs, session.provider, session.memories, session.reporter)
    systems[TRAINED] = bridge
    results = evaluate(recipe.evaluation, systems, session.provider, bridge)
    metrics = {
        **results,
        "training": {**training, "seconds": round(time.perf_counter() - started, 2)},
        "skipped": [vars(s) for s in session.provider.skipped],
    }
    bridge.save(output, metrics)
    return ConnectResult(bridge=bridge, output=output, metrics=metrics, skipped=list(session.provider.skipped))


def reference_systems(recipe: Recipe, spec: BridgeSpec, mcrs, provider, memories, reporter) -> dict[str, Bridge]:
    """The baseline systems the recipe asks for that are projectors (untrained, oracle)."""
    systems: dict[str, Bridge] = {}
    baselines = recipe.evaluation.baselines
    if UNTRAINED in baselines:
        untrained_a, untrained_b = make_projectors(spec.mcrs["a"].dim, spec.mcrs["b"].dim, recipe.projector, recipe.training.seed)
        systems[UNTRAINED] = Bridge(spec, {"a": untrained_a, "b": untrained_b}, mcrs)
    if ORACLE in baselines:
        systems[ORACLE] = Bridge(spec, train_oracle(recipe, provider, memories, reporter), mcrs)
    return systems


def evaluate_saved(
    bridge_dir: str | Path, recipe_path: str | Path | None = None, reporter: Reporter | None = None, save: bool = True
) -> dict[str, Any]:
    """Evaluate a saved bridge on its own recipe's tasks (or on another recipe's), updating ``metrics.json``."""
    from bridge.artifact import read_metrics, write_metrics
    from bridge.recipe import parse_recipe

    reporter = reporter or SilentReporter()
    bridge = Bridge.load(bridge_dir)
    if recipe_path is not None:
        recipe, base_dir = load_recipe(recipe_path)
    else:
        recipe = parse_recipe(bridge.spec.recipe, f"{bridge_dir}/bridge.yaml recipe")
        base_dir = Path(bridge.spec.recipe_dir or ".")
    context = default_context(base_dir, resolve(recipe.cache_dir, base_dir) if recipe.cache_dir else None, reporter)
    provider = FeatureProvider(bridge.mcr, context, recipe.data.skip_bad_items, reporter)
    mcrs = {role: bridge.mcr(role) for role in ("a", "b")}
    needs_memories = ORACLE in recipe.evaluation.baselines
    memories = memory_roles(recipe, mcrs) if needs_memories else {}
    systems = reference_systems(recipe, bridge.spec, mcrs, provider, memories, reporter)
    systems[TRAINED] = bridge
    results = evaluate(recipe.evaluation, systems, provider, bridge)
    if save:
        metrics = {**read_metrics(Path(bridge_dir)), **results, "skipped": [vars(s) for s in provider.skipped]}
        write_metrics(Path(bridge_dir), metrics)
    return results
