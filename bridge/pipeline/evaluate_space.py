"""`bridge eval SPACE_DIR --recipe R`: evaluate a composed space (``space.yaml``) on a recipe's tasks.

A space has no recipe of its own (its bridges each have one), so the tasks
come from ``--recipe``. Reference rows that need one strategy's training
(``untrained``, ``paired_reference``) or one overlap (``text_pivot``) do not
apply to a space; ``chance`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.core.artifact import read_metrics, write_metrics
from bridge.core.composed import Space
from bridge.core.registry import Registry
from bridge.data.features import FeatureProvider, default_context
from bridge.data.sources import resolve
from bridge.errors import BridgeError
from bridge.evaluation.evaluate import evaluate
from bridge.progress import Reporter, SilentReporter
from bridge.recipes.io import load_recipe


def evaluate_space(
    space_dir: str | Path,
    recipe_path: str | Path | None,
    reporter: Reporter | None = None,
    save: bool = True,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Evaluate a saved space on ``recipe_path``'s tasks (members named as :attr:`Space.members`), updating its ``metrics.json``."""
    reporter = reporter or SilentReporter()
    registry = registry or Registry.from_environment()
    if recipe_path is None:
        raise BridgeError(f"{space_dir}: a composed space has no recipe of its own; give the tasks with --recipe")
    space = Space.load(space_dir, mcr_loader=registry.load_mcr)
    recipe, base_dir = load_recipe(recipe_path)
    evaluation = recipe.evaluation.model_copy(update={"baselines": [b for b in recipe.evaluation.baselines if b == "chance"]})
    cache_dir = resolve(recipe.cache_dir, base_dir) if recipe.cache_dir else None
    provider = FeatureProvider(space.mcr, default_context(base_dir, cache_dir, reporter, registry.source_type), recipe.data.skip_bad_items, reporter, recipe.data.decoding)
    results = evaluate(evaluation, {space.name: space}, provider, space)
    if save:
        write_metrics(Path(space_dir), {**read_metrics(Path(space_dir)), **results, "trained": space.name,
                                        "skipped": [vars(s) for s in provider.skipped]})
    return results
