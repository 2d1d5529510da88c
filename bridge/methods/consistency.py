"""Semantic consistency: pseudo embeddings aggregated from an unpaired memory.

For every query row q_i (an overlap embedding, e.g. a text in CLIP space) and
a memory M (e.g. CLIP embeddings of unpaired images):

    x_i = softmax(q_i · M^T / tau) · M

with the memory rows L2-normalised first (whatever the MCR returned),

computed with a streamed ("online") softmax over chunks of the memory, so the
N×M similarity matrix is never held whole and working memory beyond one
chunk does not grow with M.

On CUDA the softmax step of each chunk (row max, exp, row sum) is one
``torch.compile``d kernel instead of four elementwise passes over the
``(n, chunk)`` scores: measured on an H200, the two matmuls' share of the time
rises from 0.82 to 0.93 (benchmarks/README.md, "GPU").
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import mmap
import os
from collections.abc import Callable

import numpy as np
import torch

from bridge.progress import Reporter, SilentReporter


def _file_offset(array: object) -> int | None:
    """Byte offset in its file of the first row of ``array`` when it is a C-ordered ``np.memmap`` (or a row slice
    of one: ``np.load(..., mmap_mode="r")``, a cache gather) whose rows can be read from the file; else None."""
    if not isinstance(array, np.memmap) or not array.filename or not array.flags.c_contiguous:
        return None
    mapping = array.base
    while isinstance(mapping, np.ndarray):
        mapping = mapping.base
    if not isinstance(mapping, mmap.mmap):
        return None
    mapped_from = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY  # where np.memmap starts its mapping
    return mapped_from + (array.ctypes.data - np.frombuffer(mapping, dtype=np.uint8).ctypes.data)


def _read_file_rows(array: np.memmap, first_byte: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a file-backed memmap read with ``pread``, as ``(stop - start, D)`` of its dtype.

    Reading the file instead of touching the mapping keeps its pages out of
    this process's resident memory (they stay in the kernel's page cache), so
    inputs far larger than RAM cost one chunk each.
    """
    row_bytes = array.strides[0]
    rows = np.empty((stop - start, *array.shape[1:]), dtype=array.dtype)
    view = memoryview(rows.reshape(-1).view(np.uint8))
    with open(array.filename, "rb", buffering=0) as handle:
        done, offset = 0, first_byte + start * row_bytes
        while done < len(view):
            read = os.preadv(handle.fileno(), [view[done:]], offset + done)
            if read == 0:
                raise ValueError(f"{array.filename}: the file ends before row {stop}")
            done += read
    return rows


