"""Where the three-hop space loses: each hop and the chain, on the validation split only.

`recipes/synthworld_three_hop.yaml` composes wave→pixel (through text) and
cloud→pixel (through images) into one space answering audio↔point-cloud
retrieval. This script measures, on the `val` scenes (480, relevant = same
main concept, mean mAP of both directions, %), the chain and its two hops
(audio↔image, point-cloud↔image, both through pixel's images) for four
combinations: both hops as the extend recipes train them, both replaced by
their recipes' paired references (heads trained on true pairs of that hop),
and one of each. If a chain of paired-trained hops stays far below the
direct audio–point-cloud reference, the limit is where the hops meet
(pixel's image space), not the training of either hop (docs/synthworld.md,
"Three hops").

    .venv/bin/python scripts/three_hop_hops.py            # ~10 min on 2 cores
"""

from __future__ import annotations

from pathlib import Path

import click
import torch

from bridge.core.composed import Space, compose
from bridge.core.registry import Registry
from bridge.evaluation.tasks import RetrievalTask
from bridge.pipeline.connect import fit
from bridge.pipeline.evaluate_space import evaluate_composed
from bridge.pipeline.references import reference_systems
from bridge.pipeline.session import open_session
from bridge.recipes.io import load_recipe, load_space_recipe
from bridge.recipes.space_schema import SpaceRecipe

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
HOPS = {"wave": ("synthworld_extend.yaml", "audio"), "cloud": ("synthworld_cloud_extend.yaml", "pointcloud")}


def _val(modality: str) -> dict:
    return {"plugin": "synthworld", "options": {"split": "val", "modality": modality, "count": 480}}


def hop_task(modality: str) -> RetrievalTask:
    """``modality`` ↔ pixel's images on the validation scenes."""
    return RetrievalTask.model_validate({
        "name": f"{modality}-image (val)", "query_modality": modality, "query": _val(modality),
        "target_modality": "image", "target": _val("image"), "target_via": "pixel", "relevance": "label",
    })


def validation_recipe() -> tuple[SpaceRecipe, Path]:
    """The three-hop space recipe scored on validation only: the chain's task, then both hops' (and its folder)."""
    space_recipe, space_dir = load_space_recipe(RECIPES / "synthworld_three_hop.yaml")
    chain = space_recipe.evaluation.validation[0]
    evaluation = space_recipe.evaluation.model_copy(update={
        "validation": [chain, hop_task("audio"), hop_task("pointcloud")], "retrieval": [], "baselines": ["chance"]})
    return space_recipe.model_copy(update={"evaluation": evaluation}), space_dir


def validation_scores(space: Space, recipe: SpaceRecipe, space_dir: Path, registry: Registry) -> list[float]:
    """Mean mAP of both directions, %, of ``space`` on each of ``recipe``'s validation tasks, in order."""
    rows = evaluate_composed(space, recipe, space_dir, registry)["validation"]
    return [100 * sum(m["mAP"] for m in rows[task.name][space.name].values()) / 2 for task in recipe.evaluation.validation]


@click.command()
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads.")
def main(threads: int) -> None:
    """Print the chain's and each hop's validation mAP for Ex-MCR and paired-trained hops."""
    torch.set_num_threads(threads)
    registry = Registry.from_environment()
    recipe, space_dir = validation_recipe()
    chain = recipe.evaluation.validation[0]
    trained: dict[str, dict[str, object]] = {}
    for name, (file, _) in HOPS.items():
        hop_recipe, base_dir = load_recipe(RECIPES / file)
        session = open_session(hop_recipe, base_dir, registry)
        trained[name] = {"Ex-MCR": fit(session, hop_recipe)[0],
                         "paired": reference_systems(session, hop_recipe)["paired reference"]}
    print(f"validation mAP, mean of both directions, % ({chain.name}, 480 scenes)")
    print(f"{'wave hop':>9} {'cloud hop':>9} | {'audio-cloud':>11} {'audio-image':>11} {'cloud-image':>11}")
    for wave_kind, cloud_kind in (("Ex-MCR", "Ex-MCR"), ("paired", "paired"), ("paired", "Ex-MCR"), ("Ex-MCR", "paired")):
        label = f"{wave_kind} + {cloud_kind}"
        space = compose({"wave": trained["wave"][wave_kind], "cloud": trained["cloud"][cloud_kind]}, name=label)
        scores = validation_scores(space, recipe, space_dir, registry)
        print(f"{wave_kind:>9} {cloud_kind:>9} | " + " ".join(f"{score:>11.1f}" for score in scores), flush=True)


if __name__ == "__main__":
    main()
