"""The sweep behind the synthworld models' residual-spread setting (docs/synthworld.md, "CLIP-like geometry").

Trains pixel and/or wave from scratch with each given ``spread`` setting of
:class:`bridge_synthworld.training.TrainConfig` (everything else the
shipped defaults) and prints, measured on 480 held-out scenes of ``--split``
(``eval``, the models' own report split, or ``val``, the bridges' validation
split): the geometry report (centroid gap, matched cosine, mean
cosine per modality) and own retrieval (R@1 both ways, relevant = same
main concept; same-scene R@1; zero-shot top-1 over 48 concepts). Nothing
is written. One setting is ``none`` (plain InfoNCE) or
``role=weight[,role=weight]`` with role ``media`` or ``text``.

    .venv/bin/python scripts/spread_sweep.py --models pixel,wave \
        --setting none --setting text=0.4 --setting text=0.6 --setting media=0.3 --setting media=0.3,text=0.3
    # ~1 min per model and setting with one torch thread
"""

from __future__ import annotations

import click
import torch
from pydantic import ValidationError

from bridge.cli.options import parse_seeds
from bridge.core.validation import format_error
from bridge.errors import BridgeError
from bridge_synthworld.mcrs import KINDS, SynthworldMCR
from bridge_synthworld.training import TrainConfig, evaluate_own_retrieval, train
from bridge_synthworld.world import World

COLUMNS = ("model", "seed", "spread", "gap", "matched", "mean cos media / text", "R@1 m→t / t→m", "scene R@1", "zero-shot")


def parse_setting(text: str) -> TrainConfig:
    """``"none"`` -> plain InfoNCE; ``"media=0.3,text=0.3"`` -> ``spread={"media": 0.3, "text": 0.3}``.

    The roles and weights are checked by :class:`TrainConfig` itself, before anything is trained.
    """
    spread: dict[str, str] = {}
    if text != "none":
        for part in text.split(","):
            role, separator, weight = part.partition("=")
            if not separator:
                raise click.BadParameter(f"{part[:40]!r}: expected role=weight, e.g. text=0.6")
            spread[role.strip()] = weight.strip()
    try:
        return TrainConfig(spread=spread)
    except ValidationError as error:
        raise click.BadParameter(f"{text[:40]!r}: {format_error(error)}") from None


def row(model: str, seed: int, setting: str, metrics: dict) -> tuple[str, ...]:
    """One table row of a trained model's ``description["metrics"]``."""
    modality = KINDS[model].modality
    geometry = metrics["geometry"]
    cosines = geometry["mean_cosine"]
    return (
        model,
        str(seed),
        setting,
        f"{geometry['centroid_gap']:.2f}",
        f"{geometry['matched_cosine']:.2f}",
        f"{cosines[modality]:.2f} / {cosines['text']:.2f}",
        f"{100 * metrics[f'{modality}_to_text']['R@1']:.1f} / {100 * metrics[f'text_to_{modality}']['R@1']:.1f}",
        f"{100 * metrics[f'{modality}_to_text_scene']['R@1']:.1f}",
        f"{100 * metrics['zero_shot']['top1']:.1f}",
    )


@click.command()
@click.option("--models", default="pixel,wave", show_default=True, help="Comma-separated: pixel, wave.")
@click.option("--setting", "settings", multiple=True, default=("none", "text=0.6"), show_default=True,
              help="A spread setting (repeat the option for several): none, or role=weight[,role=weight].")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated training seeds.")
@click.option("--split", type=click.Choice(["eval", "val"]), default="eval", show_default=True,
              help="Scenes measured (480): the models' own report split (eval, whose scenes the bridges' test tasks "
                   "also use) or the bridges' validation split (val).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Torch CPU threads.")
def main(models: str, settings: tuple[str, ...], seeds: str, split: str, threads: int) -> None:
    """Train each model with each spread setting and seed; print geometry and own retrieval."""
    torch.set_num_threads(threads)
    names = [name.strip() for name in models.split(",")]
    unknown = [name for name in names if name not in KINDS]
    if unknown:
        raise click.BadParameter(f"{unknown[0][:40]!r}: expected pixel or wave", param_hint="--models")
    parsed = {setting: parse_setting(setting) for setting in settings}
    try:
        seed_list = parse_seeds(seeds)
    except BridgeError as error:
        raise click.BadParameter(str(error), param_hint="--seeds") from None
    print(f"threads: {threads}; measured on 480 {split} scenes")
    print(" | ".join(COLUMNS))
    for name in names:
        for setting, base in parsed.items():
            for seed in seed_list:
                config = base.model_copy(update={"seed": seed, "eval_scenes": 0})
                checkpoint = train(KINDS[name], config).checkpoint
                metrics = evaluate_own_retrieval(SynthworldMCR(checkpoint), World(seed=config.world_seed), 480, split)
                print(" | ".join(row(name, seed, setting, metrics)), flush=True)


if __name__ == "__main__":
    main()
