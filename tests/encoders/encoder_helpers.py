"""Small helpers shared by the encoder-plugin tests."""

from __future__ import annotations

from typing import Any

import torch


def registered(plugin: Any, hook: str) -> dict[str, Any]:
    """What one plugin module registers through ``hook``, by name."""
    found: list[Any] = []
    getattr(plugin, hook)(register=found.append)
    return {entry.name: entry for entry in found}


def load_mcr(mcr_type: Any, **options: Any) -> Any:
    """Validate ``options`` with the type's own model and load the MCR."""
    return mcr_type.load(mcr_type.options(**options))


def embed(mcr: Any, modality: str, items: list[Any]) -> torch.Tensor:
    """``(N, D)`` embeddings of raw items, through prepare and encode."""
    return mcr.encode(modality, [mcr.prepare(modality, item) for item in items])
