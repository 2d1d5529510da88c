"""Reference rows that are not projectors: chance, and the training-free text pivot."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from bridge.core.space import Bridge
from bridge.data.features import FeatureProvider
from bridge.errors import BridgeError, quoted
from bridge.evaluation.metrics import chance_retrieval_metrics, prompt_class_embeddings, retrieval_metrics
from bridge.evaluation.tasks import PivotConfig, RetrievalTask

KS = (1, 5, 10)


def as_tensor(array) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def chance_rows(relevant: torch.Tensor, forward: str, backward: str) -> dict[str, dict[str, float]]:
    """Both directions of a random ranking, in expectation (``relevant``: ``(Nq, Nt)`` bool)."""
    return {forward: chance_retrieval_metrics(relevant, KS), backward: chance_retrieval_metrics(relevant.T, KS)}


def _single_member(space: Bridge, modality: str, task: str) -> str:
    members = space.members_for(modality)
    if len(members) != 1:
        raise BridgeError(f"evaluation task {quoted(task)}: the text_pivot baseline needs {quoted(modality)} in exactly one member")
    return members[0]


def class_text_embeddings(provider: FeatureProvider, member: str, modality: str, classes: list[str], templates: list[str]) -> torch.Tensor:
    """``(C, D_member)`` one prompt embedding per class (its templates averaged)."""
    prompts = [template.replace("{}", name) for name in classes for template in templates]
    return prompt_class_embeddings(as_tensor(provider.texts(member, modality, prompts)), len(templates))


def text_pivot_rows(
    task: RetrievalTask,
    space: Bridge,
    provider: FeatureProvider,
    query_features: dict[str, torch.Tensor],
    target_features: dict[str, torch.Tensor],
    query_labels: list[str | None],
    pivot: PivotConfig,
    relevant: torch.Tensor,
    forward: str,
    backward: str,
) -> dict[str, dict[str, float]]:
    """Training-free baseline: each item → its best class prompt in its own member → that class's prompt in the other member.

    Args:
        query_features, target_features: member → ``(N, D_member)`` features.
        relevant: ``(Nq, Nt)`` bool.
    """
    query_member = _single_member(space, task.query_modality, task.name)
    target_member = _single_member(space, task.target_modality, task.name)
    classes = pivot.classes or sorted({str(label) for label in query_labels if label is not None})
    if not classes:
        raise BridgeError(f"evaluation task {quoted(task.name)}: text_pivot needs evaluation.pivot.classes or labelled queries")
    overlap = space.spec.overlap
    if overlap is None:
        raise BridgeError(f"evaluation task {quoted(task.name)}: text_pivot needs a space with an overlap modality")
    positions = {name: index for index, name in enumerate(space.members)}
    class_q = class_text_embeddings(provider, query_member, overlap, classes, pivot.templates_for(query_member, positions[query_member]))
    class_t = class_text_embeddings(provider, target_member, overlap, classes, pivot.templates_for(target_member, positions[target_member]))
    queries = F.normalize(query_features[query_member], dim=-1)
    targets = F.normalize(target_features[target_member], dim=-1)
    pivot_queries = class_t[(queries @ class_q.T).argmax(dim=1)]
    pivot_targets = class_q[(targets @ class_t.T).argmax(dim=1)]
    return {
        forward: retrieval_metrics(pivot_queries, targets, relevant, KS),
        backward: retrieval_metrics(pivot_targets, queries, relevant.T, KS),
    }
