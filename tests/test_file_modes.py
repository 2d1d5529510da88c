"""Saved weights get the permissions of every other output (0666 less the umask), not safetensors' own 0600."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from bridge.core.safetensors_io import current_umask, save_tensors
from bridge.data.embedding_io import write_embeddings
from tiny_bridge import tiny_space


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_saved_bridge_is_readable_like_its_yaml(tmp_path, umask_022):
    tiny_space().save(tmp_path / "bridge", {"trained": "C-MCR"})
    files = sorted((tmp_path / "bridge").iterdir())
    assert {mode(path) for path in files} == {0o644}, [(path.name, oct(mode(path))) for path in files]


def test_embeddings_and_plain_tensors_follow_the_umask(tmp_path, umask_022):
    write_embeddings(tmp_path / "out.safetensors", torch.zeros(2, 3), ["a", "b"])
    assert mode(tmp_path / "out.safetensors") == 0o644
    os.umask(0o077)
    save_tensors({"x": torch.zeros(1)}, tmp_path / "private.safetensors")
    assert mode(tmp_path / "private.safetensors") == 0o600
    assert current_umask() == 0o077


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="the kernel reports the umask in /proc on Linux only")
def test_reading_the_umask_does_not_change_it_even_for_an_instant(monkeypatch, umask_022):
    # setting and restoring the umask would give a file another thread creates meanwhile the wrong mode
    def no_umask_calls(mask):
        raise AssertionError(f"os.umask({mask:#o}) called")

    with monkeypatch.context() as patched:
        patched.setattr(os, "umask", no_umask_calls)
        assert current_umask() == 0o022
