"""Tied similarities: ranks are averaged (sklearn's convention), never broken by target or class index.

The references below are written out in plain Python with exact fractions: they
share no code with :mod:`bridge.evaluation.metrics`.

Query rows are given as score rows against one-hot targets (``torch.eye``): the
metric normalises each row by a positive constant, which keeps every tie and
every order, so the rows *are* the scores the metric ranks.
"""

from __future__ import annotations

import itertools
import math
import statistics
from fractions import Fraction

import pytest
import torch

import bridge.evaluation.metrics
from bridge.evaluation.metrics import relevance_matrix, retrieval_metrics, zero_shot_accuracy

PATHS = {"counting": 10**6, "sorting": 0}
"""``FEW_RELEVANT`` values that force each code path, whatever the relevant count."""


def sklearn_average_precision(scores: list[float], relevant: list[bool]) -> Fraction:
    """``sklearn.metrics.average_precision_score``: sum over distinct thresholds of ΔRecall × Precision."""
    total = sum(relevant)
    average_precision, previous_recall = Fraction(0), Fraction(0)
    for threshold in sorted(set(scores), reverse=True):
        selected = [hit for score, hit in zip(scores, relevant) if score >= threshold]
        recall = Fraction(sum(selected), total)
        average_precision += (recall - previous_recall) * Fraction(sum(selected), len(selected))
        previous_recall = recall
    return average_precision


def expected_first_rank(scores: list[float], relevant: list[bool]) -> Fraction:
    """E[rank of the first relevant target] with ties in random order, as the sum of its survival function.

    The first relevant target lies in the tie group of the best relevant score,
    behind the ``a`` targets above it; inside the group of ``g`` with ``h``
    relevant, P(more than m targets precede it) = C(g - h, m) / C(g, m).
    """
    best = max(score for score, hit in zip(scores, relevant) if hit)
    above = sum(score > best for score in scores)
    group = sum(score == best for score in scores)
    hits = sum(hit and score == best for score, hit in zip(scores, relevant))
    survival = sum(Fraction(math.comb(group - hits, m), math.comb(group, m)) for m in range(group - hits + 1))
    return above + survival


def reference_metrics(scores: torch.Tensor, relevant: torch.Tensor, ks: tuple[int, ...]) -> dict[str, Fraction]:
    rows = [(s, r) for s, r in zip(scores.tolist(), relevant.tolist()) if any(r)]
    ranks = [expected_first_rank(s, r) for s, r in rows]
    metrics = {f"R@{k}": Fraction(sum(rank <= k for rank in ranks), len(ranks)) for k in ks}
    metrics["mAP"] = sum((sklearn_average_precision(s, r) for s, r in rows), Fraction(0)) / len(rows)
    metrics["MedR"] = statistics.median(ranks)
    metrics["n_queries"] = Fraction(len(rows))
    return metrics


def assert_matches(metrics: dict[str, float], reference: dict[str, Fraction]) -> None:
    for key, value in reference.items():
        if key.startswith("R@") or key == "n_queries":
            assert metrics[key] == float(value), key  # a count over queries: exact
        else:
            assert metrics[key] == pytest.approx(float(value), abs=1e-12), key


def tied_scores(n_queries: int, n_targets: int, seed: int) -> torch.Tensor:
    """Scores in {0.0, 0.1, ..., 1.0}: many exact ties."""
    return (torch.rand(n_queries, n_targets, generator=torch.Generator().manual_seed(seed)) * 10).round() / 10


def few_relevant(n_queries: int, n_targets: int, seed: int) -> torch.Tensor:
    """1 to 3 relevant targets per query (ids)."""
    generator = torch.Generator().manual_seed(seed)
    relevant = torch.zeros(n_queries, n_targets, dtype=torch.bool)
    for row in range(n_queries):
        relevant[row, torch.randperm(n_targets, generator=generator)[: 1 + row % 3]] = True
    return relevant


