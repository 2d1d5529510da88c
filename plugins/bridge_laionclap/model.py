"""The `laionclap` MCR: a LAION-CLAP model encoding audio clips and texts into its joint space."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import bridge
from bridge import BridgeError, ItemError
from bridge_laionclap.audio import clip_features, quantize, read_audio


class LaionClapMCR(bridge.MCR):
    """A laion_clap ``CLAP_Module``, frozen, in eval mode.

    ``prepare("audio", item)`` decodes a file (or takes a ``(T,)`` float
    array of 48 kHz mono samples) into laion_clap's input dict (see
    :func:`bridge_laionclap.audio.clip_features`); ``prepare("text", s)``
    checks the string (tokenising happens in :meth:`encode`: Hugging Face
    tokenizers are not safe to share between threads). ``encode`` returns
    ``(N, D)`` float32 rows, L2-normalised, on :attr:`device`.

    Args:
        mcr_id: the MCR id.
        clap: the loaded ``laion_clap.CLAP_Module``.
        tokenize: one text -> dict of ``(L,)`` token tensors (laion_clap's tokenizer for the text model).
        fingerprint: content hash of the checkpoint and settings.
        fusion: whether the model is a feature-fusion model.
        batch_size: the batch-size hint for both modalities.
    """

    modalities = ("audio", "text")

    def __init__(
        self,
        mcr_id: str,
        clap: torch.nn.Module,
        tokenize: Callable[[str], dict[str, torch.Tensor]],
        fingerprint: str,
        fusion: bool,
        batch_size: int = 32,
    ):
        self.id = mcr_id
        self.clap = clap.eval().requires_grad_(False)
        self.model = clap.model
        self.audio_cfg = clap.model_cfg["audio_cfg"]
        self.tokenize = tokenize
        self.fingerprint = fingerprint
        self.fusion = fusion
        self._batch_size = batch_size
        self.device = next(self.model.parameters()).device
        self.dim = int(self.model.joint_embed_shape)

    def batch_size(self, modality: str) -> int:
        return self._batch_size

    def prepare(self, modality: str, item: Any) -> Any:
        """An audio item (path, or ``(T,)`` float array at 48 kHz) -> laion_clap's input dict; a text -> itself.

        Raises:
            ItemError: the audio cannot be read or decoded, or a text item is not a string.
        """
        self._check(modality)
        if modality == "text":
            if not isinstance(item, str):
                raise ItemError(repr(item)[:80], f"expected a text string, got {type(item).__name__}")
            return item
        if isinstance(item, np.ndarray):
            if item.ndim != 1 or item.size == 0:
                raise ItemError(f"array{tuple(item.shape)}", "expected a non-empty (T,) array of 48 kHz mono samples")
            samples = quantize(item)
        elif isinstance(item, (str, Path)):
            samples = read_audio(item)
        else:
            raise ItemError(repr(item)[:80], f"expected an audio file path, got {type(item).__name__}")
        return clip_features(samples, self.audio_cfg, self.fusion)

    def encode(self, modality: str, inputs: Sequence[Any]) -> torch.Tensor:
        """``(N, D)`` float32, rows L2-normalised, on :attr:`device`, for N prepared inputs."""
        self._check(modality)
        if not inputs:
            return torch.zeros(0, self.dim, device=self.device)
        with torch.no_grad():
            if modality == "text":
                tokens = [self.tokenize(text) for text in inputs]
                batch = {key: torch.stack([_one_row(t[key]) for t in tokens]) for key in tokens[0]}
                features = self.model.get_text_embedding(batch)
            else:
                features = self.model.get_audio_embedding(list(inputs))
        return F.normalize(features.float(), dim=-1).to(self.device)

    def _check(self, modality: str) -> None:
        if modality not in self.modalities:
            raise BridgeError(f"MCR {self.id!r} does not encode {modality!r}; it encodes {', '.join(self.modalities)}")

    def to(self, device: str | torch.device) -> "LaionClapMCR":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self


def _one_row(tensor: torch.Tensor) -> torch.Tensor:
    """A single text's ``(L,)`` tokens, whether the tokenizer kept a batch axis or not."""
    return tensor.reshape(-1)
