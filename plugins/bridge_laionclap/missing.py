"""What a `laionclap` model needs that is not on this machine, found without importing laion_clap or torch.

``bridge recipe check`` and the first step of ``bridge connect`` call
:func:`missing_inputs` (the ``missing_inputs`` hook of the MCR type) to list
every missing input of a recipe at once, before anything is loaded.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from bridge import MissingInput
from bridge_laionclap.options import LaionClapOptions

RELEASES = "https://huggingface.co/lukewys/laion_clap/resolve/main/"
RELEASED_FILES = ("630k-best.pt", "630k-audioset-best.pt", "630k-fusion-best.pt", "630k-audioset-fusion-best.pt")
HF_TEXT_MODELS = {"roberta": "roberta-base", "bert": "bert-base-uncased", "bart": "facebook/bart-base"}
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
OFF = ("0", "false", "no", "off")


def checkpoint_file(options: LaionClapOptions) -> Path:
    """The checkpoint ``options`` name, made absolute (it may not exist)."""
    path = options.checkpoint.expanduser()
    if not path.is_absolute():
        path = (options.base_dir or Path.cwd()).expanduser() / path
    return path.resolve()


def checkpoint_hint(path: Path, fusion: bool) -> str:
    """How to get a released LAION-CLAP checkpoint to ``path``."""
    name = path.name if path.name in RELEASED_FILES else RELEASED_FILES[3 if fusion else 1]
    return (
        f"CLAP checkpoint does not exist; download {RELEASES}{name} and put it at {path.parent / name} "
        f"(and set `checkpoint:` to it{', with `fusion: true`' if 'fusion' in name else ''})"
    )


def hf_hint(repo: str) -> str:
    """How to get the Hugging Face files of ``repo`` into the cache laion_clap reads offline."""
    return (
        f"run `hf download {repo}` on a machine with network and copy that cache here (or point HF_HOME at it), "
        "or set HF_HUB_OFFLINE=0 to let laion_clap download it"
    )


def missing_inputs(options: LaionClapOptions) -> list[MissingInput]:
    """The checkpoint, when it does not exist, and the text model's Hugging Face files, when laion_clap would
    read them offline (``HF_HUB_OFFLINE`` unset or on) and they are not in the Hugging Face cache.

    (laion_clap itself not being installed is not a missing input: loading says what to install.)
    """
    missing = []
    checkpoint = checkpoint_file(options)
    if not checkpoint.is_file():
        missing.append(MissingInput("checkpoint", str(checkpoint), checkpoint_hint(checkpoint, options.fusion)))
    repo = HF_TEXT_MODELS[options.tmodel]
    offline = os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() not in OFF
    if offline and importlib.util.find_spec("huggingface_hub") is not None and not _hf_cached(repo):
        missing.append(MissingInput("", _hf_folder(repo), f"laion_clap's text model {repo!r} (model and tokenizer) is not in the Hugging Face cache: {hf_hint(repo)}"))
    return missing


def _hf_cached(repo: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    def cached(name: str) -> bool:
        found = try_to_load_from_cache(repo, name)
        return isinstance(found, str) and Path(found).is_file()

    return cached("config.json") and any(cached(name) for name in HF_WEIGHTS)


def _hf_folder(repo: str) -> str:
    from huggingface_hub import constants

    return str(Path(constants.HF_HUB_CACHE) / ("models--" + repo.replace("/", "--")))
