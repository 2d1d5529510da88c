"""The annotation files and media folders a dataset source names that do not exist, with where to get them.

Each function is a source type's ``missing_inputs`` hook: it looks only at
the paths in the options (nothing is read), so ``bridge recipe check`` lists
every missing data set of a recipe at once. Individual media files named
inside an annotation file are checked later, when the source's items are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge import MissingInput, SourceContext
from bridge_datasets.rows import resolve

COCO = "https://cocodataset.org/#download"
AUDIOCAPS = "https://github.com/cdjkim/audiocaps (folder `dataset/`)"
CLOTHO = "https://zenodo.org/records/4783391 (Clotho v2.1)"
GUIDE = "docs/datasets.md"


def _absent(option: str, path: Path, how: str, folder: bool = False) -> list[MissingInput]:
    present = path.is_dir() if folder else path.is_file()
    return [] if present or path.exists() else [MissingInput(option, str(path), how)]


def coco_missing(options: Any, context: SourceContext) -> list[MissingInput]:
    """`coco-captions`: the captions JSON, and the images folder of image items."""
    annotations = resolve(options.annotations, context.base_dir)
    missing = _absent(
        "annotations", annotations,
        f"COCO captions file does not exist; download the annotations (annotations_trainval2017.zip) from {COCO} "
        f"and unpack it so that this file exists ({GUIDE}, `coco-captions`)",
    )
    if options.modality == "image" and options.images is not None:
        images = resolve(options.images, context.base_dir)
        missing += _absent(
            "images", images,
            f"COCO images folder does not exist; download the images of the split (e.g. train2017.zip, val2017.zip) "
            f"from {COCO} and unpack them here",
            folder=True,
        )
    return missing


def audiocaps_missing(options: Any, context: SourceContext) -> list[MissingInput]:
    """`audiocaps`: the caption CSV, and the folder of downloaded clips of audio items."""
    table = resolve(options.csv, context.base_dir)
    missing = _absent(
        "csv", table,
        f"AudioCaps CSV does not exist; get {table.name if table.name in ('train.csv', 'val.csv', 'test.csv') else 'train.csv, val.csv or test.csv'} "
        f"from {AUDIOCAPS} and put it here",
    )
    if options.modality == "audio" and options.audio_folder is not None:
        folder = resolve(options.audio_folder, context.base_dir)
        missing += _absent(
            "audio_folder", folder,
            "AudioCaps audio folder does not exist; AudioCaps ships no audio: download each clip (10 s of the YouTube "
            f"video `youtube_id` from `start_time`, e.g. with yt-dlp and ffmpeg) into this folder, named as "
            f"`audio_name` says ({options.audio_name}) ({GUIDE}, `audiocaps`)",
            folder=True,
        )
    return missing


def clotho_missing(options: Any, context: SourceContext) -> list[MissingInput]:
    """`clotho`: the captions CSV, and the folder of the split's WAV files of audio items."""
    table = resolve(options.csv, context.base_dir)
    missing = _absent(
        "csv", table, f"Clotho captions CSV does not exist; download {table.name} from {CLOTHO} and put it here"
    )
    if options.modality == "audio" and options.audio_folder is not None:
        folder = resolve(options.audio_folder, context.base_dir)
        missing += _absent(
            "audio_folder", folder,
            f"Clotho audio folder does not exist; download the split's 7z archive of WAV files from {CLOTHO} "
            "and unpack it here",
            folder=True,
        )
    return missing


def av_manifest_missing(options: Any, context: SourceContext) -> list[MissingInput]:
    """`av-manifest`: the manifest (the media it lists are checked when it is read)."""
    manifest = resolve(options.manifest, context.base_dir)
    return _absent(
        "manifest", manifest,
        "audio-visual manifest does not exist; download the data set (AVE, Flickr-SoundNet, VGGSS), extract each "
        f"sample's audio and frame, and write this manifest with one row per sample ({GUIDE}, `av-manifest`)",
    )
