"""Pydantic validation problems as one line: ``key.path: what was expected, got <shortened value>``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from bridge.errors import BridgeError, quoted, shorten


UNION_TAG = "~union-"
"""Tags of a union that starts with this (``Tag("~union-one")``) name no key: error paths leave them out."""


def format_error(error: ValidationError, prefix: str = "") -> str:
    """Pydantic's first problem as ``key.path: what was expected`` (the path under ``prefix``, if given)."""
    first = error.errors(include_url=False)[0]
    parts = [prefix]
    for part in first["loc"]:
        if str(part).startswith(("function-", UNION_TAG)):  # validators' and unions' own names are no keys
            continue
        if _location(part) != parts[-1]:  # a tagged union repeats its tag: `lines.lines`
            parts.append(_location(part))
    path = ".".join(part for part in parts if part).replace(".[", "[")
    kind = first["type"]
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = first["msg"]
        if first.get("input") is not None and kind not in ("value_error", "source_kind", "assertion_error"):
            message += f", got {quoted(first['input'])}"
    message = message.replace("Value error, ", "").replace("Assertion failed, ", "")
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if not path and kind == "value_error":  # a check across keys: its message names the keys
        return f"{message}{suffix}"
    return f"{path or '<top level>'}: {message}{suffix}"


def _location(part: Any) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    return shorten(str(part), 60)


def validate_options(model: type[BaseModel], options: Any, where: str) -> BaseModel:
    """Validate a plugin's options, turning pydantic's report into one line naming ``where``."""
    if not isinstance(options, dict):
        raise BridgeError(f"{where}: expected a mapping of options, got {type(options).__name__}")
    try:
        return model.model_validate(options)
    except ValidationError as error:
        raise BridgeError(f"{where}: {format_error(error)}") from error


MAX_PATH = 4096
"""Longest path a recipe may give (Linux's PATH_MAX)."""


def _path_length(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_PATH:
        raise ValueError(f"a path of {len(value)} characters; expected at most {MAX_PATH}")
    return value


LaxPath = Annotated[Path, Field(strict=False), BeforeValidator(_path_length)]
"""A path field that accepts a string in an otherwise strict model (YAML has no path type); at most 4096 characters."""
