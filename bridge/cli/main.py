"""The `bridge` command line: the click group, error handling, and the built-in commands.

Every user error is one line on stderr and a non-zero exit; ``--debug``
shows the traceback instead. Plugins add commands through the
``register_commands`` hook, which receives this click group. Nothing here
imports torch until a command needs it: ``--help``, ``--version``,
``plugins`` and ``recipe check`` stay fast.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from bridge.cli.console import error_console, fail, fail_with_details, warn
from bridge.errors import BridgeError, shorten


def os_error_line(error: OSError) -> str:
    """An operating-system error as one line: the file it concerns and the system's reason."""
    where = f"{shorten(str(error.filename), 200)}: " if error.filename is not None else ""
    return f"{where}{error.strerror or shorten(str(error), 200)}"


class BridgeGroup(click.Group):
    """The top-level group: adds plugins' commands on first use, and turns BridgeError into one clear line."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from bridge.core.registry import Registry

        registry = Registry.from_environment()
        registry.add_commands(self)
        for line in registry.warnings:
            warn(line)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BridgeError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            fail_with_details(error)
            sys.exit(1)
        except OSError as error:  # the system refused a file operation (disk full, permissions, names too long)
            if ctx.obj and ctx.obj.get("debug"):
                raise
            fail(os_error_line(error))
            sys.exit(1)
        except KeyboardInterrupt:
            error_console.print("interrupted; run the same command again to resume from the cache and the last checkpoint")
            sys.exit(130)


@click.group(cls=BridgeGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="mcr-bridge")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Connect pretrained multi-modal contrastive models (CLIP, CLAP, ...) through a shared modality."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register_builtin_commands() -> None:
    from bridge.cli import commands_compare, commands_extract, commands_import, commands_info, commands_run, commands_search

    for command in (*commands_run.COMMANDS, *commands_compare.COMMANDS, *commands_info.COMMANDS, *commands_search.COMMANDS, *commands_import.COMMANDS, *commands_extract.COMMANDS):
        cli.add_command(command)


_register_builtin_commands()


def main() -> None:
    """Entry point of the `bridge` console script."""
    try:
        cli(prog_name="bridge")
    except BridgeError as error:  # raised before a command runs (e.g. while adding plugin commands)
        if "--debug" in sys.argv[1:]:
            raise
        fail_with_details(error)
        sys.exit(1)
