"""Semantic consistency: pseudo embeddings aggregated from an unpaired memory.

For every query row q_i (an overlap embedding, e.g. a text in CLIP space) and
a memory M (e.g. CLIP embeddings of unpaired images):

    x_i = softmax(q_i · M^T / tau) · M

computed with a streamed ("online") softmax over chunks of the memory, so the
N×M similarity matrix is never held whole and working memory beyond one
chunk does not grow with M.
"""

from __future__ import annotations

import numpy as np
import torch

from bridge.progress import Reporter, SilentReporter


def _rows(array: np.ndarray | torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Rows ``start:stop`` as a float32 CPU/device tensor (memmaps are read chunk by chunk)."""
    if isinstance(array, torch.Tensor):
        return array[start:stop].float()
    return torch.from_numpy(np.array(array[start:stop], dtype=np.float32))  # a copy: memmaps are read-only


def memory_aggregate(
    queries: np.ndarray | torch.Tensor,
    memory: np.ndarray | torch.Tensor,
    temperature: float,
    chunk_size: int = 8192,
    query_chunk_size: int = 4096,
    reporter: Reporter | None = None,
    description: str = "consistency",
) -> torch.Tensor:
    """Softmax-weighted memory aggregation, streamed over the memory.

    Args:
        queries: ``(N, D)`` query embeddings (array, memmap or tensor).
        memory: ``(M, D)`` memory embeddings, rows L2-normalised.
        temperature: softmax temperature tau.
        chunk_size: memory rows per chunk (working memory ~ query_chunk_size × chunk_size floats).
        query_chunk_size: query rows processed together.

    Returns:
        ``(N, D)`` float32 tensor: for each query the softmax(q·M^T/tau)-weighted mean of the memory rows.
    """
    n_queries, dim = queries.shape
    n_memory = memory.shape[0]
    if memory.shape[1] != dim:
        raise ValueError(f"queries have dimension {dim} but the memory has {memory.shape[1]}")
    if n_memory == 0:
        raise ValueError("the memory is empty")
    reporter = reporter or SilentReporter()
    output = torch.empty(n_queries, dim, dtype=torch.float32)
    memory_is_tensor = isinstance(memory, torch.Tensor)
    with torch.no_grad(), reporter.task(description, total=n_queries) as task:
        for q_start in range(0, n_queries, query_chunk_size):
            q_stop = min(q_start + query_chunk_size, n_queries)
            scaled = _rows(queries, q_start, q_stop) / temperature
            output[q_start:q_stop] = _aggregate_chunk(scaled, memory, chunk_size, memory_is_tensor)
            task.advance(q_stop - q_start)
    return output


def _aggregate_chunk(
    scaled_queries: torch.Tensor, memory: np.ndarray | torch.Tensor, chunk_size: int, memory_is_tensor: bool
) -> torch.Tensor:
    """Online softmax of ``(n, D)`` pre-scaled queries over the whole memory → ``(n, D)``."""
    n, dim = scaled_queries.shape
    running_max = torch.full((n, 1), float("-inf"))
    denominator = torch.zeros(n, 1)
    accumulator = torch.zeros(n, dim)
    scores_buffer = torch.empty(n, min(chunk_size, memory.shape[0]))
    for m_start in range(0, memory.shape[0], chunk_size):
        m_stop = min(m_start + chunk_size, memory.shape[0])
        chunk = memory[m_start:m_stop].float() if memory_is_tensor else _rows(memory, m_start, m_stop)
        scores = scores_buffer[:, : m_stop - m_start]
        torch.matmul(scaled_queries, chunk.T, out=scores)  # (n, m)
        new_max = torch.maximum(running_max, scores.amax(dim=1, keepdim=True))
        rescale = torch.exp(running_max - new_max)  # (n, 1); exp(-inf) = 0 on the first chunk
        scores.sub_(new_max).exp_()
        denominator.mul_(rescale).add_(scores.sum(dim=1, keepdim=True))
        accumulator.mul_(rescale).addmm_(scores, chunk)
        running_max = new_max
    return accumulator.div_(denominator)


def dense_memory_aggregate(queries: torch.Tensor, memory: torch.Tensor, temperature: float) -> torch.Tensor:
    """Reference implementation holding the whole ``(N, M)`` matrix (tests and small data only)."""
    weights = torch.softmax(queries.float() @ memory.float().T / temperature, dim=1)
    return weights @ memory.float()
