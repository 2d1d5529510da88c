"""What an `openclip` model needs that is not on this machine, found without importing open_clip or torch.

``bridge recipe check`` and the first step of ``bridge connect`` call
:func:`missing_inputs` (the ``missing_inputs`` hook of the MCR type) to list
every missing input of a recipe at once, before anything is loaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bridge import MissingInput
from bridge_openclip.options import OpenClipOptions
from bridge_openclip.tags import tag_config
from bridge_openclip.weights import (
    HF_HUB,
    LOCAL_DIR,
    _resolve,
    hub_repo_cached,
    hub_repo_folder,
    hub_repo_hint,
    local_dir_problem,
    missing_tag,
    tag_cached,
)


def missing_inputs(options: OpenClipOptions) -> list[MissingInput]:
    """The weights ``options`` name that are not on this machine (none when downloads are allowed).

    A `local-dir:` folder without config or weights, an `hf-hub:` repository
    or a pretrained tag that is not in the local caches, a checkpoint file that
    does not exist. Other problems (an unknown architecture) are left to the load.
    """
    if importlib.util.find_spec("open_clip") is None:  # not a missing input: loading says what to install
        return []
    base_dir = (options.base_dir or Path.cwd()).expanduser()
    name = options.model.strip()
    if name.startswith(LOCAL_DIR):
        folder = _resolve(name[len(LOCAL_DIR):], base_dir)
        problem = local_dir_problem(folder)
        return [] if problem is None else [MissingInput("model", str(folder), problem)]
    if name.startswith(HF_HUB):
        repo = name[len(HF_HUB):].strip()
        if not repo or options.download or hub_repo_cached(repo, options.download_dir):
            return []
        return [MissingInput("model", hub_repo_folder(repo, options.download_dir), f"not in the Hugging Face cache: {hub_repo_hint(repo)}")]
    if not options.pretrained:
        return []
    cfg = _tag_config(name, options.pretrained)
    if cfg:
        if options.download or tag_cached(cfg, options.download_dir):
            return []
        where, how = missing_tag(cfg, options.download_dir)
        return [MissingInput("pretrained", where, f"open_clip weights {name}/{options.pretrained} are not on this machine: {how}")]
    checkpoint = _resolve(options.pretrained, base_dir)
    if checkpoint.is_file():
        return []
    return [
        MissingInput(
            "pretrained", str(checkpoint),
            f"neither an open_clip pretrained tag of {name} nor an existing checkpoint file; put the weights there "
            "(`.safetensors`, or a `.pt`/`.bin` state dict)",
        )
    ]


def _tag_config(name: str, tag: str) -> dict:
    """The tag's open_clip configuration, read without torch when possible (``{}``: not a tag)."""
    cfg = tag_config(name, tag)
    if cfg is not None:
        return cfg
    try:  # the table could not be read from source: ask open_clip itself (imports torch)
        import open_clip
    except ImportError:
        return {}
    return dict(open_clip.get_pretrained_cfg(name, tag))
