"""`bridge extract`: encode every source of a recipe into the cache, in one process or under torchrun.

The engine is :mod:`bridge.pipeline.extract_all`; this command reads
torchrun's RANK, WORLD_SIZE and LOCAL_RANK from the environment and passes
them in as a :class:`~bridge.pipeline.extract_all.DistributedContext`.
Nothing here imports torch before the command runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import click

from bridge.cli.console import error_console, say
from bridge.cli.options import parse_overrides
from bridge.errors import BridgeError, quoted


def _rank_variable(environment: Mapping[str, str], name: str, default: int) -> int:
    text = environment.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise BridgeError(f"environment variable {name}={quoted(text)}: expected a non-negative integer (torchrun sets it)")
    return int(text)


def distributed_context(environment: Mapping[str, str] | None = None):
    """The process's place among the ranks, from torchrun's RANK, WORLD_SIZE and LOCAL_RANK (absent: one process)."""
    from bridge.pipeline.extract_all import DistributedContext

    environment = os.environ if environment is None else environment
    world_size = _rank_variable(environment, "WORLD_SIZE", 1)
    if world_size < 1:
        raise BridgeError("environment variable WORLD_SIZE=0: expected at least 1")
    rank = _rank_variable(environment, "RANK", 0)
    return DistributedContext(rank=rank, world_size=world_size, local_rank=_rank_variable(environment, "LOCAL_RANK", rank))


@click.command("extract")
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Embedding cache to fill (default: the recipe's `cache_dir`, else $BRIDGE_CACHE).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe key, e.g. --set data.decoding.workers=4.")
@click.option("--threads", type=click.IntRange(1, 1024), help="Torch CPU threads per process (default: the recipe's, else torch's).")
def extract_command(recipe: Path, cache_dir: Path | None, overrides: tuple[str, ...], threads: int | None) -> None:
    """Encode every source of RECIPE into the cache, without training.

    Under `torchrun --nproc_per_node=N -m bridge extract RECIPE` each rank encodes
    its own share on its own device; rank 0 reports. A rerun resumes.
    """
    context = distributed_context()
    parsed = parse_overrides(overrides, threads)
    if cache_dir is not None:
        parsed["cache_dir"] = str(cache_dir.expanduser().resolve())
    from bridge.cli.progress import RichReporter
    from bridge.pipeline.extract_all import extract_recipe

    result = extract_recipe(recipe, parsed, context, reporter=RichReporter(error_console) if context.main else None)
    if not context.main:
        return
    for count in result.counts:
        skipped = f", {count.skipped} skipped" if count.skipped else ""
        say(f"{count.name} ({count.modality}) through {count.member}: {count.items} items, "
            f"{count.encoded} encoded, {count.cached} cached (distinct contents){skipped}")
    ranks = f" by {context.world_size} processes" if context.distributed else ""
    say(f"encoded {result.encoded} new contents{ranks} into {result.cache_dir} ({result.seconds:.1f} s, {result.device})")
    times = result.times
    waiting = f", waiting for the other ranks {times.waiting:.2f} s (rank 0)" if context.distributed else ""
    say(f"  opening the recipe and models {times.opening:.2f} s, listing the sources {times.listing:.2f} s, "
        f"encoding {times.encoding:.2f} s{waiting}")


COMMANDS = (extract_command,)
