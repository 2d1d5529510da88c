"""`bridge eval`: evaluate a saved space on its own recipe's tasks (or another recipe's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.core.artifact import read_metrics, write_metrics
from bridge.core.space_file import is_space_directory
from bridge.core.registry import Registry
from bridge.core.space import Bridge
from bridge.data.features import FeatureProvider, default_context
from bridge.data.sources import resolve
from bridge.errors import BridgeError
from bridge.evaluation.evaluate import evaluate
from bridge.pipeline.evaluate_space import evaluate_space
from bridge.pipeline.geometry import recipe_geometry
from bridge.pipeline.references import reference_systems
from bridge.pipeline.session import open_session
from bridge.progress import Reporter, SilentReporter
from bridge.recipes.io import load_recipe, parse_recipe


def evaluate_saved(
    bridge_dir: str | Path,
    recipe_path: str | Path | None = None,
    reporter: Reporter | None = None,
    save: bool = True,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Evaluate a saved space, updating its ``metrics.json`` (atomically) when ``save``."""
    reporter = reporter or SilentReporter()
    registry = registry or Registry.from_environment()
    if is_space_directory(bridge_dir):  # bridges composed into one space
        return evaluate_space(bridge_dir, recipe_path, reporter, save, registry)
    space = Bridge.load(bridge_dir, mcr_loader=registry.load_mcr)
    if recipe_path is not None:
        recipe, base_dir = load_recipe(recipe_path)
    else:
        recipe = parse_recipe(space.spec.recipe, f"{bridge_dir}/bridge.yaml recipe")
        base_dir = Path(space.spec.recipe_dir or ".")
    trained = read_metrics(Path(bridge_dir)).get("trained", space.spec.strategy)
    systems: dict[str, Bridge] = {}
    baselines = [b for b in recipe.evaluation.baselines if b in ("untrained", "paired_reference")]
    if baselines:
        if list(recipe.members) != space.members:
            raise BridgeError(f"{recipe_path}: its members {list(recipe.members)} are not the space's {space.members}")
        session = open_session(recipe, base_dir, registry, reporter)
        provider = session.provider
        systems.update(reference_systems(session, recipe))
    else:
        cache_dir = resolve(recipe.cache_dir, base_dir) if recipe.cache_dir else None
        context = default_context(base_dir, cache_dir, reporter, registry.source_type)
        provider = FeatureProvider(space.mcr, context, recipe.data.skip_bad_items, reporter, recipe.data.decoding)
    systems[trained] = space
    results = evaluate(recipe.evaluation, systems, provider, space)
    geometry = recipe_geometry(recipe, space, provider)
    if geometry is not None:
        results["geometry"] = geometry
    if save:
        metrics = {**read_metrics(Path(bridge_dir)), **results, "skipped": [vars(s) for s in provider.skipped]}
        write_metrics(Path(bridge_dir), metrics)
    return results
