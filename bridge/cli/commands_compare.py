"""`bridge compare`: several strategies on one recipe, one table and one plot (presentation of bridge.pipeline.compare)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich import box
from rich.table import Table
from rich.text import Text

from bridge.cli.commands_run import THREADS
from bridge.cli.console import console, error_console, say
from bridge.cli.options import parse_overrides, parse_seeds
from bridge.errors import BridgeError

DEFAULT_STRATEGIES = "connect,extend,procrustes,pivot"
REFERENCE_NAMES = {"chance": "chance", "text_pivot": "text pivot"}
GROUP_PREFIX = {"zeroshot": "zero-shot: ", "own": "own: "}


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _cell(row, system: str) -> str:
    """A system's value in %, with ``±`` its standard deviation over the seeds when there are several."""
    value = _percent(row.values.get(system))
    spread = row.spread.get(system)
    return f"{value}±{100 * spread:.1f}" if value and spread is not None and system not in REFERENCE_NAMES else value


def _header(name: str) -> Text:
    return Text(name.replace(" ", "\n"))  # one word a line: the table fits 80 columns


def compare_table(result) -> Table:
    """Every row of a :class:`~bridge.pipeline.compare.CompareResult` in %, the best strategy in bold.

    Each task is a heading line; an own-alignment mAP line is followed by a ``kept`` line: each
    strategy's value as % of the MCR alone.
    """
    seeds = f", mean±std over seeds {','.join(map(str, result.seeds))}" if len(result.seeds) > 1 else ""
    table = Table(title=Text(f"compare {Path(result.recipe).name}: test split, %{seeds}"), title_justify="left", box=box.SIMPLE_HEAD,
                  collapse_padding=True, pad_edge=False)
    table.add_column("task / measure", min_width=17)
    table.add_column(_header("MCR alone"), justify="right", no_wrap=True)
    for system in result.systems:
        table.add_column(_header(REFERENCE_NAMES.get(system, system)), justify="right", no_wrap=True)
    strategies = [run.display for run in result.runs]
    blank = [""] * (len(result.systems) + 1)
    for index, row in enumerate(result.rows):
        if index == 0 or result.rows[index - 1].task != row.task:
            table.add_row(Text(GROUP_PREFIX.get(row.group, "") + row.task, style="bold"), *blank, end_section=False)
        best = max((row.values[s] for s in strategies if s in row.values), default=None)
        cells = [Text(_cell(row, s), style="bold green" if s in strategies and row.values.get(s) == best else "")
                 for s in result.systems]
        last = index + 1 == len(result.rows) or result.rows[index + 1].task != row.task
        kept = row.reference is not None and row.metric == "mAP"
        measure = " ".join(part for part in (row.direction, row.metric) if part)
        table.add_row(Text(f"  {measure}"), _percent(row.reference), *cells, end_section=last and not kept)
        if kept:
            ratios = [f"{100 * row.values[s] / row.reference:.0f}" if s in strategies and row.reference else "" for s in result.systems]
            table.add_row(Text("  kept (% alone)"), "", *ratios, style="dim", end_section=last)
    return table


def tuning_table(result) -> Table:
    table = Table(title=Text("tuning (validation only) and training"), title_justify="left")
    for column in ("strategy", "chosen setting", "validation mAP", "variants", "seconds"):
        table.add_column(column, justify="left" if column in ("strategy", "chosen setting") else "right")
    for run in result.runs:
        chosen = run.validation.get(run.chosen) if run.chosen else None
        table.add_row(Text(run.display), Text(run.chosen or "recipe's settings"), _percent(chosen), str(len(run.validation)), f"{run.seconds:.1f}")
    return table


def plot_compare(result, path: Path) -> Path:
    """Grouped bars: one group per (task, direction) of the mAP and top-1 rows, one bar per system; MCR-alone as a tick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in result.rows if row.metric in ("mAP", "top-1")]
    systems = result.systems
    width = 0.8 / len(systems)
    figure, axis = plt.subplots(figsize=(max(8, 1.3 * len(rows)), 5))
    for offset, system in enumerate(systems):
        positions = [i + (offset - (len(systems) - 1) / 2) * width for i in range(len(rows))]
        errors = [100 * row.spread.get(system, 0.0) for row in rows] if len(result.seeds) > 1 else None
        axis.bar(positions, [100 * row.values.get(system, 0.0) for row in rows], width, yerr=errors, capsize=2,
                 label=REFERENCE_NAMES.get(system, system))
    references = [(i, 100 * row.reference) for i, row in enumerate(rows) if row.reference is not None]
    if references:
        axis.scatter([i for i, _ in references], [v for _, v in references], marker="_", s=900, color="black", zorder=3, label="MCR alone")
    labels = [f"{row.task[:28]}\n{row.direction} {row.metric}".strip() for row in rows]
    axis.set_xticks(range(len(rows)), labels, rotation=35, ha="right", fontsize=8)
    axis.set_ylabel("%")
    axis.set_ylim(0, 105)
    seeds = f", mean ± std over {len(result.seeds)} seeds" if len(result.seeds) > 1 else ""
    axis.set_title(f"bridge compare {Path(result.recipe).name} (test split{seeds})"[:120])
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


@click.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--strategies", default=DEFAULT_STRATEGIES, show_default=True, help="Comma-separated registered strategies, in table order.")
@click.option("--no-tune", is_flag=True, help="Train every strategy with the recipe's settings (no sweeps on the validation tasks).")
@click.option("--out", "-o", type=click.Path(path_type=Path), help="Folder for compare.json and compare.png (default: <output>/compare).")
@click.option("--save", is_flag=True, help="Also save every strategy's space as <out>/<strategy>/ (a bridge folder).")
@click.option("--seeds", default=None, metavar="0,1,2",
              help="Train each chosen setting once per seed and report mean ± std (default: the recipe's training.seed).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe key for every strategy.")
@THREADS
def compare(recipe: Path, strategies: str, no_tune: bool, out: Path | None, save: bool, seeds: str | None, overrides: tuple[str, ...],
            threads: int | None) -> None:
    """Train several strategies on RECIPE's cached features and compare them on every task (tuned on validation only)."""
    from bridge.cli.progress import RichReporter
    from bridge.data.sources import resolve
    from bridge.pipeline.compare import compare as run_compare
    from bridge.recipes.io import load_recipe

    names = [name.strip() for name in strategies.split(",") if name.strip()]
    seed_list = parse_seeds(seeds) if seeds is not None else None
    parsed = parse_overrides(overrides, threads)
    loaded, base_dir = load_recipe(recipe, parsed)
    out = out or resolve(loaded.output, base_dir) / "compare"
    if out.exists() and not out.is_dir():
        raise BridgeError(f"--out {out}: exists and is not a folder")
    result = run_compare(recipe, names, tune=not no_tune, overrides=parsed, reporter=RichReporter(error_console), seeds=seed_list)
    console.print(tuning_table(result))
    console.print(compare_table(result))
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "compare.json"
    json_path.write_text(json.dumps(result.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot_path = plot_compare(result, out / "compare.png")
    if save:
        for run in result.runs:
            result.spaces[run.display].save(out / run.strategy)
    say(f"wrote {json_path} and {plot_path}" + (f"; spaces in {out}/<strategy>" if save else ""))


COMMANDS = (compare,)
