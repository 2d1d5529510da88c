"""Ex-MCR's training data and objective: pseudo pairs from several centres, dense alignment into a frozen base.

Notation: the *base* member B (e.g. CLIP: image + text) keeps its space; the
*leaf* member L (e.g. CLAP: audio + text) gets a head into it. Both encode the
overlap O (text). Every training row is a 4-tuple of unit vectors

    (leaf_own, leaf_overlap | base_overlap, base_own)   e.g. (audio, CLAP text | CLIP text, image)

built from one of three *centres* (all retrieval is the streamed softmax
aggregation of :func:`bridge.methods.consistency.memory_aggregate`):

- ``overlap``: an overlap item o_i gives L(o_i) and B(o_i); each retrieves its own
  modality from its member's memory (the C-MCR pseudo pair).
- ``leaf``: a leaf-memory item (audio) retrieves overlap items through L; the same
  softmax weights average those items' B embeddings; that B text retrieves images.
- ``base``: a base-memory item (image), symmetrically.

The head is trained with the *dense* objective (every leaf embedding against
every base embedding of the tuple, symmetric InfoNCE) plus, on ``Head1``
alone, an intra-leaf InfoNCE between the leaf's two modalities (weight
``training.intra_weight``). Head2 sees Head1's output detached: Head1 learns
only the intra-leaf alignment, Head2 only the inter-space one (the paper's
decoupled projector).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from bridge.core.linear_map import unit_rows as unit_tensor
from bridge.core.projector import Projector
from bridge.core.projector_config import ProjectorConfig
from bridge.methods.config import EnhanceConfig, TrainingConfig
from bridge.methods.consistency import memory_aggregate
from bridge.methods.enhance import add_noise
from bridge.methods.losses import symmetric_infonce
from bridge.methods.training import epoch_generator, make_optimizer
from bridge.progress import Reporter, SilentReporter


@dataclass(frozen=True)
class ExtendSet:
    """Aligned training rows, all L2-normalised; row i of every tensor is one pseudo tuple.

    Attributes:
        leaf_own: ``(P, D_leaf)`` the leaf's own modality (audio through CLAP).
        leaf_overlap: ``(P, D_leaf)`` the overlap through the leaf (CLAP text).
        base_overlap: ``(P, D_base)`` the overlap through the base (CLIP text).
        base_own: ``(P, D_base)`` the base's own modality (image through CLIP).
        centres: centre name → number of its rows (in this order).
    """

    leaf_own: torch.Tensor
    leaf_overlap: torch.Tensor
    base_overlap: torch.Tensor
    base_own: torch.Tensor
    centres: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.leaf_own.shape[0]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.leaf_own, self.leaf_overlap, self.base_overlap, self.base_own


def aggregate_through(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, temperature: float, config: EnhanceConfig,
    reporter: Reporter, description: str, device: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax weights from ``queries`` against ``keys`` applied to ``keys`` and to their paired ``values``.

    One streamed pass of :func:`memory_aggregate` over the memory ``[keys | values] / sqrt(2)``
    (unit rows) with the queries ``[sqrt(2) q | 0]``: the scores are exactly ``q · k``.

    Args:
        queries: ``(Q, D_k)`` unit rows; keys: ``(N, D_k)`` unit rows; values: ``(N, D_v)`` unit rows,
            row i of ``values`` paired with row i of ``keys`` (the same overlap item through another member).

    Returns:
        ``(Q, D_k)`` aggregated keys and ``(Q, D_v)`` aggregated values, rows L2-normalised (CPU).
    """
    dim_k = keys.shape[1]
    memory = torch.cat([keys, values], dim=1)
    padded = torch.cat([queries * math.sqrt(2.0), torch.zeros(queries.shape[0], values.shape[1])], dim=1)
    pooled = memory_aggregate(
        padded, memory, temperature, config.chunk_size, config.query_chunk_size, reporter, description, device
    ).cpu()
    return F.normalize(pooled[:, :dim_k], dim=-1), F.normalize(pooled[:, dim_k:], dim=-1)


