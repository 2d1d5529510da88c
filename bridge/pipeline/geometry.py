"""Which items the geometry report measures, and running it for a recipe (``evaluation.geometry``)."""

from __future__ import annotations

from typing import Any

from bridge.core.space import Bridge
from bridge.data.features import FeatureProvider
from bridge.evaluation.geometry import evaluate_geometry
from bridge.recipes.schema import Recipe


def geometry_sources(recipe: Recipe) -> dict[str, Any]:
    """Modality → source: the explicit ``evaluation.geometry`` mapping, or (``true``) the first evaluation
    source of each modality and the overlap corpus."""
    setting = recipe.evaluation.geometry
    if isinstance(setting, dict):
        return dict(setting)
    sources: dict[str, Any] = {}
    for task in recipe.evaluation.retrieval:
        sources.setdefault(task.query_modality, task.query)
        sources.setdefault(task.target_modality, task.target)
    for task in recipe.evaluation.zeroshot:
        sources.setdefault(task.modality, task.items)
    sources.setdefault(recipe.overlap, recipe.data.overlap)
    return sources


def recipe_geometry(recipe: Recipe, space: Bridge, provider: FeatureProvider) -> dict[str, Any] | None:
    """The geometry report the recipe asks for (``None`` when it does not)."""
    if recipe.evaluation.geometry is False:
        return None
    return evaluate_geometry(space, provider, geometry_sources(recipe))
