"""Reading item lists and writing embeddings to .npy or .safetensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from bridge.errors import BridgeError


def read_item_list(path: Path) -> list[str]:
    """Non-blank lines of a text file (paths relative to the file are made absolute)."""
    if not path.exists():
        raise BridgeError(f"{path}: item list does not exist")
    values = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text:
            continue
        candidate = path.parent / text
        values.append(str(candidate.resolve()) if not Path(text).is_absolute() and candidate.exists() else text)
    return values


def write_embeddings(path: Path, embeddings: torch.Tensor, items: list[str]) -> None:
    """Save ``(N, d)`` embeddings: ``.npy`` (array only) or ``.safetensors`` (tensor ``embeddings``, items in metadata)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = embeddings.detach().cpu().float().contiguous()
    if path.suffix == ".npy":
        np.save(path, array.numpy())
    elif path.suffix == ".safetensors":
        import json

        save_file({"embeddings": array}, str(path), metadata={"items": json.dumps(items)})
    else:
        raise BridgeError(f"{path}: output must end in .npy or .safetensors")
