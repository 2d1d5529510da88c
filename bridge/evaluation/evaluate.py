"""Evaluation of a space (and of reference systems) on a recipe's tasks.

Results are plain dicts, ready for ``metrics.json``::

    {"retrieval": {TASK: {SYSTEM: {"audio→image": {"R@1": ..., "mAP": ...}, "image→audio": {...}}}},
     "zeroshot":  {TASK: {SYSTEM: {"top1": ..., "top3": ..., "top5": ...}}}}

A *system* is a :class:`~bridge.core.space.Bridge` with the same members: the
trained space, an untrained one, the paired reference. Features are
extracted once (and cached); each system only projects them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bridge.core.space import Bridge
from bridge.data.features import FeatureProvider, aligned_rows
from bridge.errors import BridgeError, quoted
from bridge.evaluation.baselines import KS, as_tensor, chance_rows, text_pivot_rows
from bridge.evaluation.metrics import prompt_class_embeddings, relevance_matrix, retrieval_metrics, zero_shot_accuracy
from bridge.evaluation.tasks import EvaluationConfig, PivotConfig, RetrievalTask, ZeroShotTask

CHANCE = "chance"
TEXT_PIVOT = "text_pivot"


@dataclass(frozen=True)
class ItemInfo:
    """Ids and labels of the rows of an evaluation set's features."""

    ids: list[str]
    labels: list[str | None]


def member_features(
    provider: FeatureProvider, space: Bridge, modality: str, spec, via: str | None = None
) -> tuple[dict[str, torch.Tensor], ItemInfo]:
    """Features ``{member: (N, D_member)}`` of a source through every member that encodes ``modality`` (or ``via`` alone; common ids only)."""
    members = space.members_for(modality)
    if via is not None:
        if via not in members:
            raise BridgeError(f"{quoted(modality)} cannot be embedded via {quoted(via)}; it is encoded by {', '.join(members)}")
        members = [via]
    per_member = [provider.features(member, modality, spec) for member in members]
    rows = aligned_rows(*per_member)
    features = {member: as_tensor(f.embeddings)[r] for member, f, r in zip(members, per_member, rows)}
    first = per_member[0]
    return features, ItemInfo(ids=[first.ids[i] for i in rows[0]], labels=[first.labels[i] for i in rows[0]])


def _keys(info: ItemInfo, relevance: str, task_name: str) -> list[str]:
    if relevance == "id":
        return list(info.ids)
    if any(label is None for label in info.labels):
        raise BridgeError(f"evaluation task {quoted(task_name)}: relevance is 'label' but some items have no label")
    return [str(label) for label in info.labels]


def evaluate_retrieval(
    task: RetrievalTask,
    systems: dict[str, Bridge],
    provider: FeatureProvider,
    reference: Bridge,
    baselines: list[str] = (),
    pivot: PivotConfig | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Both directions of one retrieval task for every system (and the requested non-projector baselines)."""
    query_features, query_info = member_features(provider, reference, task.query_modality, task.query, task.query_via)
    target_features, target_info = member_features(provider, reference, task.target_modality, task.target, task.target_via)
    relevant = relevance_matrix(_keys(query_info, task.relevance, task.name), _keys(target_info, task.relevance, task.name))
    forward = f"{task.query_modality}→{task.target_modality}"
    backward = f"{task.target_modality}→{task.query_modality}"
    results: dict[str, dict[str, dict[str, float]]] = {}
    if CHANCE in baselines:
        results[CHANCE] = chance_rows(relevant, forward, backward)
    if TEXT_PIVOT in baselines:
        results[TEXT_PIVOT] = text_pivot_rows(
            task, reference, provider, query_features, target_features, query_info.labels, pivot or PivotConfig(), relevant,
            forward, backward,
        )
    for name, system in systems.items():
        queries = system.embed_features(task.query_modality, query_features, via=task.query_via)
        targets = system.embed_features(task.target_modality, target_features, via=task.target_via)
        results[name] = {
            forward: retrieval_metrics(queries, targets, relevant, KS),
            backward: retrieval_metrics(targets, queries, relevant.T, KS),
        }
    return results


def prompt_member(space: Bridge, task: ZeroShotTask) -> str:
    """The member that embeds ``task``'s prompts: ``prompt_via``, else the first that does not encode the items."""
    candidates = space.members_for(task.prompt_modality)
    if task.prompt_via is not None:
        if task.prompt_via not in candidates:
            raise BridgeError(
                f"zero-shot task {quoted(task.name)}: prompt_via {quoted(task.prompt_via)} must be one of {', '.join(candidates)}"
            )
        return task.prompt_via
    own = set(space.members_for(task.modality))
    others = [member for member in candidates if member not in own]
    return others[0] if others else candidates[0]


def evaluate_zeroshot(task: ZeroShotTask, systems: dict[str, Bridge], provider: FeatureProvider, reference: Bridge) -> dict[str, dict[str, float]]:
    """Top-1/top-3/top-5 accuracy of classifying labelled items against class prompts, for every system."""
    item_features, info = member_features(provider, reference, task.modality, task.items)
    if any(label is None for label in info.labels):
        raise BridgeError(f"zero-shot task {quoted(task.name)}: every item needs a label")
    classes = task.classes or sorted({str(label) for label in info.labels})
    unknown = sorted({str(label) for label in info.labels} - set(classes))
    if unknown:
        raise BridgeError(f"zero-shot task {quoted(task.name)}: labels {quoted(unknown[:3])} are not among the classes")
    labels = torch.tensor([classes.index(str(label)) for label in info.labels])
    via = prompt_member(reference, task)
    prompts = [template.replace("{}", name) for name in classes for template in task.prompts]
    prompt_features = {via: as_tensor(provider.texts(via, task.prompt_modality, prompts))}
    results = {}
    for name, system in systems.items():
        class_embeddings = prompt_class_embeddings(system.embed_features(task.prompt_modality, prompt_features, via=via), len(task.prompts))
        results[name] = zero_shot_accuracy(system.embed_features(task.modality, item_features), class_embeddings, labels, (1, 3, 5))
    return results


def evaluate(config: EvaluationConfig, systems: dict[str, Bridge], provider: FeatureProvider, reference: Bridge) -> dict[str, dict]:
    """Every test retrieval and zero-shot task of ``config``, for every system."""
    return {
        "retrieval": {
            task.name: evaluate_retrieval(task, systems, provider, reference, config.baselines, config.pivot)
            for task in config.retrieval
        },
        "zeroshot": {task.name: evaluate_zeroshot(task, systems, provider, reference) for task in config.zeroshot},
    }
