"""`bridge compose`: a space recipe's bridges trained where missing, composed into one space, evaluated, saved.

The engine behind the CLI command, usable from Python::

    from bridge.pipeline.compose import compose_recipe_file
    result = compose_recipe_file("recipes/synthworld_three_hop.yaml")
    result.metrics["retrieval"]["audio-pointcloud"]["paired reference"]

Everything that can be checked without a model is checked first, for every
bridge (:mod:`bridge.recipes.space_check`); then the models of the bridges
not saved yet are loaded and their strategies planned (nothing encoded), so
a link that needs anchors is found before any training; each such bridge is
then trained from its bridge recipe exactly as `bridge connect` would (and
kept, so the next run reuses it). The space is saved with its recipe
and ``metrics.json``, so `bridge eval SPACE` evaluates it again.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bridge.core.composed import Space, attachments, compose
from bridge.core.registry import Registry
from bridge.core.space import Bridge
from bridge.core.yaml_io import shown
from bridge.data.features import FeatureProvider, default_context
from bridge.data.sources import resolve
from bridge.errors import BridgeError, MissingInputs, quoted
from bridge.pipeline.connect import connect_recipe
from bridge.pipeline.evaluate_space import evaluate_composed
from bridge.pipeline.session import open_session
from bridge.progress import Reporter, SilentReporter
from bridge.recipes.io import load_space_recipe
from bridge.recipes.space_check import PlannedBridge, chain_order, check_anchors, check_space_recipe_data, missing_anchor_line
from bridge.recipes.space_schema import SpaceRecipe


@dataclass
class ComposeResult:
    """What a `compose` run produced: the space, where it was saved, its metrics, and the bridges it trained."""

    space: Space
    output: Path
    metrics: dict[str, Any]
    trained: list[str]


def compose_recipe_file(
    recipe_path: str | Path,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
    output: Path | None = None,
    registry: Registry | None = None,
) -> ComposeResult:
    """Run a space recipe end to end and save the space.

    Args:
        recipe_path: the YAML space recipe.
        overrides: dotted-key overrides, e.g. ``{"paired_reference.enhance.noise_sigma": 0.04}``.
        output: the space folder (default: the recipe's ``output``).
        registry: the plugins to use (default: the installed ones).
    """
    recipe, base_dir = load_space_recipe(recipe_path, overrides)
    try:
        return compose_space_recipe(recipe, base_dir, reporter=reporter, output=output, registry=registry)
    except MissingInputs as error:
        raise error.located(f"{shown(recipe_path)}: {error.where}" if error.where else shown(recipe_path)) from None
    except BridgeError as error:
        raise BridgeError(f"{shown(recipe_path)}: {error}") from None


def compose_space_recipe(
    recipe: SpaceRecipe, base_dir: Path, reporter: Reporter | None = None, output: Path | None = None, registry: Registry | None = None
) -> ComposeResult:
    """:func:`compose_recipe_file` for an already-validated recipe (errors name recipe keys, not the file)."""
    started = time.perf_counter()
    reporter = reporter or SilentReporter()
    registry = registry or Registry.from_environment()
    output = output or resolve(recipe.output, base_dir)
    planned = check_space_recipe_data(recipe, base_dir, registry, output)
    trained = [name for name, bridge in planned.items() if not bridge.saved]
    if trained:
        planned = {name: bridge if bridge.saved else _with_plan(name, bridge, registry) for name, bridge in planned.items()}
        check_anchors(recipe, planned, chain_order(planned))
    for name in trained:
        bridge = planned[name]
        try:
            connect_recipe(bridge.recipe, bridge.recipe_dir, reporter=reporter, output=bridge.path, registry=registry)
        except BridgeError as error:
            raise BridgeError(f"bridges.{name}.recipe: {shown(bridge.recipe_file)}: {error}") from None
    if recipe.threads is not None:
        torch.set_num_threads(recipe.threads)
    bridges = {name: Bridge.load(bridge.path, mcr_loader=registry.load_mcr) for name, bridge in planned.items()}
    for name, link in attachments(bridges).items():
        member = next(m for m, r in bridges[name].spec.members.items() if r.id == link.through)
        if link.kind == "fitted" and not {member, link.through} & set(recipe.anchors):
            raise BridgeError(missing_anchor_line(name, link.parent, member, link.through))
    space = compose(bridges, anchors=_anchors(recipe, base_dir, bridges, registry, reporter), name=recipe.name)
    space.recipe, space.recipe_dir = recipe.model_dump(mode="json"), str(base_dir)
    metrics = evaluate_composed(space, recipe, base_dir, registry, reporter)
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    metrics["trained_bridges"] = trained
    space.save(output, copy=True, metrics=metrics)  # self-contained: a copy of each bridge inside the space folder
    return ComposeResult(space=space, output=output, metrics=metrics, trained=trained)


def _with_plan(name: str, bridge: PlannedBridge, registry: Registry) -> PlannedBridge:
    """An unsaved bridge with each model's ``projected`` and ``id`` filled in from its strategy's plan (models loaded)."""
    try:
        session = open_session(bridge.recipe, bridge.recipe_dir, registry)
    except BridgeError as error:
        raise BridgeError(f"bridges.{name}.recipe: {shown(bridge.recipe_file)}: {error}") from None
    models = {member: dataclasses.replace(model, projected=member in session.plan.projected, id=session.mcrs[member].id)
              for member, model in bridge.models.items()}
    return dataclasses.replace(bridge, models=models)


def _anchors(recipe: SpaceRecipe, base_dir: Path, bridges: dict[str, Bridge], registry: Registry, reporter: Reporter) -> dict[str, torch.Tensor]:
    """Each anchor's items through the MCR it names (an MCR id, or a member name of some bridge)."""
    anchors = {}
    cache_dir = resolve(recipe.cache_dir, base_dir) if recipe.cache_dir else None
    context = default_context(base_dir, cache_dir, reporter, registry.source_type)
    for key, anchor in recipe.anchors.items():
        holder = next(((b, m) for b in bridges.values() for m, r in b.spec.members.items() if key in (m, r.id)), None)
        if holder is None:
            raise BridgeError(f"anchors.{key}: no bridge holds an MCR with id or member name {quoted(key)}")
        bridge, member = holder
        provider = FeatureProvider(lambda _name, bridge=bridge, member=member: bridge.mcr(member), context, reporter=reporter)
        features = provider.features(member, anchor.modality, anchor.items).embeddings
        anchors[key] = torch.as_tensor(features, dtype=torch.float32)
    return anchors

