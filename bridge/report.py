"""Rich tables of evaluation results (retrieval and zero-shot), one row per system."""

from __future__ import annotations

from typing import Any

from rich.table import Table

RETRIEVAL_COLUMNS = ("R@1", "R@5", "R@10", "mAP")
SYSTEM_ORDER = ("chance", "untrained", "text_pivot", "C-MCR", "oracle")


def _ordered(systems: dict[str, Any]) -> list[str]:
    known = [name for name in SYSTEM_ORDER if name in systems]
    return known + [name for name in systems if name not in known]


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def retrieval_table(task: str, results: dict[str, dict[str, dict[str, float]]]) -> Table:
    """One task: rows are systems, columns are metrics per direction (percent; MedR as a rank)."""
    directions = list(next(iter(results.values())).keys())
    table = Table(title=f"retrieval: {task}", title_justify="left")
    table.add_column("system", style="bold")
    for direction in directions:
        for metric in RETRIEVAL_COLUMNS:
            table.add_column(f"{direction} {metric}", justify="right")
    for system in _ordered(results):
        cells = [_percent(results[system][d][m]) for d in directions for m in RETRIEVAL_COLUMNS]
        table.add_row(system, *cells, style="green" if system == "C-MCR" else None)
    return table


def zeroshot_table(task: str, results: dict[str, dict[str, float]]) -> Table:
    table = Table(title=f"zero-shot classification: {task}", title_justify="left")
    table.add_column("system", style="bold")
    table.add_column("top-1", justify="right")
    table.add_column("top-5", justify="right")
    for system in _ordered(results):
        table.add_row(system, _percent(results[system]["top1"]), _percent(results[system]["top5"]))
    return table


def result_tables(metrics: dict[str, Any]) -> list[Table]:
    """Every table of a ``metrics.json``-shaped dict."""
    tables = [retrieval_table(task, results) for task, results in metrics.get("retrieval", {}).items()]
    tables += [zeroshot_table(task, results) for task, results in metrics.get("zeroshot", {}).items()]
    return tables
