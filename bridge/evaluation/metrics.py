"""Evaluation metrics on embeddings: retrieval, its chance level, zero-shot accuracy.

Pure functions on torch tensors, no I/O. Embeddings are L2-normalised here
(whatever the caller passed), so similarities are cosine similarities.

Ranking convention: targets are ranked by similarity, highest first, and
tied similarities are *averaged over*, never broken by index, so the metrics
do not depend on the order of the targets (the convention of
``sklearn.metrics.average_precision_score``):

- average precision treats a tie as one threshold: each relevant target
  scores (#relevant at least as similar) / (#targets at least as similar);
- the rank of the first relevant target is its expected rank when ties are
  ordered at random: ``a + 1 + (g - h) / (h + 1)`` with ``a`` targets more
  similar than the best relevant one, ``g`` targets tied with it and ``h``
  of those relevant (``a + (g + 1) / 2`` when ``h = 1``);
- a zero-shot class's rank is ``a + (g + 1) / 2`` with ``a`` classes more
  similar and ``g`` classes (itself included) exactly as similar.

Ranks may therefore be fractional: R@k counts a query when its rank is at
most k, and a constant similarity (e.g. all-zero embeddings) puts a single
relevant target at rank ``(n + 1) / 2`` of n.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from bridge.errors import BridgeError

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)
CHUNK_ELEMENTS = 1 << 22
"""Query chunks are sized so that one chunk's similarity matrix holds about this many entries."""
FEW_RELEVANT = 4
"""Up to this many relevant targets per query, ranks are counted instead of sorting every target."""


def retrieval_metrics(
    query: torch.Tensor,
    target: torch.Tensor,
    relevant: torch.Tensor,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int | None = None,
) -> dict[str, float]:
    """Recall@k, mAP and median rank of retrieving ``target`` rows for each ``query`` row.

    Args:
        query: ``(Nq, d)`` query embeddings.
        target: ``(Nt, d)`` target embeddings (same ``d``).
        relevant: ``(Nq, Nt)`` bool; ``relevant[i, j]`` when target ``j`` is a
            correct answer for query ``i``.
        ks: the cut-offs of Recall@k.
        chunk_size: queries ranked at once (default: as many as keep one
            chunk near 4M similarities, at most 1024); results do not
            depend on it.

    Returns:
        ``"R@k"`` for each k: fraction of queries whose first relevant
        target ranks at most k; ``"mAP"``: mean over queries of the average
        precision; ``"MedR"``: median over queries of the 1-based rank of the
        first relevant target (the mean of the two middle values for an even
        count). Ties are averaged (see the module docstring); ``"n_queries"``: queries evaluated; ``"n_without_relevant"``:
        queries that have no relevant target, excluded from every metric.

    Raises:
        BridgeError: no query has any relevant target.
    """
    _check_pair(query, target, relevant)
    ranks_of_first: list[torch.Tensor] = []
    average_precisions: list[torch.Tensor] = []
    has_relevant = relevant.any(dim=1)
    query_unit = _unit(query)
    target_unit = _unit(target)
    step = chunk_size or _default_chunk(target.shape[0])
    for start in range(0, query.shape[0], step):
        rows = slice(start, start + step)
        keep = has_relevant[rows]
        if not bool(keep.any()):
            continue
        similarity = query_unit[rows][keep.to(query_unit.device)] @ target_unit.T
        first_rank, average_precision = _rank_chunk(similarity, relevant[rows][keep].to(similarity.device))
        ranks_of_first.append(first_rank)
        average_precisions.append(average_precision)
    if not ranks_of_first:
        raise BridgeError(f"retrieval: none of the {query.shape[0]} queries has a relevant target among {target.shape[0]}")
    first_ranks = torch.cat(ranks_of_first)
    metrics = {f"R@{k}": float((first_ranks <= k).double().mean()) for k in ks}
    metrics["mAP"] = float(torch.cat(average_precisions).mean())
    metrics["MedR"] = _median(first_ranks.double())
    metrics["n_queries"] = float(first_ranks.numel())
    metrics["n_without_relevant"] = float((~has_relevant).sum())
    return metrics


