"""`bridge import`: the authors' released projector checkpoints as bridges of this project (docs/import.md)."""

from __future__ import annotations

from pathlib import Path

import click

from bridge.cli.console import say
from bridge.errors import BridgeError, quoted


def parse_binding(text: str) -> tuple[str, tuple[str, Path | None]]:
    """``"clap=laionclap:clap.yaml"`` → ``("clap", ("laionclap", Path("clap.yaml")))``; ``NAME=PLUGIN`` takes no options."""
    member, sep, rest = text.partition("=")
    plugin, colon, options = rest.partition(":")
    if not sep or not member.strip() or not plugin.strip() or (colon and not options.strip()):
        raise BridgeError(f"--member {quoted(text)}: expected NAME=PLUGIN or NAME=PLUGIN:OPTIONS.yaml, e.g. clap=laionclap:clap.yaml")
    return member.strip(), (plugin.strip(), Path(options.strip()) if colon else None)


@click.command("import")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True, help="Bridge directory to write.")
@click.option(
    "--member", "members", multiple=True, metavar="NAME=PLUGIN[:OPTIONS.yaml]",
    help="Bind a member (clip, clap, ulip) to a local MCR: a plugin and a YAML file of its options, e.g. clap=laionclap:clap.yaml.",
)
@click.option("--leaf", help="An Ex-MCR head's member, clap or ulip (default: from the file name, ex_clap.pt / ex_ulip.pt).")
@click.option("--name", help="Name of the space (default: the checkpoint's file name without suffix).")
def import_command(checkpoint: Path, output: Path, members: tuple[str, ...], leaf: str | None, name: str | None) -> None:
    """Turn a released C-MCR or Ex-MCR projector CHECKPOINT into a bridge directory."""
    bindings: dict[str, tuple[str, Path | None]] = {}
    for text in members:
        member, binding = parse_binding(text)
        if member in bindings:
            raise BridgeError(f"--member {quoted(member)}: given twice")
        bindings[member] = binding
    from bridge.pipeline.import_release import import_checkpoint

    result = import_checkpoint(checkpoint, output, bindings, leaf=leaf, name=name)
    layout = result.release.layout
    say(f"imported {layout.description} (layout {layout.name}, {result.spec.strategy}, through {result.spec.overlap}) into {result.output}")
    heads = {member: head for head, member in result.release.heads.items()}
    unbound = []
    for member, record in result.spec.members.items():
        role = f"{heads[member]} → {record.projector.architecture} projector" if member in heads else "kept as it is (the base space)"
        if not record.plugin:
            unbound.append(member)
        say(f"  {member} ({', '.join(record.modalities)}): {role}; MCR: {record.id if record.plugin else 'not bound'}")
    if unbound:
        say(
            f"not bound: {', '.join(unbound)}; their projectors take precomputed features (Bridge.project); to embed files, "
            f"import again with --member {unbound[0]}=PLUGIN:OPTIONS.yaml (docs/import.md)"
        )


COMMANDS = (import_command,)
