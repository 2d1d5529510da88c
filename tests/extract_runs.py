"""Helpers of the `bridge extract` tests: run the command (alone or under torchrun) and read back the cache it filled."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

TORCHRUN_2 = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2")
"""The launcher arguments of 2 processes on this machine (gloo on CPU)."""


def bridge_command(*args, env=None, launcher=()) -> subprocess.CompletedProcess:
    """``python [launcher] -m bridge ARGS`` with one torch thread; torchrun's variables only where ``env`` sets them."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        if env is None or name not in env:
            environment.pop(name, None)
    return subprocess.run([sys.executable, *launcher, "-m", "bridge", *map(str, args)], capture_output=True, text=True,
                          env=environment, timeout=600)


def cache_rows(cache: Path) -> Iterator[tuple[str, str, str, bytes]]:
    """Every cached embedding as ``(store folder, rank that wrote its part, content key, float32 bytes)``."""
    for keys_file in sorted(cache.glob("*/*/*/part-*.keys")):
        store = str(keys_file.parent.relative_to(cache))
        vectors = np.load(keys_file.with_suffix(".npy"), allow_pickle=False)
        keys = keys_file.read_text(encoding="ascii").split()
        assert len(keys) == len(vectors)
        for key, vector in zip(keys, vectors):
            yield store, keys_file.name.split("-")[1], key, vector.tobytes()


def cache_contents(cache: Path) -> dict[tuple[str, str], bytes]:
    """``{(store folder, content key): float32 bytes}``, whatever parts hold them (the first part wins)."""
    contents: dict[tuple[str, str], bytes] = {}
    for store, _, key, vector in cache_rows(cache):
        contents.setdefault((store, key), vector)
    return contents
