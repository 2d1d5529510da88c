"""Building an `openclip` MCR from its options: find the weights, build the model, fingerprint it."""

from __future__ import annotations

import os
import pickle
import warnings
from types import ModuleType

from bridge import BridgeError, file_digest
from bridge.core.fingerprint import combine
from bridge_openclip.model import OpenClipMCR
from bridge_openclip.options import OpenClipOptions
from bridge_openclip.weights import WeightsPlan, plan_weights


def load_openclip(options: OpenClipOptions) -> OpenClipMCR:
    """The open_clip model ``options`` name, on CPU, in eval mode.

    With ``download`` off, ``HF_HUB_OFFLINE=1`` is set first (unless the
    user set it), before open_clip and the Hugging Face hub are imported.

    Raises:
        BridgeError: unknown architecture, weights missing or not fitting
            the architecture, open_clip not installed.
    """
    if not options.download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    open_clip = _import_open_clip()
    plan = plan_weights(options, open_clip)
    model, preprocess = _create(plan, options, open_clip)
    if not plan.files:  # just downloaded from the hub: fingerprint the files now in the cache
        plan = plan_weights(options.model_copy(update={"download": False}), open_clip)
    tokenizer = open_clip.get_tokenizer(plan.create_name)
    return OpenClipMCR(
        mcr_id=plan.mcr_id,
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        fingerprint=_fingerprint(plan, options, open_clip),
        precision=options.precision,
        batch_size=options.batch_size,
    )


def _import_open_clip() -> ModuleType:
    try:
        import open_clip
    except ImportError as error:
        raise BridgeError(
            f"the openclip MCR needs open_clip: pip install 'mcr-bridge[clip]' ({error})"
        ) from error
    return open_clip


def _quick_gelu(plan: WeightsPlan, options: OpenClipOptions) -> bool:
    if options.quick_gelu is not None:
        return options.quick_gelu
    return bool(plan.quick_gelu)


def _create(plan: WeightsPlan, options: OpenClipOptions, open_clip: ModuleType):
    """open_clip's model (eval) and inference transform; weights problems become one BridgeError line."""
    overrides = {f"image_{key}": value for key, value in plan.preprocess.items()}
    source = plan.checkpoint or plan.create_name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # QuickGELU notices: the plan already decided
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                plan.create_name,
                pretrained=str(plan.checkpoint) if plan.checkpoint else None,
                force_quick_gelu=_quick_gelu(plan, options),
                cache_dir=str(options.download_dir.expanduser()) if options.download_dir else None,
                device="cpu",
                weights_only=True,
                **overrides,
            )
        except (RuntimeError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as error:
            reason = " ".join(str(error).split())[:300]
            raise BridgeError(
                f"{source}: cannot load these weights into open_clip model {plan.create_name!r}: {type(error).__name__}: {reason}"
            ) from error
        except OSError as error:
            reason = " ".join(str(error).split())[:300]
            raise BridgeError(f"{source}: cannot read the weights ({reason})") from error
    return model.eval(), preprocess


def _fingerprint(plan: WeightsPlan, options: OpenClipOptions, open_clip: ModuleType) -> str:
    parts: dict[str, object] = {
        "kind": "open_clip",
        "model": plan.create_name if not plan.create_name.startswith("local-dir:") else "local-dir",
        "files": {name: file_digest(path, options.cache_dir) for name, path in sorted(plan.files.items())},
        "quick_gelu": _quick_gelu(plan, options),
        "preprocess": plan.preprocess,
    }
    if plan.tag is not None or not plan.files:
        parts["tag"] = plan.tag
        parts["open_clip"] = open_clip.__version__
    if options.precision != "fp32":
        parts["precision"] = options.precision
    return combine(parts)
