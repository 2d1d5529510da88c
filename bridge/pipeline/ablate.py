"""`bridge ablate`: a strategy's component ablations and hyper-parameter sweeps, tuned on validation only.

Features are extracted once (cache) and models loaded once; each variant
only re-enhances, trains and evaluates. Every variant is scored on the
recipe's *validation* task over several seeds. The best sweep setting (by
validation mAP, both directions averaged) is chosen — for the strategy and,
with the same grid and seeds, for the paired reference — and only the chosen
settings are evaluated on the *test* task, once.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.core.registry import Registry
from bridge.core.space import Bridge
from bridge.errors import BridgeError, quoted
from bridge.evaluation.evaluate import evaluate_retrieval
from bridge.evaluation.tasks import RetrievalTask
from bridge.pipeline.connect import fit, trained_name
from bridge.pipeline.preflight import check_evaluation_modalities, check_prompts
from bridge.pipeline.references import PAIRED_REFERENCE
from bridge.pipeline.session import Session, open_session
from bridge.progress import Reporter, SilentReporter
from bridge.recipes.check import check_recipe_data
from bridge.recipes.io import apply_overrides, load_recipe, parse_recipe
from bridge.recipes.schema import Recipe

Scores = dict[str, list[float]]
"""Metric name (``audio→image mAP``) → one value per seed."""


@dataclass
class AblationResult:
    """Validation scores of every variant, and the test scores of the chosen settings."""

    validation_task: str
    test_task: str
    seeds: list[int]
    validation: dict[str, Scores]
    chosen: dict[str, str] = field(default_factory=dict)  # system → chosen variant
    test: dict[str, Scores] = field(default_factory=dict)  # system (with its variant) → test scores
    skipped: dict[str, str] = field(default_factory=dict)  # variant → why the data cannot support it

    def as_json(self) -> dict[str, Any]:
        return {
            "validation_task": self.validation_task, "test_task": self.test_task, "seeds": self.seeds,
            "validation": self.validation, "chosen": self.chosen, "test": self.test, "skipped": self.skipped,
        }


def variant_recipe(recipe: Recipe, overrides: dict[str, Any], seed: int) -> Recipe:
    """``recipe`` with ``overrides`` (dotted keys) and ``training.seed`` set, validated again."""
    data = apply_overrides(recipe.model_dump(mode="json"), {**overrides, "training.seed": seed})
    return parse_recipe(data, f"ablation variant {quoted(overrides)}")


def _task(tasks: list[RetrievalTask], name: str | None, key: str, option: str) -> RetrievalTask:
    if not tasks:
        raise BridgeError(f"evaluation.{key}: the ablation needs at least one {key} retrieval task")
    if name is None:
        return tasks[0]
    for task in tasks:
        if task.name == name:
            return task
    raise BridgeError(f"{option} {quoted(name)}: the recipe's {key} tasks are {', '.join(quoted(t.name) for t in tasks)}")


def _score(session: Session, space, task: RetrievalTask, scores: Scores) -> None:
    result = evaluate_retrieval(task, {"space": space}, session.provider, space)["space"]
    for direction, metrics in result.items():
        for metric in ("R@1", "mAP"):
            scores.setdefault(f"{direction} {metric}", []).append(metrics[metric])


def _paired_reference(session: Session, recipe: Recipe) -> Bridge:
    """The paired reference of ``recipe``'s settings, trained on the session's true pairs."""
    fitted = session.strategy.fit_paired(session.paired_features(), session.plan, session.settings(recipe), SilentReporter())
    return Bridge(session.spec(recipe, fitted.projectors), fitted.projectors, session.mcrs)


def mean_map(scores: Scores) -> float:
    """Mean over seeds and directions of the mAP columns."""
    values = [statistics.fmean(v) for k, v in scores.items() if k.endswith("mAP")]
    return statistics.fmean(values)


def run_ablation(
    recipe_path: str | Path,
    seeds: list[int],
    task: str | None = None,
    quick: bool = False,
    reporter: Reporter | None = None,
    registry: Registry | None = None,
) -> AblationResult:
    """Train and score every variant for every seed on the validation task; test the chosen settings once."""
    reporter = reporter or SilentReporter()
    if not seeds:
        raise BridgeError("--seeds: give at least one seed")
    recipe, base_dir = load_recipe(recipe_path)
    validation_task = _task(recipe.evaluation.validation, task, "validation", "--task")
    test_task = _task(recipe.evaluation.retrieval, None, "retrieval", "--task")
    registry = registry or Registry.from_environment()
    check_recipe_data(recipe, base_dir, registry, check_output=False)
    session = open_session(recipe, base_dir, registry, SilentReporter())
    check_evaluation_modalities(session)
    check_prompts(session)
    session.provider.reporter = reporter
    strategy = session.strategy
    components = dict(strategy.ablations) or {"full": {}}
    sweeps = {} if quick else dict(strategy.sweeps)
    tune_reference = bool(sweeps) and "paired_reference" in recipe.evaluation.baselines
    runs = len(components) + len(sweeps) * (2 if tune_reference else 1)
    result = AblationResult(validation_task.name, test_task.name, list(seeds), validation={})
    reference_scores: dict[str, Scores] = {}
    with reporter.task("ablation runs (validation)", total=runs * len(seeds)) as progress:
        for name, overrides in {**components, **sweeps}.items():
            for index, seed in enumerate(seeds):
                try:
                    space, _ = fit(session, variant_recipe(recipe, overrides, seed))
                except BridgeError as error:  # a setting the data cannot support (e.g. more anchors than items)
                    reporter.message(f"variant {name}: skipped ({error})")
                    result.skipped[name] = str(error)
                    result.validation.pop(name, None)
                    sweeps.pop(name, None)
                    components.pop(name, None)
                    progress.advance(len(seeds) - index)
                    break
                _score(session, space, validation_task, result.validation.setdefault(name, {}))
                progress.advance(1)
        if tune_reference:
            for name, overrides in sweeps.items():
                for seed in seeds:
                    space = _paired_reference(session, variant_recipe(recipe, overrides, seed))
                    _score(session, space, validation_task, reference_scores.setdefault(name, {}))
                    progress.advance(1)
    candidates = {name: result.validation[name] for name in sweeps} or {name: result.validation[name] for name in list(components)[:1]}
    if not candidates:
        raise BridgeError(f"no variant could be trained on this recipe's data (first problem: {next(iter(result.skipped.values()))})")
    chosen = max(candidates, key=lambda name: mean_map(candidates[name]))
    result.chosen[trained_name(session)] = chosen
    if tune_reference:
        result.chosen[PAIRED_REFERENCE] = max(reference_scores, key=lambda name: mean_map(reference_scores[name]))
        result.validation.update({f"{PAIRED_REFERENCE}: {name}": scores for name, scores in reference_scores.items()})
    with reporter.task("chosen settings (test)", total=len(result.chosen) * len(seeds)) as progress:
        for system, name in result.chosen.items():
            overrides = {**components, **sweeps}[name]
            for seed in seeds:
                variant = variant_recipe(recipe, overrides, seed)
                space = _paired_reference(session, variant) if system == PAIRED_REFERENCE else fit(session, variant)[0]
                _score(session, space, test_task, result.test.setdefault(f"{system} ({name})", {}))
                progress.advance(1)
    return result
