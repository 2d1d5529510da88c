"""Commands that inspect: plugins, recipe check. Neither imports torch."""

from __future__ import annotations

import typing
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from bridge.cli.console import console, say, warn


@click.command()
@click.option("--options", "show_options", is_flag=True, help="Also list each MCR, source and strategy type's options.")
def plugins(show_options: bool) -> None:
    """List the installed plugins and what each registers."""
    from bridge.core.registry import Registry

    registry = Registry.from_environment()
    table = Table(title="plugins", title_justify="left")
    for column in ("plugin", "version", "MCRs", "sources", "strategies", "commands"):
        table.add_column(column)
    for info in registry.infos():
        table.add_row(*(Text(cell) for cell in (info.name, info.version, ", ".join(info.mcrs), ", ".join(info.sources),
                                                ", ".join(info.strategies), ", ".join(_command_names(registry, info.name)))))
    console.print(table)
    if show_options:
        for kind, registered in (("MCR", registry.mcrs), ("source", registry.sources)):
            for name, entry in sorted(registered.items()):
                console.print(_options_table(f"{kind} {name}: {entry.summary}", entry.options))
        for name, entry in sorted(registry.strategies.items()):
            aliases = f" (also: {', '.join(entry.aliases)})" if entry.aliases else ""
            say(f"strategy {name}{aliases}: {entry.summary}")
    for line in registry.warnings:
        warn(line)


def _command_names(registry, plugin: str) -> list[str]:
    """The commands a plugin adds, learned by letting it register into a throwaway click group."""
    group = click.Group()
    registry.add_commands(group, [plugin])
    return sorted(group.commands)


def _type_name(annotation) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(repr(value) for value in typing.get_args(annotation))
    args = typing.get_args(annotation)
    if args and typing.get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type_name(arg) for arg in args)
    return getattr(annotation, "__name__", str(annotation)).replace("typing.", "")


def _options_table(title: str, model) -> Table:
    table = Table(title=Text(title), title_justify="left")
    for column in ("option", "type", "default", "description"):
        table.add_column(column)
    for name, field in model.model_fields.items():
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        table.add_row(Text(name), Text(_type_name(field.annotation)), Text(default), Text(field.description or ""))
    return table


@click.group()
def recipe() -> None:
    """Work with recipes."""


@recipe.command("check")
@click.argument("recipe_file", type=click.Path(path_type=Path))
def recipe_check(recipe_file: Path) -> None:
    """Validate RECIPE_FILE (a bridge or a space recipe) without running it: schema, plugins, options, files, prompts, output paths."""
    from bridge.recipes.space_check import check_any_recipe

    check_any_recipe(recipe_file)
    say(f"{recipe_file}: ok")


COMMANDS = (plugins, recipe)
