"""The built-in `synthworld` plugin: a synthetic audio–image–text world with known ground truth.

It registers two small contrastive models that never saw audio and images
together — `synthworld-pixel` (image–text, CLIP-like) and `synthworld-wave`
(audio–text, CLAP-like) — a point-cloud–image model trained against pixel's
frozen image encoder, `synthworld-cloud` (ULIP-like), a data source
`synthworld` that generates the world's PNG/WAV/NPY/caption files, and the
command `bridge synthworld train`.
It is loaded through the entry-point group `bridge`, like any third-party plugin.
"""

from __future__ import annotations

from bridge import hookimpl


@hookimpl
def register_mcrs(register):
    from bridge_synthworld.types import CLOUD_TYPE, PIXEL_TYPE, WAVE_TYPE

    register(PIXEL_TYPE)
    register(WAVE_TYPE)
    register(CLOUD_TYPE)


@hookimpl
def register_sources(register):
    from bridge_synthworld.source import SOURCE_TYPE

    register(SOURCE_TYPE)


@hookimpl
def register_commands(cli):
    from bridge_synthworld.commands import synthworld_group

    cli.add_command(synthworld_group)
