"""The synthetic world as real files: PNG images, WAV clips, NPY point clouds, captions.

:func:`materialize` writes the files of a split once, under
``root/<world key>/<split>/<modality>/<scene id>.png|wav|npy`` (the world key is
the seed, with ``-<n>concepts`` appended for a non-default concept count),
and returns :class:`bridge.sources.Item` s for them. Every file is written
to a hidden temporary name and renamed into place, so an interrupted run
never leaves a half file under a real name; files already in place are kept.
A ``world.json`` beside the splits records the generator version, and a
cache written by another version is refused rather than mixed.

Beside the files of each split and modality, a sidecar ``manifest.jsonl``
(:mod:`bridge_synthworld.manifest`) records each file's objects: bounding boxes
in pixels (images) or time spans in seconds (clips), for localisation tasks.
"""

from __future__ import annotations

import json
import os
import struct
import wave
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_limits

from bridge import BridgeError, Item, ItemError
from bridge.progress import Reporter
from bridge_synthworld.cloud_files import encode_npy, is_complete_npy
from bridge_synthworld.manifest import write_manifest
from bridge_synthworld.world import AUDIO_SECONDS, CAPTION_STYLES, IMAGE_SIZE, SAMPLE_RATE, SPLITS, Scene, World

GENERATOR_VERSION = 2
"""2: multi-object scenes (counts, near/far), absolute loudness, sidecar manifests."""
DEFAULT_CONCEPTS = 48
MODALITIES = ("image", "audio", "pointcloud", "text", *(f"text:{style}" for style in CAPTION_STYLES))

# Deflate level of written PNGs. The images carry pixel noise, so deflate saves only ~28% of
# their 12 KiB while costing most of the generation time; 0 stores them uncompressed (which also
# fixes every PNG's size, so finished files are recognised by size: see `_is_complete`).
PNG_COMPRESSION = 0
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WAV_HEADER_BYTES = 44
_WAVE_FORMAT_PCM = 1
_WAV_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")  # RIFF header, "fmt " chunk of PCM, "data" chunk header
_PCM_SCALE = 32767.0
_PARTIAL_SUFFIX = ".partial"


# --- single files ---------------------------------------------------------------


def partial_path(path: Path) -> Path:
    """The hidden temporary name ``path`` is written to before it is renamed into place."""
    return path.with_name(_partial_name(path.name))


def _partial_name(name: str) -> str:
    return f".{name}.{os.getpid()}{_PARTIAL_SUFFIX}"


def _write_atomically(path: Path, data: bytes) -> None:
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _write_in(folder, path.name, data)
    finally:
        os.close(folder)


