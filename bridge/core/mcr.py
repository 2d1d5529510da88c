"""The contract every multi-modal contrastive representation (MCR) fulfils.

An MCR is a frozen pretrained model that maps two or more modalities into one
L2-normalised space (CLIP: image + text, CLAP: audio + text, ...). Plugins
provide MCRs; the core only talks to them through this interface.

Modalities are open string names (``"text"``, ``"image"``, ``"audio"``,
``"pointcloud"``, ...): a plugin may introduce a new one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from bridge.errors import BridgeError, MissingInput, quoted

if TYPE_CHECKING:  # torch is imported when a model is used, not when the contract is
    import torch

Modality = str


class NoOptions(BaseModel):
    """Options model for an MCR that takes none."""

    model_config = ConfigDict(extra="forbid")


class MCR(ABC):
    """A loaded, frozen multi-modal contrastive model.

    Subclasses set the four attributes below and implement :meth:`encode`;
    :meth:`prepare` turns one raw item into model input (it may run in a
    worker and must not touch the device).

    Attributes:
        id: stable name of this model, e.g. ``"open_clip:ViT-B-32/openai"``.
        modalities: the modalities this model encodes.
        dim: embedding dimension D of :meth:`encode`'s output.
        fingerprint: a string that changes whenever the weights change
            (a content hash); it keys the embedding cache.
    """

    id: str
    modalities: tuple[Modality, ...]
    dim: int
    fingerprint: str

    device: "torch.device | str" = "cpu"

    def batch_size(self, modality: Modality) -> int:
        """How many items of ``modality`` to encode at once (a hint)."""
        return 64

    def prepare(self, modality: Modality, item: Any) -> Any:
        """Turn one raw item (a file path, a string, an array) into model input.

        Raises:
            ItemError: the item cannot be read or decoded.
        """
        return item

    @abstractmethod
    def encode(self, modality: Modality, inputs: Sequence[Any]) -> "torch.Tensor":
        """Embed a batch of prepared inputs.

        Returns:
            ``(N, D)`` float32 tensor on :attr:`device`, rows L2-normalised.
        """

    def to(self, device: "str | torch.device") -> "MCR":
        """Move the model to ``device`` (default: nothing to move)."""
        import torch

        self.device = torch.device(device)
        return self

    def check_modality(self, modality: Modality) -> None:
        """Raise a :class:`BridgeError` unless this model encodes ``modality``."""
        if modality not in self.modalities:
            raise BridgeError(
                f"MCR {self.id!r} does not encode {quoted(modality)}; it encodes {', '.join(self.modalities)}"
            )


@dataclass(frozen=True)
class MCRType:
    """What a plugin registers: a named, configurable way to load an MCR.

    Attributes:
        name: the id a recipe uses (``plugin: <name>``).
        load: builds the MCR from validated options.
        options: pydantic model of the options; its field descriptions are
            shown by ``bridge plugins``.
        modalities: the modalities models of this type encode (for listings and ``recipe check``).
        summary: one line for listings.
        check_inputs: optional ``(validated options, modality, texts)`` that raises
            :class:`~bridge.errors.ItemError` for a literal input (a prompt) the model
            could not take, without loading the model (``recipe check`` calls it; the
            ``features`` plugin uses it to find prompts missing from a text table).
        modalities_for: optional ``(validated options) -> modalities``, for a type whose
            modalities depend on its options (``features``): lets ``recipe check`` find a
            modality no member encodes without loading any model.
        missing_inputs: optional ``(validated options) -> list[MissingInput]``: the weights
            and other files these options need that are not on this machine, each with how
            to get it, found without loading the model or importing heavy libraries.
            ``recipe check`` and ``connect`` list every missing input of a recipe at once.
    """

    name: str
    load: Callable[[Any], MCR]
    options: type[BaseModel] = NoOptions
    modalities: tuple[Modality, ...] = ()
    summary: str = ""
    check_inputs: Callable[[Any, Modality, Sequence[str]], None] | None = None
    modalities_for: Callable[[Any], Sequence[Modality]] | None = None
    missing_inputs: Callable[[Any], list[MissingInput]] | None = None
    plugin: str = field(default="", compare=False)
