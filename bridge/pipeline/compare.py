"""`bridge compare`: several strategies trained on the same cached features, every task in one table.

Each strategy is tuned on the recipe's *validation* tasks only (its own
``sweeps``; the setting with the best mean validation mAP is kept, with the
recipe's seed), then trained with the chosen setting once per seed and
evaluated on every *test* task; with several seeds each value is the mean
over them, with its standard deviation beside it.
Besides the recipe's tasks, the comparison measures how much of each member
MCR's own cross-modal alignment survives in the joint space: for every
zero-shot task and every member that encodes its items, retrieval between
those items and the class prompts embedded through that same member
(image↔text through the CLIP-like member, audio↔text through the CLAP-like
one), next to the MCR's own score.

Returns plain data (:class:`CompareResult`); the CLI renders it.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bridge.core.registry import Registry
from bridge.core.space import Bridge
from bridge.errors import BridgeError, quoted
from bridge.evaluation.baselines import KS, as_tensor
from bridge.evaluation.evaluate import evaluate, evaluate_retrieval, member_features
from bridge.evaluation.metrics import prompt_class_embeddings, relevance_matrix, retrieval_metrics
from bridge.evaluation.tasks import ZeroShotTask
from bridge.pipeline.connect import fit
from bridge.pipeline.preflight import check_evaluation_modalities, check_prompts
from bridge.pipeline.session import Session, open_session
from bridge.progress import Reporter, SilentReporter
from bridge.recipes.check import check_recipe_data
from bridge.recipes.io import apply_overrides, load_recipe, parse_recipe
from bridge.recipes.schema import Recipe

ALONE = "MCR alone"
"""The system name of a member MCR's own (unprojected) embeddings in the own-alignment tasks."""


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a task, a direction and a metric, with every system's value.

    Attributes:
        group: ``retrieval``, ``zeroshot`` or ``own`` (a member's own alignment).
        task, direction, metric: what is measured (``audio-image``, ``audio→image``, ``mAP``).
        values: system → value in [0, 1] (the mean over the seeds).
        reference: for ``own`` rows, the member MCR's own value (what a joint space can at best keep).
        spread: system → sample standard deviation over the seeds (empty with one seed).
    """

    group: str
    task: str
    direction: str
    metric: str
    values: dict[str, float]
    reference: float | None = None
    spread: dict[str, float] = field(default_factory=dict)


@dataclass
class StrategyRun:
    """One strategy's tuning and training.

    Attributes:
        strategy: its registered name; display: its table name.
        validation: sweep variant → mean validation mAP (empty when nothing was tuned).
        skipped: sweep variant → why the data cannot support it (e.g. more anchors than overlap items).
        chosen: the variant kept (``None``: the recipe's own settings).
        seconds: tuning plus training time.
    """

    strategy: str
    display: str
    validation: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    chosen: str | None = None
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompareResult:
    """Every strategy's run and the rows of the comparison table."""

    recipe: str
    systems: list[str]
    runs: list[StrategyRun]
    rows: list[Row]
    spaces: dict[str, Bridge] = field(default_factory=dict, repr=False)
    """Each strategy's space trained with the first seed."""
    seeds: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "seeds": self.seeds,
            "systems": self.systems,
            "strategies": [dataclasses.asdict(run) for run in self.runs],
            "rows": [dataclasses.asdict(row) for row in self.rows],
        }


def _variant(recipe: Recipe, overrides: dict[str, Any]) -> Recipe:
    return parse_recipe(apply_overrides(recipe.model_dump(mode="json"), overrides), f"compare variant {quoted(overrides)}")


def strategy_session(session: Session, recipe: Recipe) -> Session:
    """``session`` (its models, features and cache) serving ``recipe``'s strategy."""
    strategy = session.registry.strategy_type(recipe.strategy).create()
    settings = session.settings(recipe)
    plan = strategy.plan(list(session.infos.values()), recipe.overlap, list(recipe.data.memory), settings)
    return dataclasses.replace(session, recipe=recipe, strategy=strategy, plan=plan)


def validation_score(session: Session, space: Bridge) -> float:
    """Mean mAP over both directions of every validation task."""
    values = []
    for task in session.recipe.evaluation.validation:
        result = evaluate_retrieval(task, {"space": space}, session.provider, space)["space"]
        values += [metrics["mAP"] for metrics in result.values()]
    return statistics.fmean(values)


def tune_and_fit(session: Session, tune: bool, reporter: Reporter, seeds: list[int]) -> tuple[list[Bridge], StrategyRun]:
    """Tune the session's strategy on validation (when asked and possible), then train the chosen setting once per seed."""
    started = time.perf_counter()
    strategy = session.strategy
    run = StrategyRun(session.recipe.strategy, strategy.display_name or session.recipe.strategy)
    recipe = session.recipe
    sweeps = dict(strategy.sweeps) if tune and session.recipe.evaluation.validation else {}
    with reporter.task(f"tune {run.display} (validation)", total=len(sweeps)) as task:
        for name, overrides in sweeps.items():
            variant = strategy_session(session, _variant(session.recipe, overrides))
            try:
                space, _ = fit(variant, variant.recipe)
            except BridgeError as error:  # a setting this data cannot support is listed, not fatal
                run.skipped[name] = str(error)
            else:
                run.validation[name] = validation_score(variant, space)
            task.advance(1)
    if run.validation:
        run.chosen = max(run.validation, key=run.validation.__getitem__)
        recipe = _variant(session.recipe, sweeps[run.chosen])
    spaces = []
    for seed in seeds:
        seeded = _variant(recipe, {"training.seed": seed})
        space, facts = fit(strategy_session(session, seeded), seeded)
        spaces.append(space)
        if not run.facts:
            run.facts = {key: value for key, value in facts.items() if key != "history"}
    run.seconds = round(time.perf_counter() - started, 2)
    return spaces, run


def own_alignment(
    task: ZeroShotTask, member: str, systems: dict[str, Bridge], session: Session, reference: Bridge
) -> dict[str, dict[str, dict[str, float]]]:
    """Retrieval between ``task``'s items and its class prompts, both through ``member`` (its own alignment).

    Returns:
        system (and :data:`ALONE`: the member's raw features) → direction → metrics.
    """
    provider = session.provider
    features, info = member_features(provider, reference, task.modality, task.items, via=member)
    labels = [str(label) for label in info.labels]
    classes = task.classes or sorted(set(labels))
    prompts = [template.replace("{}", name) for name in classes for template in task.prompts]
    prompt_features = {member: as_tensor(provider.texts(member, task.prompt_modality, prompts))}
    relevant = relevance_matrix(labels, classes)
    forward, backward = f"{task.modality}→{task.prompt_modality}", f"{task.prompt_modality}→{task.modality}"
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, system in {ALONE: None, **systems}.items():
        if system is None:
            items, texts = features[member], prompt_features[member]
        else:
            items = system.embed_features(task.modality, features, via=member)
            texts = system.embed_features(task.prompt_modality, prompt_features, via=member)
        targets = prompt_class_embeddings(torch.as_tensor(texts, dtype=torch.float32), len(task.prompts))
        results[name] = {forward: retrieval_metrics(items, targets, relevant, KS), backward: retrieval_metrics(targets, items, relevant.T, KS)}
    return results


def table_rows(metrics: dict[str, Any], own: dict[str, dict]) -> list[Row]:
    """The comparison's rows: test retrieval (R@1, mAP), zero-shot (top-1), own alignment (R@1, mAP)."""
    rows = []
    for task, systems in metrics["retrieval"].items():
        for direction in next(iter(systems.values())):
            for metric in ("R@1", "mAP"):
                rows.append(Row("retrieval", task, direction, metric, {s: v[direction][metric] for s, v in systems.items()}))
    for task, systems in metrics["zeroshot"].items():
        rows.append(Row("zeroshot", task, "", "top-1", {s: v["top1"] for s, v in systems.items()}))
    for task, systems in own.items():
        for direction in systems[ALONE]:
            for metric in ("R@1", "mAP"):
                values = {s: v[direction][metric] for s, v in systems.items() if s != ALONE}
                rows.append(Row("own", task, direction, metric, values, systems[ALONE][direction][metric]))
    return rows


def merged_rows(per_seed: list[list[Row]]) -> list[Row]:
    """One row per measure: each system's mean over the seeds, and its standard deviation when there are several."""
    merged = []
    for rows in zip(*per_seed):
        first = rows[0]
        values = {system: statistics.fmean(row.values[system] for row in rows) for system in first.values}
        spread = {system: statistics.stdev(row.values[system] for row in rows) for system in first.values} if len(rows) > 1 else {}
        merged.append(dataclasses.replace(first, values=values, spread=spread))
    return merged


def compare(
    recipe_path: str | Path,
    strategies: list[str],
    tune: bool = True,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
    registry: Registry | None = None,
    seeds: list[int] | None = None,
) -> CompareResult:
    """Tune (on validation), train and evaluate every strategy in ``strategies`` on one recipe's cached features.

    Args:
        strategies: registered strategy names (``connect``, ``extend``, ...), in table order.
        tune: choose each strategy's setting among its sweeps by validation mAP.
        overrides: dotted-key recipe overrides applied to every strategy.
        seeds: train the chosen settings once per seed (default: the recipe's ``training.seed``);
            the table holds the mean and standard deviation over them.
    """
    reporter = reporter or SilentReporter()
    registry = registry or Registry.from_environment()
    if not strategies:
        raise BridgeError("--strategies: name at least one strategy, e.g. connect,extend")
    if len(set(strategies)) != len(strategies):
        raise BridgeError(f"--strategies: a strategy is named twice ({', '.join(strategies)})")
    if seeds is not None and (not seeds or len(set(seeds)) != len(seeds)):
        raise BridgeError(f"--seeds: give distinct seeds, e.g. 0,1,2 (got {','.join(map(str, seeds)) or 'none'})")
    for name in strategies:
        try:
            registry.strategy_type(name)
        except BridgeError as error:
            raise BridgeError(f"--strategies: {error}") from None
    recipe, base_dir = load_recipe(recipe_path, {**(overrides or {}), "strategy": strategies[0]})
    check_recipe_data(recipe, base_dir, registry)
    session = open_session(recipe, base_dir, registry, reporter)
    check_evaluation_modalities(session)
    check_prompts(session)
    seeds = list(seeds) if seeds is not None else [recipe.training.seed]
    seeded: dict[str, list[Bridge]] = {}
    runs: list[StrategyRun] = []
    for name in strategies:
        spaces, run = tune_and_fit(strategy_session(session, _variant(recipe, {"strategy": name})), tune, reporter, seeds)
        if run.display in seeded:
            raise BridgeError(f"--strategies: two strategies are both shown as {quoted(run.display)}")
        seeded[run.display] = spaces
        runs.append(run)
    evaluation = recipe.evaluation.model_copy(update={"baselines": [b for b in recipe.evaluation.baselines if b in ("chance", "text_pivot")]})
    per_seed = []
    for index in range(len(seeds)):
        spaces = {display: trained[index] for display, trained in seeded.items()}
        per_seed.append(seed_rows(session, evaluation, spaces))
    systems = [b for b in ("chance", "text_pivot") if b in evaluation.baselines] + list(seeded)
    first = {display: trained[0] for display, trained in seeded.items()}
    return CompareResult(str(recipe_path), systems, runs, merged_rows(per_seed), first, seeds)


def seed_rows(session: Session, evaluation: Any, spaces: dict[str, Bridge]) -> list[Row]:
    """The table's rows for one seed's spaces: the recipe's test tasks and every member's own alignment."""
    reference = next(iter(spaces.values()))
    metrics = evaluate(evaluation, spaces, session.provider, reference)
    own: dict[str, dict] = {}
    for task in session.recipe.evaluation.zeroshot:
        for member in reference.members_for(task.modality):
            if task.prompt_modality in session.infos[member].modalities:
                own[f"{task.modality}↔{task.prompt_modality} through {member}"] = own_alignment(task, member, spaces, session, reference)
    return table_rows(metrics, own)
