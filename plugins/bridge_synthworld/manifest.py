"""Sidecar manifests: where each file's objects are, for localisation tasks.

Each split and modality folder of the world's files holds a
``manifest.jsonl`` beside the PNGs / WAVs, one JSON object per file, in
scene order::

    {"id": "eval-000003", "file": "eval-000003.png", "main": "dog",
     "objects": [{"concept": "dog", "concept_index": 1, "near": true, "main": true,
                  "box": [12, 30, 41, 59]}, ...]}

- images: one entry per drawn instance ("two dogs" are two entries), in
  drawing order (far ones first, the main object last); ``box`` is
  ``[x0, y0, x1, y1]`` in pixels of the 64x64 image, x1 / y1 exclusive,
  clipped to the image (the shape lies inside it; nearer instances may
  cover part of it).
- audio: one entry per sound event, main source first; ``span`` is
  ``[start, end]`` in seconds of the 1 s clip (the event is silent outside
  it; it may overlap other events).

A manifest of ``n`` lines describes the split's first ``n`` scenes; it is
rewritten (atomically) when a larger count is asked for and is otherwise
kept, like the files. Captions have no manifest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from bridge_synthworld.scenes import Scene

MANIFEST_NAME = "manifest.jsonl"


def image_record(world, scene: Scene, layout=None) -> dict:
    """The manifest entry of a scene's image: every drawn instance's concept and pixel box.

    ``layout``: the scene's ``ImageLayout`` when the caller has it (else it is drawn again).
    """
    names = world.names
    layout = layout or world.image_layout(scene)
    objects = [{"concept": names[p.concept], "concept_index": p.concept, "near": p.near, "main": p.main,
                "box": list(p.box())} for p in layout.objects]
    return {"id": scene.id, "file": f"{scene.id}.png", "main": names[scene.main], "objects": objects}


def audio_record(world, scene: Scene, layout=None) -> dict:
    """The manifest entry of a scene's clip: every sound event's concept and time span (seconds).

    ``layout``: the scene's ``AudioLayout`` when the caller has it (else it is drawn again).
    """
    names = world.names
    layout = layout or world.audio_layout(scene)
    objects = [{"concept": names[e.concept], "concept_index": e.concept, "near": e.near, "main": e.main,
                "span": [round(value, 5) for value in e.span()]} for e in layout.events]
    return {"id": scene.id, "file": f"{scene.id}.wav", "main": names[scene.main], "objects": objects}


def write_manifest(world, scenes: Sequence[Scene], modality: str, folder: Path, layouts: dict | None = None) -> Path:
    """Write ``folder/manifest.jsonl`` for ``scenes`` unless one at least as long is there.

    Args:
        world: the :class:`~bridge_synthworld.world.World` the scenes come from.
        scenes: the split's first ``len(scenes)`` scenes.
        modality: "image" or "audio".
        folder: the split's folder of that modality.
        layouts: scene id -> layout, for scenes just rendered (the others' are drawn again).

    Returns:
        The manifest's path.
    """
    path = Path(folder) / MANIFEST_NAME
    if path.exists():
        with path.open("rb") as handle:
            if sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) >= len(scenes):
                return path
    record = image_record if modality == "image" else audio_record
    layouts = layouts or {}
    text = "".join(json.dumps(record(world, scene, layouts.get(scene.id)), separators=(", ", ": ")) + "\n"
                   for scene in scenes)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_manifest(path: Path) -> list[dict]:
    """The entries of a ``manifest.jsonl``, in file order."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
