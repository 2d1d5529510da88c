"""Checks of a recipe that need no encoding: run by `bridge recipe check` and before any work of `bridge connect`.

Schema, plugin and strategy names, plugin options, declared modalities,
sources' files and folders, the paired data a reference row needs, prompts a
model cannot take (through :attr:`MCRType.check_inputs`), and the output
and cache paths. Torch is not imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from bridge.core.artifact import check_output_dir
from bridge.core.registry import Registry
from bridge.core.validation import validate_options
from bridge.data.sources import FolderSource, LinesSource, ManifestSource, PluginSource, SourceContext, read_items, resolve
from bridge.errors import BridgeError, ItemError, quoted
from bridge.recipes.io import load_recipe
from bridge.recipes.members import member_options
from bridge.recipes.schema import Recipe


def recipe_sources(recipe: Recipe) -> Iterator[tuple[str, BaseModel]]:
    """Every (key path, source spec) of a recipe."""
    yield "data.overlap", recipe.data.overlap
    for modality, spec in recipe.data.memory.items():
        yield f"data.memory.{modality}", spec
    for group in ("retrieval", "validation"):
        for index, task in enumerate(getattr(recipe.evaluation, group)):
            yield f"evaluation.{group}[{index}].query", task.query
            yield f"evaluation.{group}[{index}].target", task.target
    for index, task in enumerate(recipe.evaluation.zeroshot):
        yield f"evaluation.zeroshot[{index}].items", task.items
    for modality, spec in (recipe.evaluation.paired or {}).items():
        yield f"evaluation.paired.{modality}", spec


def _check_source(key: str, spec: BaseModel, registry: Registry, base_dir: Path) -> None:
    where = f"{key}"
    if isinstance(spec, PluginSource):
        try:
            source_type = registry.source_type(spec.plugin)
        except BridgeError as error:
            raise BridgeError(f"{where}.plugin: {error}") from None
        validate_options(source_type.options, spec.options, f"{where}.options")
        return
    if isinstance(spec, LinesSource):
        path, want = resolve(spec.lines, base_dir), "file"
    elif isinstance(spec, ManifestSource):
        path, want = resolve(spec.manifest, base_dir), "file"
    elif isinstance(spec, FolderSource):
        path, want = resolve(spec.folder, base_dir), "folder"
    else:
        return
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as error:
        raise BridgeError(f"{where}: {path} cannot be read ({error.strerror or type(error).__name__})") from error
    if not exists:
        raise BridgeError(f"{where}: {path} does not exist")
    if want == "folder" and not is_dir:
        raise BridgeError(f"{where}: {path} is a file, expected a folder")
    if want == "file" and is_dir:
        raise BridgeError(f"{where}: {path} is a folder, expected a file")


def _labels_cheaply(spec: BaseModel, base_dir: Path) -> list[str] | None:
    """The labels of a built-in source (reading a list or manifest is cheap); ``None`` for plugin sources."""
    if isinstance(spec, PluginSource):
        return None
    items = read_items(spec, SourceContext(base_dir=base_dir, cache_dir=base_dir))
    return sorted({item.label for item in items if item.label is not None})


def _prompt_checks(recipe: Recipe, registry: Registry, validated: dict, base_dir: Path) -> None:
    """Prompts that a member's model cannot take (e.g. a text missing from a `features` table)."""
    members = list(recipe.members)
    evaluation = recipe.evaluation
    checks: list[tuple[str, str, str, list[str]]] = []  # (key, member, modality, texts)
    for index, task in enumerate(evaluation.zeroshot):
        classes = task.classes or _labels_cheaply(task.items, base_dir)
        if not classes:
            continue
        encoders = [m for m in members if _may_encode(registry, recipe, m, task.prompt_modality)]
        via = task.prompt_via or next((m for m in encoders if not _may_encode(registry, recipe, m, task.modality)), None)
        if via is None and encoders:
            via = encoders[0]
        if via is None:
            raise BridgeError(f"evaluation.zeroshot[{index}].prompt_modality: no member encodes {quoted(task.prompt_modality)}")
        if via not in recipe.members:
            raise BridgeError(f"evaluation.zeroshot[{index}].prompt_via: {quoted(via)} is not a member ({', '.join(members)})")
        prompts = [template.replace("{}", name) for name in classes for template in task.prompts]
        checks.append((f"evaluation.zeroshot[{index}].prompts", via, task.prompt_modality, prompts))
    if "text_pivot" in evaluation.baselines:
        for task in evaluation.retrieval:
            classes = evaluation.pivot.classes or _labels_cheaply(task.query, base_dir)
            if not classes:
                continue
            for position, member in enumerate(members):
                templates = evaluation.pivot.templates_for(member, position)
                prompts = [template.replace("{}", name) for name in classes for template in templates]
                checks.append(("evaluation.pivot", member, recipe.overlap, prompts))
    for key, member, modality, texts in checks:
        mcr_type = registry.mcr_type(recipe.members[member].plugin)
        if mcr_type.check_inputs is None:
            continue
        try:
            mcr_type.check_inputs(validated[member], modality, texts)
        except ItemError as error:
            raise BridgeError(f"{key}: member {quoted(member)} cannot take prompt {error}") from None


