"""Evaluating a composed space (``space.yaml``): on its own space recipe's tasks, or on a bridge recipe's.

A space composed by `bridge compose` keeps its space recipe: `bridge eval SPACE`
evaluates it again on that recipe's test and validation tasks, with its
``chance`` and ``paired_reference`` rows (projectors trained on true pairs of
two modalities held by different members, :func:`space_paired_reference`).
`bridge eval SPACE --recipe R` takes the tasks of another recipe: a space
recipe, or a bridge recipe, whose reference rows other than ``chance`` need
one strategy's training (``untrained``, ``paired_reference``) or one overlap
(``text_pivot``) and do not apply to a space.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.core.artifact import SpaceSpec, read_metrics, write_metrics
from bridge.core.composed import Space
from bridge.core.registry import Registry
from bridge.core.space import Bridge
from bridge.core.yaml_io import read_yaml
from bridge.data.features import FeatureProvider, aligned_rows, default_context
from bridge.data.sources import resolve
from bridge.errors import BridgeError
from bridge.evaluation.baselines import as_tensor
from bridge.evaluation.evaluate import evaluate
from bridge.evaluation.tasks import EvaluationConfig
from bridge.methods.strategy import StrategySettings, TrainingPlan
from bridge.pipeline.references import PAIRED_REFERENCE
from bridge.pipeline.session import resolve_device
from bridge.progress import Reporter, SilentReporter
from bridge.recipes.io import load_recipe, parse_space_recipe
from bridge.recipes.space_schema import SpaceRecipe, is_space_recipe


def space_provider(space: Space, recipe: SpaceRecipe, base_dir: Path, registry: Registry, reporter: Reporter) -> FeatureProvider:
    """Cached features of the recipe's sources through the space's members."""
    cache_dir = resolve(recipe.cache_dir, base_dir) if recipe.cache_dir else None
    return FeatureProvider(space.mcr, default_context(base_dir, cache_dir, reporter, registry.source_type), reporter=reporter)


def space_paired_reference(
    space: Space, recipe: SpaceRecipe, provider: FeatureProvider, registry: Registry, reporter: Reporter, device: str
) -> Bridge:
    """Projectors trained on true pairs of ``evaluation.paired``'s two modalities, each through the one member that encodes it."""
    config = recipe.paired_reference
    members: dict[str, str] = {}  # member → modality
    for modality in recipe.evaluation.paired or {}:
        names = space.members_for(modality)
        if len(names) != 1:
            raise BridgeError(f"evaluation.paired.{modality}: encoded by {', '.join(names)} in the space; the paired reference needs one")
        members[names[0]] = modality
    if len(members) != 2:
        raise BridgeError("evaluation.paired: the paired reference needs two modalities of two different members")
    per_member = [provider.features(m, modality, recipe.evaluation.paired[modality]) for m, modality in members.items()]
    rows = aligned_rows(*per_member)
    if len(rows[0]) < 2:
        raise BridgeError("evaluation.paired: the paired sources share fewer than two ids")
    paired = {m: as_tensor(f.embeddings)[r].numpy() for m, f, r in zip(members, per_member, rows)}
    strategy = registry.strategy_type(config.strategy).create()
    plan = TrainingPlan(projected=tuple(members), memories={}, dim=config.projector.output_dim)
    settings = StrategySettings(enhance=config.enhance, projector=config.projector, training=config.training, device=device)
    result = strategy.fit_paired(paired, plan, settings, reporter)
    records = {m: space.record(m).model_copy(update={"projector": result.projectors[m].config}) for m in members}
    spec = SpaceSpec(name=PAIRED_REFERENCE, strategy=config.strategy, dim=config.projector.output_dim, members=records)
    return Bridge(spec, result.projectors, {m: space.mcr(m) for m in members}).to(device)


def _reference_tasks(evaluation: EvaluationConfig, reference: Bridge) -> EvaluationConfig:
    """The retrieval tasks the reference's members can embed (no zero-shot: it holds no prompt modality)."""
    held = set(reference.modalities)

    def fits(task) -> bool:
        vias = [v for v in (task.query_via, task.target_via) if v is not None]
        return {task.query_modality, task.target_modality} <= held and all(v in reference.members for v in vias)

    return evaluation.model_copy(update={"retrieval": [t for t in evaluation.retrieval if fits(t)], "zeroshot": [], "baselines": []})


