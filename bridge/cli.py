"""The `bridge` command line (click + rich).

Every user error is one line on stderr and a non-zero exit; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from bridge.errors import BridgeError

console = Console()
error_console = Console(stderr=True)


class BridgeGroup(click.Group):
    """The top-level group: adds plugins' commands on first use, and turns BridgeError into one clear line."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            from bridge.plugins import plugin_manager

            plugin_manager().hook.register_commands(cli=self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._add_plugin_commands()
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BridgeError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            error_console.print(f"[bold red]error:[/] {error}", markup=True, highlight=False, soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            error_console.print("interrupted; run the same command again to resume from the cache and the last checkpoint")
            sys.exit(130)


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("training.epochs=5", ...)`` → ``{"training.epochs": 5}`` (values parsed as YAML)."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BridgeError(f"--set {pair!r}: expected KEY=VALUE, e.g. training.epochs=5")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


@click.group(cls=BridgeGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="mcr-bridge")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Connect pretrained multi-modal contrastive models (CLIP, CLAP, ...) through a shared modality."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Bridge directory (default: the recipe's `output`).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe key, e.g. --set training.epochs=5.")
def connect(recipe: Path, output: Path | None, overrides: tuple[str, ...]) -> None:
    """Extract, enhance, train, evaluate and save a bridge from RECIPE."""
    from bridge.connect import connect as run_connect
    from bridge.progress import RichReporter
    from bridge.report import result_tables

    result = run_connect(recipe, parse_overrides(overrides), reporter=RichReporter(error_console), output=output)
    for table in result_tables(result.metrics):
        console.print(table)
    _print_skipped(result.metrics.get("skipped", []))
    seconds = result.metrics["training"]["seconds"]
    console.print(f"saved bridge to [bold]{result.output}[/] ({seconds:.1f} s)")


def _print_skipped(skipped: list[dict]) -> None:
    if not skipped:
        return
    console.print(f"[yellow]skipped {len(skipped)} unreadable item(s):[/]")
    for item in skipped:
        console.print(f"  {item.get('value')}: {item.get('reason')}", highlight=False)


@cli.command("eval")
@click.argument("bridge_dir", type=click.Path(path_type=Path))
@click.option("--recipe", type=click.Path(path_type=Path), help="Evaluate on this recipe's tasks instead of the bridge's own.")
def eval_command(bridge_dir: Path, recipe: Path | None) -> None:
    """Evaluate a saved bridge and update its metrics.json."""
    from bridge.connect import evaluate_saved
    from bridge.progress import RichReporter
    from bridge.report import result_tables

    results = evaluate_saved(bridge_dir, recipe, reporter=RichReporter(error_console))
    for table in result_tables(results):
        console.print(table)


@cli.command()
@click.argument("bridge_dir", type=click.Path(path_type=Path))
@click.argument("items", nargs=-1)
@click.option("--modality", "-m", required=True, help="Modality of the items, e.g. audio, image, text.")
@click.option("--from-file", "list_file", type=click.Path(path_type=Path), help="A text file with one item (path or text) a line.")
@click.option("--via", type=click.Choice(["a", "b"]), help="For the shared modality: embed through MCR a or b (default: both, averaged).")
@click.option("--out", "-o", "out", type=click.Path(path_type=Path), required=True, help="Output .npy or .safetensors file.")
def embed(bridge_dir: Path, items: tuple[str, ...], modality: str, list_file: Path | None, via: str | None, out: Path) -> None:
    """Embed ITEMS (file paths or texts) into a bridge's joint space."""
    from bridge.artifact import Bridge
    from bridge.embedding_io import read_item_list, write_embeddings

    values = list(items) + (read_item_list(list_file) if list_file else [])
    if not values:
        raise BridgeError("no items: give ITEMS or --from-file")
    bridge = Bridge.load(bridge_dir)
    embeddings = bridge.embed(modality, values, via=via)
    write_embeddings(out, embeddings, values)
    console.print(f"wrote {tuple(embeddings.shape)} {modality} embeddings to [bold]{out}[/]")


@cli.command()
@click.option("--options", "show_options", is_flag=True, help="Also list each MCR and source type's options.")
def plugins(show_options: bool) -> None:
    """List the installed plugins and what each registers."""
    from bridge.plugins import mcr_types, plugin_infos, source_types

    table = Table(title="plugins", title_justify="left")
    for column in ("plugin", "version", "MCRs", "sources", "commands"):
        table.add_column(column)
    for info in plugin_infos():
        table.add_row(info.name, info.version, ", ".join(info.mcrs), ", ".join(info.sources), ", ".join(info.commands))
    console.print(table)
    if show_options:
        for kind, registered in (("MCR", mcr_types()), ("source", source_types())):
            for name, entry in sorted(registered.items()):
                console.print(_options_table(f"{kind} {name}: {entry.summary}", entry.options))


def _options_table(title: str, model) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("option", "type", "default", "description"):
        table.add_column(column)
    for name, field in model.model_fields.items():
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        annotation = getattr(field.annotation, "__name__", str(field.annotation)).replace("typing.", "")
        table.add_row(name, annotation, default, field.description or "")
    return table


@cli.group()
def recipe() -> None:
    """Work with recipes."""


@recipe.command("check")
@click.argument("recipe_file", type=click.Path(path_type=Path))
def recipe_check(recipe_file: Path) -> None:
    """Validate RECIPE_FILE (schema, plugins and their options) without running it."""
    from bridge.recipe_check import check_recipe

    check_recipe(recipe_file)
    console.print(f"{recipe_file}: ok")


@cli.command()
@click.argument("recipe_file", type=click.Path(path_type=Path))
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated training seeds.")
@click.option("--task", help="Retrieval task to report (default: the recipe's first).")
@click.option("--out", "-o", type=click.Path(path_type=Path), help="Folder for ablation.json and ablation.png (default: <output>/ablation).")
@click.option("--quick", is_flag=True, help="Only the four component ablations, no sweeps.")
def ablate(recipe_file: Path, seeds: str, task: str | None, out: Path | None, quick: bool) -> None:
    """Reproduce the C-MCR ablation study on RECIPE_FILE over several seeds."""
    from bridge.ablation import run_ablation
    from bridge.progress import RichReporter

    seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    result = run_ablation(recipe_file, seed_list, task=task, out=out, quick=quick, reporter=RichReporter(error_console))
    console.print(result.table)
    console.print(f"wrote [bold]{result.json_path}[/] and [bold]{result.plot_path}[/]")


def main() -> None:
    """Entry point of the `bridge` console script."""
    try:
        cli(prog_name="bridge")
    except BridgeError as error:  # a plugin that fails to load, before any command runs
        if "--debug" in sys.argv[1:]:
            raise
        error_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(1)