def _rows(array: np.ndarray | torch.Tensor, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Rows ``start:stop`` as a float32 tensor on ``device`` (file-backed memmaps are read, not mapped)."""
    if isinstance(array, torch.Tensor):
        return array[start:stop].to(device=device, dtype=torch.float32)
    first_byte = _file_offset(array)
    if first_byte is not None:
        return torch.from_numpy(_read_file_rows(array, first_byte, start, stop).astype(np.float32, copy=False)).to(device)
    return torch.from_numpy(np.array(array[start:stop], dtype=np.float32)).to(device)  # a copy: memmaps are read-only


def _unit_rows(rows: torch.Tensor) -> torch.Tensor:
    """``rows`` L2-normalised (a new tensor; a zero row stays zero)."""
    return rows / rows.norm(dim=-1, keepdim=True).clamp_min(1e-12)


SoftmaxStep = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]
_log = logging.getLogger(__name__)


def softmax_step(scores: torch.Tensor, running_max: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One chunk of the online softmax, in place: ``(n, m)`` scores and the ``(n, 1)`` running max →
    (weights exp(scores − new max) ``(n, m)`` written over ``scores``, new max ``(n, 1)``,
    rescale exp(old max − new max) ``(n, 1)``, row sums of the weights ``(n, 1)``)."""
    new_max = torch.maximum(running_max, scores.amax(dim=1, keepdim=True))
    rescale = torch.exp(running_max - new_max)  # exp(-inf) = 0 on the first chunk
    weights = scores.sub_(new_max).exp_()
    return weights, new_max, rescale, weights.sum(dim=1, keepdim=True)


def _softmax_step_out_of_place(scores: torch.Tensor, running_max: torch.Tensor):
    """:func:`softmax_step` without writing to ``scores``: the form ``torch.compile`` fuses into one kernel."""
    new_max = torch.maximum(running_max, scores.amax(dim=1, keepdim=True))
    weights = torch.exp(scores - new_max)
    return weights, new_max, torch.exp(running_max - new_max), weights.sum(dim=1, keepdim=True)


@functools.cache
def fused_softmax_step() -> SoftmaxStep:
    """:func:`softmax_step` compiled into one fused kernel (shapes are static: one compilation per chunk shape)."""
    return torch.compile(_softmax_step_out_of_place, dynamic=False)


def _softmax_step_for(device: torch.device, fused: bool | None) -> SoftmaxStep:
    """The fused step where asked (default: on CUDA with Triton installed), else the eager one."""
    if fused is None:
        fused = device.type == "cuda" and importlib.util.find_spec("triton") is not None
    return _with_eager_fallback(fused_softmax_step()) if fused else softmax_step


def _with_eager_fallback(step: SoftmaxStep) -> SoftmaxStep:
    """``step``, or :func:`softmax_step` from the first call on where compiling it fails (logged once)."""
    state = {"step": step}

    def call(scores: torch.Tensor, running_max: torch.Tensor):
        try:
            return state["step"](scores, running_max)
        except Exception as error:  # noqa: BLE001 - a compiler failure of any kind falls back to eager
            if state["step"] is softmax_step:
                raise
            _log.warning("consistency: the fused softmax kernel failed to compile (%s); using eager torch", type(error).__name__)
            state["step"] = softmax_step
            return softmax_step(scores, running_max)

    return call


def memory_aggregate(
    queries: np.ndarray | torch.Tensor,
    memory: np.ndarray | torch.Tensor,
    temperature: float,
    chunk_size: int = 8192,
    query_chunk_size: int = 4096,
    reporter: Reporter | None = None,
    description: str = "consistency",
    device: str | torch.device = "cpu",
    fused: bool | None = None,
) -> torch.Tensor:
    """Softmax-weighted memory aggregation, streamed over the memory.

    Args:
        queries: ``(N, D)`` query embeddings (array, memmap or tensor).
        memory: ``(M, D)`` memory embeddings; each chunk is L2-normalised as it is read.
            A file-backed memmap (``np.load(path, mmap_mode="r")``, or a row slice of one) is read
            chunk by chunk from the file and never mapped whole into memory.
        temperature: softmax temperature tau.
        chunk_size: memory rows per chunk (working memory ~ query_chunk_size × chunk_size floats).
        query_chunk_size: query rows processed together.
        device: where the work and every buffer live (``cuda`` included).
        fused: run each chunk's softmax step as one ``torch.compile``d kernel (default: on CUDA
            when Triton is installed; a compile failure falls back to eager torch).

    Returns:
        ``(N, D)`` float32 tensor on ``device``: for each query the softmax(q·M^T/tau)-weighted
        mean of the (normalised) memory rows.
    """
    n_queries, dim = queries.shape
    n_memory = memory.shape[0]
    if memory.shape[1] != dim:
        raise ValueError(f"queries have dimension {dim} but the memory has {memory.shape[1]}")
    if n_memory == 0:
        raise ValueError("the memory is empty")
    reporter = reporter or SilentReporter()
    device = torch.device(device)
    output = torch.empty(n_queries, dim, dtype=torch.float32, device=device)
    step = _softmax_step_for(device, fused)
    with torch.no_grad(), reporter.task(description, total=n_queries) as task:
        for q_start in range(0, n_queries, query_chunk_size):
            q_stop = min(q_start + query_chunk_size, n_queries)
            scaled = _rows(queries, q_start, q_stop, device) / temperature
            output[q_start:q_stop] = _aggregate_chunk(scaled, memory, chunk_size, step)
            task.advance(q_stop - q_start)
    return output


def _aggregate_chunk(
    scaled_queries: torch.Tensor, memory: np.ndarray | torch.Tensor, chunk_size: int, step: SoftmaxStep = softmax_step
) -> torch.Tensor:
    """Online softmax of ``(n, D)`` pre-scaled queries over the whole (row-normalised) memory → ``(n, D)``."""
    n, dim = scaled_queries.shape
    device = scaled_queries.device
    running_max = torch.full((n, 1), float("-inf"), device=device)
    denominator = torch.zeros(n, 1, device=device)
    accumulator = torch.zeros(n, dim, device=device)
    scores_buffer = torch.empty(n, min(chunk_size, memory.shape[0]), device=device)
    for m_start in range(0, memory.shape[0], chunk_size):
        m_stop = min(m_start + chunk_size, memory.shape[0])
        chunk = _unit_rows(_rows(memory, m_start, m_stop, device))
        scores = scores_buffer[:, : m_stop - m_start]
        torch.matmul(scaled_queries, chunk.T, out=scores)  # (n, m)
        weights, running_max, rescale, row_sums = step(scores, running_max)
        denominator.mul_(rescale).add_(row_sums)
        accumulator.mul_(rescale).addmm_(weights, chunk)
    return accumulator.div_(denominator)


def dense_memory_aggregate(queries: torch.Tensor, memory: torch.Tensor, temperature: float) -> torch.Tensor:
    """Reference implementation holding the whole ``(N, M)`` matrix (tests and small data only)."""
    memory = _unit_rows(memory.float())
    weights = torch.softmax(queries.float() @ memory.T / temperature, dim=1)
    return weights @ memory
