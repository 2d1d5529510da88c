"""A small world for the scale tests: webdataset tar shards of PNG, WAV and text members, and a bridge over the synthworld MCRs.

The bridge is assembled, not trained: member ``pixel`` (synthworld-pixel,
image + text) is the joint space as it is and member ``wave``
(synthworld-wave, audio + text) has a seeded ``linear`` projector into it.
The tests need its mechanics (every modality lands in one 128-d space), not
its quality.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import torch

import bridge
from bridge.core.artifact import MemberRecord, SpaceSpec
from bridge.core.projector import Projector
from bridge.core.projector_config import ProjectorConfig
from bridge_synthworld.files import encode_png, encode_wav

CLASSES = ("red", "green", "blue")


def write_bridge(folder: Path) -> Path:
    """Save the assembled pixel + wave bridge to ``folder``; returns it."""
    registry = bridge.Registry.from_environment()
    records, projectors = {}, {}
    for name, plugin in (("pixel", "synthworld-pixel"), ("wave", "synthworld-wave")):
        mcr = registry.load_mcr(plugin, {})
        config = None if name == "pixel" else ProjectorConfig(architecture="linear", output_dim=128)
        records[name] = MemberRecord(plugin=plugin, id=mcr.id, fingerprint=mcr.fingerprint, modalities=list(mcr.modalities),
                                     dim=mcr.dim, projector=config)
        if config is not None:
            torch.manual_seed(0)
            projectors[name] = Projector(mcr.dim, config).eval()
    spec = SpaceSpec(name="scale-test", strategy="extend", overlap="text", dim=128, members=records)
    return bridge.Bridge(spec, projectors).save(folder)


def image(index: int) -> np.ndarray:
    """A 64x64 RGB picture: a coloured square whose place and colour depend on ``index``."""
    picture = np.full((64, 64, 3), 30, dtype=np.uint8)
    x, y = (index * 7) % 40, (index * 13) % 40
    picture[y : y + 24, x : x + 24, index % 3] = 220
    return picture


def sound(index: int) -> np.ndarray:
    """Half a second of a tone whose pitch depends on ``index`` (16 kHz)."""
    t = np.arange(8000) / 16000
    return (0.5 * np.sin(2 * np.pi * (220 + 40 * index) * t)).astype(np.float32)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shards(folder: Path, shards: int = 2, per_shard: int = 6) -> list[Path]:
    """Tar shards ``shard-000000.tar``... in webdataset form: ``<key>.png``, ``.wav``, ``.txt``, ``.json`` (``{"label": ...}``), ``.cls``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for shard in range(shards):
        path = folder / f"shard-{shard:06d}.tar"
        with tarfile.open(path, "w") as tar:
            for offset in range(per_shard):
                index = shard * per_shard + offset
                key = f"s{index:05d}"
                label = CLASSES[index % 3]
                _add(tar, f"{key}.png", encode_png(image(index)))
                _add(tar, f"{key}.wav", encode_wav(sound(index)))
                _add(tar, f"{key}.txt", f"a {label} square number {index}".encode())
                _add(tar, f"{key}.json", json.dumps({"label": label, "meta": {"n": index}}).encode())
                _add(tar, f"{key}.cls", str(index % 3).encode())
        paths.append(path)
    return paths
