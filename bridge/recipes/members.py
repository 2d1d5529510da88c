"""A recipe's member options resolved against the recipe's folder (what ``bridge.yaml`` records)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bridge.core.mcr import MCRType
from bridge.core.validation import validate_options
from bridge.data.sources import resolve


def member_options(mcr_type: MCRType, options: dict[str, Any], base_dir: Path, where: str) -> tuple[BaseModel, dict[str, Any]]:
    """Validate a recipe's options for ``mcr_type``, with relative paths made absolute against ``base_dir``.

    An options model may declare a ``base_dir`` field: it receives the recipe's folder.

    Returns:
        The validated options and their JSON form (what ``bridge.yaml`` records).
    """
    options = dict(options)
    if "base_dir" in mcr_type.options.model_fields and options.get("base_dir") is None:
        options["base_dir"] = str(base_dir)
    validated = validate_options(mcr_type.options, options, where)
    absolute = {name: resolve(value, base_dir) for name, value in vars(validated).items() if isinstance(value, Path)}
    validated = validated.model_copy(update=absolute)
    return validated, validated.model_dump(mode="json")
