"""The `datasets` plugin: source types for the public data sets C-MCR's pipeline uses.

| source | file | items |
| --- | --- | --- |
| ``coco-captions`` | COCO ``captions_*.json`` | captions (text) or captioned images (image) |
| ``audiocaps`` | AudioCaps ``train/val/test.csv`` | captions (text) or clips (audio) |
| ``clotho`` | Clotho ``clotho_captions_*.csv`` | captions (text) or clips (audio) |
| ``av-manifest`` | a CSV/JSONL audio–visual evaluation manifest | clips (audio) or images / frames (image) |

Every problem with a file is one :class:`bridge.BridgeError` line naming
the file (and line); ``docs/datasets.md`` says how to get each data set and
produce each format. :func:`read_av_manifest` also returns the manifest's
boxes, for localisation.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge import hookimpl
from bridge_datasets.av_manifest import AVRow, read_av_manifest

__all__ = ["AVRow", "read_av_manifest", "register_sources"]


@hookimpl
def register_sources(register: Callable[..., None]) -> None:
    """Register the `coco-captions`, `audiocaps`, `clotho` and `av-manifest` source types."""
    from bridge_datasets import audiocaps, av_manifest, clotho, coco

    for module in (coco, audiocaps, clotho, av_manifest):
        register(module.SOURCE_TYPE)
