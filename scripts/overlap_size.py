"""C-MCR against the size of its unpaired overlap corpus, on the validation split only.

C-MCR's overlap modality (text, for pixel and wave) is the cheap one: any
caption corpus will do, no pairing needed. This script trains the recipe's
strategy with ``data.overlap`` cut to each ``--counts`` size (everything
else as the recipe says, memories included) and scores it on every
validation task of the recipe (mAP per direction, mean over ``--seeds``),
beside the paired reference (trained as `bridge connect` trains it, with
``evaluation.paired_reference_settings``; it does not depend on the
overlap), and prints each as a share of the paired reference's mAP. Nothing is run on
the test split: a size chosen from this table is a recipe change, to be
tested once afterwards. docs/synthworld.md has a run.

    .venv/bin/python scripts/overlap_size.py                                   # recipes/synthworld.yaml, 6,000-48,000 captions, ~5 min
    .venv/bin/python scripts/overlap_size.py --counts 6000,24000 --seeds 0,1
"""

from __future__ import annotations

import statistics
from pathlib import Path

import click
import torch

from bridge.cli.options import parse_seeds
from bridge.core.registry import Registry
from bridge.errors import BridgeError
from bridge.evaluation.evaluate import evaluate_retrieval
from bridge.pipeline.ablate import variant_recipe
from bridge.pipeline.connect import fit
from bridge.pipeline.references import PAIRED_REFERENCE, reference_systems
from bridge.pipeline.session import open_session
from bridge.recipes.io import load_recipe

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def _maps(session, space, tasks) -> dict[str, float]:
    """``{"<task> <direction>": mAP}`` of ``space`` on every task."""
    scores = {}
    for task in tasks:
        for direction, metrics in evaluate_retrieval(task, {"space": space}, session.provider, space)["space"].items():
            scores[f"{task.name} {direction}"] = metrics["mAP"]
    return scores


def _mean(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.fmean(run[key] for run in runs) for key in runs[0]}


@click.command()
@click.option("--recipe", "recipe_path", type=click.Path(path_type=Path), default=RECIPES / "synthworld.yaml", show_default=True,
              help="A recipe whose data.overlap is a plugin source with a `count` option.")
@click.option("--counts", default="6000,12000,24000,48000", show_default=True, help="Comma-separated overlap sizes.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated training seeds.")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True, help="torch CPU threads.")
def main(recipe_path: Path, counts: str, seeds: str, threads: int) -> None:
    """Print validation mAP of the recipe's strategy for each overlap size, and as a share of the paired reference."""
    try:
        sizes = [int(text) for text in counts.split(",")]
    except ValueError:
        raise click.BadParameter(f"{counts!r}: expected comma-separated whole numbers", param_hint="--counts") from None
    if any(size <= 0 for size in sizes):
        raise click.BadParameter(f"{counts!r}: sizes must be positive", param_hint="--counts")
    try:
        seed_list = parse_seeds(seeds)
    except BridgeError as error:
        raise click.ClickException(str(error)) from None
    torch.set_num_threads(threads)
    registry = Registry.from_environment()
    rows: dict[str, dict[str, float]] = {}
    reference: dict[str, float] = {}
    for size in sizes:
        try:
            recipe, base_dir = load_recipe(recipe_path, {"data.overlap.options.count": size})
        except BridgeError as error:
            raise click.ClickException(str(error)) from None
        tasks = recipe.evaluation.validation
        if not tasks or "paired_reference" not in recipe.evaluation.baselines:
            raise click.ClickException(f"{recipe_path}: the script needs evaluation.validation tasks and the paired_reference baseline")
        session = open_session(recipe, base_dir, registry)
        rows[f"{size:,} captions"] = _mean([_maps(session, fit(session, variant_recipe(recipe, {}, seed))[0], tasks) for seed in seed_list])
        if not reference:
            references = [reference_systems(session, variant_recipe(recipe, {}, seed))[PAIRED_REFERENCE] for seed in seed_list]
            reference = _mean([_maps(session, space, tasks) for space in references])
        print(f"trained with {size:,} overlap items", flush=True)
    columns = list(reference)
    print(f"validation mAP, %, mean of seeds {seeds} ({recipe.name}); in brackets: share of the paired reference")
    print(" | ".join(["system".ljust(18), *columns]))
    print(" | ".join(["paired reference".ljust(18), *(f"{100 * reference[c]:.1f}".ljust(len(c)) for c in columns)]))
    for name, scores in rows.items():
        cells = [f"{100 * scores[c]:.1f} ({100 * scores[c] / reference[c]:.0f} %)".ljust(len(c)) for c in columns]
        print(" | ".join([name.ljust(18), *cells]))


if __name__ == "__main__":
    main()
