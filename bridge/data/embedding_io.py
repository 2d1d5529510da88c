"""Reading item lists and writing embeddings to .npy or .safetensors (checked first, written atomically)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np
import torch

from bridge.core.yaml_io import require_writable_parent, read_text_file, shown
from bridge.errors import BridgeError

OUTPUT_SUFFIXES = (".npy", ".safetensors")


def read_item_list(path: Path) -> list[str]:
    """Non-blank lines of a UTF-8 text file (paths relative to the file are made absolute)."""
    values = []
    for line in read_text_file(path, "item list", limit=2**31).splitlines():
        text = line.strip()
        if not text:
            continue
        candidate = path.parent / text
        values.append(str(candidate.absolute()) if not Path(text).is_absolute() and candidate.exists() else text)
    return values


def check_embedding_output(path: Path) -> None:
    """Raise unless ``path`` can take an embeddings file: a known suffix, not a folder, a writable folder above it."""
    where = f"-o {shown(path)}"
    try:
        if path.is_dir():
            raise BridgeError(f"{where}: is a folder; give a file name ending in .npy or .safetensors")
        if path.suffix not in OUTPUT_SUFFIXES:
            raise BridgeError(f"{where}: the output must end in .npy or .safetensors")
        require_writable_parent(path, where)
    except OSError as error:  # a name too long, a symlink loop
        raise BridgeError(f"{where}: {error.strerror or type(error).__name__}") from error


def write_embeddings(path: Path, embeddings: torch.Tensor, items: list[str]) -> None:
    """Save ``(N, d)`` embeddings: ``.npy`` (array only) or ``.safetensors`` (tensor ``embeddings``, items in metadata)."""
    from bridge.core.safetensors_io import save_tensors

    check_embedding_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = embeddings.detach().cpu().float().contiguous()
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        if path.suffix == ".npy":
            np.save(temporary, array.numpy())
        else:
            save_tensors({"embeddings": array}, temporary, metadata={"items": json.dumps(items)})
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
