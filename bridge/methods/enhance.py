"""Semantic enhancement: the training set C-MCR learns from (consistency + completion noise)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from bridge.methods.consistency import memory_aggregate
from bridge.progress import Reporter, SilentReporter
from bridge.methods.config import EnhanceConfig


@dataclass(frozen=True)
class TrainingSet:
    """Aligned rows: row i of each tensor comes from overlap item i. All rows L2-normalised.

    Attributes:
        overlap_a: ``(N, D_a)`` overlap items encoded by MCR A (a_i).
        overlap_b: ``(N, D_b)`` the same items encoded by MCR B (b_i).
        pseudo_x: ``(N, D_a)`` pseudo embeddings of A's other modality (x_i).
        pseudo_y: ``(N, D_b)`` pseudo embeddings of B's other modality (y_i).
    """

    overlap_a: torch.Tensor
    overlap_b: torch.Tensor
    pseudo_x: torch.Tensor
    pseudo_y: torch.Tensor

    def __len__(self) -> int:
        return self.overlap_a.shape[0]


def _tensor(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array.float()
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def build_training_set(
    overlap_a: np.ndarray | torch.Tensor,
    overlap_b: np.ndarray | torch.Tensor,
    memory_x: np.ndarray | torch.Tensor,
    memory_y: np.ndarray | torch.Tensor,
    config: EnhanceConfig,
    reporter: Reporter | None = None,
    device: str | torch.device = "cpu",
) -> TrainingSet:
    """Semantic consistency: pseudo x_i and y_i from the memories (or the overlap embeddings themselves when off).

    Args:
        overlap_a: ``(N, D_a)``; overlap_b: ``(N, D_b)``; memory_x: ``(M_x, D_a)``; memory_y: ``(M_y, D_b)``.
        device: where the streamed aggregation runs; the result is on the CPU.
    """
    reporter = reporter or SilentReporter()
    a = F.normalize(_tensor(overlap_a), dim=-1)
    b = F.normalize(_tensor(overlap_b), dim=-1)
    if not config.consistency:
        return TrainingSet(a, b, a.clone(), b.clone())

    def aggregate(queries: torch.Tensor, memory, name: str) -> torch.Tensor:
        pseudo = memory_aggregate(
            queries,
            memory,
            config.memory_temperature,
            chunk_size=config.chunk_size,
            query_chunk_size=config.query_chunk_size,
            reporter=reporter,
            description=f"consistency ({name})",
            device=device,
        )
        return pseudo.div_(pseudo.norm(dim=-1, keepdim=True).clamp_min(1e-12)).cpu()  # in place: no second (N, D) copy

    return TrainingSet(a, b, aggregate(a, memory_x, "memory A"), aggregate(b, memory_y, "memory B"))


def add_noise(embeddings: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Semantic completion: ``normalize(e + n)``, ``n ~ N(0, sigma^2 I)``.

    Args:
        embeddings: ``(B, D)``.

    Returns:
        ``(B, D)`` rows L2-normalised (unchanged direction when sigma is 0).
    """
    if sigma == 0:
        return embeddings
    noise = torch.randn(embeddings.shape, generator=generator, device=embeddings.device, dtype=embeddings.dtype)
    return F.normalize(embeddings + sigma * noise, dim=-1)
