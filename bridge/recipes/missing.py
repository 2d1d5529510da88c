"""Every input a recipe needs that is not on this machine, found at once before any work.

A run that lacks its weights and data sets should not stop at the first of
them and make the user come back nine times: :func:`find_missing` asks each
member's MCR type (:attr:`MCRType.missing_inputs`) and each plugin source's
type (:attr:`SourceType.missing_inputs`) what their options name that does
not exist, and checks the files and folders of the built-in sources, without
loading a model or reading a data set. ``recipe check`` and ``connect`` raise
:class:`~bridge.errors.MissingInputs` with one line per input; other problems
stay one-line errors of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from bridge.core.registry import Registry
from bridge.core.validation import validate_options
from bridge.data.sources import FolderSource, LinesSource, ManifestSource, PluginSource, SourceContext, resolve
from bridge.errors import BridgeError, MissingInput, shorten
from bridge.recipes.schema import Recipe

PATH_ECHO = 300
"""Characters of a path echoed in a missing-input line."""

BUILT_IN = {LinesSource: ("lines", "lines file"), ManifestSource: ("manifest", "manifest"), FolderSource: ("folder", "folder")}


class MissingList:
    """Missing inputs by path (an input several keys name is listed once, under the first key)."""

    def __init__(self) -> None:
        self.lines: dict[str, str] = {}

    def add(self, key: str, missing: MissingInput, options: bool = True) -> None:
        """``missing`` of the member or source at ``key``; its ``key`` names one of its ``options`` (or, if not ``options``, a key of its own)."""
        if missing.path in self.lines:
            return
        where = f"{key}{'.options' if options else ''}.{missing.key}" if missing.key else key
        self.lines[missing.path] = f"{where}: {shorten(missing.path, PATH_ECHO)}: {shorten(missing.how, 600)}"


def find_missing(
    recipe: Recipe,
    validated: dict[str, BaseModel],
    sources: Iterable[tuple[str, BaseModel]],
    registry: Registry,
    context: SourceContext,
) -> list[str]:
    """One line per missing input: ``<recipe key>: <path>: <how to get it>``.

    Args:
        validated: the members' validated options.
        sources: (recipe key, source spec) of every source of the recipe.
        context: what plugin sources resolve their paths against.

    Raises:
        BridgeError: an unknown source plugin or bad source options (one line), or a hook's own error.
    """
    found = MissingList()
    for name, spec in recipe.members.items():
        mcr_type = registry.mcr_type(spec.plugin)
        if mcr_type.missing_inputs is None:
            continue
        try:
            for missing in mcr_type.missing_inputs(validated[name]):
                found.add(f"members.{name}", missing)
        except BridgeError as error:
            raise BridgeError(f"members.{name}.options: {error}") from None
    for key, spec in sources:
        for missing in _source_missing(key, spec, registry, context):
            found.add(key, missing, options=isinstance(spec, PluginSource))
    return list(found.lines.values())


def _source_missing(key: str, spec: BaseModel, registry: Registry, context: SourceContext) -> list[MissingInput]:
    if isinstance(spec, PluginSource):
        try:
            source_type = registry.source_type(spec.plugin)
        except BridgeError as error:
            raise BridgeError(f"{key}.plugin: {error}") from None
        options = validate_options(source_type.options, spec.options, f"{key}.options")
        hook = getattr(source_type, "missing_inputs", None)
        if hook is None:
            return []
        try:
            return list(hook(options, context))
        except BridgeError as error:
            raise BridgeError(f"{key}.options: {error}") from None
    for kind, (field, what) in BUILT_IN.items():
        if isinstance(spec, kind):
            path = resolve(getattr(spec, field), context.base_dir)
            if _absent(path):
                return [MissingInput(field, str(path), f"{what} does not exist; put it there or correct the path")]
    return []


def _absent(path: Path) -> bool:
    """Whether nothing is at ``path`` (a broken link, a link loop or an unreadable folder is reported later, as such)."""
    try:
        path.stat()
    except FileNotFoundError:
        return not path.is_symlink()
    except OSError:
        return False
    return False
