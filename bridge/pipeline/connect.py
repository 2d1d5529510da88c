"""`bridge connect`: check → extract → enhance → train → evaluate → save, from a recipe.

The engine behind the CLI command, usable from Python::

    from bridge.pipeline.connect import connect
    result = connect("recipes/synthworld.yaml")
    result.metrics["retrieval"]["audio-image"]["C-MCR"]

Everything that can be checked without encoding is checked first (the
recipe, plugins, files, prompts, the output path); the space is written
atomically at the end, so a failed or interrupted run leaves no
half-written bridge. Training checkpoints live in a hidden sibling of the
output folder until the space is saved, so a rerun resumes.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.core.registry import Registry
from bridge.core.space import Bridge
from bridge.core.yaml_io import shown
from bridge.data.sources import resolve
from bridge.errors import MissingInputs
from bridge.evaluation.evaluate import evaluate
from bridge.pipeline.geometry import recipe_geometry
from bridge.pipeline.preflight import check_evaluation_modalities, check_prompts
from bridge.pipeline.references import reference_systems
from bridge.pipeline.session import Session, open_session
from bridge.progress import Reporter, SilentReporter
from bridge.recipes.check import check_recipe_data
from bridge.recipes.io import load_recipe
from bridge.recipes.schema import Recipe


@dataclass
class ConnectResult:
    """What a `connect` run produced."""

    bridge: Bridge
    output: Path
    metrics: dict[str, Any]
    skipped: list = field(default_factory=list)


def checkpoint_dir_for(output: Path) -> Path:
    """Where training checkpoints of the space saved at ``output`` live until it is saved."""
    return output.with_name(f".{output.name}.checkpoints")


def trained_name(session: Session) -> str:
    """The results-table row of the trained space (``C-MCR`` for ``connect``)."""
    return session.strategy.display_name or session.recipe.strategy


def fit(session: Session, recipe: Recipe, checkpoint_dir: Path | None = None) -> tuple[Bridge, dict[str, Any]]:
    """Train with ``recipe``'s settings on the session's (cached) features.

    Returns:
        The trained space and training facts (loss history, corpus size).
    """
    features = session.training_features()
    result = session.strategy.fit(features, session.plan, session.settings(recipe), session.reporter, checkpoint_dir)
    space = Bridge(session.spec(recipe, result.projectors), result.projectors, session.mcrs)
    return space, {"history": result.history, **result.facts}


def connect(
    recipe_path: str | Path,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
    output: Path | None = None,
    registry: Registry | None = None,
) -> ConnectResult:
    """Run a recipe end to end and save the space.

    Args:
        recipe_path: the YAML recipe.
        overrides: dotted-key overrides, e.g. ``{"training.seed": 1}``.
        output: the bridge directory (default: the recipe's ``output``).
        registry: the plugins to use (default: the installed ones).
    """
    recipe, base_dir = load_recipe(recipe_path, overrides)
    try:
        return connect_recipe(recipe, base_dir, reporter=reporter, output=output, registry=registry)
    except MissingInputs as error:  # the summary names the recipe, as `recipe check` does
        raise error.located(shown(recipe_path)) from None


def connect_recipe(
    recipe: Recipe, base_dir: Path, reporter: Reporter | None = None, output: Path | None = None, registry: Registry | None = None
) -> ConnectResult:
    """:func:`connect` for an already-validated recipe."""
    started = time.perf_counter()
    reporter = reporter or SilentReporter()
    registry = registry or Registry.from_environment()
    output = output or resolve(recipe.output, base_dir)
    check_recipe_data(recipe, base_dir, registry, output)
    session = open_session(recipe, base_dir, registry, reporter)
    check_evaluation_modalities(session)
    check_prompts(session)
    checkpoints = checkpoint_dir_for(output)
    space, training = fit(session, recipe, checkpoints)
    systems = reference_systems(session, recipe)
    systems[trained_name(session)] = space
    for system in systems.values():
        system.to(session.device)  # evaluation runs on the recipe's device too
    results = evaluate(recipe.evaluation, systems, session.provider, space)
    geometry = recipe_geometry(recipe, space, session.provider)
    metrics = {
        **results,
        **({"geometry": geometry} if geometry is not None else {}),
        "trained": trained_name(session),
        "split": "test",
        "training": {**training, "seconds": round(time.perf_counter() - started, 2), "device": session.device},
        "skipped": [vars(s) for s in session.provider.skipped],
    }
    space.save(output, metrics)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return ConnectResult(bridge=space, output=output, metrics=metrics, skipped=list(session.provider.skipped))