def many_relevant(n_queries: int, n_targets: int, seed: int) -> torch.Tensor:
    """Labels from 3 classes: about a third of the targets relevant to each query; some queries have none."""
    generator = torch.Generator().manual_seed(seed)
    query_labels = [f"c{int(x)}" for x in torch.randint(0, 4, (n_queries,), generator=generator)]
    target_labels = [f"c{int(x)}" for x in torch.randint(0, 3, (n_targets,), generator=generator)]
    return relevance_matrix(query_labels, target_labels)


RELEVANCE = {"ids": few_relevant, "labels": many_relevant}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("data", RELEVANCE)
@pytest.mark.parametrize("chunk_size", [None, 7])
def test_map_and_ranks_match_the_sklearn_reference_with_ties(
    path: str, data: str, chunk_size: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    n_queries, n_targets = 90, 60
    scores = tied_scores(n_queries, n_targets, seed=11)
    relevant = RELEVANCE[data](n_queries, n_targets, seed=12)
    ks = (1, 2, 3, 5, 10)
    monkeypatch.setattr(bridge.evaluation.metrics, "FEW_RELEVANT", PATHS[path])
    metrics = retrieval_metrics(scores, torch.eye(n_targets), relevant, ks=ks, chunk_size=chunk_size)
    assert_matches(metrics, reference_metrics(scores, relevant, ks))
    assert metrics["n_without_relevant"] == float((~relevant.any(dim=1)).sum())


@pytest.mark.parametrize("data", RELEVANCE)
def test_both_paths_agree_on_tied_data(data: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scores = tied_scores(50, 40, seed=21)
    relevant = RELEVANCE[data](50, 40, seed=22)
    results = {}
    for path, few in PATHS.items():
        monkeypatch.setattr(bridge.evaluation.metrics, "FEW_RELEVANT", few)
        results[path] = retrieval_metrics(scores, torch.eye(40), relevant, ks=(1, 3, 10))
    assert results["sorting"] == results["counting"]  # the same integer counts feed the same float64 code


# One query, scores [.5, .5, .5, .2], relevant t0 and t3. Breaking the tie by index would
# put t0 first (AP (1 + 2/4) / 2 = 0.75, first rank 1); as one threshold the AP is
# 1/2 * 1/3 + 1/2 * 2/4 = 5/12 and t0 is expected at rank 1 + 2/2 = 2.
CONSTRUCTED_FEW = ([[0.5, 0.5, 0.5, 0.2]], [0, 3], Fraction(5, 12), Fraction(2))
# Six relevant (the sorting path by default): t0..t4 tied with t5..t7 at .9, t8 at .3.
# By index: ranks 1..5 and 9, AP (5 + 6/9) / 6 ≈ 0.944, first rank 1. As thresholds:
# 5/6 * 5/8 + 1/6 * 6/10 = 149/240, first rank 1 + 3/6.
CONSTRUCTED_MANY = ([[0.9] * 8 + [0.3] * 2], [0, 1, 2, 3, 4, 8], Fraction(149, 240), Fraction(3, 2))


@pytest.mark.parametrize("path", [None, *PATHS])
@pytest.mark.parametrize("case", [CONSTRUCTED_FEW, CONSTRUCTED_MANY], ids=["few", "many"])
def test_constructed_case_where_index_tie_breaking_differs(path: str | None, case: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    rows, columns, average_precision, first_rank = case
    scores = torch.tensor(rows)
    relevant = torch.zeros_like(scores, dtype=torch.bool)
    relevant[0, columns] = True
    assert sklearn_average_precision(rows[0], relevant[0].tolist()) == average_precision
    assert expected_first_rank(rows[0], relevant[0].tolist()) == first_rank
    if path is not None:
        monkeypatch.setattr(bridge.evaluation.metrics, "FEW_RELEVANT", PATHS[path])
    metrics = retrieval_metrics(scores, torch.eye(scores.shape[1]), relevant, ks=(1, 2))
    assert metrics["mAP"] == pytest.approx(float(average_precision), abs=1e-12)
    assert metrics["MedR"] == float(first_rank)
    assert metrics["R@1"] == 0.0 and metrics["R@2"] == 1.0


def test_expected_first_rank_is_the_mean_over_every_tie_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ground truth for the rank formula: average the index-broken rank over all orders of the targets."""
    generator = torch.Generator().manual_seed(31)
    n = 6
    for _ in range(25):
        scores = torch.randint(0, 3, (1, n), generator=generator).float() / 2  # 3 levels: large tie groups
        relevant = torch.rand(1, n, generator=generator) < 0.4
        relevant[0, int(torch.randint(0, n, (1,), generator=generator))] = True
        row, hits = scores[0].tolist(), relevant[0].tolist()
        total = Fraction(0)
        orders = list(itertools.permutations(range(n)))
        for order in orders:  # order[j]: the tie-break position of target j
            ranked = sorted(range(n), key=lambda j: (-row[j], order[j]))
            total += 1 + next(position for position, j in enumerate(ranked) if hits[j])
        assert expected_first_rank(row, hits) == total / len(orders)
        for few in PATHS.values():
            monkeypatch.setattr(bridge.evaluation.metrics, "FEW_RELEVANT", few)
            medr = retrieval_metrics(scores, torch.eye(n), relevant)["MedR"]
            assert medr == pytest.approx(float(total / len(orders)), abs=1e-12)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("n_relevant", [1, 2, 5])
def test_constant_similarity(path: str, n_relevant: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # every target tied: h relevant among n -> first rank 1 + (n - h) / (h + 1), AP h / n
    n = 9
    relevant = torch.zeros(3, n, dtype=torch.bool)
    relevant[:, :n_relevant] = True
    monkeypatch.setattr(bridge.evaluation.metrics, "FEW_RELEVANT", PATHS[path])
    metrics = retrieval_metrics(torch.zeros(3, 4), torch.randn(n, 4), relevant, ks=(1, 5))
    expected_rank = 1 + (n - n_relevant) / (n_relevant + 1)
    assert metrics["MedR"] == pytest.approx(expected_rank, abs=1e-12)
    assert metrics["mAP"] == pytest.approx(n_relevant / n, abs=1e-12)
    assert metrics["R@1"] == float(expected_rank <= 1) and metrics["R@5"] == float(expected_rank <= 5)
    if n_relevant == 1:
        assert metrics["MedR"] == (n + 1) / 2


@pytest.mark.parametrize("data", RELEVANCE)
def test_target_order_does_not_matter(data: str) -> None:
    scores = tied_scores(40, 30, seed=41)
    relevant = RELEVANCE[data](40, 30, seed=42)
    permutation = torch.randperm(30, generator=torch.Generator().manual_seed(43))
    before = retrieval_metrics(scores, torch.eye(30), relevant, ks=(1, 5))
    after = retrieval_metrics(scores[:, permutation], torch.eye(30), relevant[:, permutation], ks=(1, 5))
    for key, value in before.items():
        assert after[key] == pytest.approx(value, abs=1e-12), key


def reference_zero_shot(scores: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...]) -> dict[str, float]:
    ranks = []
    for row, label in zip(scores.tolist(), labels.tolist()):
        true = row[label]
        ranks.append(sum(s > true for s in row) + Fraction(sum(s == true for s in row) + 1, 2))
    return {f"top{k}": sum(rank <= k for rank in ranks) / len(ranks) for k in ks}


def test_zero_shot_with_ties() -> None:
    classes = torch.eye(4)
    items = torch.tensor(
        [
            [0.5, 0.5, 0.1, 0.1],  # label 0: tied with class 1 -> rank 1.5
            [0.5, 0.5, 0.5, 0.1],  # label 2: three tied -> rank 2
            [0.9, 0.5, 0.5, 0.5],  # label 3: one ahead, three tied -> rank 1 + 2 = 3
            [0.2, 0.2, 0.2, 0.2],  # label 1: four tied -> rank 2.5
            [0.1, 0.9, 0.3, 0.3],  # label 1: alone on top -> rank 1
        ]
    )
    labels = torch.tensor([0, 2, 3, 1, 1])
    accuracy = zero_shot_accuracy(items, classes, labels, ks=(1, 2, 3, 4))
    assert accuracy == {"top1": 1 / 5, "top2": 3 / 5, "top3": 1.0, "top4": 1.0}
    assert accuracy == reference_zero_shot(items, labels, ks=(1, 2, 3, 4))


def test_zero_shot_random_ties_and_class_order() -> None:
    generator = torch.Generator().manual_seed(51)
    scores = (torch.rand(300, 12, generator=generator) * 4).round() / 4  # 5 levels among 12 classes
    labels = torch.randint(0, 12, (300,), generator=generator)
    ks = (1, 2, 3, 5, 12)
    accuracy = zero_shot_accuracy(scores, torch.eye(12), labels, ks=ks)
    assert accuracy == reference_zero_shot(scores, labels, ks)
    permutation = torch.randperm(12, generator=generator)  # new class c is old class permutation[c]
    relabelled = torch.argsort(permutation)[labels]
    assert zero_shot_accuracy(scores[:, permutation], torch.eye(12), relabelled, ks=ks) == accuracy


def sort_based_metrics(scores: torch.Tensor, relevant: torch.Tensor, ks: tuple[int, ...]) -> dict[str, float]:
    """The plain definition for distinct scores: sort, read off the relevant ranks."""
    first_ranks, average_precisions = [], []
    for row, hits in zip(scores.tolist(), relevant.tolist()):
        if not any(hits):
            continue
        ranked = sorted(range(len(row)), key=lambda j: -row[j])
        ranks = [position + 1 for position, j in enumerate(ranked) if hits[j]]
        first_ranks.append(ranks[0])
        average_precisions.append(math.fsum((i + 1) / rank for i, rank in enumerate(ranks)) / len(ranks))
    metrics = {f"R@{k}": sum(rank <= k for rank in first_ranks) / len(first_ranks) for k in ks}
    metrics["mAP"] = math.fsum(average_precisions) / len(average_precisions)
    metrics["MedR"] = float(statistics.median(first_ranks))
    metrics["n_queries"] = float(len(first_ranks))
    return metrics


@pytest.mark.parametrize("path", [None, *PATHS])
@pytest.mark.parametrize("data", RELEVANCE)
def test_without_ties_the_numbers_are_those_of_a_plain_sort(path: str | None, data: str, monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(61)
    n_queries, n_targets = 70, 50
    # each row a permutation of distinct levels: no ties at all
    scores = torch.stack([torch.randperm(n_targets, generator=generator) for _ in range(n_queries)]).float() + 1
    relevant = RELEVANCE[data](n_queries, n_targets, seed=62)
    if path is not None:
        monkeypatch.setattr(bridge.evaluation.metrics, "FEW_RELEVANT", PATHS[path])
    ks = (1, 5, 10)
    metrics = retrieval_metrics(scores, torch.eye(n_targets), relevant, ks=ks, chunk_size=16)
    reference = sort_based_metrics(scores, relevant, ks)
    for key, value in reference.items():
        if key == "mAP":
            assert metrics[key] == pytest.approx(value, abs=1e-12)
        else:
            assert metrics[key] == value, key  # counts and integer ranks: exact


def test_without_ties_on_real_embeddings() -> None:
    generator = torch.Generator().manual_seed(71)
    queries = torch.randn(120, 16, generator=generator)
    targets = torch.randn(200, 16, generator=generator)
    relevant = many_relevant(120, 200, seed=72) | few_relevant(120, 200, seed=73)
    unit = torch.nn.functional.normalize
    similarity = unit(queries) @ unit(targets).T  # one chunk: the product the metric computes
    assert all(len(set(row)) == len(row) for row in similarity.tolist())
    metrics = retrieval_metrics(queries, targets, relevant, ks=(1, 5, 10))
    reference = sort_based_metrics(similarity, relevant, (1, 5, 10))
    assert metrics["mAP"] == pytest.approx(reference.pop("mAP"), abs=1e-12)
    assert {key: metrics[key] for key in reference} == reference
