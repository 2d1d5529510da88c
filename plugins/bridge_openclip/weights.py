"""Where an `openclip` model's weights come from, found on local disk before anything is built.

:func:`plan_weights` turns the options into a :class:`WeightsPlan`: the name
and checkpoint file to hand to ``open_clip.create_model_and_transforms``, the
files whose contents fingerprint the model, and what a pretrained tag
implies (preprocessing, QuickGELU). A pretrained tag is looked up in the
local caches first (the Hugging Face cache for hub-hosted tags,
``~/.cache/clip`` for URL-hosted ones) and handed to open_clip as a file, so
a cached tag never touches the network; a missing one is downloaded only
with ``download: true``, else it is one :class:`bridge.BridgeError` line
saying what to download and where to put it.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bridge import BridgeError
from bridge_openclip.options import OpenClipOptions

LOCAL_DIR = "local-dir:"
HF_HUB = "hf-hub:"
CONFIG_FILE = "open_clip_config.json"
HUB_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.pth")
"""What open_clip looks for in a `local-dir:` folder."""
PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


@dataclass(frozen=True)
class WeightsPlan:
    """How to build one open_clip model.

    Attributes:
        mcr_id: the MCR id, e.g. ``open_clip:ViT-B-32/openai``.
        create_name: ``model_name`` for open_clip (an architecture, ``local-dir:ABS``, or ``hf-hub:REPO``).
        checkpoint: the checkpoint file for ``pretrained=`` (plain architectures only).
        files: name -> file whose bytes fingerprint the model.
        tag: the pretrained tag, if one was named.
        quick_gelu: what the tag was trained with (``None``: no tag).
        preprocess: the tag's image preprocessing (mean, std, interpolation, resize_mode).
    """

    mcr_id: str
    create_name: str
    checkpoint: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    tag: str | None = None
    quick_gelu: bool | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)


def plan_weights(options: OpenClipOptions, open_clip: ModuleType) -> WeightsPlan:
    """Find the weights ``options`` name, on local disk unless ``options.download``.

    Raises:
        BridgeError: unknown architecture or tag, missing file or folder, or
            weights not on this machine while downloads are off.
    """
    base_dir = (options.base_dir or Path.cwd()).expanduser()
    if options.model.startswith(LOCAL_DIR):
        _no_pretrained(options)
        return _local_dir_plan(_resolve(options.model[len(LOCAL_DIR):], base_dir))
    if options.model.startswith(HF_HUB):
        _no_pretrained(options)
        return _hub_plan(options.model[len(HF_HUB):].strip(), options)
    return _architecture_plan(options, base_dir, open_clip)


def _no_pretrained(options: OpenClipOptions) -> None:
    if options.pretrained:
        raise BridgeError(
            f"pretrained: must be empty with model {options.model!r} (that model carries its own weights); got {options.pretrained!r}"
        )


def _resolve(text: str, base_dir: Path) -> Path:
    path = Path(text.strip()).expanduser()
    return (path if path.is_absolute() else base_dir / path).resolve()


def _local_dir_weights(folder: Path) -> list[Path]:
    return sorted({path for pattern in WEIGHT_GLOBS for path in folder.glob(pattern) if path.is_file()})


def local_dir_problem(folder: Path) -> str | None:
    """What a `local-dir:` folder lacks (``None``: nothing)."""
    if not folder.is_dir():
        return "`local-dir:` folder does not exist"
    if not (folder / CONFIG_FILE).is_file():
        return f"`local-dir:` folder has no {CONFIG_FILE}; expected open_clip's config and weights there"
    if not _local_dir_weights(folder):
        return (
            "`local-dir:` folder has no weights (open_clip_model.safetensors, *.bin or *.pth); "
            "open_clip would initialise the model at random"
        )
    return None


def _local_dir_plan(folder: Path) -> WeightsPlan:
    problem = local_dir_problem(folder)
    if problem is not None:
        raise BridgeError(f"{folder}: {problem}")
    config = folder / CONFIG_FILE
    files = {CONFIG_FILE: config, **{path.name: path for path in _local_dir_weights(folder)}}
    return WeightsPlan(mcr_id=f"open_clip:local-dir:{folder.name}", create_name=f"{LOCAL_DIR}{folder}", files=files)


def _hub_plan(repo: str, options: OpenClipOptions) -> WeightsPlan:
    if not repo:
        raise BridgeError("model: `hf-hub:` needs a repository name, e.g. `hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K`")
    config = _cached_hub_file(repo, CONFIG_FILE, options.download_dir)
    weights = [found for name in HUB_WEIGHT_FILES if (found := _cached_hub_file(repo, name, options.download_dir))]
    mcr_id = f"open_clip:hf-hub:{repo}"
    if config is not None and weights:
        return WeightsPlan(
            mcr_id=mcr_id,
            create_name=f"{LOCAL_DIR}{config.parent}",
            files={CONFIG_FILE: config, **{path.name: path for path in weights}},
        )
    if options.download:
        return WeightsPlan(mcr_id=mcr_id, create_name=f"{HF_HUB}{repo}")
    raise BridgeError(
        f"model: hf-hub:{repo} is not in the Hugging Face cache ({_hub_cache(options.download_dir)}) and downloads are off: "
        + hub_repo_hint(repo)
    )


def hub_repo_hint(repo: str) -> str:
    """How to get an open_clip repository of the Hugging Face hub onto this machine."""
    return (
        f"run `hf download {repo}` on a machine with network and copy that cache here, or save the repository's "
        f"{CONFIG_FILE} and weights in a folder and use `model: local-dir:FOLDER`, or set `download: true`"
    )


def hub_repo_cached(repo: str, download_dir: Path | None) -> bool:
    """Whether an `hf-hub:` repository's config and weights are in the Hugging Face cache."""
    config = _cached_hub_file(repo, CONFIG_FILE, download_dir)
    return config is not None and any(_cached_hub_file(repo, name, download_dir) for name in HUB_WEIGHT_FILES)


