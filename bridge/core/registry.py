"""The plugin registry: every plugin's registrations, built by calling the hooks.

Built-in plugins (``bridge_features``, ``bridge_synthworld``, the built-in
strategies in ``bridge.methods.builtin``) load through the entry-point group
``bridge`` exactly as third-party ones do. A :class:`Registry` is an ordinary
object: build one with :meth:`Registry.from_environment` (what the CLI and
the Python API do) or :meth:`Registry.from_plugins` (tests, embedding
applications); there is no process-wide registry to reset.

A plugin that fails to import or to register is skipped with one warning
line in :attr:`Registry.warnings`; the other plugins keep working.
``BRIDGE_PLUGINS`` (comma-separated entry-point names; empty loads none)
limits which third-party and built-in plugins load; the core's own
strategies always load.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from bridge.core import hookspecs
from bridge.core.mcr import MCR, MCRType
from bridge.core.validation import validate_options
from bridge.errors import BridgeError, quoted, shorten

ENTRY_POINT_GROUP = "bridge"
CORE_PREFIX = "bridge."
"""Entry points whose module lies inside the ``bridge`` package itself always load."""

HOOKS = {"register_mcrs": "MCR type", "register_sources": "source type", "register_strategies": "strategy"}


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin, as ``bridge plugins`` lists it."""

    name: str
    version: str
    mcrs: tuple[str, ...]
    sources: tuple[str, ...]
    strategies: tuple[str, ...]
    has_commands: bool


