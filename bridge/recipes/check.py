"""Checks of a recipe that need no encoding: run by `bridge recipe check` and before any work of `bridge connect`.

Schema, plugin and strategy names, plugin options, the modalities members
encode (declared, or derived from options through :attr:`MCRType.modalities_for`),
every missing weights file, data file or folder at once (:mod:`bridge.recipes.missing`),
sources' files and folders and the items of the built-in ones (a lines file or
manifest is read, a folder listed: cheap next to encoding), the paired data a
reference row needs, prompts a model cannot take (through
:attr:`MCRType.check_inputs`), and the output and cache paths. Torch is not imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from bridge.core.artifact import check_output_dir
from bridge.core.registry import Registry
from bridge.core.validation import validate_options
from bridge.core.yaml_io import require_writable_parent, require_path, shown
from bridge.data.sources import FolderSource, Item, LinesSource, ManifestSource, PluginSource, SourceContext, read_items, resolve
from bridge.errors import BridgeError, ItemError, MissingInputs, quoted, shorten
from bridge.evaluation.tasks import EvaluationConfig
from bridge.recipes.io import load_recipe
from bridge.recipes.members import member_options
from bridge.recipes.missing import find_missing
from bridge.recipes.schema import Recipe


def recipe_sources(recipe: Recipe) -> Iterator[tuple[str, BaseModel]]:
    """Every (key path, source spec) of a recipe (each source of a list on its own: ``data.overlap[1]``)."""
    if isinstance(recipe.data.overlap, list):
        for index, spec in enumerate(recipe.data.overlap):
            yield f"data.overlap[{index}]", spec
    else:
        yield "data.overlap", recipe.data.overlap
    for modality, spec in recipe.data.memory.items():
        yield f"data.memory.{modality}", spec
    yield from evaluation_sources(recipe.evaluation)


def evaluation_sources(evaluation: EvaluationConfig) -> Iterator[tuple[str, BaseModel]]:
    """Every (key path, source spec) of an ``evaluation`` section (tasks and paired sources)."""
    for group in ("retrieval", "validation"):
        for index, task in enumerate(getattr(evaluation, group)):
            yield f"evaluation.{group}[{index}].query", task.query
            yield f"evaluation.{group}[{index}].target", task.target
    for index, task in enumerate(evaluation.zeroshot):
        yield f"evaluation.zeroshot[{index}].items", task.items
    for modality, spec in (evaluation.paired or {}).items():
        yield f"evaluation.paired.{modality}", spec


def evaluation_modalities(evaluation: EvaluationConfig) -> dict[str, str]:
    """Every modality an ``evaluation`` section uses, by its key path."""
    used: dict[str, str] = {}
    for group in ("retrieval", "validation"):
        for index, task in enumerate(getattr(evaluation, group)):
            used[f"evaluation.{group}[{index}].query_modality"] = task.query_modality
            used[f"evaluation.{group}[{index}].target_modality"] = task.target_modality
    for index, task in enumerate(evaluation.zeroshot):
        used[f"evaluation.zeroshot[{index}].modality"] = task.modality
        used[f"evaluation.zeroshot[{index}].prompt_modality"] = task.prompt_modality
    for modality in evaluation.paired or {}:
        used[f"evaluation.paired.{modality}"] = modality
    return used


Items = dict[str, list[Item]]
"""Items of the built-in sources read so far, by the source's JSON (one read per distinct source)."""


def check_source(key: str, spec: BaseModel, registry: Registry, base_dir: Path, read: Items) -> None:
    """A plugin source's name and options; a built-in source's file or folder, and its items (cheap next to encoding)."""
    if isinstance(spec, PluginSource):
        try:
            source_type = registry.source_type(spec.plugin)
        except BridgeError as error:
            raise BridgeError(f"{key}.plugin: {error}") from None
        validate_options(source_type.options, spec.options, f"{key}.options")
        return
    if isinstance(spec, LinesSource):
        path, what = resolve(spec.lines, base_dir), "lines file"
    elif isinstance(spec, ManifestSource):
        path, what = resolve(spec.manifest, base_dir), "manifest"
    elif isinstance(spec, FolderSource):
        path, what = resolve(spec.folder, base_dir), "folder"
    else:
        return
    try:
        is_dir = require_path(path, what)
        if what == "folder" and not is_dir:
            raise BridgeError(f"{shown(path)} is a file, expected a folder")
        if what != "folder" and is_dir:
            raise BridgeError(f"{shown(path)} is a folder, expected a {what}")
        _items(spec, base_dir, read)
    except BridgeError as error:
        raise BridgeError(f"{key}: {error}") from None


def _items(spec: BaseModel, base_dir: Path, read: Items) -> list[Item]:
    key = spec.model_dump_json()
    if key not in read:
        read[key] = read_items(spec, SourceContext(base_dir=base_dir, cache_dir=base_dir))
    return read[key]


def _labels_cheaply(spec: BaseModel, base_dir: Path, read: Items) -> list[str] | None:
    """The labels of a built-in source (already read by :func:`check_source`); ``None`` for plugin sources."""
    if isinstance(spec, PluginSource):
        return None
    return sorted({item.label for item in _items(spec, base_dir, read) if item.label is not None})


