"""Extraction's decoding workers: parallel, time-limited, crash-contained, deterministic, resumable after kill -9.

Uses the counting fake MCR of ``test_extract.py``; ``HookedMCR`` runs a hook
inside ``prepare`` (in a worker thread or a forked worker process) to make
one file hang, crash its worker, or meet the other workers at a barrier.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_extract import FakeMCR, expected, texts, vector_files

from bridge.core.mcr import MCR
from bridge.data.extract import extract, store_for
from bridge.data.sources import Item
from bridge.errors import BridgeError, ItemError

KINDS = ["threads", "processes"]


class HookedMCR(FakeMCR):
    """A FakeMCR whose ``prepare`` first runs ``hook(path)`` (in a worker thread or process)."""

    def __init__(self, hook: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.hook = hook

    def prepare(self, modality: str, item: Any) -> Any:
        self.hook(item)
        return super().prepare(modality, item)


def _stem(path: str) -> str:
    return Path(path).stem


def _store_content(model: MCR, cache: Path) -> list[tuple[bytes, bytes]]:
    """Every cache part's keys file and array file, as bytes (part names hold random uuids, so left out)."""
    store = store_for(model, "vector", cache)
    return sorted(
        ((store.directory / f"{part}.keys").read_bytes(), store.part_path(part).read_bytes())
        for part in store.complete_parts()
    )


def test_cache_content_is_byte_identical_for_any_worker_count_and_kind(tmp_path):
    items = vector_files(tmp_path / "files", 11)
    Path(items[4].value).write_bytes(b"not an array")
    contents, skipped = [], []
    for run, (workers, kind) in enumerate([(0, "threads"), (1, "threads"), (3, "threads"), (2, "processes")]):
        cache = tmp_path / f"cache{run}"
        features = extract(
            FakeMCR(batch=3), "vector", items, cache, skip_bad_items=True, part_size=4, workers=workers, worker_kind=kind
        )
        contents.append(_store_content(FakeMCR(), cache))
        skipped.append([(s.id, s.reason) for s in features.skipped])
        good = [item for item in items if item.id != "v4"]
        np.testing.assert_allclose(features.embeddings, expected("vector", good), atol=1e-7)
    assert len(contents[0]) == 3  # 10 rows in parts of 4
    assert all(content == contents[0] for content in contents[1:])
    assert all(entry == skipped[0] for entry in skipped) and skipped[0][0][0] == "v4"


@pytest.mark.parametrize("kind", KINDS)
def test_files_are_decoded_by_several_workers_at_once(tmp_path, kind):
    import multiprocessing
    import threading

    workers = 3
    barrier = threading.Barrier(workers, timeout=10) if kind == "threads" else multiprocessing.get_context("fork").Barrier(workers, timeout=10)

    def meet(path: str) -> None:  # the first `workers` files each wait until all of them are being decoded
        if _stem(path) in {f"v{i}" for i in range(workers)}:
            barrier.wait()

    items = vector_files(tmp_path / "files", 7)
    features = extract(HookedMCR(meet, batch=2), "vector", items, tmp_path / "cache", workers=workers, worker_kind=kind)
    np.testing.assert_allclose(features.embeddings, expected("vector", items), atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_a_hanging_decode_times_out_and_the_run_goes_on(tmp_path, kind):
    import threading
    import time

    release = threading.Event()  # lets the abandoned thread finish when the test ends (a process is killed)

    def hang(path: str) -> None:
        if _stem(path) == "v2":
            release.wait(60)

    items = vector_files(tmp_path / "files", 8)
    started = time.monotonic()
    try:
        features = extract(
            HookedMCR(hang, batch=3), "vector", items, tmp_path / "cache",
            skip_bad_items=True, workers=1, worker_kind=kind, decode_timeout_s=0.5,
        )
        with pytest.raises(ItemError, match=r"v2\.npy: decoding took longer than 0\.5 s"):
            extract(HookedMCR(hang), "vector", items, tmp_path / "other", workers=1, worker_kind=kind, decode_timeout_s=0.5)
    finally:
        release.set()
    assert time.monotonic() - started < 30  # not the 60 s the hanging file takes
    assert [(s.id, s.reason) for s in features.skipped] == [("v2", "decoding took longer than 0.5 s")]
    good = [item for item in items if item.id != "v2"]
    assert features.ids == [item.id for item in good] and features.encoded == 7
    np.testing.assert_allclose(features.embeddings, expected("vector", good), atol=1e-7)


def test_a_crashing_decoder_fails_only_its_item(tmp_path):
    import faulthandler
    import os
    import signal

    def crash(path: str) -> None:  # runs in a worker process: a decoder segfault, without pytest's crash report
        if _stem(path) == "v1":
            faulthandler.disable()
            os.kill(os.getpid(), signal.SIGSEGV)

    items = vector_files(tmp_path / "files", 5)
    features = extract(
        HookedMCR(crash, batch=2), "vector", items, tmp_path / "cache", skip_bad_items=True, workers=2, worker_kind="processes"
    )
    assert [(s.id, s.reason) for s in features.skipped] == [
        ("v1", "the decoder crashed (its worker process killed by SIGSEGV)")
    ]
    assert features.ids == ["v0", "v2", "v3", "v4"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"workers": -1}, "workers must be a whole number >= 0, got -1"),
        ({"worker_kind": "fibers"}, "worker kind must be one of threads, processes, got 'fibers'"),
        ({"decode_timeout_s": 0}, "the decode time limit must be positive seconds"),
    ],
)
def test_bad_worker_settings_are_one_line_errors(tmp_path, arguments, message):
    with pytest.raises(BridgeError, match=re.escape(message)):
        extract(FakeMCR(), "text", texts(2), tmp_path, **arguments)


KILLED_RUN = """
import os, sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_extract import vector_files
from test_extract_workers import HookedMCR
from bridge.data.extract import extract

pids = Path({pids!r})

def note(path):
    (pids / str(os.getpid())).touch()
    time.sleep(0.05)

items = vector_files(Path({files!r}), 40)
extract(HookedMCR(note, batch=4), "vector", items, Path({cache!r}), part_size=4, workers=2, worker_kind="processes")
"""


def test_kill_9_during_extraction_then_rerun_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    pids = tmp_path / "pids"
    pids.mkdir()
    script = tmp_path / "run.py"
    tests = str(Path(__file__).parent)
    script.write_text(KILLED_RUN.format(tests=tests, pids=str(pids), files=str(tmp_path / "files"), cache=str(tmp_path / "cache")))
    process = subprocess.Popen([sys.executable, str(script)])
    store = store_for(FakeMCR(), "vector", tmp_path / "cache")
    deadline = time.monotonic() + 60
    while len(store.complete_parts()) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"

    workers = [int(path.name) for path in pids.iterdir() if int(path.name) != process.pid]
    assert workers
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "worker processes outlived their killed parent"

    store.refresh()
    done = len(store)
    assert 8 <= done < 40
    items = [Item(id=f"v{i}", value=str(tmp_path / "files" / f"v{i}.npy"), is_file=True) for i in range(40)]
    model = FakeMCR(batch=4)
    features = extract(model, "vector", items, tmp_path / "cache", part_size=4)
    assert (features.encoded, features.cached) == (40 - done, done)
    np.testing.assert_allclose(features.embeddings, expected("vector", items), atol=1e-7)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