def hub_repo_folder(repo: str, download_dir: Path | None) -> str:
    """Where the Hugging Face cache keeps ``repo``."""
    return str(Path(_hub_cache(download_dir)) / ("models--" + repo.replace("/", "--")))


def _architecture_plan(options: OpenClipOptions, base_dir: Path, open_clip: ModuleType) -> WeightsPlan:
    name = options.model.strip()
    known = open_clip.list_models()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise BridgeError(f"model: unknown open_clip architecture {name!r}{hint}; see open_clip.list_models()")
    if not options.pretrained:
        raise BridgeError(
            f"pretrained: architecture {name!r} needs weights: an open_clip pretrained tag "
            f"({_tags(open_clip, name)}) or a checkpoint file"
        )
    tag_cfg = open_clip.get_pretrained_cfg(name, options.pretrained)
    if tag_cfg:
        return _tag_plan(name, options.pretrained, tag_cfg, options, open_clip)
    checkpoint = _resolve(options.pretrained, base_dir)
    if not checkpoint.is_file():
        raise BridgeError(
            f"pretrained: {options.pretrained!r} is neither a pretrained tag of {name} ({_tags(open_clip, name)}) "
            f"nor an existing file ({checkpoint})"
        )
    return WeightsPlan(
        mcr_id=f"open_clip:{name}/{checkpoint.name}", create_name=name, checkpoint=checkpoint, files={"checkpoint": checkpoint}
    )


def _tags(open_clip: ModuleType, name: str, shown: int = 6) -> str:
    """The architecture's pretrained tags, for messages: ``a, b, ... (N tags)``."""
    tags = list(open_clip.list_pretrained_tags_by_model(name))
    if not tags:
        return "no tags known"
    more = f", ... ({len(tags)} tags)" if len(tags) > shown else ""
    return f"tags: {', '.join(tags[:shown])}{more}"


def _tag_plan(name: str, tag: str, cfg: dict[str, Any], options: OpenClipOptions, open_clip: ModuleType) -> WeightsPlan:
    checkpoint = _cached_tag_file(cfg, options.download_dir)
    if checkpoint is None and options.download:
        checkpoint = _download_tag(name, tag, cfg, options, open_clip)
    if checkpoint is None:
        raise BridgeError(_missing_tag_message(name, tag, cfg, options.download_dir))
    return WeightsPlan(
        mcr_id=f"open_clip:{name}/{tag}",
        create_name=name,
        checkpoint=checkpoint,
        files={"checkpoint": checkpoint},
        tag=tag,
        quick_gelu=bool(cfg.get("quick_gelu", False)),
        preprocess={key: cfg[key] for key in PREPROCESS_KEYS if cfg.get(key) is not None},
    )


