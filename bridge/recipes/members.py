"""A recipe's member options resolved against the recipe's folder and cache (what ``bridge.yaml`` records)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bridge.core.mcr import MCRType
from bridge.core.validation import validate_options
from bridge.data.sources import resolve

INJECTED = ("base_dir", "cache_dir")
"""Options a model may declare to receive the recipe's folder and cache folder when the recipe leaves them unset."""


def member_options(
    mcr_type: MCRType, options: dict[str, Any], base_dir: Path, where: str, cache_dir: Path | None = None
) -> tuple[BaseModel, dict[str, Any]]:
    """Validate a recipe's options for ``mcr_type``, with relative paths made absolute against ``base_dir``.

    An options model may declare a ``base_dir`` field: it receives the recipe's
    folder; and a ``cache_dir`` field: it receives ``cache_dir`` (the recipe's
    cache folder, when the recipe names one), e.g. for a plugin's own cached files.

    Returns:
        The validated options and their JSON form (what ``bridge.yaml`` records).
    """
    options = dict(options)
    given = {"base_dir": base_dir, "cache_dir": cache_dir}
    for name in INJECTED:
        if name in mcr_type.options.model_fields and options.get(name) is None and given[name] is not None:
            options[name] = str(given[name])
    validated = validate_options(mcr_type.options, options, where)
    absolute = {name: resolve(value, base_dir) for name, value in vars(validated).items() if isinstance(value, Path)}
    validated = validated.model_copy(update=absolute)
    return validated, validated.model_dump(mode="json")
