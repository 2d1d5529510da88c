"""Commands that do work: connect, compose, eval, embed, ablate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bridge.cli.console import console, error_console, plain, say
from bridge.cli.options import parse_overrides, parse_seeds
from bridge.errors import BridgeError, shorten

THREADS = click.option("--threads", type=click.IntRange(1, 1024), help="Torch CPU threads (default: the recipe's, else torch's).")


@click.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Bridge directory (default: the recipe's `output`).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe key, e.g. --set training.epochs=5.")
@THREADS
def connect(recipe: Path, output: Path | None, overrides: tuple[str, ...], threads: int | None) -> None:
    """Check, extract, enhance, train, evaluate and save a bridge from RECIPE."""
    from bridge.cli.progress import RichReporter
    from bridge.cli.render import result_tables
    from bridge.pipeline.connect import connect as run_connect

    result = run_connect(recipe, parse_overrides(overrides, threads), reporter=RichReporter(error_console), output=output)
    for table in result_tables(result.metrics):
        console.print(table)
    _print_skipped(result.metrics.get("skipped", []))
    seconds = result.metrics["training"]["seconds"]
    say(f"saved bridge to {result.output} ({seconds:.1f} s; test split)")


@click.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Space folder (default: the recipe's `output`).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe key, e.g. --set paired_reference.enhance.noise_sigma=0.04.")
@THREADS
def compose(recipe: Path, output: Path | None, overrides: tuple[str, ...], threads: int | None) -> None:
    """Compose a space recipe's bridges (training the missing ones) into one space; evaluate and save it."""
    from bridge.cli.progress import RichReporter
    from bridge.cli.render import relative_lines, result_tables
    from bridge.pipeline.compose import compose_recipe_file

    result = compose_recipe_file(recipe, parse_overrides(overrides, threads), reporter=RichReporter(error_console), output=output)
    for table in result_tables(result.metrics):
        console.print(table)
    for line in relative_lines(result.metrics):
        say(line)
    _print_skipped(result.metrics.get("skipped", []))
    trained = f"; trained {', '.join(result.trained)}" if result.trained else ""
    say(f"saved space to {result.output} ({result.metrics['seconds']:.1f} s{trained}; tables: test split, then validation)")


def _print_skipped(skipped: list[dict]) -> None:
    if not skipped:
        return
    console.print(plain(f"skipped {len(skipped)} unreadable item(s):", "yellow"))
    for item in skipped:
        say(f"  {shorten(str(item.get('value')), 200)}: {shorten(str(item.get('reason')), 200)}")


@click.command("eval")
@click.argument("bridge_dir", type=click.Path(path_type=Path))
@click.option("--recipe", type=click.Path(path_type=Path), help="Evaluate on this recipe's tasks instead of the bridge's own.")
@THREADS
def eval_command(bridge_dir: Path, recipe: Path | None, threads: int | None) -> None:
    """Evaluate a saved bridge and update its metrics.json."""
    from bridge.cli.progress import RichReporter
    from bridge.cli.render import relative_lines, result_tables
    from bridge.pipeline.evaluate_saved import evaluate_saved

    _set_threads(threads)
    results = evaluate_saved(bridge_dir, recipe, reporter=RichReporter(error_console))
    for table in result_tables(results):
        console.print(table)
    for line in relative_lines(results):
        say(line)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


@click.command()
@click.argument("bridge_dir", type=click.Path(path_type=Path))
@click.argument("items", nargs=-1)
@click.option("--modality", "-m", required=True, help="Modality of the items, e.g. audio, image, text.")
@click.option("--from-file", "list_file", type=click.Path(path_type=Path), help="A text file with one item (path or text) a line.")
@click.option("--via", help="For a modality several members encode: embed through this member (default: all, averaged).")
@click.option("--out", "-o", "out", type=click.Path(path_type=Path), required=True, help="Output .npy or .safetensors file.")
@THREADS
def embed(bridge_dir: Path, items: tuple[str, ...], modality: str, list_file: Path | None, via: str | None, out: Path, threads: int | None) -> None:
    """Embed ITEMS (file paths or texts) into a bridge's (or a composed space's) joint space."""
    from bridge.data.embedding_io import check_embedding_output, read_item_list, write_embeddings

    check_embedding_output(out)
    values = list(items) + (read_item_list(list_file) if list_file else [])
    if not values:
        raise BridgeError("no items: give ITEMS or --from-file")
    from bridge.core.space import Bridge

    _set_threads(threads)
    from bridge.core.composed import Space
    from bridge.core.space_file import is_space_directory

    space = Space.load(bridge_dir) if is_space_directory(bridge_dir) else Bridge.load(bridge_dir)
    embeddings = space.embed(modality, values, via=via)
    write_embeddings(out, embeddings, values)
    say(f"wrote {tuple(embeddings.shape)} {modality} embeddings to {out}")


@click.command()
@click.argument("recipe_file", type=click.Path(path_type=Path))
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated training seeds.")
@click.option("--task", help="Validation task to tune on (default: the recipe's first).")
@click.option("--out", "-o", type=click.Path(path_type=Path), help="Folder for ablation.json and ablation.png (default: <output>/ablation).")
@click.option("--quick", is_flag=True, help="Only the component ablations, no sweeps (nothing is tuned).")
@THREADS
def ablate(recipe_file: Path, seeds: str, task: str | None, out: Path | None, quick: bool, threads: int | None) -> None:
    """A strategy's ablation study on RECIPE_FILE: every variant scored on validation, chosen settings tested once."""
    from bridge.cli.plots import plot_scores
    from bridge.cli.progress import RichReporter
    from bridge.cli.render import scores_table
    from bridge.data.sources import resolve
    from bridge.pipeline.ablate import run_ablation
    from bridge.recipes.io import load_recipe

    seed_list = parse_seeds(seeds)
    recipe, base_dir = load_recipe(recipe_file)
    out = out or resolve(recipe.output, base_dir) / "ablation"
    _check_folder(out)
    _set_threads(threads)
    result = run_ablation(recipe_file, seed_list, task=task, quick=quick, reporter=RichReporter(error_console))
    chosen = {f"paired reference: {v}" if k == "paired reference" else v for k, v in result.chosen.items()}
    console.print(scores_table(f"validation: {result.validation_task} (mean ± std over {len(seed_list)} seed(s), %)", result.validation, chosen))
    console.print(scores_table(f"test: {result.test_task}, chosen settings only (mean ± std over {len(seed_list)} seed(s), %)", result.test))
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "ablation.json"
    json_path.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
    plot_path = plot_scores(result.validation, out / "ablation.png", f"validation: {result.validation_task}, {len(seed_list)} seed(s)")
    say(f"wrote {json_path} and {plot_path}")


def _check_folder(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise BridgeError(f"--out {path}: exists and is not a folder")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise BridgeError(f"--out {path}: {parent} is a file, not a folder")


COMMANDS = (connect, compose, eval_command, embed, ablate)
