"""The three-hop chain under other Ex-MCR settings of its hops, on the validation split only.

Each ``--setting KEY=VALUE`` is applied to both hops' recipes on top of the
settings `recipes/synthworld_three_hop.yaml` gives them; every wave hop is
composed with every cloud hop, and the chain (audio↔point cloud) and both
hops (audio↔image, point cloud↔image through pixel) are scored on the 480
`val` scenes (mean mAP of both directions, %, relevant = same main concept).
With no setting it scores the recipe's own pair. A value is YAML
(``true``, ``0.1``, ``[overlap, leaf]``). docs/synthworld.md, "Three hops",
has a run.

    .venv/bin/python scripts/three_hop_settings.py --setting training.dense_alignment=false
    .venv/bin/python scripts/three_hop_settings.py --setting "enhance.centres=[overlap]" --setting "enhance.centres=[leaf, base]"
"""

from __future__ import annotations

import click
import torch
import yaml

from bridge.core.composed import compose
from bridge.core.registry import Registry
from bridge.errors import BridgeError
from bridge.pipeline.connect import fit
from bridge.pipeline.session import open_session
from bridge.recipes.io import load_recipe
from three_hop_hops import validation_recipe, validation_scores


def _parse(text: str) -> tuple[str, object]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise click.BadParameter(f"{text!r}: expected KEY=VALUE, e.g. training.dense_alignment=false", param_hint="--setting")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise click.BadParameter(f"{text!r}: the value is not YAML ({error.problem})", param_hint="--setting") from None


@click.command()
@click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE", help="A hop setting to try (repeatable).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads.")
def main(settings: tuple[str, ...], threads: int) -> None:
    """Print the chain's and each hop's validation mAP for every pair of hop settings."""
    variants = [("recipe", None)] + [(text, _parse(text)) for text in settings]
    torch.set_num_threads(threads)
    registry = Registry.from_environment()
    recipe, space_dir = validation_recipe()
    chain = recipe.evaluation.validation[0]
    trained = {}
    for name, planned in recipe.bridges.items():
        for label, setting in variants:
            overrides = {**planned.set, **(dict([setting]) if setting else {})}
            try:
                hop_recipe, base_dir = load_recipe(space_dir / planned.recipe, overrides)
            except BridgeError as error:
                raise click.ClickException(f"--setting {label}: {error}") from None
            trained[name, label] = fit(open_session(hop_recipe, base_dir, registry), hop_recipe)[0]
    print(f"validation mAP, mean of both directions, % (480 scenes) | {chain.name} | audio-image | pointcloud-image")
    for wave, _ in variants:
        for cloud, _ in variants:
            label = f"wave {wave} + cloud {cloud}"
            space = compose({"wave": trained["wave", wave], "cloud": trained["cloud", cloud]}, name=label)
            scores = validation_scores(space, recipe, space_dir, registry)
            print(f"{label:60s} " + " ".join(f"{score:6.1f}" for score in scores), flush=True)


if __name__ == "__main__":
    main()