def retrieval_both_ways(
    a: torch.Tensor,
    b: torch.Tensor,
    relevant: torch.Tensor,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int | None = None,
) -> dict[str, dict[str, float]]:
    """Retrieval metrics from ``a`` to ``b`` and from ``b`` to ``a``.

    Args:
        a: ``(Na, d)`` embeddings.
        b: ``(Nb, d)`` embeddings.
        relevant: ``(Na, Nb)`` bool relevance of ``b`` rows to ``a`` rows.

    Returns:
        ``{"forward": a→b metrics, "backward": b→a metrics}`` as
        :func:`retrieval_metrics` returns them.
    """
    return {
        "forward": retrieval_metrics(a, b, relevant, ks, chunk_size),
        "backward": retrieval_metrics(b, a, relevant.T, ks, chunk_size),
    }


def relevance_matrix(query_keys: Sequence[str], target_keys: Sequence[str]) -> torch.Tensor:
    """``(Nq, Nt)`` bool matrix: ``True`` where a query's key (id or label) equals a target's."""
    codes: dict[str, int] = {}
    query_codes = torch.tensor([codes.setdefault(key, len(codes)) for key in query_keys], dtype=torch.long)
    target_codes = torch.tensor([codes.setdefault(key, len(codes)) for key in target_keys], dtype=torch.long)
    return query_codes[:, None] == target_codes[None, :]


