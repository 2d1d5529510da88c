"""Checks run once the members are loaded but before anything is encoded: every prompt through ``prepare``.

``prepare`` is cheap (tokenising a text, looking an id up), so a prompt a
member cannot take (e.g. a class name missing from a `features` text table)
stops the run in seconds instead of after training.
"""

from __future__ import annotations

from collections.abc import Iterator

from bridge.errors import BridgeError, ItemError, quoted, shorten
from bridge.pipeline.session import Session


def _classes(session: Session, given: list[str] | None, source) -> list[str]:
    if given:
        return list(given)
    return sorted({str(item.label) for item in session.provider.items(source) if item.label is not None})


def _prompt_member(session: Session, modality: str, prompt_modality: str, via: str | None, key: str) -> str:
    encoders = [name for name, info in session.infos.items() if prompt_modality in info.modalities]
    if not encoders:
        raise BridgeError(f"{key}: no member encodes the prompt modality {quoted(prompt_modality)}")
    if via is not None:
        if via not in encoders:
            raise BridgeError(f"{key}.prompt_via: {quoted(via)} must be one of {', '.join(encoders)}")
        return via
    others = [name for name in encoders if modality not in session.infos[name].modalities]
    return (others or encoders)[0]


def recipe_prompts(session: Session) -> Iterator[tuple[str, str, str, str]]:
    """``(recipe key, member, modality, prompt text)`` of every zero-shot and text-pivot prompt."""
    evaluation = session.recipe.evaluation
    for index, task in enumerate(evaluation.zeroshot):
        key = f"evaluation.zeroshot[{index}]"
        member = _prompt_member(session, task.modality, task.prompt_modality, task.prompt_via, key)
        for name in _classes(session, task.classes, task.items):
            for template in task.prompts:
                yield f"{key}.prompts", member, task.prompt_modality, template.replace("{}", name)
    if "text_pivot" in evaluation.baselines:
        for task in evaluation.retrieval:
            classes = _classes(session, evaluation.pivot.classes, task.query)
            for position, member in enumerate(session.infos):
                for template in evaluation.pivot.templates_for(member, position):
                    for name in classes:
                        yield "evaluation.pivot", member, session.recipe.overlap, template.replace("{}", name)


def check_prompts(session: Session) -> None:
    """Raise a one-line :class:`BridgeError` for the first prompt a member cannot take."""
    for key, member, modality, text in recipe_prompts(session):
        try:
            session.mcrs[member].prepare(modality, text)
        except ItemError as error:
            raise BridgeError(f"{key}: member {quoted(member)} cannot take prompt {quoted(error.item)} ({shorten(error.reason, 200)})") from None


def check_evaluation_modalities(session: Session) -> None:
    """Every evaluated modality is encoded by some member."""
    encoded = {m for info in session.infos.values() for m in info.modalities}
    evaluation = session.recipe.evaluation
    for group in ("retrieval", "validation"):
        for index, task in enumerate(getattr(evaluation, group)):
            for field in ("query_modality", "target_modality"):
                modality = getattr(task, field)
                if modality not in encoded:
                    raise BridgeError(f"evaluation.{group}[{index}].{field}: no member encodes {quoted(modality)} ({', '.join(sorted(encoded))})")
                via = getattr(task, field.replace("modality", "via"))
                if via is not None and (via not in session.infos or modality not in session.infos[via].modalities):
                    raise BridgeError(f"evaluation.{group}[{index}].{field.replace('modality', 'via')}: {quoted(via)} is not a member that encodes {quoted(modality)}")
    for index, task in enumerate(evaluation.zeroshot):
        if task.modality not in encoded:
            raise BridgeError(f"evaluation.zeroshot[{index}].modality: no member encodes {quoted(task.modality)} ({', '.join(sorted(encoded))})")
