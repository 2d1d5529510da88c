"""Building a `laionclap` MCR: import laion_clap offline, build the model, load the checkpoint.

``import laion_clap`` loads three Hugging Face tokenizers at import time and
building a ``CLAP_Module`` loads ``roberta-base`` (or the chosen text
model) with ``from_pretrained``. Without network access that import retries
for minutes, so :func:`load_laionclap` sets ``HF_HUB_OFFLINE=1`` (unless the
user set it) before the import; the files must then be in the Hugging Face
cache, and when they are not the user gets one line saying what to download.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import io
import os
import pickle
import warnings
from pathlib import Path
from types import ModuleType

from bridge import BridgeError, file_digest
from bridge.core.fingerprint import combine
from bridge_laionclap.missing import HF_TEXT_MODELS, checkpoint_file, checkpoint_hint, hf_hint
from bridge_laionclap.model import LaionClapMCR
from bridge_laionclap.options import LaionClapOptions

LONG_AUDIO_POLICY = "middle-v1"
"""Names the fixed positions used for clips over 10 s (see ``audio.py``); part of the fingerprint."""


def load_laionclap(options: LaionClapOptions) -> LaionClapMCR:
    """The LAION-CLAP model ``options`` name, on CPU, in eval mode.

    Raises:
        BridgeError: checkpoint missing or not fitting the architecture,
            Hugging Face text files missing offline, laion_clap not installed.
    """
    checkpoint = _checkpoint_path(options)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    laion_clap = _import_laion_clap()
    _check_architecture(options, laion_clap)
    _check_tokenizer(options, laion_clap)
    clap = _build(options, laion_clap)
    _load_checkpoint(clap, checkpoint, options)
    text_module = importlib.import_module("laion_clap.training.data")

    def tokenize(text: str):
        return text_module.tokenizer(text, tmodel=options.tmodel)

    fingerprint = combine(
        {
            "kind": "laion_clap",
            "amodel": options.amodel,
            "tmodel": options.tmodel,
            "fusion": options.fusion,
            "checkpoint": file_digest(checkpoint, options.cache_dir),
            "long_audio": LONG_AUDIO_POLICY,
        }
    )
    mcr_id = f"laion_clap:{options.amodel}{'-fusion' if options.fusion else ''}/{checkpoint.name}"
    return LaionClapMCR(mcr_id, clap, tokenize, fingerprint, options.fusion, options.batch_size)


def _checkpoint_path(options: LaionClapOptions) -> Path:
    path = checkpoint_file(options)
    if path.is_file():
        return path
    raise BridgeError(f"{path}: {checkpoint_hint(path, options.fusion)}")


def _import_laion_clap() -> ModuleType:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its imports raise timm/torch deprecation notices
            import laion_clap
    except ImportError as error:
        raise BridgeError(f"the laionclap MCR needs laion_clap and torchaudio: pip install 'mcr-bridge[clap]' ({error})") from error
    return laion_clap


def _check_architecture(options: LaionClapOptions, laion_clap: ModuleType) -> None:
    # CLAP_Module builds through the top-level `clap_module` package laion_clap puts on sys.path,
    # a second copy of laion_clap.clap_module: ask the copy it really uses.
    factory = importlib.import_module(laion_clap.hook.create_model.__module__)
    known = factory.list_models()
    if options.amodel not in known:
        close = difflib.get_close_matches(options.amodel, known, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise BridgeError(f"amodel: unknown laion_clap audio architecture {options.amodel!r}{hint}")


def _missing_hf(repo: str) -> BridgeError:
    from huggingface_hub import constants

    return BridgeError(
        f"laion_clap needs the Hugging Face files of {repo!r} (tokenizer and model), which are not in the Hugging "
        f"Face cache ({constants.HF_HUB_CACHE}) while HF_HUB_OFFLINE is set: {hf_hint(repo)}"
    )


def _check_tokenizer(options: LaionClapOptions, laion_clap: ModuleType) -> None:
    """Offline, transformers silently builds a 5-token tokenizer when the files are missing: refuse that."""
    text_module = importlib.import_module("laion_clap.training.data")
    tokenizer = getattr(text_module, f"{options.tmodel}_tokenizer", None)
    if tokenizer is not None and len(tokenizer) <= 5:
        raise _missing_hf(HF_TEXT_MODELS[options.tmodel])


def _build(options: LaionClapOptions, laion_clap: ModuleType):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return laion_clap.CLAP_Module(
                enable_fusion=options.fusion, device="cpu", amodel=options.amodel, tmodel=options.tmodel
            )
    except OSError as error:
        missing = HF_TEXT_MODELS["roberta"] if "roberta-base" in str(error) else HF_TEXT_MODELS[options.tmodel]
        raise _missing_hf(missing) from error


def _load_checkpoint(clap, checkpoint: Path, options: LaionClapOptions) -> None:
    """laion_clap's own ``load_ckpt`` (strict), its progress prints kept off stdout."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            clap.load_ckpt(str(checkpoint), verbose=False)
    except KeyError as error:
        raise BridgeError(
            f"{checkpoint}: not a LAION-CLAP checkpoint in the released format (no {error} entry; laion_clap's loader expects it)"
        ) from error
    except RuntimeError as error:
        raise BridgeError(f"{checkpoint}: does not fit laion_clap {_describe(options)}: {_mismatch(str(error), options)}") from error
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, AttributeError) as error:
        reason = " ".join(str(error).split())[:200]
        raise BridgeError(f"{checkpoint}: cannot read the CLAP checkpoint ({type(error).__name__}: {reason})") from error


def _describe(options: LaionClapOptions) -> str:
    return f"amodel={options.amodel}, tmodel={options.tmodel}, fusion={str(options.fusion).lower()}"


def _mismatch(message: str, options: LaionClapOptions) -> str:
    """A short reason for a strict-load failure, with the likely fix."""
    lines = [line.strip() for line in message.splitlines()]
    missing = " ".join(line for line in lines if line.startswith("Missing key"))
    unexpected = " ".join(line for line in lines if line.startswith("Unexpected key"))
    if options.fusion and "fusion_model" in missing and "fusion_model" not in unexpected:
        return "it has no fusion layers; set `fusion: false`"
    if not options.fusion and "fusion_model" in unexpected and "fusion_model" not in missing:
        return "it is a fusion model; set `fusion: true`"
    first = next((line for line in lines[1:] if line), lines[0] if lines else message)
    return f"{first[:200]} (check `amodel`, `tmodel` and `fusion`)"