def build_extend_set(
    leaf_overlap: np.ndarray | torch.Tensor,
    base_overlap: np.ndarray | torch.Tensor,
    leaf_memory: np.ndarray | torch.Tensor,
    base_memory: np.ndarray | torch.Tensor,
    config: EnhanceConfig,
    reporter: Reporter | None = None,
    device: str = "cpu",
) -> ExtendSet:
    """The pseudo tuples of ``config.centres`` (or, without consistency, the overlap pairs alone).

    Args:
        leaf_overlap: ``(N, D_leaf)``; base_overlap: ``(N, D_base)``, row i the same overlap item.
        leaf_memory: ``(M_leaf, D_leaf)`` unpaired items of the leaf's own modality.
        base_memory: ``(M_base, D_base)`` unpaired items of the base's own modality.
    """
    reporter = reporter or SilentReporter()
    leaf_text, base_text = unit_tensor(leaf_overlap), unit_tensor(base_overlap)
    if not config.consistency:
        return ExtendSet(leaf_text, leaf_text.clone(), base_text, base_text.clone(), {"overlap": len(leaf_text)})
    tau = config.memory_temperature

    def retrieve(queries: torch.Tensor, memory, name: str) -> torch.Tensor:
        pooled = memory_aggregate(queries, memory, tau, config.chunk_size, config.query_chunk_size, reporter, name, device)
        return F.normalize(pooled.cpu(), dim=-1)

    parts: list[tuple[torch.Tensor, ...]] = []
    sizes: dict[str, int] = {}
    if "overlap" in config.centres:
        parts.append((retrieve(leaf_text, leaf_memory, "pseudo pairs (overlap → leaf memory)"), leaf_text, base_text,
                      retrieve(base_text, base_memory, "pseudo pairs (overlap → base memory)")))
    if "leaf" in config.centres:
        own = unit_tensor(leaf_memory)
        leaf_o, base_o = aggregate_through(own, leaf_text, base_text, tau, config, reporter, "pseudo pairs (leaf memory → overlap)", device)
        parts.append((own, leaf_o, base_o, retrieve(base_o, base_memory, "pseudo pairs (leaf centre → base memory)")))
    if "base" in config.centres:
        own = unit_tensor(base_memory)
        base_o, leaf_o = aggregate_through(own, base_text, leaf_text, tau, config, reporter, "pseudo pairs (base memory → overlap)", device)
        parts.append((retrieve(leaf_o, leaf_memory, "pseudo pairs (base centre → leaf memory)"), leaf_o, base_o, own))
    for name in ("overlap", "leaf", "base"):
        if name in config.centres:
            sizes[name] = len(parts[len(sizes)][0])
    columns = [torch.cat([part[k] for part in parts]) for k in range(4)]
    return ExtendSet(*columns, centres=sizes)


def extend_losses(head: Projector, batch: list[torch.Tensor], temperature: float, dense: bool) -> dict[str, torch.Tensor]:
    """Ex-MCR's loss terms for one batch.

    Args:
        head: the leaf's ``exmcr`` projector (train mode).
        batch: ``[leaf_own (B, D_leaf), leaf_overlap (B, D_leaf), base_overlap (B, d), base_own (B, d)]``.
        dense: all four leaf × base pairings; else overlap–overlap and own–own only.

    Returns:
        ``inter`` (the alignment into the base, through Head1 (detached) and Head2) and
        ``intra`` (Head1 alone: leaf own vs leaf overlap).
    """
    leaf_own, leaf_overlap, base_overlap, base_own = batch
    n = leaf_own.shape[0]
    first = head.net.intra(torch.cat([leaf_own, leaf_overlap]))  # (2B, d), one BatchNorm batch for both modalities below
    intra = symmetric_infonce(F.normalize(first[:n], dim=-1), F.normalize(first[n:], dim=-1), temperature)
    projected = F.normalize(head.net.Head2(first.detach()), dim=-1)
    own, overlap = projected[:n], projected[n:]
    if dense:
        pairs = [(own, base_own), (own, base_overlap), (overlap, base_own), (overlap, base_overlap)]
    else:
        pairs = [(overlap, base_overlap), (own, base_own)]
    inter = sum(symmetric_infonce(left, right, temperature) for left, right in pairs) / len(pairs)
    return {"inter": inter, "intra": intra}


def make_head(leaf_dim: int, base_dim: int, hidden_ratio: float, seed: int) -> Projector:
    """A freshly initialised (seeded) ``exmcr`` head ``(N, leaf_dim)`` → ``(N, base_dim)``."""
    torch.manual_seed(seed)
    return Projector(leaf_dim, ProjectorConfig(architecture="exmcr", hidden_ratio=hidden_ratio, output_dim=base_dim))


def train_head(
    data: ExtendSet, hidden_ratio: float, training: TrainingConfig, noise_sigma: float,
    reporter: Reporter | None = None, device: str = "cpu",
) -> tuple[Projector, list[dict[str, float]]]:
    """Train the leaf's head on ``data``; noise (semantic completion) on the leaf inputs only.

    Deterministic on CPU: initialisation from ``training.seed``, each epoch's order and noise from ``(seed, epoch)``.

    Returns:
        The head (eval mode, CPU) and the per-epoch mean losses.
    """
    reporter = reporter or SilentReporter()
    torch_device = torch.device(device)
    head = make_head(data.leaf_own.shape[1], data.base_own.shape[1], hidden_ratio, training.seed).to(torch_device).train()
    optimizer = make_optimizer(head.parameters(), training)
    tensors = [t.to(torch_device) for t in data.tensors()]
    n_items, size = len(data), training.batch_size
    steps = n_items // size + (1 if n_items % size >= 2 else 0)
    history: list[dict[str, float]] = []
    with reporter.task("train leaf head", total=training.epochs * steps) as task:
        for epoch in range(training.epochs):
            generator = epoch_generator(training.seed, epoch, torch_device)
            order = torch.randperm(n_items, generator=generator, device=torch_device)
            totals = {"loss": 0.0, "inter": 0.0, "intra": 0.0}
            for start in range(0, n_items, size):
                index = order[start : start + size]
                if index.numel() < 2:
                    break
                batch = [add_noise(t[index], noise_sigma, generator) if k < 2 else t[index] for k, t in enumerate(tensors)]
                parts = extend_losses(head, batch, training.temperature, training.dense_alignment)
                loss = parts["inter"] + training.intra_weight * parts["intra"]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                totals["loss"] += loss.item()
                totals["inter"] += parts["inter"].item()
                totals["intra"] += parts["intra"].item()
                task.advance(1)
            history.append({"epoch": epoch + 1, **{k: v / max(steps, 1) for k, v in totals.items()}})
    return head.eval().cpu(), history
