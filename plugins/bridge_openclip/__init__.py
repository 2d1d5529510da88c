"""The `openclip` plugin: open_clip image–text models (CLIP, OpenCLIP, SigLIP, ...) as MCRs.

A recipe names a model of this type as::

    {plugin: openclip, options: {model: ViT-B-32, pretrained: openai}}       # C-MCR's CLIP
    {plugin: openclip, options: {model: ViT-B-32, pretrained: weights/my_clip.safetensors}}
    {plugin: openclip, options: {model: "local-dir:weights/my_clip"}}      # open_clip_config.json + weights
    {plugin: openclip, options: {model: "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", download: true}}

Modalities ``image`` (files PIL decodes, through open_clip's own inference
preprocessing) and ``text`` (through the model's own tokenizer); embeddings
are the model's joint space, L2-normalised.

Weights: a pretrained tag is looked up in the local caches and used from
there, without network access; with ``download: false`` (the default) a
missing tag is one error line saying what to download and where to put it.
``bridge recipe check`` lists missing weights without importing open_clip
(``missing.py``; open_clip's tag table is read from its source, ``tags.py``).
``quick_gelu`` follows the tag (OpenAI's weights need QuickGELU).

Fingerprint: the SHA-256 of the weight files (``bridge.file_digest``: hashed
once, then remembered by path, size and mtime in ``fingerprints.json`` under
``cache_dir``, which a recipe fills with its own cache folder, else
``$BRIDGE_CACHE`` or ``~/.cache/mcr-bridge``), the architecture, QuickGELU
and preprocessing settings; for a tag also the tag and open_clip's version.

Extra capability, beyond the MCR contract: ``mcr.encode_patches(items)``
returns per-patch image embeddings projected into the joint space,
``(N, P, D)`` float32, each patch L2-normalised, P = ``mcr.patch_grid``
height x width (ViT image towers only). Patch embeddings are computed on
every call: the core's embedding cache does not store them.

open_clip is imported only when a model is loaded (``pip install
'mcr-bridge[clip]'``).
"""

from __future__ import annotations

from collections.abc import Callable

from bridge import MCRType, hookimpl
from bridge_openclip.options import OpenClipOptions


def _load(options: OpenClipOptions):
    from bridge_openclip.load import load_openclip

    return load_openclip(options)


def _missing(options: OpenClipOptions):
    from bridge_openclip.missing import missing_inputs

    return missing_inputs(options)


@hookimpl
def register_mcrs(register: Callable[..., None]) -> None:
    """Register the `openclip` MCR type."""
    register(
        MCRType(
            name="openclip",
            load=_load,
            options=OpenClipOptions,
            modalities=("image", "text"),
            summary="open_clip image-text models (CLIP ViT-B-32 openai, OpenCLIP, ...), by tag, checkpoint or folder.",
            missing_inputs=_missing,
        )
    )
