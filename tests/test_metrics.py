"""Retrieval, chance-level and zero-shot metrics on hand-computed and constructed cases."""

from __future__ import annotations

import itertools

import pytest
import torch

import bridge.evaluation.metrics
from bridge.errors import BridgeError
from bridge.evaluation.metrics import (
    chance_retrieval_metrics,
    prompt_class_embeddings,
    relevance_matrix,
    retrieval_both_ways,
    retrieval_metrics,
    zero_shot_accuracy,
)

# Targets are the one-hot axes of R^4, so a query's cosine similarity to target j
# is proportional to its j-th coordinate: the query rows below *are* the scores.
TARGETS = torch.eye(4)
SCORES = torch.tensor(
    [
        [0.9, 0.1, 0.5, 0.3],  # ranking t0 t2 t3 t1
        [0.2, 0.8, 0.6, 0.4],  # ranking t1 t2 t3 t0
        [0.7, 0.6, 0.5, 0.4],  # ranking t0 t1 t2 t3
    ]
)


def one_relevant(columns: list[int], n_targets: int = 4) -> torch.Tensor:
    relevant = torch.zeros(len(columns), n_targets, dtype=torch.bool)
    relevant[torch.arange(len(columns)), torch.tensor(columns)] = True
    return relevant


def test_hand_computed_ranks() -> None:
    # relevant targets: t2 (rank 2), t1 (rank 1), t3 (rank 4)
    metrics = retrieval_metrics(SCORES, TARGETS, one_relevant([2, 1, 3]), ks=(1, 2, 3, 5))
    assert metrics["R@1"] == pytest.approx(1 / 3)
    assert metrics["R@2"] == pytest.approx(2 / 3)
    assert metrics["R@3"] == pytest.approx(2 / 3)
    assert metrics["R@5"] == pytest.approx(1.0)
    assert metrics["mAP"] == pytest.approx((1 / 2 + 1 + 1 / 4) / 3)
    assert metrics["MedR"] == 2.0
    assert metrics["n_queries"] == 3
    assert metrics["n_without_relevant"] == 0


def test_default_keys() -> None:
    metrics = retrieval_metrics(SCORES, TARGETS, one_relevant([0, 1, 0]))
    assert set(metrics) == {"R@1", "R@5", "R@10", "mAP", "MedR", "n_queries", "n_without_relevant"}


def test_inputs_are_normalised_by_the_metric() -> None:
    relevant = one_relevant([2, 1, 3])
    scaled = SCORES * torch.tensor([[10.0], [0.01], [3.0]])
    assert retrieval_metrics(scaled, TARGETS * 7, relevant) == retrieval_metrics(SCORES, TARGETS, relevant)


def test_several_relevant_targets_per_query() -> None:
    relevant = torch.zeros(3, 4, dtype=torch.bool)
    relevant[0, [1, 3]] = True  # ranks 4 and 3 -> precisions 1/3, 2/4
    relevant[1, [0, 2]] = True  # ranks 4 and 2 -> precisions 1/2, 2/4
    relevant[2, [0, 2]] = True  # ranks 1 and 3 -> precisions 1, 2/3
    metrics = retrieval_metrics(SCORES, TARGETS, relevant, ks=(1, 2, 3))
    assert metrics["mAP"] == pytest.approx(((1 / 3 + 1 / 2) / 2 + (1 / 2 + 1 / 2) / 2 + (1 + 2 / 3) / 2) / 3)
    assert metrics["R@1"] == pytest.approx(1 / 3)
    assert metrics["R@2"] == pytest.approx(2 / 3)
    assert metrics["R@3"] == pytest.approx(1.0)
    assert metrics["MedR"] == 2.0  # first ranks 3, 2, 1


