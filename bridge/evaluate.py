"""Evaluation of a bridge (and of reference systems) on a recipe's tasks.

Results are plain dicts, ready for ``metrics.json``::

    {"retrieval": {TASK: {SYSTEM: {"audio→image": {"R@1": ..., "mAP": ...}, "image→audio": {...}}}},
     "zeroshot":  {TASK: {SYSTEM: {"top1": ..., "top5": ...}}}}

A *system* is anything that projects MCR features into a joint space: the
trained bridge, an untrained one, an oracle. Features are extracted once (and
cached); each system only projects them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from bridge.artifact import Bridge
from bridge.errors import BridgeError
from bridge.metrics import (
    chance_retrieval_metrics,
    prompt_class_embeddings,
    relevance_matrix,
    retrieval_metrics,
    zero_shot_accuracy,
)
from bridge.provider import FeatureProvider, aligned_rows
from bridge.recipe import EvaluationConfig, PivotConfig, RetrievalTask, ZeroShotTask

KS = (1, 5, 10)
TEXT_PIVOT = "text_pivot"
CHANCE = "chance"


def _tensor(array) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


@dataclass(frozen=True)
class ItemInfo:
    """Ids and labels of the rows of an evaluation set's features."""

    ids: list[str]
    labels: list[str | None]


def _role_features(provider: FeatureProvider, bridge: Bridge, modality: str, spec) -> tuple[dict[str, torch.Tensor], ItemInfo]:
    """Features ``{role: (N, D_role)}`` of a source through every role that encodes ``modality`` (common ids only)."""
    roles = bridge.roles_for(modality)
    per_role = [provider.features(role, modality, spec) for role in roles]
    rows = aligned_rows(*per_role)
    features = {role: _tensor(f.embeddings)[r] for role, f, r in zip(roles, per_role, rows)}
    first = per_role[0]
    return features, ItemInfo(ids=[first.ids[i] for i in rows[0]], labels=[first.labels[i] for i in rows[0]])


def _keys(features: ItemInfo, relevance: str, task_name: str) -> list[str]:
    if relevance == "id":
        return list(features.ids)
    if any(label is None for label in features.labels):
        raise BridgeError(f"evaluation task {task_name!r}: relevance is 'label' but some items have no label")
    return [str(label) for label in features.labels]


def evaluate_retrieval(
    task: RetrievalTask, systems: dict[str, Bridge], provider: FeatureProvider, reference: Bridge, baselines: list[str], pivot: PivotConfig
) -> dict[str, dict[str, dict[str, float]]]:
    """Both directions of one retrieval task for every system (and the requested baselines)."""
    query_features, query_info = _role_features(provider, reference, task.query_modality, task.query)
    target_features, target_info = _role_features(provider, reference, task.target_modality, task.target)
    relevant = relevance_matrix(_keys(query_info, task.relevance, task.name), _keys(target_info, task.relevance, task.name))
    forward = f"{task.query_modality}→{task.target_modality}"
    backward = f"{task.target_modality}→{task.query_modality}"
    results: dict[str, dict[str, dict[str, float]]] = {}
    if CHANCE in baselines:
        results[CHANCE] = {forward: chance_retrieval_metrics(relevant, KS), backward: chance_retrieval_metrics(relevant.T, KS)}
    if TEXT_PIVOT in baselines:
        results[TEXT_PIVOT] = _text_pivot(task, reference, provider, query_features, target_features, query_info, pivot, relevant, forward, backward)
    for name, system in systems.items():
        queries = system.embed_features(task.query_modality, query_features)
        targets = system.embed_features(task.target_modality, target_features)
        results[name] = {
            forward: retrieval_metrics(queries, targets, relevant, KS),
            backward: retrieval_metrics(targets, queries, relevant.T, KS),
        }
    return results


def _single_role(bridge: Bridge, modality: str, task: str) -> str:
    roles = bridge.roles_for(modality)
    if len(roles) != 1:
        raise BridgeError(f"evaluation task {task!r}: the text_pivot baseline needs {modality!r} in exactly one MCR")
    return roles[0]


