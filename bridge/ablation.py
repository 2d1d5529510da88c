"""The C-MCR ablation study on one recipe: components switched off, and sweeps of sigma and tau_mem.

Features are extracted once (cache) and MCRs loaded once; each variant only
re-enhances, trains and evaluates. Results over several seeds as mean ± std,
a rich table, ``ablation.json`` and a bar plot ``ablation.png``.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from bridge.connect import TRAINED, fit, open_session
from bridge.errors import BridgeError
from bridge.evaluate import evaluate_retrieval
from bridge.progress import Reporter, SilentReporter
from bridge.recipe import Recipe, apply_overrides, load_recipe, parse_recipe
from bridge.sources import resolve

COMPONENT_ABLATIONS: dict[str, dict[str, Any]] = {
    "full C-MCR": {},
    "w/o memory consistency": {"enhance.consistency": False},
    "w/o noise": {"enhance.noise": False},
    "w/o intra-MCR loss": {"training.intra_weight": 0.0},
    "w/o pseudo-pair inter loss": {"training.pseudo_pair_loss": False},
}
NOISE_SIGMAS = (0.0, 0.02, 0.04, 0.08, 0.12, 0.16, 0.24, 0.32)
MEMORY_TEMPERATURES = (0.003, 0.01, 0.03, 0.1)


@dataclass
class AblationResult:
    rows: dict[str, dict[str, list[float]]]  # variant → metric → one value per seed
    table: Table
    json_path: Path
    plot_path: Path


def variants(quick: bool) -> dict[str, dict[str, Any]]:
    """Variant name → recipe overrides."""
    chosen = dict(COMPONENT_ABLATIONS)
    if not quick:
        chosen.update({f"sigma = {sigma:g}": {"enhance.noise_sigma": sigma, "enhance.noise": sigma > 0} for sigma in NOISE_SIGMAS})
        chosen.update({f"tau_mem = {tau:g}": {"enhance.memory_temperature": tau} for tau in MEMORY_TEMPERATURES})
    return chosen


def _variant_recipe(recipe: Recipe, overrides: dict[str, Any], seed: int) -> Recipe:
    data = apply_overrides(recipe.model_dump(mode="json"), {**overrides, "training.seed": seed})
    return parse_recipe(data, f"ablation variant {overrides}")


def run_ablation(
    recipe_path: str | Path, seeds: list[int], task: str | None = None, out: Path | None = None, quick: bool = False,
    reporter: Reporter | None = None,
) -> AblationResult:
    """Train and evaluate every variant for every seed on one retrieval task."""
    reporter = reporter or SilentReporter()
    recipe, base_dir = load_recipe(recipe_path)
    if not recipe.evaluation.retrieval:
        raise BridgeError(f"{recipe_path}: the ablation needs at least one evaluation.retrieval task")
    tasks = {t.name: t for t in recipe.evaluation.retrieval}
    if task is not None and task not in tasks:
        raise BridgeError(f"--task {task!r}: the recipe's retrieval tasks are {', '.join(tasks)}")
    chosen_task = tasks[task] if task else recipe.evaluation.retrieval[0]
    session = open_session(recipe, base_dir, SilentReporter())
    session.provider.reporter = reporter
    rows: dict[str, dict[str, list[float]]] = {}
    plan = variants(quick)
    with reporter.task("ablation runs", total=len(plan) * len(seeds)) as progress:
        for name, overrides in plan.items():
            for seed in seeds:
                variant = _variant_recipe(recipe, overrides, seed)
                bridge, _ = fit(session, variant)
                result = evaluate_retrieval(chosen_task, {TRAINED: bridge}, session.provider, bridge, [], variant.evaluation.pivot)[TRAINED]
                for direction, metrics in result.items():
                    for metric in ("R@1", "mAP"):
                        rows.setdefault(name, {}).setdefault(f"{direction} {metric}", []).append(metrics[metric])
                progress.advance(1)
    out = out or resolve(recipe.output, base_dir) / "ablation"
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "ablation.json"
    json_path.write_text(json.dumps({"task": chosen_task.name, "seeds": seeds, "results": rows}, indent=2) + "\n")
    plot_path = plot_ablation(rows, out / "ablation.png", f"{recipe.name}: {chosen_task.name}, {len(seeds)} seed(s)")
    return AblationResult(rows, ablation_table(rows, chosen_task.name, len(seeds)), json_path, plot_path)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def ablation_table(rows: dict[str, dict[str, list[float]]], task: str, n_seeds: int) -> Table:
    """Variants × metrics, percent, mean ± std over seeds."""
    metrics = list(next(iter(rows.values())).keys())
    table = Table(title=f"ablation: {task} (mean ± std over {n_seeds} seed(s), %)", title_justify="left")
    table.add_column("variant", style="bold")
    for metric in metrics:
        table.add_column(metric, justify="right")
    for name, values in rows.items():
        cells = []
        for metric in metrics:
            mean, std = _mean_std(values[metric])
            cells.append(f"{100 * mean:.1f} ± {100 * std:.1f}")
        table.add_row(name, *cells)
    return table


def plot_ablation(rows: dict[str, dict[str, list[float]]], path: Path, title: str) -> Path:
    """Grouped bar plot of the mAP metrics with std error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in next(iter(rows.values())) if m.endswith("mAP")]
    names = list(rows)
    width = 0.8 / len(metrics)
    figure, axis = plt.subplots(figsize=(max(6, 0.9 * len(names)), 4.5))
    for offset, metric in enumerate(metrics):
        stats = [_mean_std(rows[name][metric]) for name in names]
        positions = [i + (offset - (len(metrics) - 1) / 2) * width for i in range(len(names))]
        axis.bar(positions, [100 * m for m, _ in stats], width, yerr=[100 * s for _, s in stats], capsize=3, label=metric)
    axis.set_xticks(range(len(names)), names, rotation=35, ha="right")
    axis.set_ylabel("mAP (%)")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
