"""Reading a recipe file: strict YAML, ``--set`` overrides, validation into a :class:`Recipe`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bridge.core.validation import format_error
from bridge.core.yaml_io import parse_yaml, read_yaml, shown
from bridge.errors import BridgeError, quoted
from bridge.recipes.schema import Recipe
from bridge.recipes.space_schema import SpaceRecipe

ModelT = TypeVar("ModelT", bound=BaseModel)


def _validated(model: type[ModelT], data: Any, where: str, kind: str, keys: str) -> ModelT:
    """``data`` (parsed YAML) validated as ``model``; an empty file, a non-mapping or a bad key is one line naming ``where``."""
    if data is None:
        raise BridgeError(f"{where}: the {kind} is empty; expected a mapping of keys ({keys}, ...)")
    if not isinstance(data, dict):
        raise BridgeError(f"{where}: a {kind} must be a mapping of keys ({keys}, ...), got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BridgeError(f"{where}: {format_error(error)}") from error


def parse_recipe(data: Any, where: str) -> Recipe:
    """Validate already-parsed YAML; errors name ``where``."""
    return _validated(Recipe, data, where, "recipe", "name, members, overlap, data")


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[Recipe, Path]:
    """Read and validate a recipe file.

    Args:
        path: the YAML file.
        overrides: dotted keys to set before validation, e.g. ``{"training.seed": 3}``.

    Returns:
        The recipe and the folder relative paths resolve against.
    """
    path = Path(path)
    data = read_yaml(path, "recipe")
    if overrides and isinstance(data, dict):
        data = apply_overrides(data, overrides)
    return parse_recipe(data, shown(path)), path.absolute().parent


def parse_space_recipe(data: Any, where: str) -> SpaceRecipe:
    """Validate already-parsed YAML of a space recipe; errors name ``where``."""
    return _validated(SpaceRecipe, data, where, "space recipe", "name, bridges, evaluation")


def load_space_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[SpaceRecipe, Path]:
    """Read and validate a space recipe file (``bridge compose``); returns it and its folder."""
    path = Path(path)
    data = read_yaml(path, "recipe")
    if overrides and isinstance(data, dict):
        data = apply_overrides(data, overrides)
    return parse_space_recipe(data, shown(path)), path.absolute().parent


def parse_override(pair: str) -> tuple[str, Any]:
    """``"training.epochs=5"`` → ``("training.epochs", 5)`` (the value parsed as YAML)."""
    key, sep, value = pair.partition("=")
    if not sep or not key.strip():
        raise BridgeError(f"--set {quoted(pair)}: expected KEY=VALUE, e.g. training.epochs=5")
    return key.strip(), parse_yaml(value, f"--set {quoted(key.strip(), 40)}")


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with dotted-key overrides applied (``a.b.c: value``)."""
    result = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node = result
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise BridgeError(f"--set {quoted(dotted)}: {quoted(key)} is not a mapping")
        node[leaf] = value
    return result
