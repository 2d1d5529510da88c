"""The two synthworld MCRs, ``synthworld-pixel`` and ``synthworld-wave``.

They play CLIP (image-text) and CLAP (audio-text) in the synthetic world.
Each is a :class:`SynthworldMCR` built from a :class:`ModelKind` (which
modality, architecture, tokenizer and file decoder) and a checkpoint: a
``<name>.safetensors`` with the weights next to a ``<name>.yaml`` with the
architecture, tokenizer, world seed, training config and measured retrieval.
The shipped checkpoints live in this package's ``weights/`` folder and load
through the same path as any user-trained one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from pydantic import BaseModel, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file

from bridge import BridgeError, ItemError
from bridge import MCR, Modality
from bridge_synthworld.options import SynthworldOptions
from bridge.core.safetensors_io import save_tensors
from bridge.core.validation import format_error
from bridge_synthworld.files import read_png, read_wav
from bridge_synthworld.models import (
    CLIP_SAMPLES,
    ContrastiveModel,
    PixelArchitecture,
    WaveArchitecture,
    build_pixel,
    build_wave,
)
from bridge_synthworld.tokenizers import TrigramTokenizer, WordTokenizer
from bridge_synthworld.world import IMAGE_SIZE

WEIGHTS_DIR = Path(__file__).parent / "weights"

Tokenizer = WordTokenizer | TrigramTokenizer


def image_input(image: np.ndarray, item: str) -> torch.Tensor:
    """A decoded RGB image as model input: uint8 ``(H, W, 3)`` -> uint8 ``(3, 64, 64)``.

    Other sizes are resized (bilinear, antialiased).

    Raises:
        ItemError: ``image`` is not a uint8 ``(H, W, 3)`` array.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ItemError(item, f"expected a uint8 (H, W, 3) RGB image, got {image.dtype} {image.shape}")
    tensor = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)
    if tensor.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        resized = F.interpolate(
            tensor[None].float(), size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", antialias=True, align_corners=False
        )
        tensor = resized[0].round().clamp(0, 255).to(torch.uint8)
    return tensor