def _merge(results: dict[str, Any], more: dict[str, Any]) -> None:
    for group, tasks in more.items():
        for task, systems in tasks.items():
            results[group][task].update(systems)


def relative_maps(retrieval: dict[str, Any], system: str) -> dict[str, float]:
    """Per task with a paired reference: ``system``'s mean mAP (both directions) over the reference's."""
    ratios = {}
    for task, systems in retrieval.items():
        if system in systems and PAIRED_REFERENCE in systems:
            mean = [sum(r["mAP"] for r in systems[name].values()) / len(systems[name]) for name in (system, PAIRED_REFERENCE)]
            ratios[task] = round(mean[0] / mean[1], 4) if mean[1] > 0 else 0.0
    return ratios


def evaluate_composed(
    space: Space, recipe: SpaceRecipe, base_dir: Path, registry: Registry, reporter: Reporter | None = None
) -> dict[str, Any]:
    """The space recipe's test tasks (``retrieval``, ``zeroshot``) and validation tasks (``validation``), with its reference rows."""
    reporter = reporter or SilentReporter()
    device = resolve_device(recipe.device)
    space.to(device)
    provider = space_provider(space, recipe, base_dir, registry, reporter)
    evaluation = recipe.evaluation.model_copy(update={"baselines": [b for b in recipe.evaluation.baselines if b == "chance"]})
    validation = evaluation.model_copy(update={"retrieval": evaluation.validation, "zeroshot": []})
    results = evaluate(evaluation, {space.name: space}, provider, space)
    checked = evaluate(validation, {space.name: space}, provider, space)["retrieval"]
    if "paired_reference" in recipe.evaluation.baselines:
        reference = space_paired_reference(space, recipe, provider, registry, reporter, device)
        _merge(results, evaluate(_reference_tasks(evaluation, reference), {PAIRED_REFERENCE: reference}, provider, space))
        _merge({"retrieval": checked}, evaluate(_reference_tasks(validation, reference), {PAIRED_REFERENCE: reference}, provider, space))
    return {
        **results,
        "validation": checked,
        "relative_to_paired_reference": {"test": relative_maps(results["retrieval"], space.name),
                                         "validation": relative_maps(checked, space.name)},
        "trained": space.name,
        "skipped": [vars(s) for s in provider.skipped],
    }


def evaluate_space(
    space_dir: str | Path,
    recipe_path: str | Path | None,
    reporter: Reporter | None = None,
    save: bool = True,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Evaluate a saved space on its own space recipe, or on ``recipe_path``'s tasks, updating its ``metrics.json``."""
    reporter = reporter or SilentReporter()
    registry = registry or Registry.from_environment()
    space = Space.load(space_dir, mcr_loader=registry.load_mcr)
    if recipe_path is None:
        if space.recipe is None:
            raise BridgeError(f"{space_dir}: a composed space has no recipe of its own unless `bridge compose` made it; give the tasks with --recipe")
        recipe = parse_space_recipe(space.recipe, f"{space_dir}/space.yaml recipe")
        results = evaluate_composed(space, recipe, Path(space.recipe_dir or "."), registry, reporter)
    elif is_space_recipe(read_yaml(Path(recipe_path), "recipe")):
        recipe = parse_space_recipe(read_yaml(Path(recipe_path), "recipe"), str(recipe_path))
        results = evaluate_composed(space, recipe, Path(recipe_path).absolute().parent, registry, reporter)
    else:
        results = _evaluate_on_bridge_recipe(space, recipe_path, registry, reporter)
    if save:
        write_metrics(Path(space_dir), {**read_metrics(Path(space_dir)), **results})
    return results


def _evaluate_on_bridge_recipe(space: Space, recipe_path: str | Path, registry: Registry, reporter: Reporter) -> dict[str, Any]:
    recipe, base_dir = load_recipe(recipe_path)
    evaluation = recipe.evaluation.model_copy(update={"baselines": [b for b in recipe.evaluation.baselines if b == "chance"]})
    cache_dir = resolve(recipe.cache_dir, base_dir) if recipe.cache_dir else None
    provider = FeatureProvider(space.mcr, default_context(base_dir, cache_dir, reporter, registry.source_type), recipe.data.skip_bad_items, reporter, recipe.data.decoding)
    results = evaluate(evaluation, {space.name: space}, provider, space)
    return {**results, "trained": space.name, "skipped": [vars(s) for s in provider.skipped]}
