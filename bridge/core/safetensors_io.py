"""Writing safetensors files with the permissions every other output gets.

``safetensors.torch.save_file`` creates its file with mode 0600 whatever the
umask, so a saved bridge's weights were unreadable to the colleagues who can
read its YAML beside them. :func:`save_tensors` writes through it and then
gives the file the mode ``open()`` would have: 0666 less the umask.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads when a file is written, not when this module is imported
    import torch

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask.

    Read from ``/proc/self/status`` where the kernel reports it (Linux 4.7 and
    later), which changes nothing. Elsewhere the only way is to set it and
    restore it (under a lock, for this module's own callers); a file that
    another thread creates in that instant gets mode 0o644.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def save_tensors(tensors: "dict[str, torch.Tensor]", path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """``safetensors.torch.save_file``, then the file's mode set to ``0o666 & ~umask``.

    Args:
        tensors: name -> contiguous CPU tensor.
        path: the file to write (replaced when it exists).
        metadata: string -> string, stored in the header.
    """
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=metadata)
    os.chmod(path, 0o666 & ~current_umask())
