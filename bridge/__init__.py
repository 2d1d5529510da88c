"""bridge: connect pretrained multi-modal contrastive models through a shared modality.

Python API::

    import bridge
    joint = bridge.Bridge.load("runs/synthworld")
    audio = joint.embed("audio", ["dog.wav"])          # (1, d)
    images = joint.embed("image", ["a.png", "b.png"])  # (2, d)
    joint.similarity(audio, images)                    # (1, 2)

Plugins implement the hooks in :mod:`bridge.core.hookspecs` with
:data:`hookimpl`. The names below are imported on first use, so
``import bridge`` (and ``bridge --help``) does not load torch.

The package is layered; a module only imports from its own layer or lower
ones (``docs/architecture.md``)::

    errors, progress   one-line user errors; the progress callback interface
    core               MCR contract, projectors, the plugin registry, the saved space (Bridge)
    data               sources, the embedding cache, extraction
    methods            strategies (connect = C-MCR), their enhancement, losses and training
    evaluation         metrics, evaluation tasks, baselines
    recipes            the recipe schema, reading, checking, generated docs
    pipeline           connect, ablate, evaluate a saved bridge
    cli                the command line and all presentation (rich, plots)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Bridge": "bridge.core.space",
    "BridgeError": "bridge.errors",
    "ItemError": "bridge.errors",
    "MissingInput": "bridge.errors",
    "MissingInputs": "bridge.errors",
    "hookimpl": "bridge.core.hookspecs",
    "MCR": "bridge.core.mcr",
    "MCRType": "bridge.core.mcr",
    "Modality": "bridge.core.mcr",
    "Registry": "bridge.core.registry",
    "Space": "bridge.core.composed",
    "compose": "bridge.core.composed",
    "file_digest": "bridge.core.fingerprint",
    "Item": "bridge.data.sources",
    "SourceContext": "bridge.data.sources",
    "SourceType": "bridge.data.sources",
    "Strategy": "bridge.methods.strategy",
    "StrategyType": "bridge.methods.strategy",
    "MemberInfo": "bridge.methods.strategy",
    "TrainingPlan": "bridge.methods.strategy",
    "TrainingFeatures": "bridge.methods.strategy",
    "StrategySettings": "bridge.methods.strategy",
    "FitResult": "bridge.methods.strategy",
    "Projector": "bridge.core.projector",
    "ProjectorConfig": "bridge.core.projector_config",
    "Index": "bridge.pipeline.search",
    "Hit": "bridge.pipeline.search",
    "export": "bridge.pipeline.export",
    "Reporter": "bridge.progress",
    "SilentReporter": "bridge.progress",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from bridge.core.hookspecs import hookimpl
    from bridge.core.mcr import MCR, MCRType, Modality
    from bridge.core.composed import Space, compose
    from bridge.core.fingerprint import file_digest
    from bridge.core.registry import Registry
    from bridge.core.space import Bridge
    from bridge.data.sources import Item, SourceContext, SourceType
    from bridge.errors import BridgeError, ItemError, MissingInput, MissingInputs
    from bridge.core.projector import Projector
    from bridge.core.projector_config import ProjectorConfig
    from bridge.methods.strategy import FitResult, MemberInfo, Strategy, StrategySettings, StrategyType, TrainingFeatures, TrainingPlan
    from bridge.pipeline.export import export
    from bridge.pipeline.search import Hit, Index
    from bridge.progress import Reporter, SilentReporter


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bridge' has no attribute {name!r}")
    return getattr(import_module(module), name)