def chance_retrieval_metrics(
    relevant: torch.Tensor,
    ks: Sequence[int] = DEFAULT_KS,
    draws: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """The metrics a uniformly random ranking of the targets would get, in expectation.

    For a query with ``r`` relevant targets among ``n``:

    - ``R@k`` is exact: ``1 - C(n-r, k) / C(n, k)``;
    - ``mAP`` is exact: the expected average precision of a random ranking is
      ``(H_n + (r-1)/(n-1) * (n - H_n)) / n`` with ``H_n`` the n-th harmonic
      number (1 when ``n = 1``);
    - ``MedR`` is a seeded Monte-Carlo estimate: ``draws`` times, each query's
      first relevant rank is sampled exactly from its distribution
      (``P(rank > k) = C(n-r, k) / C(n, k)``) and the median over queries is
      taken; the result is the mean of those medians.

    Queries with no relevant target are excluded, as in :func:`retrieval_metrics`.

    Args:
        relevant: ``(Nq, Nt)`` bool relevance.
        ks: the cut-offs of Recall@k.
        draws: Monte-Carlo draws for MedR.
        seed: seed of those draws.

    Returns:
        The keys of :func:`retrieval_metrics`.
    """
    if relevant.dim() != 2:
        raise ValueError(f"relevant must be (Nq, Nt), got shape {tuple(relevant.shape)}")
    n = relevant.shape[1]
    counts = relevant.sum(dim=1).cpu()
    evaluated = counts[counts > 0]
    if evaluated.numel() == 0:
        raise BridgeError(f"retrieval: none of the {relevant.shape[0]} queries has a relevant target among {n}")
    per_count = {int(r): _survival(n, int(r)) for r in evaluated.unique()}
    metrics = {}
    for k in ks:
        recall = {r: 1.0 - float(survival[k]) if k < survival.numel() else 1.0 for r, survival in per_count.items()}
        metrics[f"R@{k}"] = _mean_over(evaluated, recall)
    metrics["mAP"] = _mean_over(evaluated, {r: _expected_average_precision(n, r) for r in per_count})
    metrics["MedR"] = _sampled_median_rank(evaluated, per_count, draws, seed)
    metrics["n_queries"] = float(evaluated.numel())
    metrics["n_without_relevant"] = float(relevant.shape[0] - evaluated.numel())
    return metrics


def zero_shot_accuracy(
    items: torch.Tensor,
    class_embeddings: torch.Tensor,
    labels: torch.Tensor,
    ks: Sequence[int] = (1, 5),
) -> dict[str, float]:
    """Top-k accuracy of classifying ``items`` by their most similar class embedding.

    Args:
        items: ``(N, d)`` embeddings to classify.
        class_embeddings: ``(C, d)`` one embedding per class.
        labels: ``(N,)`` long, the true class index of each item.
        ks: the k of each top-k accuracy; a k above C counts as C.

    Returns:
        ``"top{k}"`` for each k: the fraction of items whose true class
        ranks at most k, a class tied with g classes (itself included) and
        below a more similar ones ranking ``a + (g + 1) / 2``.
    """
    if items.dim() != 2 or class_embeddings.dim() != 2 or items.shape[1] != class_embeddings.shape[1]:
        raise ValueError(f"items (N, d) and class_embeddings (C, d) must share d, got {tuple(items.shape)} and {tuple(class_embeddings.shape)}")
    n_classes = class_embeddings.shape[0]
    labels = labels.to(device=items.device, dtype=torch.long)
    if labels.shape != (items.shape[0],):
        raise ValueError(f"labels must be ({items.shape[0]},), got {tuple(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{int(labels.min())}, {int(labels.max())}]")
    similarity = _unit(items) @ _unit(class_embeddings).T
    true_similarity = similarity.gather(1, labels[:, None])
    above = (similarity > true_similarity).sum(dim=1).double()
    tied = (similarity == true_similarity).sum(dim=1).double()
    rank = above + (tied + 1) / 2
    return {f"top{k}": float((rank <= min(k, n_classes)).double().mean()) for k in ks}


def prompt_class_embeddings(prompt_embeddings: torch.Tensor, n_prompts: int) -> torch.Tensor:
    """One embedding per class: the mean of its prompt embeddings, re-normalised.

    Args:
        prompt_embeddings: ``(C * P, d)``, class-major: rows ``c * P`` to
            ``c * P + P - 1`` are class ``c``'s P templates.
        n_prompts: P.

    Returns:
        ``(C, d)`` L2-normalised class embeddings (each prompt row is
        normalised before averaging).
    """
    rows, dim = prompt_embeddings.shape
    if n_prompts < 1 or rows % n_prompts:
        raise ValueError(f"{rows} prompt embeddings cannot be split into groups of {n_prompts} prompts")
    per_class = _unit(prompt_embeddings).reshape(rows // n_prompts, n_prompts, dim)
    return _unit(per_class.mean(dim=1))


def _unit(embeddings: torch.Tensor) -> torch.Tensor:
    """``(N, d)`` rows scaled to unit L2 norm, as float32 (zero rows stay zero)."""
    return F.normalize(embeddings.float(), dim=-1)


def _check_pair(query: torch.Tensor, target: torch.Tensor, relevant: torch.Tensor) -> None:
    if query.dim() != 2 or target.dim() != 2 or query.shape[1] != target.shape[1]:
        raise ValueError(f"query (Nq, d) and target (Nt, d) must share d, got {tuple(query.shape)} and {tuple(target.shape)}")
    if tuple(relevant.shape) != (query.shape[0], target.shape[0]) or relevant.dtype != torch.bool:
        raise ValueError(
            f"relevant must be a bool ({query.shape[0]}, {target.shape[0]}) tensor, got {relevant.dtype} {tuple(relevant.shape)}"
        )


def _default_chunk(n_targets: int) -> int:
    return max(1, min(1024, CHUNK_ELEMENTS // max(1, n_targets)))


def _rank_chunk(similarity: torch.Tensor, relevant: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First relevant rank ``(c,)`` and average precision ``(c,)`` of a chunk of queries, both float64.

    Args:
        similarity: ``(c, Nt)`` query-target similarities.
        relevant: ``(c, Nt)`` bool, at least one ``True`` per row.

    Everything follows from two counts per relevant target j: the relevant
    targets and all the targets with similarity ``>= s_j``. Relevant target j
    contributes their ratio to the average precision (tied targets share one
    precision, sklearn's thresholds); the first relevant rank is the
    expected one with ties in random order. With few relevant targets per
    query (ids) the second count is counted directly (``O(r * Nt)`` per
    query), otherwise read off each query's sorted similarities. Both give
    the same integers, hence bit-identical results.
    """
    counts = relevant.sum(dim=1)
    most_relevant = int(counts.max())
    # each query's relevant similarities, descending, padded with -inf
    query_rows, target_columns = relevant.nonzero(as_tuple=True)
    slots = torch.arange(query_rows.numel(), device=relevant.device) - (counts.cumsum(0) - counts)[query_rows]
    score = torch.full((similarity.shape[0], most_relevant), -math.inf, dtype=similarity.dtype, device=similarity.device)
    score[query_rows, slots] = similarity[query_rows, target_columns]
    score = score.sort(dim=1, descending=True).values
    present = torch.arange(most_relevant, device=counts.device)[None, :] < counts[:, None]
    # ascending negated scores: searchsorted(..., right=True) counts the entries with similarity >= each score
    negated = -score
    relevant_at_least = torch.searchsorted(negated, negated, right=True)
    best = score[:, :1]
    if most_relevant <= FEW_RELEVANT:
        at_least = torch.stack([(similarity >= score[:, slot : slot + 1]).sum(dim=1) for slot in range(most_relevant)], dim=1)
        above = (similarity > best).sum(dim=1)
    else:
        ascending = (-similarity).sort(dim=1).values
        at_least = torch.searchsorted(ascending, negated, right=True)
        above = torch.searchsorted(ascending, negated[:, :1].contiguous(), right=False)[:, 0]
    precision = torch.where(present, relevant_at_least.double() / at_least.double(), 0.0)
    average_precision = precision.sum(dim=1) / counts.double()
    return _expected_first_rank(above, at_least[:, 0] - above, relevant_at_least[:, 0]), average_precision


def _expected_first_rank(above: torch.Tensor, tied: torch.Tensor, tied_relevant: torch.Tensor) -> torch.Tensor:
    """``(c,)`` float64 expected 1-based rank of the first relevant target, ties ordered at random.

    Args:
        above: ``(c,)`` targets more similar than the best relevant one.
        tied: ``(c,)`` targets exactly as similar (relevant ones included).
        tied_relevant: ``(c,)`` relevant targets among ``tied`` (at least 1).

    Each of the ``tied - tied_relevant`` irrelevant tied targets precedes
    all the relevant tied ones with probability ``1 / (tied_relevant + 1)``.
    """
    tied_relevant = tied_relevant.double()
    return above.double() + 1 + (tied.double() - tied_relevant) / (tied_relevant + 1)


def _median(values: torch.Tensor) -> float:
    """The median of a 1-D tensor, averaging the two middle values for an even count."""
    ordered = values.sort().values
    middle = ordered.numel() // 2
    if ordered.numel() % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2)


def _survival(n: int, r: int) -> torch.Tensor:
    """``(n - r + 2,)`` float64: ``P(first relevant rank > k) = C(n-r, k) / C(n, k)`` for k = 0 .. n-r+1."""
    i = torch.arange(0, n - r + 1, dtype=torch.double)
    # C(n-r, k) / C(n, k) = prod_{i < k} (n - r - i) / (n - i); the last factor (i = n-r) is 0.
    factors = (n - r - i) / (n - i)
    return torch.cat([torch.ones(1, dtype=torch.double), factors.cumprod(dim=0)])


def _expected_average_precision(n: int, r: int) -> float:
    """Expected average precision of a uniformly random ranking of n targets, r of them relevant."""
    if n == 1:
        return 1.0
    harmonic = sum(1.0 / position for position in range(1, n + 1))
    return (harmonic + (r - 1) / (n - 1) * (n - harmonic)) / n


def _mean_over(counts: torch.Tensor, value_per_count: dict[int, float]) -> float:
    """Mean over queries of a per-query value that depends only on the query's relevant count."""
    total = sum(value_per_count[int(r)] * int(m) for r, m in zip(*counts.unique(return_counts=True)))
    return total / counts.numel()


def _sampled_median_rank(counts: torch.Tensor, survival_per_count: dict[int, torch.Tensor], draws: int, seed: int) -> float:
    """Mean over ``draws`` of the median first-relevant rank, ranks sampled by inverse transform."""
    generator = torch.Generator().manual_seed(seed)
    medians = []
    for _ in range(draws):
        ranks = torch.empty(counts.numel(), dtype=torch.double)
        uniform = torch.rand(counts.numel(), generator=generator, dtype=torch.double)
        for r, survival in survival_per_count.items():
            chosen = counts == r
            # first rank = 1 + #{k >= 1 : P(rank > k) > u}; the survival is decreasing.
            tail = -survival[1:]
            ranks[chosen] = 1.0 + torch.searchsorted(tail, -uniform[chosen], right=False).double()
        medians.append(_median(ranks))
    return math.fsum(medians) / len(medians)
