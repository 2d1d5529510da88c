"""Built-in `features` plugin: an MCR whose embeddings come from precomputed files.

For features encoded elsewhere (e.g. CLIP/CLAP run on another machine) and for
benchmarks at scale. A recipe names it as::

    mcr_a:
      plugin: features
      options:
        id: clip-vit-b32-features
        modalities:
          image: {embeddings: image.npy, ids: image_ids.txt}
          text: {embeddings: text.safetensors, ids: text_ids.txt, tensor: emb}

Items are the ids listed in the ids files. Relative paths resolve against
``base_dir`` when given (a recipe's folder), else the current directory.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge import MCRType, hookimpl
from bridge_features.options import FeatureFiles, FeaturesOptions
from bridge_features.text_check import check_texts

__all__ = ["FeatureFiles", "FeaturesOptions", "load_features_mcr", "register_mcrs"]


def load_features_mcr(options: FeaturesOptions):
    """Open the feature files (torch is imported here, not when the plugin is listed)."""
    from bridge_features.model import load_features_mcr as load

    return load(options)


@hookimpl
def register_mcrs(register: Callable[..., None]) -> None:
    """Register the `features` MCR type."""
    register(
        MCRType(
            name="features",
            load=load_features_mcr,
            options=FeaturesOptions,
            summary="Precomputed embeddings (.npy / .safetensors) looked up by item id.",
            check_inputs=check_texts,
            modalities_for=lambda options: tuple(options.modalities),
        )
    )
