"""bridge: connect pretrained multi-modal contrastive models through a shared modality.

Python API::

    import bridge
    joint = bridge.Bridge.load("runs/synthworld")
    audio = joint.embed("audio", ["dog.wav"])          # (1, d)
    images = joint.embed("image", ["a.png", "b.png"])  # (2, d)
    joint.similarity(audio, images)                    # (1, 2)

Plugins implement the hooks in :mod:`bridge.hookspecs` with :data:`hookimpl`.
"""

from bridge.artifact import Bridge
from bridge.errors import BridgeError, ItemError
from bridge.hookspecs import hookimpl
from bridge.mcr import MCR, MCRType, Modality
from bridge.sources import Item, SourceContext, SourceType

__all__ = [
    "MCR",
    "Bridge",
    "BridgeError",
    "Item",
    "ItemError",
    "MCRType",
    "Modality",
    "SourceContext",
    "SourceType",
    "hookimpl",
]
