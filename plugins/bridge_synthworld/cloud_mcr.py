"""``synthworld-cloud``: the synthetic world's point-cloud–image model (ULIP's role).

As ULIP trains a 3D encoder against CLIP's frozen image encoder, this model
is its own point encoder trained against the frozen image embeddings of
``synthworld-pixel``; its images go through pixel's image encoder itself, so
its image embeddings are pixel's, exactly.

A checkpoint is ``cloud.safetensors`` (point encoder + temperature) next to
``cloud.yaml`` (architecture, world, training, metrics, and ``image_model``:
the pixel weights file, relative to the YAML's folder, with the fingerprint
it was trained against). A pixel file with another fingerprint is refused:
the point encoder only fits the image space it was trained into.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file

from bridge import MCR, BridgeError, ItemError, Modality
from bridge.core.validation import format_error
from bridge_synthworld.cloud_files import cloud_array, read_cloud
from bridge_synthworld.cloud_model import CloudArchitecture, build_cloud, cloud_batch, cloud_input
from bridge_synthworld.mcrs import (
    PIXEL,
    WEIGHTS_DIR,
    Checkpoint,
    description_path,
    SynthworldMCR,
    read_checkpoint,
    state_mismatch,
)
from bridge_synthworld.models import ContrastiveModel
from bridge_synthworld.options import SynthworldOptions

CLOUD_ID = "synthworld-cloud"


@dataclass
class CloudCheckpoint:
    """The point encoder, the pixel checkpoint whose image encoder it shares, and the YAML description.

    Attributes:
        model: point encoder + temperature (eval mode after loading).
        pixel: the pixel checkpoint (its image encoder encodes this model's images).
        architecture: the point encoder's architecture.
        description: the YAML content.
        fingerprint: first 16 hex digits of the sha256 of the cloud weights file and the pixel fingerprint.
    """

    model: ContrastiveModel
    pixel: Checkpoint
    architecture: CloudArchitecture
    description: dict
    fingerprint: str


def pixel_fingerprint(path: Path) -> str:
    """The fingerprint ``read_checkpoint`` gives a pixel weights file: 16 hex digits of its sha256."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _read_yaml(path: Path) -> dict:
    yaml_path = description_path(path)
    if not yaml_path.is_file():
        raise BridgeError(f"{yaml_path}: model description not found (it must sit next to {path.name})")
    try:
        description = yaml.safe_load(yaml_path.read_text())
    except yaml.YAMLError as error:
        raise BridgeError(f"{yaml_path}: not valid YAML ({error})") from error
    if not isinstance(description, dict) or description.get("model") != CLOUD_ID:
        raise BridgeError(f"{yaml_path}: expected a mapping describing model {CLOUD_ID!r}")
    return description


def read_cloud_checkpoint(path: Path) -> CloudCheckpoint:
    """Load ``cloud.safetensors`` at ``path``, its YAML and the pixel checkpoint the YAML names.

    Raises:
        BridgeError: naming the file, when a file is missing or unreadable,
            the weights do not match the architecture, or the pixel file is
            not the one the point encoder was trained against.
    """
    path = Path(path)
    if not path.is_file():
        raise BridgeError(f"{path}: {CLOUD_ID} weights file not found")
    description = _read_yaml(path)
    yaml_name = description_path(path)
    try:
        architecture = CloudArchitecture.model_validate(description.get("architecture") or {})
    except ValidationError as error:
        raise BridgeError(f"{yaml_name}: {format_error(error, 'architecture')}") from error
    image_model = description.get("image_model")
    if not isinstance(image_model, dict) or not isinstance(image_model.get("weights"), str):
        raise BridgeError(f"{yaml_name}: `image_model` must name the pixel weights file (`weights`, `fingerprint`)")
    pixel_path = path.parent / image_model["weights"]
    pixel = read_checkpoint(PIXEL, pixel_path)
    if pixel.fingerprint != image_model.get("fingerprint"):
        raise BridgeError(
            f"{pixel_path}: pixel weights {pixel.fingerprint} are not the ones {path.name} was trained against "
            f"({image_model.get('fingerprint')}); retrain with `bridge synthworld train --model cloud`"
        )
    if int(pixel.description["architecture"]["dim"]) != architecture.dim:
        raise BridgeError(f"{yaml_name}: dim {architecture.dim} differs from the pixel model's")
    model = build_cloud(architecture)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise BridgeError(f"{path}: not a readable safetensors file ({error})") from error
    mismatch = state_mismatch(model, tensors)
    if mismatch:
        raise BridgeError(f"{path}: weights do not match the {CLOUD_ID} architecture in {yaml_name.name} ({mismatch})")
    model.load_state_dict(tensors, strict=True)
    model.eval()
    digest = hashlib.sha256(path.read_bytes() + pixel.fingerprint.encode()).hexdigest()[:16]
    return CloudCheckpoint(model=model, pixel=pixel, architecture=architecture, description=description, fingerprint=digest)


class CloudMCR(MCR):
    """A loaded ``synthworld-cloud``: point clouds through its own encoder, images through pixel's."""

    def __init__(self, checkpoint: CloudCheckpoint, device: str = "cpu"):
        self.checkpoint = checkpoint
        self.id = CLOUD_ID
        self.modalities = ("pointcloud", "image")
        self.dim = checkpoint.architecture.dim
        self.fingerprint = checkpoint.fingerprint
        self.points = checkpoint.architecture.pointcloud.points
        self.pixel = SynthworldMCR(checkpoint.pixel, device)
        """Images go through the pixel model itself (prepared, batched and embedded exactly as pixel does)."""
        self.to(device)

    def batch_size(self, modality: Modality) -> int:
        return 256

    def prepare(self, modality: Modality, item: Any) -> torch.Tensor:
        """A file path or decoded array -> one input: pointcloud float32 ``(points, 3)``, image uint8 ``(3, 64, 64)``.

        Raises:
            ItemError: the file cannot be decoded or the array has the wrong shape.
            BridgeError: ``modality`` is not one this model encodes.
        """
        self.check_modality(modality)
        if modality == "image":
            return self.pixel.prepare("image", item)
        if isinstance(item, np.ndarray):
            return cloud_input(cloud_array(item, "<pointcloud array>"), "<pointcloud array>", self.points)
        if isinstance(item, (str, Path)):
            return cloud_input(read_cloud(Path(item)), str(item), self.points)
        raise ItemError(repr(item)[:60], f"expected a file path or a decoded {modality} array")

    def encode(self, modality: Modality, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Embed prepared inputs: float32 ``(N, dim)`` on :attr:`device`, rows L2-normalised."""
        self.check_modality(modality)
        if modality == "image":
            return self.pixel.encode("image", inputs)
        model = self.checkpoint.model
        model.eval()
        with torch.no_grad():
            return model.embed("pointcloud", cloud_batch(inputs).to(self.device)).float()

    def to(self, device: str | torch.device) -> "CloudMCR":
        """Move both encoders to ``device``.

        Raises:
            BridgeError: the device name is invalid or not available here.
        """
        try:
            target = torch.device(device)
            self.checkpoint.model.to(target)
        except (RuntimeError, AssertionError) as error:  # torch raises AssertionError when built without CUDA
            raise BridgeError(f"{self.id}: cannot use device {str(device)!r} ({error})") from error
        self.pixel.to(target)
        self.device = target
        return self


def load_cloud_mcr(options: SynthworldOptions) -> CloudMCR:
    """Load ``synthworld-cloud`` from ``options.weights`` (or the shipped file) onto ``options.device``."""
    path = Path(options.weights).expanduser() if options.weights is not None else WEIGHTS_DIR / "cloud.safetensors"
    return CloudMCR(read_cloud_checkpoint(path), device=options.device)
