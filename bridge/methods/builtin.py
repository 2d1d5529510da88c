"""The built-in strategies, registered through the same hook and entry-point group as any plugin's."""

from __future__ import annotations

from collections.abc import Callable

from bridge.core.hookspecs import hookimpl
from bridge.methods.strategy import StrategyType


def _connect():
    from bridge.methods.connect import ConnectStrategy

    return ConnectStrategy()


@hookimpl
def register_strategies(register: Callable[..., None]) -> None:
    register(
        StrategyType(
            name="connect",
            create=_connect,
            aliases=("cmcr",),
            summary="C-MCR: two projectors trained from unpaired data through the overlap (memory consistency, noise, InfoNCE)",
        )
    )
