"""The plugin manager and the registries built from it.

Built-in plugins (``bridge_features``, ``bridge_synthworld``) load through the
entry-point group ``bridge`` exactly as third-party ones do. Set
``BRIDGE_PLUGINS`` to a comma-separated list of plugin names to load only
those (an empty string loads none).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from importlib.metadata import entry_points

import pluggy
from pydantic import BaseModel, ValidationError

from bridge import hookspecs
from bridge.errors import BridgeError
from bridge.mcr import MCR, MCRType
from bridge.recipe import format_error
from bridge.sources import SourceType, resolve

ENTRY_POINT_GROUP = "bridge"


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin, as ``bridge plugins`` lists it."""

    name: str
    version: str
    mcrs: tuple[str, ...]
    sources: tuple[str, ...]
    commands: tuple[str, ...]


def _allowed_plugins() -> set[str] | None:
    value = os.environ.get("BRIDGE_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


@cache
def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, with every allowed entry point loaded."""
    manager = pluggy.PluginManager("bridge")
    manager.add_hookspecs(hookspecs)
    allowed = _allowed_plugins()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and entry_point.name not in allowed:
            continue
        if manager.get_plugin(entry_point.name) is not None:
            continue
        try:
            module = entry_point.load()
        except Exception as error:  # a broken third-party plugin must not break the CLI
            raise BridgeError(f"plugin {entry_point.name!r} ({entry_point.value}) failed to import: {error}") from error
        manager.register(module, name=entry_point.name)
    return manager


def _versions() -> dict[str, str]:
    """Installed version of the distribution behind each entry point of the group."""
    return {ep.name: (ep.dist.version if ep.dist is not None else "?") for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _collect(hook_name: str) -> dict[str, list]:
    """Call a registration hook plugin by plugin: ``{plugin name: [registered objects]}``."""
    manager = plugin_manager()
    collected: dict[str, list] = {}
    for plugin in manager.get_plugins():
        name = manager.get_name(plugin)
        implementation = getattr(plugin, hook_name, None)
        if implementation is None:
            continue
        registered: list = []
        implementation(register=registered.append)
        collected[name] = registered
    return collected


def mcr_types() -> dict[str, MCRType]:
    """Every registered MCR type by name."""
    found: dict[str, MCRType] = {}
    for plugin, registered in _collect("register_mcrs").items():
        for mcr_type in registered:
            if mcr_type.name in found:
                raise BridgeError(f"MCR type {mcr_type.name!r} is registered twice (plugins {found[mcr_type.name].plugin!r} and {plugin!r})")
            found[mcr_type.name] = _with_plugin(mcr_type, plugin)
    return found


def source_types() -> dict[str, SourceType]:
    """Every registered data-source type by name."""
    found: dict[str, SourceType] = {}
    for plugin, registered in _collect("register_sources").items():
        for source_type in registered:
            found[source_type.name] = _with_plugin(source_type, plugin)
    return found


def _with_plugin(registered, plugin: str):
    return dataclasses.replace(registered, plugin=plugin)


class _CommandNames:
    """Stands in for the click group to learn which commands a plugin adds (without importing click)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add_command(self, command, name: str | None = None) -> None:
        self.names.append(name or command.name)


def plugin_infos() -> list[PluginInfo]:
    """Each loaded plugin with its version and what it registers."""
    mcrs = _collect("register_mcrs")
    sources = _collect("register_sources")
    manager = plugin_manager()
    versions = _versions()
    infos = []
    for plugin in manager.get_plugins():
        name = manager.get_name(plugin)
        commands: tuple[str, ...] = ()
        if getattr(plugin, "register_commands", None) is not None:
            collector = _CommandNames()
            plugin.register_commands(cli=collector)
            commands = tuple(sorted(collector.names))
        infos.append(
            PluginInfo(
                name=name,
                version=versions.get(name, "?"),
                mcrs=tuple(t.name for t in mcrs.get(name, [])),
                sources=tuple(t.name for t in sources.get(name, [])),
                commands=commands,
            )
        )
    return sorted(infos, key=lambda info: info.name)


def _unknown(kind: str, name: str, known: list[str]) -> BridgeError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listing = ", ".join(sorted(known)) or "none installed"
    return BridgeError(f"unknown {kind} {name!r}{hint}; available: {listing}")


def get_mcr_type(name: str) -> MCRType:
    types = mcr_types()
    if name not in types:
        raise _unknown("MCR plugin", name, list(types))
    return types[name]


def get_source_type(name: str) -> SourceType:
    types = source_types()
    if name not in types:
        raise _unknown("source plugin", name, list(types))
    return types[name]


def validate_options(model: type[BaseModel], options: dict, where: str) -> BaseModel:
    """Validate plugin options, turning pydantic's report into one line naming ``where``."""
    try:
        return model.model_validate(options)
    except ValidationError as error:
        raise BridgeError(f"{where}: {format_error(error)}") from error


def load_mcr(name: str, options: dict | None = None, where: str = "mcr") -> MCR:
    """Load an MCR by its registered type name and raw options."""
    mcr_type = get_mcr_type(name)
    validated = validate_options(mcr_type.options, options or {}, f"{where}.options")
    return mcr_type.load(validated)


def recipe_mcr_options(mcr_type: MCRType, options: dict, base_dir: Path, where: str) -> tuple[BaseModel, dict]:
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
