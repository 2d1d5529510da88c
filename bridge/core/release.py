"""Import the C-MCR authors' released projector checkpoints into this project's format.

The release stores a plain torch state_dict (``Head_A.net.*``, ``Head_B.net.*``)
in a torch zip file. It is read with ``torch.load(weights_only=True)`` — the
only place the project reads a torch file, because that third-party format
forces it — and converted to projectors (and, by :func:`convert_release`, to
safetensors) whose forward pass reproduces the release's.
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import ValidationError
from safetensors.torch import save_file

from bridge.core.projector import Projector
from bridge.core.projector_config import ProjectorConfig
from bridge.core.validation import format_error
from bridge.errors import BridgeError, quoted

RELEASE_HEADS = {"Head_A": "a", "Head_B": "b"}


def _architecture(state: dict[str, torch.Tensor], head: str) -> ProjectorConfig:
    """Infer the released architecture of one head from its keys and shapes."""
    first = state[f"{head}.net.0.weight"]
    if first.ndim != 2 or min(first.shape) < 1:
        raise BridgeError(f"{head}.net.0.weight: expected a 2-D weight matrix, got shape {list(first.shape)}")
    input_dim = first.shape[1]
    if f"{head}.net.3.weight" in state:  # Linear-BN-ReLU-Linear-BN (CLIP-CLAP release)
        second = state[f"{head}.net.3.weight"]
        if second.ndim != 2 or min(second.shape) < 1:
            raise BridgeError(f"{head}.net.3.weight: expected a 2-D weight matrix, got shape {list(second.shape)}")
        return ProjectorConfig(architecture="mlp2", hidden_ratio=first.shape[0] / input_dim, output_dim=second.shape[0])
    if f"{head}.net.1.running_mean" in state:  # Linear-BN-ReLU (CLIP-ULIP release)
        return ProjectorConfig(architecture="mlp1", output_dim=first.shape[0])
    raise BridgeError(f"{head}: not a released C-MCR head (keys {', '.join(sorted(k for k in state if k.startswith(head))[:4])})")


def _checked_state(state: object, path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's state_dict: both heads present, every value a finite tensor."""
    if not isinstance(state, dict) or not all(f"{head}.net.0.weight" in state for head in RELEASE_HEADS):
        raise BridgeError(f"{path}: expected the keys Head_A.net.* and Head_B.net.* of a released C-MCR checkpoint")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise BridgeError(f"{path}: {quoted(key)} is a {type(value).__name__}, expected a tensor")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise BridgeError(f"{path}: tensor {quoted(key)} holds NaN or infinite values")
    return state


def load_release(path: str | Path) -> tuple[dict[str, Projector], ProjectorConfig]:
    """Projectors ``{"a": ..., "b": ...}`` (eval mode) from a released checkpoint, and their configuration."""
    path = Path(path)
    if not path.is_file():
        raise BridgeError(f"{path}: released checkpoint does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for foreign or corrupt files
        raise BridgeError(f"{path}: not a loadable torch state_dict ({type(error).__name__})") from error
    state = _checked_state(state, path)
    projectors: dict[str, Projector] = {}
    try:
        configs = {head: _architecture(state, head) for head in RELEASE_HEADS}
    except BridgeError as error:
        raise BridgeError(f"{path}: {error}") from None
    except ValidationError as error:  # shapes no projector configuration allows (e.g. a hidden layer 100× the input)
        raise BridgeError(f"{path}: the heads' shapes give an invalid projector ({format_error(error)})") from None
    if configs["Head_A"] != configs["Head_B"]:
        raise BridgeError(f"{path}: the two heads have different architectures ({configs['Head_A']}; {configs['Head_B']})")
    for head, role in RELEASE_HEADS.items():
        input_dim = state[f"{head}.net.0.weight"].shape[1]
        projector = Projector(input_dim, configs[head])
        own = {key[len(head) + 1 :]: value for key, value in state.items() if key.startswith(f"{head}.")}
        try:
            projector.load_state_dict(own)
        except RuntimeError as error:  # missing keys, unexpected keys, wrong shapes
            problem = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
            raise BridgeError(f"{path}: {head} does not match a released {configs[head].architecture} head ({problem[:160]})") from error
        projectors[role] = projector.eval()
    return projectors, configs["Head_A"]


def convert_release(path: str | Path, output: str | Path) -> ProjectorConfig:
    """Write a released checkpoint as ``projectors.safetensors`` (keys ``a.*``, ``b.*``) in this project's format."""
    projectors, config = load_release(path)
    tensors = {f"{role}.{k}": v.contiguous() for role, p in projectors.items() for k, v in p.state_dict().items()}
    save_file(tensors, str(output), metadata={"format": "mcr-bridge", "source": Path(path).name})
    return config
