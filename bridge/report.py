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
    """One task: a row per system and direction; metrics in percent, MedR as a rank."""
    table = Table(title=f"retrieval: {task}", title_justify="left")
    for column in ("system", "direction", *RETRIEVAL_COLUMNS, "MedR"):
        table.add_column(column, justify="left" if column in ("system", "direction") else "right")
    for system in _ordered(results):
        for index, (direction, metrics) in enumerate(results[system].items()):
            cells = [_percent(metrics[m]) for m in RETRIEVAL_COLUMNS] + [f"{metrics['MedR']:.1f}"]
            table.add_row(system if index == 0 else "", direction, *cells, style="bold green" if system == "C-MCR" else None,
                          end_section=index == len(results[system]) - 1)
    return table


def zeroshot_table(tasks: dict[str, dict[str, dict[str, float]]]) -> Table:
    """Every zero-shot task: a row per task and system, accuracy in percent."""
    table = Table(title="zero-shot classification", title_justify="left")
    for column in ("task", "system", "top-1", "top-5"):
        table.add_column(column, justify="left" if column in ("task", "system") else "right")
    for task, results in tasks.items():
        systems = _ordered(results)
        for index, system in enumerate(systems):
            table.add_row(task if index == 0 else "", system, _percent(results[system]["top1"]), _percent(results[system]["top5"]),
                          style="bold green" if system == "C-MCR" else None, end_section=index == len(systems) - 1)
    return table


def result_tables(metrics: dict[str, Any]) -> list[Table]:
    """Every table of a ``metrics.json``-shaped dict."""
    tables = [retrieval_table(task, results) for task, results in metrics.get("retrieval", {}).items()]
    if metrics.get("zeroshot"):
        tables.append(zeroshot_table(metrics["zeroshot"]))
    return tables
