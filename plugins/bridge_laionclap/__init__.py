"""The `laionclap` plugin: LAION-CLAP audio–text models (laion_clap) as MCRs.

A recipe names a model of this type as::

    {plugin: laionclap, options: {checkpoint: weights/630k-audioset-fusion-best.pt, fusion: true}}   # C-MCR's CLAP

Modalities ``audio`` (files soundfile decodes; mixed to mono, resampled to
48 kHz with librosa's resampler as laion_clap's own file API does; clips
shorter than 10 s repeat-padded by laion_clap; longer ones seen whole by
fusion models, cut to their middle 10 s otherwise — fixed positions where
laion_clap draws random ones, so embeddings can be cached) and ``text``
(laion_clap's tokenizer for the text model). Embeddings: the 512-d joint
space, L2-normalised.

The checkpoint is read by laion_clap's own ``load_ckpt`` (the released
files are torch pickles). Its SHA-256 is hashed once and remembered by
path, size and mtime in ``fingerprints.json`` (``bridge.file_digest``; under
``cache_dir``, which a recipe fills with its own cache folder, else
``$BRIDGE_CACHE`` or ``~/.cache/mcr-bridge``). ``bridge recipe check`` lists a
missing checkpoint or Hugging Face text model without importing laion_clap
(``missing.py``).

laion_clap is imported only when a model is loaded (``pip install
'mcr-bridge[clap]'``); that import reads Hugging Face tokenizers, so the
load sets ``HF_HUB_OFFLINE=1`` first unless you set it: ``roberta-base``
must then be in the Hugging Face cache (``$HF_HOME``), or set
``HF_HUB_OFFLINE=0`` to let laion_clap download it.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge import MCRType, hookimpl
from bridge_laionclap.options import LaionClapOptions


def _load(options: LaionClapOptions):
    from bridge_laionclap.load import load_laionclap

    return load_laionclap(options)


def _missing(options: LaionClapOptions):
    from bridge_laionclap.missing import missing_inputs

    return missing_inputs(options)


@hookimpl
def register_mcrs(register: Callable[..., None]) -> None:
    """Register the `laionclap` MCR type."""
    register(
        MCRType(
            name="laionclap",
            load=_load,
            options=LaionClapOptions,
            modalities=("audio", "text"),
            summary="LAION-CLAP audio-text models (630k / 630k-audioset, fusion or not) from a released checkpoint.",
            missing_inputs=_missing,
        )
    )
