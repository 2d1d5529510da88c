"""``bridge synthworld ...``: command-line tools of the built-in synthetic world.

``bridge synthworld train`` retrains the pixel, wave and/or cloud model,
prints a table of their own retrieval quality and writes
``<name>.safetensors`` + ``<name>.yaml`` (by default into the plugin's
shipped ``weights/`` folder). The cloud model is trained against the
``pixel.safetensors`` of that folder (the shipped one is copied there first
when it has none). The same command twice writes byte-identical files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the models (and torch) load when the command runs, not when `bridge --help` lists it
    from bridge_synthworld.cloud_training import CloudTrainResult
    from bridge_synthworld.training import TrainResult

MODEL_CHOICES = {"pixel": ("pixel",), "wave": ("wave",), "cloud": ("cloud",), "both": ("pixel", "wave"),
                 "all": ("pixel", "wave", "cloud")}


def retrieval_table(results: list["TrainResult"]) -> Table:
    """One column per trained model; rows: own retrieval both ways, from neutral text, zero-shot, geometry, chance, size, time."""
    table = Table(title="own retrieval on the eval split (relevant: same main concept)")
    table.add_column("metric")
    for result in results:
        table.add_column(result.checkpoint.kind.id, justify="right")
    rows: dict[str, list[str]] = {}
    for result in results:
        for label, value in _report_rows(result):
            rows.setdefault(label, []).append(value)
    for label, values in rows.items():
        table.add_row(label, *values)
    return table


def _report_rows(result: "TrainResult") -> list[tuple[str, str]]:
    """``(label, formatted value)`` rows of one model; labels say "media" for image or audio."""
    description = result.checkpoint.description
    metrics = description["metrics"]
    modality = result.checkpoint.kind.modality
    rows = []
    if metrics:
        rows.append(("eval scenes", str(metrics["eval_scenes"])))
        directions = {
            "media->text": f"{modality}_to_text",
            "text->media": f"text_to_{modality}",
            "neutral text->media": f"neutral_text_to_{modality}",
        }
        for label, key in directions.items():
            rows += [(f"{label} {metric}", f"{metrics[key][metric]:.3f}") for metric in ("R@1", "R@5", "mAP")]
        if f"{modality}_to_text_scene" in metrics:  # same scene relevant (synthworld v2)
            rows.append(("media->text R@1, same scene", f"{metrics[f'{modality}_to_text_scene']['R@1']:.3f}"))
        rows.append(("zero-shot top-1", f"{metrics['zero_shot']['top1']:.3f}"))
        if "top1_single_object" in metrics["zero_shot"]:
            rows.append(("zero-shot top-1, one object", f"{metrics['zero_shot']['top1_single_object']:.3f}"))
        geometry = metrics.get("geometry")
        if geometry:
            rows.append(("media/text centroid gap", f"{geometry['centroid_gap']:.3f}"))
            rows.append(("matched cosine", f"{geometry['matched_cosine']:.3f}"))
            cosines = geometry["mean_cosine"]
            rows.append(("mean cosine media / text", f"{cosines[modality]:.3f} / {cosines['text']:.3f}"))
        rows.append(("chance R@1 / mAP", f"{metrics['chance']['R@1']:.3f} / {metrics['chance']['mAP']:.3f}"))
    rows.append(("parameters", f"{description['parameters']:,}"))
    rows.append(("seconds", f"{result.seconds:.0f}"))
    return rows


def cloud_table(result: "CloudTrainResult") -> Table:
    """The cloud model's own quality: cloud<->image retrieval, zero-shot through pixel's text, chance, size, time."""
    description = result.checkpoint.description
    metrics = description["metrics"]
    table = Table(title="synthworld-cloud on the eval split (relevant: same main concept)")
    table.add_column("metric")
    table.add_column("synthworld-cloud", justify="right")
    if metrics:
        table.add_row("eval scenes", str(metrics["eval_scenes"]))
        for key in ("pointcloud_to_image", "image_to_pointcloud", "pointcloud_to_image_instance"):
            for metric in ("R@1", "R@5", "mAP"):
                table.add_row(f"{key.replace('_', ' ')} {metric}", f"{metrics[key][metric]:.3f}")
        for k in ("top1", "top3", "top5"):
            table.add_row(f"zero-shot via pixel text {k}", f"{metrics['zero_shot'][k]:.3f}")
        table.add_row("chance R@1 / mAP", f"{metrics['chance']['R@1']:.3f} / {metrics['chance']['mAP']:.3f}")
    table.add_row("parameters", f"{description['parameters']:,}")
    table.add_row("seconds", f"{result.seconds:.0f}")
    return table


@click.group("synthworld")
def synthworld_group() -> None:
    """Tools of the built-in synthetic audio-image-text world."""


@synthworld_group.command("train")
@click.option("--model", "which", type=click.Choice(list(MODEL_CHOICES)), default="both", show_default=True,
              help="Which model to train (both: pixel and wave; all: pixel, wave, then cloud against the new pixel).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of initialisation, shuffling and caption choice.")
@click.option("--world-seed", type=int, default=0, show_default=True, help="Seed of the synthetic world.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Passes over the training scenes [default: 10, cloud 12].")
@click.option("--train-scenes", type=click.IntRange(min=1), default=None, help="Training scenes [default: 6144].")
@click.option("--eval-scenes", type=click.IntRange(min=0), default=None, help="Eval scenes of the report, 0 to skip [default: 480].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for <model>.safetensors and <model>.yaml [default: the plugin's weights/ folder].")
def train_command(
    which: str,
    seed: int,
    world_seed: int,
    epochs: int | None,
    train_scenes: int | None,
    eval_scenes: int | None,
    out: Path | None,
) -> None:
    """Train the synthworld pixel (image-text), wave (audio-text) and/or cloud (pointcloud-image) model."""
    from bridge.cli.progress import RichReporter
    from bridge_synthworld.mcrs import KINDS, WEIGHTS_DIR, write_checkpoint
    from bridge_synthworld.training import TrainConfig, train

    overrides = {"epochs": epochs, "train_scenes": train_scenes, "eval_scenes": eval_scenes}
    chosen = {key: value for key, value in overrides.items() if value is not None}
    config = TrainConfig(seed=seed, world_seed=world_seed, **chosen)
    folder = out if out is not None else WEIGHTS_DIR
    reporter = RichReporter()
    results = []
    for name in MODEL_CHOICES[which]:
        if name == "cloud":
            from bridge_synthworld.cloud_commands import train_cloud_into

            Console().print(cloud_table(train_cloud_into(folder, seed, world_seed, chosen, reporter)))
            continue
        result = train(KINDS[name], config, reporter=reporter)
        path = folder / f"{name}.safetensors"
        write_checkpoint(path, result.checkpoint.model, result.checkpoint.description)
        reporter.message(f"wrote {path} and {path.with_suffix('.yaml').name}")
        results.append(result)
    if results:
        Console().print(retrieval_table(results))
