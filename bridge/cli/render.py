"""Rich tables of results: retrieval and zero-shot (one row per system), ablations. User strings are literal."""

from __future__ import annotations

import statistics
from typing import Any

from rich.table import Table
from rich.text import Text

RETRIEVAL_COLUMNS = ("R@1", "R@5", "R@10", "mAP")
REFERENCE_ORDER = ("chance", "untrained", "text_pivot")
LAST = ("paired reference", "oracle")


def _ordered(systems: dict[str, Any]) -> list[str]:
    first = [name for name in REFERENCE_ORDER if name in systems]
    last = [name for name in LAST if name in systems]
    return first + [name for name in systems if name not in first and name not in last] + last


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def _table(title: str) -> Table:
    return Table(title=Text(title), title_justify="left")


def retrieval_table(task: str, results: dict[str, dict[str, dict[str, float]]], trained: str | None = None) -> Table:
    """One task: a row per system and direction; metrics in percent, MedR as a rank."""
    table = _table(f"retrieval: {task}")
    for column in ("system", "direction", *RETRIEVAL_COLUMNS, "MedR"):
        table.add_column(column, justify="left" if column in ("system", "direction") else "right")
    for system in _ordered(results):
        for index, (direction, metrics) in enumerate(results[system].items()):
            cells = [_percent(metrics[m]) for m in RETRIEVAL_COLUMNS] + [f"{metrics['MedR']:.1f}"]
            table.add_row(Text(system if index == 0 else ""), Text(direction), *cells,
                          style="bold green" if system == trained else None, end_section=index == len(results[system]) - 1)
    return table


def zeroshot_table(tasks: dict[str, dict[str, dict[str, float]]], trained: str | None = None) -> Table:
    """Every zero-shot task: a row per task and system, accuracy in percent."""
    table = _table("zero-shot classification")
    for column in ("task", "system", "top-1", "top-3", "top-5"):
        table.add_column(column, justify="left" if column in ("task", "system") else "right")
    for task, results in tasks.items():
        systems = _ordered(results)
        for index, system in enumerate(systems):
            accuracy = results[system]
            top3 = _percent(accuracy["top3"]) if "top3" in accuracy else "–"  # metrics.json written before top-3
            table.add_row(Text(task if index == 0 else ""), Text(system), _percent(accuracy["top1"]), top3,
                          _percent(accuracy["top5"]), style="bold green" if system == trained else None,
                          end_section=index == len(systems) - 1)
    return table


def result_tables(metrics: dict[str, Any]) -> list[Table]:
    """Every table of a ``metrics.json``-shaped dict."""
    trained = metrics.get("trained")
    tables = [retrieval_table(task, results, trained) for task, results in metrics.get("retrieval", {}).items()]
    tables += [retrieval_table(f"{task} [validation split]", results, trained) for task, results in metrics.get("validation", {}).items()]
    if metrics.get("zeroshot"):
        tables.append(zeroshot_table(metrics["zeroshot"], trained))
    if metrics.get("geometry"):
        tables.append(geometry_table(metrics["geometry"]))
    return tables


def relative_lines(metrics: dict[str, Any]) -> list[str]:
    """A composed space's mean mAP as a share of the paired reference's, one line per task and split."""
    lines = []
    for split, tasks in metrics.get("relative_to_paired_reference", {}).items():
        lines += [f"{task} ({split}): {metrics.get('trained')} reaches {100 * ratio:.0f} % of the paired reference's mean mAP"
                  for task, ratio in tasks.items()]
    return lines


def geometry_table(report: dict[str, dict[str, dict[str, Any]]]) -> Table:
    """A row per space and modality pair: centroid gap, matched cosine, each modality's mean cosine."""
    table = _table("geometry (modality gap)")
    for column in ("space", "pair", "centroid gap", "matched cosine", "mean cosine (first | second)"):
        table.add_column(column, justify="left" if column in ("space", "pair") else "right")
    for space, pairs in report.items():
        for index, (pair, values) in enumerate(pairs.items()):
            matched = values["matched_cosine"]
            within = " | ".join(f"{value:.2f}" for value in values["mean_cosine"].values())
            table.add_row(Text(space if index == 0 else ""), Text(pair), f"{values['centroid_gap']:.2f}",
                          "–" if matched is None else f"{matched:.2f}", within, end_section=index == len(pairs) - 1)
    return table


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def scores_table(title: str, rows: dict[str, dict[str, list[float]]], marked: set[str] = frozenset()) -> Table:
    """Variants × metrics in percent, mean ± std over seeds (``marked`` rows in bold)."""
    metrics = list(next(iter(rows.values())).keys())
    table = _table(title)
    table.add_column("variant")
    for metric in metrics:
        table.add_column(metric, justify="right")
    for name, values in rows.items():
        cells = []
        for metric in metrics:
            mean, std = mean_std(values[metric])
            cells.append(f"{100 * mean:.1f} ± {100 * std:.1f}")
        table.add_row(Text(name + (" (chosen)" if name in marked else "")), *cells, style="bold" if name in marked else None)
    return table