def _class_texts(provider: FeatureProvider, role: str, modality: str, classes: list[str], templates: list[str]) -> torch.Tensor:
    prompts = [template.format(name) for name in classes for template in templates]
    embeddings = _tensor(provider.texts(role, modality, prompts))
    return prompt_class_embeddings(embeddings, len(templates))


def _text_pivot(task, bridge, provider, query_features, target_features, query_info, pivot, relevant, forward, backward):
    """Training-free baseline: each item → its best-matching class prompt in its own MCR → that class's prompt in the other MCR."""
    query_role = _single_role(bridge, task.query_modality, task.name)
    target_role = _single_role(bridge, task.target_modality, task.name)
    classes = pivot.classes or sorted({str(label) for label in query_info.labels if label is not None})
    if not classes:
        raise BridgeError(f"evaluation task {task.name!r}: text_pivot needs evaluation.pivot.classes or labelled queries")
    templates = {"a": pivot.templates_a, "b": pivot.templates_b}
    overlap = bridge.spec.overlap
    class_q = _class_texts(provider, query_role, overlap, classes, templates[query_role])  # (C, D_q)
    class_t = _class_texts(provider, target_role, overlap, classes, templates[target_role])  # (C, D_t)
    queries = F.normalize(query_features[query_role], dim=-1)
    targets = F.normalize(target_features[target_role], dim=-1)
    # forward: query → best class in its own space → that class's prompt in the target space
    pivot_queries = class_t[(queries @ class_q.T).argmax(dim=1)]
    pivot_targets = class_q[(targets @ class_t.T).argmax(dim=1)]
    return {
        forward: retrieval_metrics(pivot_queries, targets, relevant, KS),
        backward: retrieval_metrics(pivot_targets, queries, relevant.T, KS),
    }


def evaluate_zeroshot(task: ZeroShotTask, systems: dict[str, Bridge], provider: FeatureProvider, reference: Bridge) -> dict[str, dict[str, float]]:
    """Top-1/top-5 accuracy of classifying labelled items against class prompts, for every system."""
    item_features, info = _role_features(provider, reference, task.modality, task.items)
    if any(label is None for label in info.labels):
        raise BridgeError(f"zero-shot task {task.name!r}: every item needs a label")
    classes = task.classes or sorted({str(label) for label in info.labels})
    unknown = sorted({str(label) for label in info.labels} - set(classes))
    if unknown:
        raise BridgeError(f"zero-shot task {task.name!r}: labels {unknown[:3]} are not among the classes")
    labels = torch.tensor([classes.index(str(label)) for label in info.labels])
    via = task.prompt_via or _other_role(reference, task.modality)
    prompts = [template.format(name) for name in classes for template in task.prompts]
    prompt_features = {via: _tensor(provider.texts(via, task.prompt_modality, prompts))}
    results = {}
    for name, system in systems.items():
        class_embeddings = prompt_class_embeddings(system.embed_features(task.prompt_modality, prompt_features, via=via), len(task.prompts))
        results[name] = zero_shot_accuracy(system.embed_features(task.modality, item_features), class_embeddings, labels, (1, 5))
    return results


def _other_role(bridge: Bridge, modality: str) -> str:
    own = bridge.roles_for(modality)
    others = [role for role in ("a", "b") if role not in own]
    return others[0] if others else "a"


def evaluate(
    config: EvaluationConfig, systems: dict[str, Bridge], provider: FeatureProvider, reference: Bridge
) -> dict[str, dict]:
    """Every retrieval and zero-shot task of ``config``, for every system."""
    return {
        "retrieval": {
            task.name: evaluate_retrieval(task, systems, provider, reference, config.baselines, config.pivot)
            for task in config.retrieval
        },
        "zeroshot": {task.name: evaluate_zeroshot(task, systems, provider, reference) for task in config.zeroshot},
    }