def _prompt_checks(
    recipe: Recipe, registry: Registry, validated: dict, encodes: dict[str, tuple[str, ...]], base_dir: Path, read: Items
) -> None:
    """Prompts that a member's model cannot take (e.g. a text missing from a `features` text table)."""
    members = list(recipe.members)
    evaluation = recipe.evaluation

    def may_encode(member: str, modality: str) -> bool:  # undeclared: decided when the model is loaded
        return not encodes[member] or modality in encodes[member]

    checks: list[tuple[str, str, str, list[str]]] = []  # (key, member, modality, texts)
    for index, task in enumerate(evaluation.zeroshot):
        classes = task.classes or _labels_cheaply(task.items, base_dir, read)
        if not classes:
            continue
        encoders = [m for m in members if may_encode(m, task.prompt_modality)]
        via = task.prompt_via or next((m for m in encoders if not may_encode(m, task.modality)), None)
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
            classes = evaluation.pivot.classes or _labels_cheaply(task.query, base_dir, read)
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
            raise BridgeError(f"{key}: member {quoted(member)} cannot take prompt {quoted(error.item)} ({shorten(error.reason, 200)})") from None
        except BridgeError as error:  # the plugin could not read its own files
            raise BridgeError(f"members.{member}.options: {error}") from None


def _modalities(recipe: Recipe, encodes: dict[str, tuple[str, ...]]) -> None:
    """Every modality the recipe uses is encoded by some member (when every member's modalities are known)."""
    if not all(encodes.values()):
        return
    declared = {m for modalities in encodes.values() for m in modalities}
    used = {f"data.memory.{m}": m for m in recipe.data.memory}
    used.update(evaluation_modalities(recipe.evaluation))
    for key, modality in used.items():
        if modality not in declared:
            raise BridgeError(f"{key}: no member encodes {quoted(modality)} (they encode {', '.join(sorted(declared))})")


def check_recipe_data(
    recipe: Recipe, base_dir: Path, registry: Registry, output: Path | None = None, check_output: bool = True
) -> dict[str, BaseModel]:
    """Every check that needs no model and no encoding; raises a one-line :class:`BridgeError` on the first problem.

    Weights, files and folders that do not exist are collected first, all of them
    (:mod:`bridge.recipes.missing`), and raised together as :class:`MissingInputs`.

    Args:
        output: the bridge directory the run writes (default: the recipe's ``output``).
        check_output: whether a bridge will be written (``bridge ablate`` writes none).

    Returns:
        The members' validated options.
    """
    _strategy(recipe, registry)
    cache_dir = resolve(recipe.cache_dir, base_dir) if recipe.cache_dir is not None else None
    validated: dict[str, BaseModel] = {}
    encodes: dict[str, tuple[str, ...]] = {}  # member → the modalities it is known to encode (empty: unknown)
    for name, spec in recipe.members.items():
        where = f"members.{name}"
        try:
            mcr_type = registry.mcr_type(spec.plugin)
        except BridgeError as error:
            raise BridgeError(f"{where}.plugin: {error}") from None
        validated[name], _ = member_options(mcr_type, spec.options, base_dir, f"{where}.options", cache_dir)
        encodes[name] = tuple(mcr_type.modalities_for(validated[name]) if mcr_type.modalities_for else mcr_type.modalities)
        if encodes[name] and recipe.overlap not in encodes[name]:
            raise BridgeError(f"{where}: {quoted(spec.plugin)} encodes {', '.join(encodes[name])}, not the overlap {quoted(recipe.overlap)}")
    _modalities(recipe, encodes)
    context = SourceContext(base_dir=base_dir, cache_dir=cache_dir or base_dir, source_type=registry.source_type)
    missing = find_missing(recipe, validated, recipe_sources(recipe), registry, context)
    if missing:
        raise MissingInputs(missing)
    read: Items = {}
    for key, spec in recipe_sources(recipe):
        check_source(key, spec, registry, base_dir, read)
    if "paired_reference" in recipe.evaluation.baselines:
        paired = recipe.evaluation.paired or {}
        missing = [m for m in recipe.data.memory if m not in paired]
        if not paired or missing:
            what = quoted(missing[0]) if missing else "the members' other modalities"
            raise BridgeError(f"evaluation.paired: the paired_reference baseline needs true pairs of {what} (same ids)")
    _prompt_checks(recipe, registry, validated, encodes, base_dir, read)
    if check_output:
        check_output_dir(output or resolve(recipe.output, base_dir))
    if cache_dir is not None:
        check_cache_dir(cache_dir)
    return validated


def _strategy(recipe: Recipe, registry: Registry) -> None:
    try:
        registry.strategy_type(recipe.strategy)
    except BridgeError as error:
        raise BridgeError(f"strategy: {error}") from None


def check_cache_dir(path: Path) -> None:
    try:
        require_writable_parent(path / "entry", f"cache_dir {shown(path)}")  # the cache folder itself, or what would hold it
    except OSError as error:  # a name too long, a symlink loop
        raise BridgeError(f"cache_dir {shown(path)}: {error.strerror or type(error).__name__}") from None


def check_recipe(path: str | Path, registry: Registry | None = None) -> Recipe:
    """`bridge recipe check`: read ``path`` and run :func:`check_recipe_data`; errors name the file."""
    recipe, base_dir = load_recipe(path)
    registry = registry or Registry.from_environment()
    try:
        check_recipe_data(recipe, base_dir, registry)
    except MissingInputs as error:
        raise error.located(shown(path)) from None
    except BridgeError as error:
        raise BridgeError(f"{shown(path)}: {error}") from None
    return recipe