def _write_in(folder: int, name: str, data: bytes) -> None:
    """Write ``data`` as the file ``name`` of the open folder ``folder``: to a hidden temporary name, then
    renamed into place. Names are relative to the folder's descriptor, so the kernel does not walk the
    whole path for each file; the file is written with one ``os.write`` (no io object, no fsync)."""
    temporary = _partial_name(name)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=folder)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
    finally:
        os.close(descriptor)
    os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 ``(H, W, 3)`` image: 8-bit RGB, no filter, deflate level
    :data:`PNG_COMPRESSION` (byte-for-byte deterministic, independent of the PIL version)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    height, width, _ = image.shape
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # each row: filter type 0, then its pixels
    rows[:, 1:] = image.reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join((_PNG_SIGNATURE, _png_chunk(b"IHDR", header),
                     _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_COMPRESSION)), _png_chunk(b"IEND", b"")))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a uint8 ``(H, W, 3)`` image as PNG (atomically: temporary file, then rename)."""
    _write_atomically(Path(path), encode_png(image))


def read_png(path: Path) -> np.ndarray:
    """A PNG (or any image PIL reads) as uint8 ``(64, 64, 3)`` RGB.

    Images of another size are resized (bilinear) to 64x64; grey or RGBA
    images are converted to RGB.

    Raises:
        ItemError: the file is missing, truncated or not an image.
    """
    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ItemError(str(path), f"not a readable PNG image ({error})") from error
    if image.size != (IMAGE_SIZE, IMAGE_SIZE):
        image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def encode_wav(audio: np.ndarray) -> bytes:
    """WAV bytes (16-bit PCM, 16 kHz, mono) of float audio ``(n,)`` in [-1, 1] (clipped).

    The 44-byte header is the one Python's :mod:`wave` writes (RIFF, a PCM ``fmt `` chunk, ``data``), packed
    directly: the same bytes without a ``wave.Wave_write`` per clip."""
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n,), got {audio.shape}")
    pcm = np.round(np.clip(audio, -1.0, 1.0) * _PCM_SCALE).astype("<i2").tobytes()
    header = _WAV_HEADER.pack(b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, _WAVE_FORMAT_PCM, 1, SAMPLE_RATE,
                              2 * SAMPLE_RATE, 2, 16, b"data", len(pcm))
    return header + pcm


def write_wav(path: Path, audio: np.ndarray) -> None:
    """Write float audio ``(n,)`` in [-1, 1] as a 16-bit PCM, 16 kHz mono WAV (atomically)."""
    _write_atomically(Path(path), encode_wav(audio))


def read_wav(path: Path) -> np.ndarray:
    """A PCM WAV as float32 ``(n,)`` mono at 16 kHz, in [-1, 1].

    16-bit files written by :func:`write_wav` come back equal to the float
    audio up to 16-bit quantisation (error <= 1/65534). 8- and 32-bit PCM
    are read too; several channels are averaged; another sample rate is
    resampled to 16 kHz by linear interpolation.

    Raises:
        ItemError: the file is missing, truncated, not a WAV, or not PCM.
    """
    try:
        with wave.open(str(path), "rb") as clip:
            channels, width, rate = clip.getnchannels(), clip.getsampwidth(), clip.getframerate()
            frames = clip.getnframes()
            data = clip.readframes(frames)
    except (OSError, EOFError, wave.Error) as error:
        raise ItemError(str(path), f"not a readable PCM WAV file ({error})") from error
    if width not in (1, 2, 4):
        raise ItemError(str(path), f"expected 8-, 16- or 32-bit PCM samples, got {8 * width}-bit")
    if len(data) != frames * channels * width:
        held = len(data) // (channels * width)
        raise ItemError(str(path), f"truncated: the header says {frames} frames, the file holds {held}")
    if width == 1:
        samples = (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 127.0
    else:
        dtype, scale = ("<i2", _PCM_SCALE) if width == 2 else ("<i4", 2147483647.0)
        samples = np.frombuffer(data, dtype=dtype).astype(np.float32) / np.float32(scale)
    audio = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32) if channels > 1 else samples
    if rate != SAMPLE_RATE and len(audio) > 1:
        duration = len(audio) / rate
        target = np.arange(int(round(duration * SAMPLE_RATE))) / SAMPLE_RATE
        audio = np.interp(target, np.arange(len(audio)) / rate, audio).astype(np.float32)
    return np.clip(audio, -1.0, 1.0)


# --- a split as files -------------------------------------------------------------


def world_key(world: World) -> str:
    """The cache folder name of a world: its seed, plus the concept count when not the default."""
    n = len(world.concepts)
    return str(world.seed) if n == DEFAULT_CONCEPTS else f"{world.seed}-{n}concepts"


_PNG_BYTES = len(encode_png(np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)))
"""Size of every world PNG: stored uncompressed (deflate level 0), so it depends on the image size alone."""


def _is_complete(size: int, modality: str) -> bool:
    """Whether a file already in place is whole, from its size alone (a WAV or PNG of the exact length, a full
    NPY): files are written under a hidden name and renamed when whole, so this only catches files cut
    short by something else. No file is opened: several ranks each list every file of a source."""
    if modality == "pointcloud":
        return is_complete_npy(size)
    if modality == "audio":
        return size == _WAV_HEADER_BYTES + 2 * int(SAMPLE_RATE * AUDIO_SECONDS)
    return size == _PNG_BYTES


def _existing_sizes(folder: Path) -> dict[str, int]:
    """Size of every finished file in ``folder``; another process's hidden ``.partial`` files are skipped, and
    a file renamed away between listing and ``stat`` (several processes generating one world) is left out."""
    sizes = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_file():
                    sizes[entry.name] = entry.stat().st_size
            except FileNotFoundError:
                continue
    return sizes


def _check_stamp(world: World, folder: Path) -> None:
    """Write ``world.json`` in a new cache folder, or refuse one made by another generator version."""
    stamp = folder / "world.json"
    expected = {"generator_version": GENERATOR_VERSION, "seed": world.seed, "concepts": list(world.names)}
    if stamp.exists():
        try:
            found = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise BridgeError(f"{stamp}: unreadable synthworld cache stamp ({error}); delete {folder}") from error
        if found != expected:
            raise BridgeError(
                f"{stamp}: this cache was made by synthworld generator version {found.get('generator_version')!r} "
                f"(seed {found.get('seed')!r}), this is version {GENERATOR_VERSION} (seed {world.seed}); "
                f"delete {folder} or choose another root"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(stamp, json.dumps(expected, indent=1).encode("utf-8"))


def materialize(world: World, split: str, count: int, modality: str, root: Path,
                progress: Reporter | None = None) -> list[Item]:
    """The first ``count`` scenes of ``split`` as items of ``modality``, writing missing files.

    Args:
        modality: "image" (PNG files), "audio" (WAV files), "pointcloud"
            (NPY files of float32 ``(P, 3)``), or "text" /
            "text:neutral", "text:vision", "text:audio" (captions of that
            style, "text" meaning neutral; no files).
        root: cache root; files go under ``root/<world key>/<split>/<modality>/``.
        progress: gets one task for the files this call writes.

    Returns:
        One item per scene, in scene order: id = scene id, value = absolute
        file path (or the caption), label = main concept name.
    """
    if split not in SPLITS:
        raise BridgeError(f"unknown synthworld split {split!r}; splits are {', '.join(SPLITS)}")
    if modality not in MODALITIES:
        raise BridgeError(f"unknown synthworld modality {modality!r}; modalities are {', '.join(MODALITIES)}")
    scenes = world.scenes(split, count)
    names = world.names
    if modality.startswith("text"):
        style = modality.partition(":")[2] or "neutral"
        return [Item(id=s.id, value=world.caption(s, style), is_file=False, label=names[s.main]) for s in scenes]
    world_folder = Path(root).expanduser().resolve() / world_key(world)
    _check_stamp(world, world_folder)
    folder = world_folder / split / modality
    folder.mkdir(parents=True, exist_ok=True)
    suffix = {"image": ".png", "audio": ".wav", "pointcloud": ".npy"}[modality]
    names_in_folder = [f"{scene.id}{suffix}" for scene in scenes]
    sizes = _existing_sizes(folder)
    missing = [(scene, name) for scene, name in zip(scenes, names_in_folder)
               if name not in sizes or not _is_complete(sizes[name], modality)]
    layouts = _write_missing(world, missing, modality, folder, split, progress) if missing else {}
    if modality != "pointcloud":
        write_manifest(world, scenes, modality, folder, layouts)
    prefix = f"{folder}{os.sep}"
    return [Item(id=s.id, value=prefix + name, is_file=True, label=names[s.main])
            for s, name in zip(scenes, names_in_folder)]


def _write_missing(world: World, missing: list[tuple[Scene, str]], modality: str, folder: Path, split: str,
                   progress: Reporter | None) -> dict:
    """Render and write the missing files (names in ``folder``); returns scene id -> layout of each (for the
    manifest).

    numpy's BLAS runs on one thread meanwhile: the renderers' matrix products and dot products are small,
    and OpenBLAS's worker threads would otherwise spin between them, doubling the CPU time of a clip
    (the values are those rendered with threads: checked on 6,000 clips, and
    ``tests/test_synthworld_content.py`` pins a sample of every modality).
    """
    layouts = {}
    encode = {"image": encode_png, "audio": encode_wav}.get(modality)

    def write_all(advance) -> None:
        for scene, name in missing:
            if encode is None:  # point clouds have no layout manifest
                _write_in(descriptor, name, encode_npy(world.render_cloud(scene)))
            else:
                media, layouts[scene.id] = world.render_with_layout(scene, modality)
                _write_in(descriptor, name, encode(media))
            advance()

    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            if progress is None:
                write_all(lambda: None)
            else:
                with progress.task(f"synthworld {split} {modality}", total=len(missing)) as task:
                    write_all(task.advance)
    finally:
        os.close(descriptor)
    return layouts
