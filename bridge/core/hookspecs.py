"""The hooks a `bridge` plugin may implement.

A plugin is a module (or package) listed under the entry-point group
``bridge`` that implements some of these with ``@bridge.hookimpl``.
Registration hooks receive a ``register`` callback; the registries are built
by calling the hooks (:class:`bridge.core.registry.Registry`), never kept as
mutable globals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("bridge")
hookimpl = pluggy.HookimplMarker("bridge")


@hookspec
def register_mcrs(register: Callable[..., None]) -> None:
    """Register MCR types: ``register(MCRType(...))``."""


@hookspec
def register_sources(register: Callable[..., None]) -> None:
    """Register data-source types: ``register(SourceType(...))``."""


@hookspec
def register_strategies(register: Callable[..., None]) -> None:
    """Register training strategies: ``register(StrategyType(...))``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``bridge`` command line: ``cli`` is the click group (``@cli.command()``, ``@cli.group()``)."""