def test_perfect_retrieval() -> None:
    embeddings = torch.nn.functional.normalize(torch.randn(20, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    metrics = retrieval_metrics(embeddings, embeddings, torch.eye(20, dtype=torch.bool))
    assert metrics["R@1"] == 1.0 and metrics["R@10"] == 1.0
    assert metrics["mAP"] == 1.0
    assert metrics["MedR"] == 1.0


def test_reversed_ranking_puts_every_answer_last() -> None:
    targets = torch.eye(12)
    metrics = retrieval_metrics(-targets, targets, torch.eye(12, dtype=torch.bool), ks=(1, 11, 12))
    assert metrics["R@1"] == 0.0 and metrics["R@11"] == 0.0 and metrics["R@12"] == 1.0
    assert metrics["mAP"] == pytest.approx(1 / 12)
    assert metrics["MedR"] == 12.0


def test_constant_similarity_averages_the_ranks() -> None:
    # all similarities equal: every query's single relevant target has the expected rank (4 + 1) / 2.
    metrics = retrieval_metrics(torch.zeros(4, 3), torch.ones(4, 3), torch.eye(4, dtype=torch.bool), ks=(1, 2, 3))
    assert metrics["R@1"] == 0.0 and metrics["R@2"] == 0.0 and metrics["R@3"] == 1.0
    assert metrics["MedR"] == 2.5
    assert metrics["mAP"] == pytest.approx(1 / 4)
    # the order of the tied targets does not matter, however many there are
    n = 600
    many = retrieval_metrics(torch.zeros(n, 3), torch.ones(n, 3), torch.eye(n, dtype=torch.bool), ks=(1, 300, 301))
    assert many["R@1"] == 0.0 and many["R@300"] == 0.0 and many["R@301"] == 1.0
    assert many["MedR"] == (n + 1) / 2
    assert many["mAP"] == pytest.approx(1 / n)


def test_queries_without_relevant_targets_are_excluded_and_counted() -> None:
    relevant = one_relevant([2, 1, 3])
    relevant[1] = False
    metrics = retrieval_metrics(SCORES, TARGETS, relevant, ks=(1,))
    assert metrics["n_queries"] == 2 and metrics["n_without_relevant"] == 1
    assert metrics["R@1"] == 0.0
    assert metrics["mAP"] == pytest.approx((1 / 2 + 1 / 4) / 2)
    assert metrics["MedR"] == 3.0  # median of 2 and 4
    with pytest.raises(BridgeError, match="none of the 3 queries"):
        retrieval_metrics(SCORES, TARGETS, torch.zeros(3, 4, dtype=torch.bool))


def test_chunking_does_not_change_the_numbers() -> None:
    generator = torch.Generator().manual_seed(1)
    queries = torch.randn(203, 16, generator=generator)
    targets = torch.randn(157, 16, generator=generator)
    query_labels = [f"c{int(x)}" for x in torch.randint(0, 9, (203,), generator=generator)]
    target_labels = [f"c{int(x)}" for x in torch.randint(0, 12, (157,), generator=generator)]
    relevant = relevance_matrix(query_labels, target_labels)
    whole = retrieval_metrics(queries, targets, relevant, chunk_size=10_000)
    for chunk_size in (5, 64):
        chunked = retrieval_metrics(queries, targets, relevant, chunk_size=chunk_size)
        assert chunked.keys() == whole.keys()
        for key in whole:
            assert chunked[key] == pytest.approx(whole[key], abs=1e-12), key
    assert whole["n_without_relevant"] == sum(label not in target_labels for label in query_labels)


@pytest.mark.parametrize("n_relevant", [1, 3])
def test_counted_and_sorted_ranks_agree_with_ties(n_relevant: int, monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(5 + n_relevant)
    # coordinates in {-1, 0, 1} in 3-d: many exactly tied similarities
    queries = torch.randint(-1, 2, (80, 3), generator=generator).float()
    targets = torch.randint(-1, 2, (300, 3), generator=generator).float()
    relevant = torch.zeros(80, 300, dtype=torch.bool)
    for row in range(80):
        relevant[row, torch.randperm(300, generator=generator)[: 1 + row % n_relevant]] = True
    counted = retrieval_metrics(queries, targets, relevant, ks=(1, 5, 50))
    monkeypatch.setattr(bridge.evaluation.metrics, "FEW_RELEVANT", 0)
    sorted_ = retrieval_metrics(queries, targets, relevant, ks=(1, 5, 50))
    assert counted == sorted_


def test_relevance_matrix() -> None:
    relevant = relevance_matrix(["dog", "cat", "owl"], ["cat", "dog", "dog", "cow"])
    expected = torch.tensor([[False, True, True, False], [True, False, False, False], [False, False, False, False]])
    assert relevant.dtype == torch.bool
    assert torch.equal(relevant, expected)


def test_both_ways_transposes_relevance() -> None:
    generator = torch.Generator().manual_seed(4)
    a = torch.randn(6, 5, generator=generator)
    b = torch.randn(6, 5, generator=generator)
    relevant = one_relevant([1, 2, 3, 4, 5, 0], n_targets=6)  # a cyclic shift: not symmetric
    both = retrieval_both_ways(a, b, relevant, ks=(1, 3))
    assert both["forward"] == retrieval_metrics(a, b, relevant, ks=(1, 3))
    assert both["backward"] == retrieval_metrics(b, a, relevant.T, ks=(1, 3))
    assert both["backward"] != retrieval_metrics(b, a, relevant, ks=(1, 3))


def _exact_chance(relevant: torch.Tensor, ks: tuple[int, ...]) -> dict[str, float]:
    """Average of the metrics over every permutation of the targets (small n only)."""
    n = relevant.shape[1]
    totals: dict[str, float] = {}
    permutations = list(itertools.permutations(range(n)))
    for permutation in permutations:
        scores = torch.zeros(relevant.shape[0], n)
        scores[:, list(permutation)] = torch.arange(n, 0, -1, dtype=torch.float)  # target permutation[i] ranks i+1
        metrics = retrieval_metrics(scores, torch.eye(n), relevant, ks=ks)
        for key in ("mAP", *(f"R@{k}" for k in ks)):
            totals[key] = totals.get(key, 0.0) + metrics[key] / len(permutations)
    return totals


def test_chance_recall_and_map_are_exact() -> None:
    relevant = torch.tensor(
        [[True, False, False, False, False], [False, True, False, True, False], [True, True, True, False, False]]
    )
    chance = chance_retrieval_metrics(relevant, ks=(1, 2, 3))
    exact = _exact_chance(relevant, ks=(1, 2, 3))
    for key, value in exact.items():
        assert chance[key] == pytest.approx(value, abs=1e-9), key
    assert chance["R@1"] == pytest.approx((1 / 5 + 2 / 5 + 3 / 5) / 3)


def test_chance_matches_random_rankings() -> None:
    generator = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 6, (60,), generator=generator)
    target_labels = torch.randint(0, 8, (30,), generator=generator)
    relevant = labels[:, None] == target_labels[None, :]
    chance = chance_retrieval_metrics(relevant, ks=(1, 5), draws=200, seed=3)
    # 300 random rankings at once: every draw has the same queries, so the mean over the
    # stacked queries is the mean over draws of R@k and mAP.
    draws = 300
    stacked = retrieval_metrics(torch.rand(draws * 60, 30, generator=generator), torch.eye(30), relevant.repeat(draws, 1), ks=(1, 5))
    for key in ("R@1", "R@5", "mAP"):
        assert chance[key] == pytest.approx(stacked[key], abs=0.01), key
    assert chance["n_queries"] * draws == stacked["n_queries"]
    assert chance["n_without_relevant"] * draws == stacked["n_without_relevant"]
    medians = [retrieval_metrics(torch.rand(60, 30, generator=generator), torch.eye(30), relevant)["MedR"] for _ in range(40)]
    assert chance["MedR"] == pytest.approx(sum(medians) / len(medians), abs=0.35)


def test_chance_with_one_relevant_target_each() -> None:
    n = 50
    chance = chance_retrieval_metrics(torch.eye(n, dtype=torch.bool), ks=(1, 10))
    assert chance["R@1"] == pytest.approx(1 / n)
    assert chance["R@10"] == pytest.approx(10 / n)
    assert chance["mAP"] == pytest.approx(sum(1 / k for k in range(1, n + 1)) / n)
    assert chance["MedR"] == pytest.approx((n + 1) / 2, rel=0.12)
    assert chance_retrieval_metrics(torch.eye(n, dtype=torch.bool), ks=(1,)) == chance_retrieval_metrics(
        torch.eye(n, dtype=torch.bool), ks=(1,)
    )


def test_zero_shot_accuracy() -> None:
    classes = torch.eye(3) * 2.0
    items = torch.tensor(
        [
            [1.0, 0.0, 0.0],  # label 0: rank 1
            [0.1, 0.9, 0.5],  # label 2: class 1 ahead -> rank 2
            [0.9, 0.5, 0.1],  # label 2: classes 0, 1 ahead -> rank 3
            [0.2, 0.3, 0.9],  # label 1: class 2 ahead -> rank 2
            [0.0, 0.0, 0.0],  # label 2: all three tied -> rank 0 + (3 + 1) / 2 = 2
        ]
    )
    labels = torch.tensor([0, 2, 2, 1, 2])
    accuracy = zero_shot_accuracy(items, classes, labels, ks=(1, 2, 5))
    assert accuracy == {"top1": pytest.approx(1 / 5), "top2": pytest.approx(4 / 5), "top5": 1.0}
    assert set(zero_shot_accuracy(items, classes, labels)) == {"top1", "top5"}
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        zero_shot_accuracy(items, classes, torch.tensor([0, 2, 3, 1, 1]))


def test_prompt_class_embeddings() -> None:
    prompts = torch.tensor(
        [
            [2.0, 0.0, 0.0],  # class 0, template 0
            [0.0, 3.0, 0.0],  # class 0, template 1
            [0.0, 0.0, 1.0],  # class 1, template 0
            [0.0, 0.0, 5.0],  # class 1, template 1
        ]
    )
    classes = prompt_class_embeddings(prompts, n_prompts=2)
    half = 2**-0.5
    assert torch.allclose(classes, torch.tensor([[half, half, 0.0], [0.0, 0.0, 1.0]]))
    with pytest.raises(ValueError, match="groups of 3"):
        prompt_class_embeddings(prompts, n_prompts=3)