def _hub_location(cfg: dict[str, Any]) -> tuple[str, str] | None:
    """(repository, file name) of a hub-hosted tag, as open_clip reads its ``hf_hub`` entry."""
    hub = cfg.get("hf_hub") or ""
    if not hub:
        return None
    repo, filename = os.path.split(hub)
    return repo, filename or HUB_WEIGHT_FILES[1]


def _cached_tag_file(cfg: dict[str, Any], download_dir: Path | None) -> Path | None:
    if cfg.get("file"):
        path = Path(cfg["file"]).expanduser()
        return path if path.is_file() else None
    location = _hub_location(cfg)
    if location is not None:
        repo, filename = location
        for candidate in _safetensors_first(filename):
            found = _cached_hub_file(repo, candidate, download_dir)
            if found is not None:
                return found
    url = cfg.get("url") or ""
    if url:
        path = (download_dir or Path("~/.cache/clip")).expanduser() / os.path.basename(url)
        if path.is_file():
            return path
    return None


def _safetensors_first(filename: str) -> list[str]:
    """open_clip prefers a ``.safetensors`` twin of a ``.bin``/``.pth`` hub file."""
    if filename == HUB_WEIGHT_FILES[1]:
        return [HUB_WEIGHT_FILES[0], filename]
    if filename.endswith((".bin", ".pth")):
        return [filename[:-4] + ".safetensors", filename]
    return [filename]


def _cached_hub_file(repo: str, filename: str, download_dir: Path | None) -> Path | None:
    """The file's path in the Hugging Face cache, without any network access (``None``: not cached)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename, cache_dir=str(download_dir.expanduser()) if download_dir else None)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def _hub_cache(download_dir: Path | None) -> str:
    if download_dir is not None:
        return str(download_dir.expanduser())
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _download_tag(name: str, tag: str, cfg: dict[str, Any], options: OpenClipOptions, open_clip: ModuleType) -> Path:
    cache_dir = str(options.download_dir.expanduser()) if options.download_dir else None
    try:
        target = open_clip.download_pretrained(cfg, cache_dir=cache_dir)
    except (OSError, RuntimeError, ValueError) as error:
        reason = " ".join(str(error).split())[:300]
        raise BridgeError(f"{_missing_tag_message(name, tag, cfg, options.download_dir)} (download failed: {reason})") from error
    if not target or not Path(target).is_file():
        raise BridgeError(_missing_tag_message(name, tag, cfg, options.download_dir))
    return Path(target)


def _missing_tag_message(name: str, tag: str, cfg: dict[str, Any], download_dir: Path | None) -> str:
    return f"pretrained: open_clip weights {name}/{tag} are not on this machine: {missing_tag(cfg, download_dir)[1]}"


def tag_cached(cfg: dict[str, Any], download_dir: Path | None) -> bool:
    """Whether a pretrained tag's weights (its open_clip configuration ``cfg``) are on this machine."""
    return _cached_tag_file(cfg, download_dir) is not None


def missing_tag(cfg: dict[str, Any], download_dir: Path | None) -> tuple[str, str]:
    """(where the weights of a pretrained tag are expected, how to get them there) for a tag not on this machine."""
    gelu = " with `quick_gelu: true`" if cfg.get("quick_gelu") else ""
    location = _hub_location(cfg)
    if location is not None:
        repo, filename = location
        return hub_repo_folder(repo, download_dir), (
            f"run `hf download {repo} {filename}` on a machine with network and copy its Hugging Face cache "
            f"to {_hub_cache(download_dir)}, or download https://huggingface.co/{repo}/resolve/main/{filename} and set "
            f"`pretrained:` to that file{gelu}, or set `download: true`"
        )
    url = cfg.get("url") or ""
    folder = (download_dir or Path("~/.cache/clip")).expanduser()
    if url:
        return str(folder / os.path.basename(url)), f"download {url} into {folder}/ (keep its file name), or set `download: true`"
    return str(folder), "open_clip lists no download location for this tag; set `pretrained:` to a checkpoint file"
