"""`bridge recipe check`: validate a recipe without loading models or reading data."""

from __future__ import annotations

from pathlib import Path

from bridge.errors import BridgeError
from bridge.plugins import get_mcr_type, get_source_type, recipe_mcr_options, validate_options
from bridge.recipe import Recipe, load_recipe
from bridge.sources import PluginSource


def _sources(recipe: Recipe):
    """Every (key path, source spec) of a recipe."""
    yield "data.overlap", recipe.data.overlap
    for modality, spec in recipe.data.memory.items():
        yield f"data.memory.{modality}", spec
    for index, task in enumerate(recipe.evaluation.retrieval):
        yield f"evaluation.retrieval[{index}].query", task.query
        yield f"evaluation.retrieval[{index}].target", task.target
    for index, task in enumerate(recipe.evaluation.zeroshot):
        yield f"evaluation.zeroshot[{index}].items", task.items
    for modality, spec in (recipe.evaluation.paired or {}).items():
        yield f"evaluation.paired.{modality}", spec


def check_recipe(path: str | Path) -> Recipe:
    """Schema, plugin names, plugin options and declared modalities; raises BridgeError on the first problem."""
    recipe, base_dir = load_recipe(path)
    declared: set[str] = set()
    for role, spec in (("a", recipe.mcr_a), ("b", recipe.mcr_b)):
        where = f"{path}: mcr_{role}"
        try:
            mcr_type = get_mcr_type(spec.plugin)
        except BridgeError as error:
            raise BridgeError(f"{where}.plugin: {error}") from error
        recipe_mcr_options(mcr_type, spec.options, base_dir, f"{where}.options")
        if mcr_type.modalities and recipe.overlap not in mcr_type.modalities:
            raise BridgeError(f"{where}: {spec.plugin!r} encodes {', '.join(mcr_type.modalities)}, not the overlap {recipe.overlap!r}")
        declared |= set(mcr_type.modalities)
    for key, spec in _sources(recipe):
        if isinstance(spec, PluginSource):
            try:
                source_type = get_source_type(spec.plugin)
            except BridgeError as error:
                raise BridgeError(f"{path}: {key}.plugin: {error}") from error
            validate_options(source_type.options, spec.options, f"{path}: {key}.options")
    if declared:
        used = set(recipe.data.memory) | {t.query_modality for t in recipe.evaluation.retrieval}
        used |= {t.target_modality for t in recipe.evaluation.retrieval} | {t.modality for t in recipe.evaluation.zeroshot}
        unknown = sorted(used - declared)
        if unknown:
            raise BridgeError(f"{path}: modality {unknown[0]!r} is encoded by neither MCR ({', '.join(sorted(declared))})")
    return recipe
