"""Approximate nearest-neighbour search over L2-normalised embeddings, with FAISS (faiss-cpu).

The index kind follows the number of vectors N (and D), as
:func:`choose_factory` says; every kind uses the inner product, which is
the cosine similarity for unit rows:

| kind | FAISS factory | when (``auto``) | search parameter |
| --- | --- | --- | --- |
| ``flat`` | ``Flat`` | N ≤ 100,000 | none: exact |
| ``ivf`` | ``IVF<nlist>,Flat``, nlist ≈ 4·√N (a power of two) | larger, while the vectors fit 4 GiB | ``nprobe`` |
| ``ivf-sq8`` | ``IVF<nlist>,SQ8`` (8-bit scalar codes, 4× smaller) | beyond | ``nprobe`` |
| ``hnsw`` | ``HNSW32`` | only when asked | ``efSearch`` |

:func:`build` trains on a sample of the vectors, adds them batch by batch
(never all in memory at once beyond the index itself) and tunes the search
parameter: the smallest value whose recall@10 against exact search, on
sample vectors used as queries (their own row left out), reaches the target.
faiss is imported only here, when an index is built or read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from bridge.errors import BridgeError
from bridge.progress import Reporter, SilentReporter

Kind = Literal["auto", "flat", "ivf", "ivf-sq8", "hnsw"]
KINDS = ("auto", "flat", "ivf", "ivf-sq8", "hnsw")
FLAT_MAX = 100_000
IVF_FLAT_MAX_BYTES = 4 * 2**30
TUNE_QUERIES = 500
TUNE_TARGET = 0.97
"""Recall@10 the build aims for on its own sample (held-out queries land a little lower; the benchmark measures them)."""
CANDIDATES = {"nprobe": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), "efSearch": (16, 32, 64, 128, 256, 512, 1024)}

Batches = Callable[[], Iterator[tuple[int, np.ndarray]]]
"""Calling it yields ``(first row, (n, D) float32)`` over all N vectors, in row order (it may be called several times)."""


def require_faiss() -> Any:
    """The faiss module, or a one-line error saying how to install it."""
    try:
        import faiss
    except ImportError as error:
        raise BridgeError(f"search indexes need faiss-cpu: pip install 'mcr-bridge[scale]' ({error})") from error
    return faiss


@dataclass(frozen=True)
class Plan:
    """What :func:`build` makes: the FAISS factory string, its search parameter, and how many vectors train it."""

    kind: str
    factory: str
    parameter: str | None
    train_rows: int


def choose_factory(count: int, dim: int, kind: str = "auto") -> Plan:
    """The index for ``count`` vectors of dimension ``dim`` (``kind`` ``auto`` decides by size; see the module docstring)."""
    if kind not in KINDS:
        raise BridgeError(f"--kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if count <= 0:
        raise BridgeError("no vectors to index")
    if kind == "auto":
        kind = "flat" if count <= FLAT_MAX else "ivf" if count * dim * 4 <= IVF_FLAT_MAX_BYTES else "ivf-sq8"
    if kind == "flat":
        return Plan("flat", "Flat", None, 0)
    if kind == "hnsw":
        return Plan("hnsw", "HNSW32", "efSearch", 0)
    nlist = int(2 ** round(math.log2(max(4 * math.sqrt(count), 16))))
    nlist = max(1, min(nlist, 65536, count // 39))  # FAISS wants at least 39 training points per list
    codes = "Flat" if kind == "ivf" else "SQ8"
    return Plan(kind, f"IVF{nlist},{codes}", "nprobe", min(count, 40 * nlist))


def set_parameter(index: Any, name: str | None, value: int | None) -> None:
    """Set ``nprobe`` (IVF) or ``efSearch`` (HNSW) on ``index``; nothing for a flat index."""
    if name is None or value is None:
        return
    faiss = require_faiss()
    faiss.ParameterSpace().set_index_parameter(index, name, int(value))


def build(batches: Batches, count: int, dim: int, kind: str = "auto", *, reporter: Reporter | None = None,
          seed: int = 0, tune_target: float = TUNE_TARGET) -> tuple[Any, Plan, dict[str, Any]]:
    """Build and tune a FAISS inner-product index over ``count`` unit vectors.

    Returns:
        The index, its :class:`Plan`, and facts: the tuned parameter value and the recall@10 it reached.
    """
    faiss = require_faiss()
    reporter = reporter or SilentReporter()
    plan = choose_factory(count, dim, kind)
    index = faiss.index_factory(dim, plan.factory, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    if plan.train_rows:
        sample = _rows(batches, np.sort(rng.choice(count, plan.train_rows, replace=False)), dim)
        with reporter.task(f"train {plan.factory} on {plan.train_rows} vectors", total=None):
            index.train(sample)
        del sample
    with reporter.task(f"add to {plan.factory}", total=count) as task:
        for _, batch in batches():
            index.add(np.ascontiguousarray(batch, dtype=np.float32))
            task.advance(len(batch))
    facts: dict[str, Any] = {"factory": plan.factory, "parameter": plan.parameter}
    if plan.parameter is not None:
        value, recall = tune(index, plan.parameter, batches, count, dim, rng, tune_target, reporter)
        facts.update(value=value, tuned_recall_at_10=recall)
    return index, plan, facts


def tune(index: Any, parameter: str, batches: Batches, count: int, dim: int, rng: np.random.Generator,
         target: float, reporter: Reporter, k: int = 10) -> tuple[int, float]:
    """The smallest ``parameter`` value whose recall@k on sample vectors (their own row left out) reaches ``target``."""
    rows = np.sort(rng.choice(count, min(TUNE_QUERIES, count), replace=False))
    queries = _rows(batches, rows, dim)
    with reporter.task("exact search for tuning", total=None):
        _, exact = exact_search(batches, queries, k + 1)
    truth = _without_self(exact, rows, k)
    recall = 0.0
    candidates = CANDIDATES[parameter]
    for value in candidates:
        set_parameter(index, parameter, value)
        _, found = index.search(queries, k + 1)
        recall = recall_at_k(_without_self(found, rows, k), truth)
        if recall >= target:
            return value, recall
    return candidates[-1], recall


def exact_search(batches: Batches, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products of ``(Q, D)`` queries over every vector: ``(Q, k)`` scores and rows, best first."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for first, batch in batches():
        scores = queries @ batch.T
        take = min(k, scores.shape[1])
        top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        best_rows = np.concatenate([best_rows, top + first], axis=1)
        if best_scores.shape[1] > k:
            keep = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
            best_scores, best_rows = np.take_along_axis(best_scores, keep, axis=1), np.take_along_axis(best_rows, keep, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return np.take_along_axis(best_scores, order, axis=1), np.take_along_axis(best_rows, order, axis=1)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean over queries of |found ∩ truth| / k for ``(Q, k)`` row arrays (``-1`` never counts)."""
    k = truth.shape[1]
    hits = [len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth)]
    return float(np.mean(hits)) / k if hits else 0.0


def _without_self(found: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Each query's ``k`` best rows other than its own."""
    kept = [[r for r in line if r != own][:k] for line, own in zip(found.tolist(), rows.tolist())]
    return np.array([line + [-1] * (k - len(line)) for line in kept], dtype=np.int64).reshape(len(kept), k)


def _rows(batches: Batches, rows: np.ndarray, dim: int) -> np.ndarray:
    """``(len(rows), D)`` float32 of the given sorted global rows."""
    out = np.empty((len(rows), dim), dtype=np.float32)
    position = 0
    for first, batch in batches():
        if position == len(rows):
            break
        end = np.searchsorted(rows, first + len(batch))
        out[position:end] = batch[rows[position:end] - first]
        position = end
    return out