def allowed_from_environment() -> set[str] | None:
    """The plugin names ``BRIDGE_PLUGINS`` allows (``None``: all)."""
    value = os.environ.get("BRIDGE_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


class Registry:
    """The MCR types, source types and strategies that a set of plugins registers.

    Args:
        plugins: plugin name → module (or any object) implementing some hooks.
        versions: plugin name → version, for listings.
        warnings: problems found before registration (plugins that failed to import).
        failed: plugin name → why it failed to import (named again when a look-up fails).
    """

    def __init__(
        self,
        plugins: Mapping[str, Any],
        versions: Mapping[str, str] | None = None,
        warnings: Iterable[str] = (),
        failed: Mapping[str, str] | None = None,
    ):
        self.manager = pluggy.PluginManager("bridge")
        self.manager.add_hookspecs(hookspecs)
        self.versions = dict(versions or {})
        self.warnings: list[str] = list(warnings)
        self.failed: dict[str, str] = dict(failed or {})
        for name, plugin in plugins.items():
            try:
                self.manager.register(plugin, name=name)
            except Exception as error:  # pluggy rejects malformed hook implementations
                self.warnings.append(f"plugin {quoted(name)} skipped: {shorten(str(error), 200)}")
        self._registered = {hook: self._collect(hook) for hook in HOOKS}
        self.mcrs: dict[str, MCRType] = self._by_name("register_mcrs")
        self.sources: dict[str, Any] = self._by_name("register_sources")
        self.strategies: dict[str, Any] = self._by_name("register_strategies")
        self.strategy_aliases = {
            alias: name for name, entry in self.strategies.items() for alias in getattr(entry, "aliases", ())
        }

    # ----- construction -----------------------------------------------------------------------
    @classmethod
    def from_plugins(cls, plugins: Mapping[str, Any]) -> "Registry":
        """A registry of exactly these plugins (no entry points)."""
        return cls(plugins)

    @classmethod
    def from_entry_points(cls, allowed: set[str] | None = None) -> "Registry":
        """Load every entry point of the group ``bridge`` (only ``allowed`` names, when given)."""
        plugins: dict[str, Any] = {}
        versions: dict[str, str] = {}
        warnings: list[str] = []
        failed: dict[str, str] = {}
        for entry_point in _unique(entry_points(group=ENTRY_POINT_GROUP)):
            is_core = entry_point.value.startswith(CORE_PREFIX)
            if allowed is not None and entry_point.name not in allowed and not is_core:
                continue
            try:
                plugins[entry_point.name] = entry_point.load()
            except Exception as error:  # a broken third-party plugin must not break the others
                warnings.append(
                    f"plugin {quoted(entry_point.name)} ({shorten(entry_point.value)}) failed to import and is skipped: "
                    f"{type(error).__name__}: {shorten(str(error), 200)}"
                )
                failed[entry_point.name] = f"{type(error).__name__}: {shorten(str(error), 80)}"
                continue
            versions[entry_point.name] = entry_point.dist.version if entry_point.dist is not None else "?"
        return cls(plugins, versions, warnings, failed)

    @classmethod
    def from_environment(cls) -> "Registry":
        """:meth:`from_entry_points` limited by ``BRIDGE_PLUGINS``."""
        return cls.from_entry_points(allowed_from_environment())

    # ----- registrations ----------------------------------------------------------------------
    def _collect(self, hook_name: str) -> dict[str, list[Any]]:
        """Call one registration hook plugin by plugin: ``{plugin name: [registered objects]}``."""
        collected: dict[str, list[Any]] = {}
        for name, plugin in self.manager.list_name_plugin():  # registration order: the first registered wins
            implementation = getattr(plugin, hook_name, None)
            if implementation is None:
                continue
            registered: list[Any] = []
            try:
                implementation(register=registered.append)
            except Exception as error:
                self.warnings.append(
                    f"plugin {quoted(name)}: {hook_name} failed and is skipped: {type(error).__name__}: {shorten(str(error), 200)}"
                )
                continue
            collected[name] = registered
        return collected

    def _by_name(self, hook_name: str) -> dict[str, Any]:
        kind = HOOKS[hook_name]
        found: dict[str, Any] = {}
        for plugin, registered in self._registered[hook_name].items():
            for entry in registered:
                name = getattr(entry, "name", None)
                if not isinstance(name, str) or not name:
                    self.warnings.append(f"plugin {quoted(plugin)} registered a {kind} without a name; skipped")
                    continue
                if name in found:
                    self.warnings.append(
                        f"{kind} {quoted(name)} is registered by plugins {quoted(found[name].plugin)} and {quoted(plugin)}; "
                        f"using {quoted(found[name].plugin)}'s"
                    )
                    continue
                found[name] = dataclasses.replace(entry, plugin=plugin) if dataclasses.is_dataclass(entry) else entry
        return found

    def plugin_names(self) -> list[str]:
        return sorted(self.manager.get_name(plugin) for plugin in self.manager.get_plugins())

    def plugin(self, name: str) -> Any:
        return self.manager.get_plugin(name)

    def infos(self) -> list[PluginInfo]:
        """Each loaded plugin with its version and what it registers."""
        infos = []
        for name in self.plugin_names():
            names = {hook: tuple(getattr(e, "name", "?") for e in self._registered[hook].get(name, [])) for hook in HOOKS}
            infos.append(
                PluginInfo(
                    name=name,
                    version=self.versions.get(name, "?"),
                    mcrs=names["register_mcrs"],
                    sources=names["register_sources"],
                    strategies=names["register_strategies"],
                    has_commands=getattr(self.plugin(name), "register_commands", None) is not None,
                )
            )
        return infos

    def add_commands(self, cli: Any, plugin_names: Iterable[str] | None = None) -> None:
        """Let each plugin (or only ``plugin_names``) add its commands to the click group ``cli``."""
        for name in plugin_names if plugin_names is not None else self.plugin_names():
            implementation = getattr(self.plugin(name), "register_commands", None)
            if implementation is None:
                continue
            try:
                implementation(cli=cli)
            except Exception as error:
                self.warnings.append(
                    f"plugin {quoted(name)}: register_commands failed and is skipped: {type(error).__name__}: {shorten(str(error), 200)}"
                )

    # ----- look-ups ---------------------------------------------------------------------------
    def mcr_type(self, name: str) -> MCRType:
        return _look_up("MCR plugin", name, self.mcrs, self.failed)

    def source_type(self, name: str) -> Any:
        return _look_up("source plugin", name, self.sources, self.failed)

    def strategy_type(self, name: str) -> Any:
        return _look_up("strategy", self.strategy_aliases.get(name, name), self.strategies, self.failed)

    def load_mcr(self, name: str, options: Mapping[str, Any] | None = None, where: str = "mcr") -> MCR:
        """Load an MCR by its registered type name and raw options."""
        mcr_type = self.mcr_type(name)
        validated = validate_options(mcr_type.options, dict(options or {}), f"{where}.options")
        return mcr_type.load(validated)


def _unique(found: Iterable[EntryPoint]) -> list[EntryPoint]:
    """Entry points with duplicates (the same name seen twice on sys.path) dropped."""
    seen: dict[str, EntryPoint] = {}
    for entry_point in found:
        seen.setdefault(entry_point.name, entry_point)
    return list(seen.values())


def _look_up(kind: str, name: str, known: Mapping[str, Any], failed: Mapping[str, str]) -> Any:
    if not isinstance(name, str) or name not in known:
        close = difflib.get_close_matches(str(name), list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listing = ", ".join(sorted(known)) or "none installed"
        broken = f"; plugins that failed to load: {', '.join(f'{p} ({r})' for p, r in failed.items())}" if failed else ""
        raise BridgeError(f"unknown {kind} {quoted(name)}{hint}; available: {listing}{broken}")
    return known[name]
