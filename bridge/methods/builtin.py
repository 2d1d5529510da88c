"""The built-in strategies, registered through the same hook and entry-point group as any plugin's."""

from __future__ import annotations

from collections.abc import Callable

from bridge.core.hookspecs import hookimpl
from bridge.methods.strategy import StrategyType


def _connect():
    from bridge.methods.connect import ConnectStrategy

    return ConnectStrategy()


def _extend():
    from bridge.methods.extend import ExtendStrategy

    return ExtendStrategy()


def _procrustes():
    from bridge.methods.procrustes import ProcrustesStrategy

    return ProcrustesStrategy()


def _pivot():
    from bridge.methods.pivot import PivotStrategy

    return PivotStrategy()


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
    register(
        StrategyType(
            name="extend",
            create=_extend,
            aliases=("exmcr",),
            summary="Ex-MCR: the first member is the base, kept as it is; the second gets a head into its space (multi-centre pseudo pairs, dense InfoNCE)",
        )
    )
    register(
        StrategyType(
            name="procrustes",
            create=_procrustes,
            summary="closed form: each member after the first mapped into the first's space by a centred orthogonal (or least-squares) map fitted on the overlap",
        )
    )
    register(
        StrategyType(
            name="pivot",
            create=_pivot,
            summary="closed form: every member's items as softmax similarities to the same K overlap anchors (relative representations)",
        )
    )
