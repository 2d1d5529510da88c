"""Checks of a space recipe that need no model and no encoding: run by `bridge recipe check` and before `bridge compose` works.

Each bridge is found (a saved folder's ``bridge.yaml`` is read) or, when it
is not saved yet, its bridge recipe is checked as `bridge connect` would. The
chain is checked on what the bridges' members name (plugin and options; the
MCRs' ids and weights fingerprints are checked again when the space is
composed), then the modalities and members the tasks name, the paired
reference, the sources' files and the output path. Torch is not imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bridge.core.artifact import SPEC_FILE, read_spec
from bridge.core.registry import Registry
from bridge.core.space_file import SPACE_FILE
from bridge.core.yaml_io import read_yaml, require_writable_parent, shown
from bridge.data.sources import resolve
from bridge.errors import BridgeError, MissingInputs, quoted
from bridge.recipes.check import (
    Items, check_cache_dir, check_recipe, check_recipe_data, check_source, evaluation_modalities, evaluation_sources,
)
from bridge.recipes.io import load_recipe, load_space_recipe
from bridge.recipes.members import INJECTED
from bridge.recipes.schema import Recipe
from bridge.recipes.space_schema import SpaceRecipe, is_space_recipe


@dataclass(frozen=True)
class PlannedModel:
    """A bridge member as the checks see it: what identifies its model, and what it encodes (empty: not known yet)."""

    key: str
    plugin: str
    modalities: tuple[str, ...]
    projected: bool | None = None  # whether the bridge projects it (None: not trained yet)
    id: str | None = None


@dataclass(frozen=True)
class PlannedBridge:
    """One bridge of a space recipe: where it is (or will be) saved, and the recipe that trains it when it is not."""

    path: Path
    models: dict[str, PlannedModel]
    recipe: Recipe | None = None
    recipe_dir: Path | None = None
    recipe_file: Path | None = None
    saved: bool = True


def _model_key(plugin: str, options: dict) -> str:
    kept = {name: value for name, value in options.items() if name not in INJECTED}
    return f"{plugin} {json.dumps(kept, sort_keys=True)}"


def plan_bridge(name: str, recipe: SpaceRecipe, base_dir: Path, registry: Registry) -> PlannedBridge:
    """Find bridge ``name``: its saved folder, or its bridge recipe checked for training."""
    ref, where = recipe.bridges[name], f"bridges.{name}"
    member_recipe = member_dir = recipe_file = None
    if ref.recipe is not None:
        recipe_file = resolve(ref.recipe, base_dir)
        try:
            member_recipe, member_dir = load_recipe(recipe_file, ref.set or None)
        except BridgeError as error:
            raise BridgeError(f"{where}.recipe: {error}") from None
    path = resolve(ref.path, base_dir) if ref.path is not None else resolve(member_recipe.output, member_dir)
    if (path / SPEC_FILE).is_file():
        try:
            spec = read_spec(path)
        except BridgeError as error:
            raise BridgeError(f"{where}: {error}") from None
        models = {m: PlannedModel(_model_key(r.plugin, r.options), r.plugin, tuple(r.modalities), r.projector is not None, r.id)
                  for m, r in spec.members.items()}
        return PlannedBridge(path, models, member_recipe, member_dir, recipe_file, saved=True)
    if member_recipe is None:
        raise BridgeError(
            f"{where}.path: no saved bridge at {shown(path)}; train it with `bridge connect RECIPE -o {shown(path)}`, "
            "or give `recipe:` so that `bridge compose` trains it"
        )
    try:
        validated = check_recipe_data(member_recipe, member_dir, registry, path)
    except MissingInputs as error:
        raise error.located(f"{where}.recipe {shown(recipe_file)}") from None
    except BridgeError as error:
        raise BridgeError(f"{where}.recipe: {shown(recipe_file)}: {error}") from None
    models = {}
    for member, spec in member_recipe.members.items():
        mcr_type = registry.mcr_type(spec.plugin)
        options = validated[member].model_dump(mode="json")
        modalities = mcr_type.modalities_for(validated[member]) if mcr_type.modalities_for else mcr_type.modalities
        models[member] = PlannedModel(_model_key(spec.plugin, options), spec.plugin, tuple(modalities))
    return PlannedBridge(path, models, member_recipe, member_dir, recipe_file, saved=False)


def chain_order(planned: dict[str, PlannedBridge]) -> list[str]:
    """The bridges in the order they attach (as :func:`bridge.compose`): each shares a model with an earlier one."""
    names = list(planned)
    held = {name: {model.key for model in bridge.models.values()} for name, bridge in planned.items()}
    order, pending = [names[0]], names[1:]
    while pending:
        name = next((n for n in pending if any(held[n] & held[a] for a in order)), None)
        if name is None:
            name = pending[0]
            theirs = sorted({m.plugin for a in order for m in planned[a].models.values()})
            raise BridgeError(
                f"bridges.{name}: shares no model with {', '.join(quoted(a) for a in order)} "
                f"(it holds {', '.join(sorted({m.plugin for m in planned[name].models.values()}))}; they hold {', '.join(theirs)}); "
                "a space joins bridges through an MCR they both hold"
            )
        order.append(name)
        pending.remove(name)
    return order


def check_anchors(recipe: SpaceRecipe, planned: dict[str, PlannedBridge], order: list[str]) -> None:
    """A link between two bridges that both project the shared MCR needs its anchors (a model whose ``projected`` is
    not known yet, an unsaved bridge's before its strategy is planned, is not checked)."""
    for index, name in enumerate(order[1:], start=1):
        parent = next(p for p in order[:index] if {m.key for m in planned[p].models.values()} & {m.key for m in planned[name].models.values()})
        for member, model in planned[name].models.items():
            theirs = next((m for m in planned[parent].models.values() if m.key == model.key), None)
            if theirs is not None and model.projected and theirs.projected and not {member, model.id} & set(recipe.anchors):
                raise BridgeError(missing_anchor_line(name, parent, member, model.id or member))
            if theirs is not None:
                break


def missing_anchor_line(name: str, parent: str, member: str, mcr_id: str) -> str:
    """The error of a link that needs anchors the recipe does not give."""
    return (
        f"anchors: bridges {quoted(parent)} and {quoted(name)} both project their shared MCR {quoted(mcr_id)}, so the space needs "
        f"items of it to fit the map between them: add `anchors: {{{member}: {{modality: ..., items: ...}}}}`"
    )


def space_members(planned: dict[str, PlannedBridge], order: list[str]) -> dict[str, tuple[str, ...]]:
    """The space's member names (as :class:`bridge.Space` names them) → what each encodes."""
    members: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for bridge in order:
        for member, model in planned[bridge].models.items():
            if model.key in seen:
                continue
            seen.add(model.key)
            members[member if member not in members else f"{bridge}/{member}"] = model.modalities
    return members


def _check_members(recipe: SpaceRecipe, members: dict[str, tuple[str, ...]]) -> None:
    """Task modalities and `*_via` names the space has; a paired reference it can train."""
    evaluation = recipe.evaluation
    for group in ("retrieval", "validation", "zeroshot"):
        for index, task in enumerate(getattr(evaluation, group)):
            for key in ("query_via", "target_via", "prompt_via"):
                via = getattr(task, key, None)
                if via is not None and via not in members:
                    raise BridgeError(f"evaluation.{group}[{index}].{key}: {quoted(via)} is not a member of the space (it has {', '.join(members)})")
    if not all(members.values()):
        return
    declared = sorted({m for modalities in members.values() for m in modalities})
    used = evaluation_modalities(evaluation)
    used.update({f"anchors.{key}.modality": anchor.modality for key, anchor in recipe.anchors.items()})
    for key, modality in used.items():
        if modality not in declared:
            raise BridgeError(f"{key}: no member of the space encodes {quoted(modality)} (they encode {', '.join(declared)})")
    if "paired_reference" not in evaluation.baselines:
        return
    encoders = {modality: [m for m, mods in members.items() if modality in mods] for modality in evaluation.paired or {}}
    for modality, names in encoders.items():
        if len(names) != 1:
            raise BridgeError(
                f"evaluation.paired.{modality}: the paired reference needs {quoted(modality)} encoded by one member of the space, "
                f"it is encoded by {', '.join(names)}"
            )
    first, second = (names[0] for names in encoders.values())
    if first == second:
        raise BridgeError(f"evaluation.paired: both modalities are encoded by member {quoted(first)}; a paired reference joins two members")


def check_space_output(output: Path) -> None:
    """Raise unless ``output`` can become a space folder: absent, empty, or a space already; its parent writable."""
    where = f"output {shown(output)}"
    try:
        if output.exists() or output.is_symlink():
            if not output.is_dir():
                raise BridgeError(f"{where}: exists and is not a folder")
            if any(output.iterdir()) and not (output / SPACE_FILE).exists():
                raise BridgeError(f"{where}: folder exists, is not empty and is not a space; choose another path")
        require_writable_parent(output, where)
    except OSError as error:
        raise BridgeError(f"{where}: {error.strerror or type(error).__name__}") from error


def check_space_recipe_data(
    recipe: SpaceRecipe, base_dir: Path, registry: Registry, output: Path | None = None, check_output: bool = True
) -> dict[str, PlannedBridge]:
    """Every check that needs no model and no encoding; raises a one-line :class:`BridgeError` on the first problem.

    Returns:
        The bridges, in the recipe's order, each saved or planned for training.
    """
    planned = {name: plan_bridge(name, recipe, base_dir, registry) for name in recipe.bridges}
    order = chain_order(planned)
    check_anchors(recipe, planned, order)
    _check_members(recipe, space_members(planned, order))
    if "paired_reference" in recipe.evaluation.baselines:
        try:
            registry.strategy_type(recipe.paired_reference.strategy)
        except BridgeError as error:
            raise BridgeError(f"paired_reference.strategy: {error}") from None
    read: Items = {}
    sources = [*evaluation_sources(recipe.evaluation), *((f"anchors.{key}.items", a.items) for key, a in recipe.anchors.items())]
    for key, spec in sources:
        check_source(key, spec, registry, base_dir, read)
    if check_output:
        check_space_output(output or resolve(recipe.output, base_dir))
    if recipe.cache_dir is not None:
        check_cache_dir(resolve(recipe.cache_dir, base_dir))
    return planned


def check_space_recipe(path: str | Path, registry: Registry | None = None) -> SpaceRecipe:
    """`bridge recipe check` of a space recipe: read ``path`` and run :func:`check_space_recipe_data`; errors name the file."""
    recipe, base_dir = load_space_recipe(path)
    registry = registry or Registry.from_environment()
    try:
        check_space_recipe_data(recipe, base_dir, registry)
    except MissingInputs as error:
        raise error.located(f"{shown(path)}: {error.where}" if error.where else shown(path)) from None
    except BridgeError as error:
        raise BridgeError(f"{shown(path)}: {error}") from None
    return recipe


def check_any_recipe(path: str | Path, registry: Registry | None = None) -> Recipe | SpaceRecipe:
    """`bridge recipe check`: a space recipe (it lists ``bridges``) or a bridge recipe."""
    if is_space_recipe(read_yaml(Path(path), "recipe")):
        return check_space_recipe(path, registry)
    return check_recipe(path, registry)
