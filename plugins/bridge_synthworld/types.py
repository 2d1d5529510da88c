"""What the plugin registers: the three MCR types (their models load, with torch, only when used)."""

from __future__ import annotations

from bridge import MCRType
from bridge_synthworld.options import SynthworldOptions


def _load_pixel(options: SynthworldOptions):
    from bridge_synthworld.mcrs import PIXEL, load_mcr

    return load_mcr(PIXEL, options)


def _load_wave(options: SynthworldOptions):
    from bridge_synthworld.mcrs import WAVE, load_mcr

    return load_mcr(WAVE, options)


def _load_cloud(options: SynthworldOptions):
    from bridge_synthworld.cloud_mcr import load_cloud_mcr

    return load_cloud_mcr(options)


PIXEL_TYPE = MCRType(
    name="synthworld-pixel",
    load=_load_pixel,
    options=SynthworldOptions,
    modalities=("image", "text"),
    summary="Synthetic-world image-text model (CLIP's role): 64x64 conv net + word transformer, 128-d.",
)
WAVE_TYPE = MCRType(
    name="synthworld-wave",
    load=_load_wave,
    options=SynthworldOptions,
    modalities=("audio", "text"),
    summary="Synthetic-world audio-text model (CLAP's role): log-mel conv net + trigram conv text, 96-d.",
)
CLOUD_TYPE = MCRType(
    name="synthworld-cloud",
    load=_load_cloud,
    options=SynthworldOptions,
    modalities=("pointcloud", "image"),
    summary="Synthetic-world point-cloud-image model (ULIP's role): PointNet trained against pixel's frozen image encoder, 128-d.",
)
