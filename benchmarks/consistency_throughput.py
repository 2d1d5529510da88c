"""Benchmark: streamed semantic consistency (``bridge.consistency.memory_aggregate``).

Targets: at N = M = 200,000, D = 512, the whole process's peak resident
memory under 1.5 GB and throughput at least 0.9 of torch's own float32
matmul rate measured in the same run.

The measured work runs in a freshly spawned interpreter, so the peak RSS is
its own. With ``--inputs files`` (the default, as at scale: embeddings live
in the cache on disk) the parent writes the random unit queries Q ``(N, D)``
and memory M ``(M, D)`` as ``.npy`` files and the measuring process opens
them with ``np.load(..., mmap_mode="r")``; ``memory_aggregate`` reads them
chunk by chunk with ``pread``, so its resident memory is torch, the output
``(N, D)`` and the chunk buffers. ``--inputs ram`` holds Q and M as tensors
in the measuring process (as before). Its useful work is the two
matmuls of the softmax aggregation, 4·N·M·D floating-point operations. The
reference is torch doing those two matmuls on one chunk pair (half a query
chunk by one memory chunk), with no softmax, in the same process, timed after
every query chunk of the run (so it sees the same load from other processes)
and left out of the run's time.

Run::

    .venv/bin/python benchmarks/consistency_throughput.py --n 20000     # about a minute
    .venv/bin/python benchmarks/consistency_throughput.py --n 200000    # the target; 30-80 min on 2 cores
    .venv/bin/python benchmarks/consistency_throughput.py --n 200000 --query-chunks 1   # sampled, ~1 min
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import click
import numpy as np
import torch

import _measure
from bridge.methods.consistency import dense_memory_aggregate, memory_aggregate
from bridge.recipes.schema import EnhanceConfig

PEAK_TARGET_BYTES = int(1.5 * _measure.GB)
RATIO_TARGET = 0.90
CHECK_ROWS = 8
CHECK_TOLERANCE = 1e-4
_DEFAULTS = EnhanceConfig()


@dataclass(frozen=True)
class Settings:
    """One benchmark configuration (picklable, sent to the measuring process)."""

    n: int
    m: int
    dim: int
    chunk_size: int
    query_chunk_size: int
    temperature: float
    threads: int | None
    query_chunks: int
    seed: int
    inputs_folder: str | None = None
    """Folder of ``queries.npy`` and ``memory.npy`` (``--inputs files``), or None: tensors in RAM."""
    device: str = "cpu"
    """Torch device of the run; on CUDA, Q, M and the output live in GPU memory."""
    tf32: bool = False
    """Let CUDA matmuls use TF32 tensor cores (the run and the reference alike)."""

    @property
    def on_cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def measured_queries(self) -> int:
        """Query rows actually aggregated (all N, or the first ``query_chunks`` chunks)."""
        if self.query_chunks <= 0:
            return self.n
        return min(self.n, self.query_chunks * self.query_chunk_size)


@dataclass(frozen=True)
class Measurement:
    """What the measuring process reports back."""

    threads: int
    seconds: float
    reference_gflops: float
    reference_gflops_best: float
    reference_samples: int
    peak_rss_bytes: int
    file_backed_rss_bytes: int
    rss_before_data_bytes: int
    check_max_error: float
    device_name: str = "cpu"
    device_peak_bytes: int = 0
    """Peak GPU memory allocated by torch during the run (CUDA only)."""


class InterleavedReference:
    """Times torch's own two matmuls on one chunk pair after every query chunk of the run.

    Called as the run's progress callback, so the reference sees the same machine load as
    the run (other processes share these cores). Shapes: scores ``(q, D) @ (D, m) → (q, m)``
    then ``(q, m) @ (m, D) → (q, D)`` with ``m = min(chunk_size, M)`` as in the code under test
    and ``q`` half its query chunk: the ``(q, m)`` buffer then fits in the memory the run's own
    ``(2q, m)`` buffer has just released, so the reference does not raise the peak RSS (with
    the full ``q`` it did, by 0.05 GB at N = 20,000), and torch's rate at half the rows is the
    same (measured 22.2-22.9 vs 22.4-22.5 GFLOP/s, best of 4, on this 2-core machine).
    Its inputs are views of Q and M.

    Attributes:
        matmul_seconds: wall time of each reference measurement.
        overhead_seconds: total time spent in this callback (subtracted from the run's time).
    """

    def __init__(self, settings: Settings, queries: torch.Tensor, memory: torch.Tensor):
        self.settings = settings
        self.device = torch.device(settings.device)
        self.queries = _tensor(queries[: max(1, min(settings.query_chunk_size, settings.n) // 2)]).to(self.device)
        self.chunk = _tensor(memory[: min(settings.chunk_size, settings.m)]).to(self.device)
        self.matmul_seconds: list[float] = []
        self.overhead_seconds = 0.0

    @property
    def flops(self) -> int:
        """Floating-point operations of one reference measurement (two matmuls)."""
        return 4 * self.queries.shape[0] * self.chunk.shape[0] * self.settings.dim

    def __call__(self, done: float, total: float | None, seconds: float) -> None:
        _synchronize(self.device)  # the run's queued GPU work belongs to the run, not to this callback
        entered = time.perf_counter()
        run_seconds = seconds - self.overhead_seconds
        if len(self.matmul_seconds) == 0 or len(self.matmul_seconds) % 10 == 9:
            _print_eta(self.settings, done, run_seconds)
        scores = torch.empty(self.queries.shape[0], self.chunk.shape[0], device=self.device)
        accumulator = torch.zeros(self.queries.shape[0], self.settings.dim, device=self.device)
        repeats = 20 if self.device.type == "cuda" else 1  # one pair is ~1 ms on a GPU: time several
        _synchronize(self.device)
        start = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(self.queries, self.chunk.T, out=scores)
            accumulator.addmm_(scores, self.chunk)
        _synchronize(self.device)
        self.matmul_seconds.append((time.perf_counter() - start) / repeats)
        del scores, accumulator
        self.overhead_seconds += time.perf_counter() - entered


def _print_eta(settings: Settings, done: float, seconds: float) -> None:
    """Progress line: rate so far and the time the remaining query rows will take at that rate."""
    total = settings.measured_queries
    rate = 4 * done * settings.m * settings.dim / seconds / 1e9
    remaining = (total - done) * seconds / done
    print(
        f"  {int(done):,}/{total:,} query rows in {_measure.format_seconds(seconds)} ({rate:.1f} GFLOP/s); "
        f"ETA for the rest: {_measure.format_seconds(remaining)}",
        flush=True,
    )


def _synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _tensor(rows: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float32 tensor copy of ``rows`` (memmap rows are read into memory)."""
    return rows.clone() if isinstance(rows, torch.Tensor) else torch.from_numpy(np.array(rows, dtype=np.float32))


def write_inputs(settings: Settings, folder: Path) -> None:
    """Q and M as ``queries.npy`` / ``memory.npy``, written block by block with plain writes (nothing mapped)."""
    for name, rows, seed in (("queries", settings.n, settings.seed), ("memory", settings.m, settings.seed + 1)):
        generator = torch.Generator().manual_seed(seed)
        with open(folder / f"{name}.npy", "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, {"descr": "<f4", "fortran_order": False, "shape": (rows, settings.dim)})
            for start in range(0, rows, 16384):
                block = torch.randn(min(16384, rows - start), settings.dim, generator=generator)
                handle.write(block.div_(block.norm(dim=1, keepdim=True)).numpy().tobytes())


def measure(settings: Settings) -> Measurement:
    """The measuring process: data, the streamed aggregation with the interleaved reference, peak RSS."""
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    torch.ones(256, 256) @ torch.ones(256, 256)  # starts the BLAS thread pool outside the timed run
    device = torch.device(settings.device)
    if settings.on_cuda:
        torch.backends.cuda.matmul.allow_tf32 = settings.tf32
        torch.ones(256, 256, device=device) @ torch.ones(256, 256, device=device)  # CUDA context, cuBLAS handle
    rss_before_data = _measure.current_rss_bytes()
    if settings.on_cuda:
        queries = _measure.random_unit_rows(settings.n, settings.dim, settings.seed, block_rows=65536, device=device)
        memory = _measure.random_unit_rows(settings.m, settings.dim, settings.seed + 1, block_rows=65536, device=device)
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    elif settings.inputs_folder is None:
        queries = _measure.random_unit_rows(settings.n, settings.dim, settings.seed)
        memory = _measure.random_unit_rows(settings.m, settings.dim, settings.seed + 1)
    else:
        queries = np.load(Path(settings.inputs_folder) / "queries.npy", mmap_mode="r")
        memory = np.load(Path(settings.inputs_folder) / "memory.npy", mmap_mode="r")
    reference = InterleavedReference(settings, queries, memory)
    clock = _measure.ClockReporter(on_advance=reference)
    start = time.perf_counter()
    pseudo = memory_aggregate(
        queries[: settings.measured_queries],
        memory,
        settings.temperature,
        chunk_size=settings.chunk_size,
        query_chunk_size=settings.query_chunk_size,
        reporter=clock,
        device=device,
    )
    _synchronize(device)
    seconds = time.perf_counter() - start - reference.overhead_seconds
    device_peak = torch.cuda.max_memory_allocated(device) if settings.on_cuda else 0
    peak = _measure.peak_rss_bytes()
    file_backed = _measure.file_backed_rss_bytes()  # before the check below maps the memory whole
    if settings.on_cuda:
        torch.backends.cuda.matmul.allow_tf32 = False  # the check itself in full float32
    dense = dense_memory_aggregate(_tensor(queries[:CHECK_ROWS]), _tensor(memory), settings.temperature)
    check_error = (pseudo[:CHECK_ROWS] - dense).abs().max().item()
    return Measurement(
        threads=torch.get_num_threads(),
        seconds=seconds,
        reference_gflops=reference.flops * len(reference.matmul_seconds) / sum(reference.matmul_seconds) / 1e9,
        reference_gflops_best=reference.flops / min(reference.matmul_seconds) / 1e9,
        reference_samples=len(reference.matmul_seconds),
        peak_rss_bytes=peak,
        file_backed_rss_bytes=file_backed,
        rss_before_data_bytes=rss_before_data,
        check_max_error=check_error,
        device_name=torch.cuda.get_device_name(device) if settings.on_cuda else "cpu",
        device_peak_bytes=device_peak,
    )


def report(settings: Settings, result: Measurement) -> None:
    """Print the figures, the ratios and the verdicts."""
    rows = settings.measured_queries
    data_bytes = (settings.n + settings.m + rows) * settings.dim * 4
    gflops = 4 * rows * settings.m * settings.dim / result.seconds / 1e9
    ratio = gflops / result.reference_gflops
    sampled = rows < settings.n
    print(f"threads: {result.threads}, device: {settings.device} ({result.device_name})"
          + (f", TF32 matmuls {'on' if settings.tf32 else 'off'}" if settings.on_cuda else ""))
    print(f"aggregated {rows:,} query rows against {settings.m:,} memory rows in {_measure.format_seconds(result.seconds)}")
    if sampled:
        full_seconds = result.seconds * settings.n / rows
        print(f"  sampled run: the full N = {settings.n:,} would take about {_measure.format_seconds(full_seconds)}")
    print(f"memory_aggregate: {gflops:.1f} GFLOP/s (4·N·M·D = {4 * rows * settings.m * settings.dim / 1e12:.2f} TFLOP)")
    print(
        f"torch {'TF32' if settings.tf32 and settings.on_cuda else 'float32'} matmul, the same two matmuls on one chunk pair after each query chunk: "
        f"{result.reference_gflops:.1f} GFLOP/s over {result.reference_samples} samples (best {result.reference_gflops_best:.1f})"
    )
    check_ok = result.check_max_error <= CHECK_TOLERANCE
    print(
        f"check against the dense softmax on {CHECK_ROWS} rows: max |error| {result.check_max_error:.2e} "
        f"(tolerance {CHECK_TOLERANCE:g}): {_measure.verdict(check_ok)}"
    )
    if settings.on_cuda:
        report_gpu_memory(settings, result, data_bytes)
        print(f"throughput ratio {ratio:.2f} (target ≥ {RATIO_TARGET:.2f}): {_measure.verdict(ratio >= RATIO_TARGET)}")
        return
    baseline = result.rss_before_data_bytes
    where = "read from .npy files chunk by chunk" if settings.inputs_folder else "tensors in RAM"
    print(
        f"inputs + output (Q, M, result): {data_bytes / _measure.GB:.2f} GB, inputs {where}; "
        f"process RSS before the data (interpreter + torch): {baseline / _measure.GB:.2f} GB"
    )
    peak = result.peak_rss_bytes
    label = "peak RSS"
    if sampled:
        peak += (settings.n - rows) * settings.dim * 4  # output rows the sampled run did not write
        label = f"peak RSS (measured {result.peak_rss_bytes / _measure.GB:.2f} GB + unwritten output rows, projected)"
    print(f"  peak above that baseline: {(peak - baseline) / _measure.GB:.2f} GB")
    print(f"{label} {peak / _measure.GB:.2f} GB (target < 1.5 GB): {_measure.verdict(peak < PEAK_TARGET_BYTES)}")
    private = peak - result.file_backed_rss_bytes
    print(
        f"  without the {result.file_backed_rss_bytes / _measure.GB:.2f} GB of file-backed pages (shared libraries): "
        f"{private / _measure.GB:.2f} GB (target < 1.5 GB): {_measure.verdict(private < PEAK_TARGET_BYTES)}"
    )
    print(f"throughput ratio {ratio:.2f} (target ≥ {RATIO_TARGET:.2f}): {_measure.verdict(ratio >= RATIO_TARGET)}")


def report_gpu_memory(settings: Settings, result: Measurement, data_bytes: int) -> None:
    """GPU memory: the peak torch allocated during the run, and what it held beyond Q, M and the output."""
    working = result.device_peak_bytes - data_bytes
    bound = (settings.query_chunk_size * min(settings.chunk_size, settings.m) + 2 * settings.query_chunk_size * settings.dim) * 4
    print(
        f"GPU memory: Q, M and the output {data_bytes / _measure.GB:.2f} GB; peak allocated during the run "
        f"{result.device_peak_bytes / _measure.GB:.2f} GB, of which {working / _measure.GB:.3f} GB working buffers "
        f"(one query chunk x memory chunk: {settings.query_chunk_size:,} x {min(settings.chunk_size, settings.m):,} "
        f"scores + its (q, D) buffers = {bound / _measure.GB:.3f} GB)"
    )
    print(f"working memory bounded by the chunk (≤ 2x that): {_measure.verdict(working <= 2 * bound)}")


@click.command()
@click.option("--n", "n", type=click.IntRange(min=1), default=200_000, show_default=True, help="Query rows N.")
@click.option("--m", "m", type=click.IntRange(min=1), default=None, help="Memory rows M (default: N).")
@click.option("--dim", type=click.IntRange(min=1), default=512, show_default=True, help="Embedding dimension D.")
@click.option(
    "--chunk-size", type=click.IntRange(min=1), default=_DEFAULTS.chunk_size, show_default=True, help="Memory rows per chunk."
)
@click.option(
    "--query-chunk-size",
    type=click.IntRange(min=1),
    default=_DEFAULTS.query_chunk_size,
    show_default=True,
    help="Query rows per chunk.",
)
@click.option(
    "--temperature", type=float, default=_DEFAULTS.memory_temperature, show_default=True, help="Softmax temperature tau_mem."
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch threads (default: torch's default).")
@click.option(
    "--query-chunks",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Aggregate only the first K query chunks (0: all). Q and M keep their full size; the peak is projected to the full output.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random data.")
@click.option("--inputs", type=click.Choice(["files", "ram"]), default="files", show_default=True,
              help="Q and M as .npy files read chunk by chunk (as from the cache at scale), or as tensors in RAM.")
@click.option("--device", default="cpu", show_default=True,
              help="Torch device: cpu, or cuda / cuda:N (Q, M and the output in GPU memory; --inputs is ignored).")
@click.option("--tf32", is_flag=True, help="CUDA only: allow TF32 tensor-core matmuls (run and reference).")
def main(n, m, dim, chunk_size, query_chunk_size, temperature, threads, query_chunks, seed, inputs, device, tf32) -> None:
    """Time bridge.consistency.memory_aggregate against torch's own matmul rate and report its peak memory."""
    settings = Settings(n, m or n, dim, chunk_size, query_chunk_size, temperature, threads, query_chunks, seed,
                        device=device, tf32=tf32)
    print("consistency throughput:", ", ".join(f"{key}={value}" for key, value in asdict(settings).items()), flush=True)
    if inputs == "ram" or settings.on_cuda:
        result = _measure.run_in_fresh_process(measure, settings)
    else:
        with tempfile.TemporaryDirectory(prefix="bridge-consistency-") as folder:
            write_inputs(settings, Path(folder))
            settings = replace(settings, inputs_folder=folder)
            result = _measure.run_in_fresh_process(measure, settings)
    report(settings, result)


if __name__ == "__main__":
    main()