def _may_encode(registry: Registry, recipe: Recipe, member: str, modality: str) -> bool:
    """Whether ``member`` may encode ``modality``: its type declares it, or declares nothing (decided when loaded)."""
    declared = registry.mcr_type(recipe.members[member].plugin).modalities
    return not declared or modality in declared


def check_recipe_data(recipe: Recipe, base_dir: Path, registry: Registry, output: Path | None = None) -> dict[str, BaseModel]:
    """Every check that needs no model and no encoding; raises a one-line :class:`BridgeError` on the first problem.

    Returns:
        The members' validated options.
    """
    _strategy(recipe, registry)
    declared: set[str] = set()
    validated: dict[str, BaseModel] = {}
    for name, spec in recipe.members.items():
        where = f"members.{name}"
        try:
            mcr_type = registry.mcr_type(spec.plugin)
        except BridgeError as error:
            raise BridgeError(f"{where}.plugin: {error}") from None
        validated[name], _ = member_options(mcr_type, spec.options, base_dir, f"{where}.options")
        if mcr_type.modalities and recipe.overlap not in mcr_type.modalities:
            raise BridgeError(f"{where}: {quoted(spec.plugin)} encodes {', '.join(mcr_type.modalities)}, not the overlap {quoted(recipe.overlap)}")
        declared |= set(mcr_type.modalities)
    for key, spec in recipe_sources(recipe):
        _check_source(key, spec, registry, base_dir)
    if declared and all(registry.mcr_type(s.plugin).modalities for s in recipe.members.values()):
        used = {f"data.memory.{m}": m for m in recipe.data.memory}
        for group in ("retrieval", "validation"):
            for index, task in enumerate(getattr(recipe.evaluation, group)):
                used[f"evaluation.{group}[{index}].query_modality"] = task.query_modality
                used[f"evaluation.{group}[{index}].target_modality"] = task.target_modality
        for index, task in enumerate(recipe.evaluation.zeroshot):
            used[f"evaluation.zeroshot[{index}].modality"] = task.modality
        for key, modality in used.items():
            if modality not in declared:
                raise BridgeError(f"{key}: no member encodes {quoted(modality)} (they encode {', '.join(sorted(declared))})")
    if "paired_reference" in recipe.evaluation.baselines:
        paired = recipe.evaluation.paired or {}
        missing = [m for m in recipe.data.memory if m not in paired]
        if not paired or missing:
            what = quoted(missing[0]) if missing else "the members' other modalities"
            raise BridgeError(f"evaluation.paired: the paired_reference baseline needs true pairs of {what} (same ids)")
    _prompt_checks(recipe, registry, validated, base_dir)
    check_output_dir(output or resolve(recipe.output, base_dir))
    if recipe.cache_dir is not None:
        _check_cache_dir(resolve(recipe.cache_dir, base_dir))
    return validated


def _strategy(recipe: Recipe, registry: Registry) -> None:
    try:
        registry.strategy_type(recipe.strategy)
    except BridgeError as error:
        raise BridgeError(f"strategy: {error}") from None


def _check_cache_dir(path: Path) -> None:
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise BridgeError(f"cache_dir {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BridgeError(f"cache_dir {path}: {probe} is not writable")


def check_recipe(path: str | Path, registry: Registry | None = None) -> Recipe:
    """`bridge recipe check`: read ``path`` and run :func:`check_recipe_data`; errors name the file."""
    recipe, base_dir = load_recipe(path)
    registry = registry or Registry.from_environment()
    try:
        check_recipe_data(recipe, base_dir, registry)
    except BridgeError as error:
        raise BridgeError(f"{path}: {error}") from None
    return recipe