def image_batch(images: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack uint8 ``(3, 64, 64)`` inputs into float32 ``(B, 3, 64, 64)`` in [0, 1]."""
    return torch.stack(list(images)).float() / 255.0


def audio_input(audio: np.ndarray, item: str) -> torch.Tensor:
    """A decoded mono clip as model input: float ``(n,)`` -> float32 ``(16000,)``.

    Longer clips are cut to their first second, shorter ones zero-padded.

    Raises:
        ItemError: ``audio`` is not a 1-D floating-point array.
    """
    if audio.ndim != 1 or not np.issubdtype(audio.dtype, np.floating):
        raise ItemError(item, f"expected a 1-D float waveform, got {audio.dtype} {audio.shape}")
    clip = np.zeros(CLIP_SAMPLES, dtype=np.float32)
    kept = audio[:CLIP_SAMPLES]
    clip[: len(kept)] = kept
    return torch.from_numpy(clip)


def audio_batch(clips: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack float32 ``(16000,)`` inputs into ``(B, 16000)``."""
    return torch.stack(list(clips))


@dataclass(frozen=True)
class ModelKind:
    """Everything that differs between the pixel and the wave model.

    Attributes:
        name: ``"pixel"`` or ``"wave"`` (file stem of the shipped weights).
        id: the MCR id, ``"synthworld-pixel"`` / ``"synthworld-wave"``.
        modality: the non-text modality, ``"image"`` / ``"audio"``.
        caption_style: the world's caption style it is trained on.
        architecture: pydantic model of its architecture.
        read_file: decodes a file into the array :attr:`to_input` takes.
        to_input: decoded array -> one model input tensor.
        to_batch: list of model inputs -> batched encoder input.
        build: (architecture, tokenizer) -> freshly initialised model.
        tokenizer_from_config: the YAML's ``tokenizer`` mapping -> tokenizer.
    """

    name: str
    id: str
    modality: Modality
    caption_style: str
    architecture: type[BaseModel]
    read_file: Callable[[Path], np.ndarray]
    to_input: Callable[[np.ndarray, str], torch.Tensor]
    to_batch: Callable[[Sequence[torch.Tensor]], torch.Tensor]
    build: Callable[[Any, Tokenizer], ContrastiveModel]
    tokenizer_from_config: Callable[[dict], Tokenizer]


def _build_pixel(architecture: PixelArchitecture, tokenizer: Tokenizer) -> ContrastiveModel:
    return build_pixel(architecture, tokenizer.size)


def _build_wave(architecture: WaveArchitecture, tokenizer: Tokenizer) -> ContrastiveModel:
    return build_wave(architecture)


PIXEL = ModelKind(
    name="pixel",
    id="synthworld-pixel",
    modality="image",
    caption_style="vision",
    architecture=PixelArchitecture,
    read_file=read_png,
    to_input=image_input,
    to_batch=image_batch,
    build=_build_pixel,
    tokenizer_from_config=WordTokenizer.from_config,
)
WAVE = ModelKind(
    name="wave",
    id="synthworld-wave",
    modality="audio",
    caption_style="audio",
    architecture=WaveArchitecture,
    read_file=read_wav,
    to_input=audio_input,
    to_batch=audio_batch,
    build=_build_wave,
    tokenizer_from_config=TrigramTokenizer.from_config,
)
KINDS = {kind.name: kind for kind in (PIXEL, WAVE)}


@dataclass
class Checkpoint:
    """A model with its tokenizer and the description stored beside it.

    Attributes:
        kind: which of the two models.
        model: the network (eval mode after loading).
        tokenizer: its text tokenizer.
        description: the YAML content (world, architecture, tokenizer,
            training, metrics).
        fingerprint: first 16 hex digits of the weights file's sha256.
    """

    kind: ModelKind
    model: ContrastiveModel
    tokenizer: Tokenizer
    description: dict
    fingerprint: str


def description_path(weights: Path) -> Path:
    """The YAML that goes with a weights file: same stem, ``.yaml``."""
    return weights.with_suffix(".yaml")


def write_checkpoint(path: Path, model: ContrastiveModel, description: dict) -> None:
    """Write ``path`` (safetensors weights) and its YAML description, both byte-deterministic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_tensors(tensors, path, metadata={"model": description["model"]})
    description_path(path).write_text(yaml.safe_dump(description, sort_keys=False))


def _read_description(path: Path) -> dict:
    yaml_path = description_path(path)
    if not yaml_path.is_file():
        raise BridgeError(f"{yaml_path}: model description not found (it must sit next to {path.name})")
    try:
        description = yaml.safe_load(yaml_path.read_text())
    except yaml.YAMLError as error:
        raise BridgeError(f"{yaml_path}: not valid YAML ({error})") from error
    if not isinstance(description, dict):
        raise BridgeError(f"{yaml_path}: expected a mapping with `architecture` and `tokenizer`")
    return description


def state_mismatch(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> str | None:
    """The first difference between ``model``'s state and ``tensors`` (a missing, extra or mis-shaped tensor), or None."""
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in tensors:
            return f"tensor {name!r} is missing"
        if tuple(tensors[name].shape) != tuple(tensor.shape):
            return f"tensor {name!r} has shape {tuple(tensors[name].shape)}, expected {tuple(tensor.shape)}"
    extra = sorted(set(tensors) - set(expected))
    return f"unexpected tensor {extra[0]!r}" if extra else None


def read_checkpoint(kind: ModelKind, path: Path) -> Checkpoint:
    """Load a checkpoint of ``kind`` from ``path`` and its YAML.

    Raises:
        BridgeError: naming the file, when either file is missing, unreadable
            or does not match ``kind``'s architecture.
    """
    if not path.is_file():
        raise BridgeError(f"{path}: {kind.id} weights file not found")
    description = _read_description(path)
    if description.get("model") != kind.id:
        raise BridgeError(f"{description_path(path)}: describes model {description.get('model')!r}, expected {kind.id!r}")
    try:
        architecture = kind.architecture.model_validate(description.get("architecture") or {})
    except ValidationError as error:
        raise BridgeError(f"{description_path(path)}: {format_error(error, 'architecture')}") from error
    try:
        tokenizer = kind.tokenizer_from_config(description["tokenizer"])
    except (KeyError, TypeError, ValueError) as error:
        raise BridgeError(f"{description_path(path)}: `tokenizer` is missing or malformed for {kind.id} ({error!r})") from error
    model = kind.build(architecture, tokenizer)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise BridgeError(f"{path}: not a readable safetensors file ({error})") from error
    mismatch = state_mismatch(model, tensors)
    if mismatch:
        raise BridgeError(f"{path}: weights do not match the {kind.id} architecture in {description_path(path).name} ({mismatch})")
    model.load_state_dict(tensors, strict=True)
    model.eval()
    fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return Checkpoint(kind=kind, model=model, tokenizer=tokenizer, description=description, fingerprint=fingerprint)


class SynthworldMCR(MCR):
    """A loaded synthworld model as an MCR over (``kind.modality``, ``"text"``)."""

    def __init__(self, checkpoint: Checkpoint, device: str = "cpu"):
        self.checkpoint = checkpoint
        self.kind = checkpoint.kind
        self.id = checkpoint.kind.id
        self.modalities = (checkpoint.kind.modality, "text")
        self.dim = int(checkpoint.description["architecture"]["dim"])
        self.fingerprint = checkpoint.fingerprint
        self.model = checkpoint.model
        self.to(device)

    def batch_size(self, modality: Modality) -> int:
        return 256

    def prepare(self, modality: Modality, item: Any) -> torch.Tensor:
        """A file path or decoded array (media) or a string (text) -> one input tensor.

        Raises:
            ItemError: the file cannot be decoded or the array has the wrong shape.
            BridgeError: ``modality`` is not one this model encodes.
        """
        self.check_modality(modality)
        if modality == "text":
            if not isinstance(item, str):
                raise ItemError(repr(item)[:60], "expected a text string")
            return torch.from_numpy(self.checkpoint.tokenizer.encode(item))
        if isinstance(item, np.ndarray):
            return self.kind.to_input(item, f"<{modality} array>")
        if isinstance(item, (str, Path)):
            return self.kind.to_input(self.kind.read_file(Path(item)), str(item))
        raise ItemError(repr(item)[:60], f"expected a file path or a decoded {modality} array")

    def encode(self, modality: Modality, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Embed prepared inputs: float32 ``(N, dim)`` on :attr:`device`, rows L2-normalised."""
        self.check_modality(modality)
        batch = torch.stack(list(inputs)) if modality == "text" else self.kind.to_batch(inputs)
        self.model.eval()
        with torch.no_grad():
            return self.model.embed(modality, batch.to(self.device)).float()

    def to(self, device: str | torch.device) -> "SynthworldMCR":
        """Move the model to ``device``.

        Raises:
            BridgeError: the device name is invalid or not available here.
        """
        try:
            target = torch.device(device)
            self.model.to(target)
        except (RuntimeError, AssertionError) as error:  # torch raises AssertionError when built without CUDA
            raise BridgeError(f"{self.id}: cannot use device {str(device)!r} ({error})") from error
        self.device = target
        return self


def shipped_weights(kind: ModelKind) -> Path:
    """The plugin's own weights file for ``kind``."""
    return WEIGHTS_DIR / f"{kind.name}.safetensors"


def load_mcr(kind: ModelKind, options: SynthworldOptions) -> SynthworldMCR:
    """Load ``kind`` from ``options.weights`` (or the shipped file) onto ``options.device``."""
    path = Path(options.weights).expanduser() if options.weights is not None else shipped_weights(kind)
    return SynthworldMCR(read_checkpoint(kind, path), device=options.device)
