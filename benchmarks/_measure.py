"""Measurement helpers shared by the benchmark scripts in this folder.

The scripts import this module by name (``import _measure``): Python puts a
script's own folder first on ``sys.path``, so no path manipulation is needed.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from pathlib import Path
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch

GB = 1e9


def verdict(passed: bool) -> str:
    """``PASS`` or ``FAIL``."""
    return "PASS" if passed else "FAIL"


def machine_line() -> str:
    """The CPU this runs on, its usable cores, per-core L2 and the load average: timings on a shared machine
    depend on all four, and the machine behind a name can change between sessions."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            fields = dict(line.split(":", 1) for line in cpuinfo if ":" in line and not line.startswith("flags"))
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        model = f"{fields.get('model name', model)} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"
    except OSError:
        pass
    l2 = "?"
    try:
        l2 = Path("/sys/devices/system/cpu/cpu0/cache/index2/size").read_text(encoding="ascii").strip()
    except OSError:
        pass
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"machine: {model}, {len(os.sched_getaffinity(0))} usable cores, L2 {l2} per core; load average {load} (1 / 5 / 15 min)"


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    """Resident set size of this process now (from ``/proc/self/statm``)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * resource.getpagesize()


def file_backed_rss_bytes() -> int:
    """Resident pages of this process backed by files (mostly shared libraries such as torch's)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no RssFile line")


def run_in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a newly spawned interpreter, so its peak memory is its own.

    ``function`` must be a module-level function and its arguments and result
    picklable. The child's stdout is the parent's, so it can print progress.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def random_unit_rows(rows: int, dim: int, seed: int, block_rows: int = 16384, device: str | torch.device = "cpu") -> torch.Tensor:
    """``(rows, dim)`` float32 rows drawn uniformly on the unit sphere, generated directly on ``device``.

    Filled block by block into one preallocated tensor, so the only memory
    beyond the result is one ``(block_rows, dim)`` temporary.
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    result = torch.empty(rows, dim, dtype=torch.float32, device=device)
    for start in range(0, rows, block_rows):
        block = result[start : start + block_rows]
        torch.randn(block.shape, generator=generator, out=block, device=device)
        block.div_(block.norm(dim=1, keepdim=True))
    return result


def format_seconds(seconds: float) -> str:
    """``75.3`` → ``"1 min 15 s"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class _ClockTask:
    def __init__(self, clock: ClockReporter):
        self._clock = clock

    def advance(self, amount: float = 1) -> None:
        self._clock.record(amount)


class ClockReporter:
    """A :class:`bridge.progress.Reporter` that timestamps progress instead of drawing it.

    Attributes:
        marks: ``(seconds since the task started, units done so far)`` after every
            ``advance``; the first mark, ``(0, 0)``, is the start of the task.
        on_advance: optional callback ``(units done, total, seconds)`` after each advance.
    """

    def __init__(self, on_advance: Callable[[float, float | None, float], None] | None = None):
        self.marks: list[tuple[float, float]] = []
        self.on_advance = on_advance
        self._start = 0.0
        self._done = 0.0
        self._total: float | None = None

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[_ClockTask]:
        self._start = time.perf_counter()
        self._done = 0.0
        self._total = total
        self.marks = [(0.0, 0.0)]
        yield _ClockTask(self)

    def message(self, text: str) -> None:
        print(text, flush=True)

    def record(self, amount: float) -> None:
        """Timestamp ``amount`` more units done (the task's ``advance``)."""
        if amount == 0:
            return
        self._done += amount
        seconds = time.perf_counter() - self._start
        self.marks.append((seconds, self._done))
        if self.on_advance is not None:
            self.on_advance(self._done, self._total, seconds)

    def seconds_at(self, units: float) -> float:
        """When ``units`` units were first done (raises if never reached)."""
        for seconds, done in self.marks:
            if done >= units:
                return seconds
        raise ValueError(f"progress never reached {units} (last mark {self.marks[-1]})")
