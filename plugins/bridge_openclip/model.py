"""The `openclip` MCR: an open_clip model encoding images and texts into its joint space."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import bridge
from bridge import BridgeError, ItemError

AUTOCAST_DTYPES = {"amp": torch.float16, "amp_bf16": torch.bfloat16}


class OpenClipMCR(bridge.MCR):
    """An open_clip image–text model, frozen, in eval mode.

    ``prepare("image", path)`` decodes the file with PIL and applies
    open_clip's own inference preprocessing, giving a ``(3, H, W)`` float
    tensor; ``prepare("text", string)`` checks the string (tokenising happens
    in :meth:`encode`, since Hugging Face tokenizers are not safe to share
    between threads). ``encode`` returns ``(N, D)`` float32 rows,
    L2-normalised, on :attr:`device`.

    Args:
        mcr_id: the MCR id.
        model: the open_clip model (``encode_image``, ``encode_text``).
        preprocess: open_clip's inference transform, PIL image -> ``(3, H, W)``.
        tokenizer: open_clip's tokenizer, list of N strings -> ``(N, L)`` token ids.
        fingerprint: content hash of the weights and settings.
        precision: ``fp32``, ``amp`` or ``amp_bf16`` (autocast, CUDA only).
        batch_size: the batch-size hint for both modalities.
    """

    modalities = ("image", "text")

    def __init__(
        self,
        mcr_id: str,
        model: torch.nn.Module,
        preprocess: Callable[[Any], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
        fingerprint: str,
        precision: str = "fp32",
        batch_size: int = 64,
    ):
        self.id = mcr_id
        self.model = model.eval().requires_grad_(False)
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.fingerprint = fingerprint
        self.precision = precision
        self._batch_size = batch_size
        self.device = torch.device("cpu")
        self.dim = int(self._encode_texts([""]).shape[1])

    def batch_size(self, modality: str) -> int:
        return self._batch_size

    def prepare(self, modality: str, item: Any) -> Any:
        """An image item (path or PIL image) -> ``(3, H, W)`` float tensor; a text item -> the string.

        Raises:
            ItemError: the image file is missing or cannot be decoded, or a text item is not a string.
        """
        self._check(modality)
        if modality == "text":
            if not isinstance(item, str):
                raise ItemError(repr(item)[:80], f"expected a text string, got {type(item).__name__}")
            return item
        return self.preprocess(_open_image(item))

    def encode(self, modality: str, inputs: Sequence[Any]) -> torch.Tensor:
        """``(N, D)`` float32, rows L2-normalised, on :attr:`device`, for N prepared inputs."""
        self._check(modality)
        if not inputs:
            return torch.zeros(0, self.dim, device=self.device)
        if modality == "text":
            return self._encode_texts(list(inputs))
        pixels = torch.stack(list(inputs)).to(self.device)
        with torch.no_grad(), self._autocast():
            features = self.model.encode_image(pixels)
        return F.normalize(features.float(), dim=-1)

    def encode_patches(self, items: Sequence[Any]) -> torch.Tensor:
        """Per-patch image embeddings projected into the joint space.

        Each image's last-layer patch tokens (class token dropped) go through
        the final layer norm and the image projection, as the pooled token
        does, then are L2-normalised. Needs a ViT image tower with
        class-token or average pooling (not attentional pooling).

        Args:
            items: N raw image items (paths or PIL images).

        Returns:
            ``(N, P, D)`` float32 on :attr:`device`, P = grid height x width
            (row-major); see :attr:`patch_grid`.

        Raises:
            BridgeError: the image tower has no patch tokens this can project.
            ItemError: an image cannot be read.
        """
        visual = self._patch_tower()
        pixels = torch.stack([self.prepare("image", item) for item in items]).to(self.device)
        with torch.no_grad(), self._autocast():
            output = visual.forward_intermediates(
                pixels, indices=1, normalize_intermediates=True, intermediates_only=True, output_fmt="NLC"
            )
            tokens = output["image_intermediates"][-1]
            projected = tokens @ visual.proj
        return F.normalize(projected.float(), dim=-1)

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(grid height, grid width) of :meth:`encode_patches`' P = height x width patches."""
        visual = self._patch_tower()
        return tuple(int(size) for size in visual.grid_size)  # type: ignore[return-value]

    def _check(self, modality: str) -> None:
        if modality not in self.modalities:
            raise BridgeError(f"MCR {self.id!r} does not encode {modality!r}; it encodes {', '.join(self.modalities)}")

    def to(self, device: str | torch.device) -> "OpenClipMCR":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(texts).to(self.device)
        with torch.no_grad(), self._autocast():
            features = self.model.encode_text(tokens)
        return F.normalize(features.float(), dim=-1)

    def _autocast(self):
        dtype = AUTOCAST_DTYPES.get(self.precision)
        if dtype is None or self.device.type != "cuda":
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=dtype)

    def _patch_tower(self) -> Any:
        visual = getattr(self.model, "visual", None)
        usable = (
            visual is not None
            and hasattr(visual, "forward_intermediates")
            and getattr(visual, "proj", None) is not None
            and getattr(visual, "attn_pool", None) is None
            and getattr(visual, "pool_type", None) in ("tok", "avg")
            and hasattr(visual, "grid_size")
        )
        if not usable:
            raise BridgeError(
                f"MCR {self.id!r}: encode_patches needs an open_clip ViT image tower with class-token or average "
                f"pooling and a projection; this model's image tower is {type(visual).__name__}"
            )
        return visual


def _open_image(item: Any) -> Any:
    """A decoded RGB PIL image from a path or a PIL image."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, Image.Image):
        return item.convert("RGB")
    if not isinstance(item, (str, Path)):
        raise ItemError(repr(item)[:80], f"expected an image file path, got {type(item).__name__}")
    try:
        with Image.open(item) as image:
            image.load()
            return image.convert("RGB")
    except FileNotFoundError as error:
        raise ItemError(str(item), "image file does not exist") from error
    except UnidentifiedImageError as error:
        raise ItemError(str(item), "not an image PIL can decode") from error
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ItemError(str(item), f"cannot decode image ({' '.join(str(error).split())[:200]})") from error
