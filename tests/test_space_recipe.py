"""Space recipes (`bridge compose`): bridges trained from their recipes where missing, composed, evaluated, saved.

The embedding world with a third MCR `c` (image + point cloud, ULIP's role):
`b` (audio) is extended into `a` through texts, `c` (point clouds) into `a`
through images, and the space answers audio <-> point-cloud retrieval,
which no training data ever paired, against a paired reference trained on
true (audio, point cloud) pairs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import bridge
from bad_inputs import bridge_cli, error_line
from bridge.errors import BridgeError
from bridge.pipeline.compose import compose_recipe_file
from bridge.pipeline.evaluate_saved import evaluate_saved
from bridge.recipes.io import load_space_recipe
from bridge.recipes.space_check import check_any_recipe
from embedding_world import features_mcr, write_world

ROOT = Path(__file__).resolve().parents[1]
ITEMS = [f"eval-{i}" for i in range(120)]
TASK = "audio-pointcloud"


def eval_source(split: str = "eval") -> dict:
    return {"manifest": f"{split}.csv", "column": "id", "is_file": False, "id_column": "id", "label_column": "label"}


def write_recipes(root: Path) -> Path:
    """The two extend recipes and the space recipe over them; returns the space recipe."""
    base = yaml.safe_load((root / "recipe.yaml").read_text())
    common = {"overlap": "text", "enhance": base["enhance"], "projector": base["projector"],
              "training": {**base["training"], "epochs": 5}, "evaluation": {"baselines": ["chance"]}, "cache_dir": "cache"}
    a, b, c = features_mcr("a", ("text", "image")), features_mcr("b", ("text", "audio")), features_mcr("c", ("image", "pointcloud"))
    recipes = {
        "b-into-a": {**common, "name": "b-into-a", "strategy": "extend", "members": {"a": a, "b": b}, "data": base["data"]},
        "c-into-a": {**common, "name": "c-into-a", "strategy": "extend", "members": {"a": a, "c": c}, "overlap": "image",
                     "data": {"overlap": {"lines": "image_overlap.txt"},
                              "memory": {"pointcloud": {"lines": "pointcloud_memory.txt"}, "text": {"lines": "overlap.txt"}}}},
    }
    for name, recipe in recipes.items():
        (root / f"{name}.yaml").write_text(yaml.safe_dump({**recipe, "output": f"runs/{name}"}, sort_keys=False))
    task = {"query_modality": "audio", "target_modality": "pointcloud", "relevance": "label"}
    space = {
        "name": "sound-and-shape",
        "bridges": {"wave": {"recipe": "b-into-a.yaml"}, "cloud": {"recipe": "c-into-a.yaml"}},
        "evaluation": {
            "retrieval": [{"name": TASK, **task, "query": eval_source(), "target": eval_source()}],
            "validation": [{"name": f"{TASK} (val)", **task, "query": eval_source("val"), "target": eval_source("val")}],
            "baselines": ["chance", "paired_reference"],
            "paired": {"audio": {"lines": "audio_paired.txt"}, "pointcloud": {"lines": "pointcloud_paired.txt"}},
        },
        "paired_reference": {"projector": {"output_dim": 32}, "training": {"epochs": 8, "batch_size": 128, "lr": 0.003, "temperature": 0.05}},
        "output": "runs/space",
        "cache_dir": "cache",
    }
    path = root / "space.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("space-recipe")
    write_world(root, n_overlap=1000, n_memory=400, n_eval=120, n_paired=300, with_cloud=True)
    return write_recipes(root)


@pytest.fixture(scope="module")
def composed(world):
    return compose_recipe_file(world)


def variant(world: Path, name: str, change) -> Path:
    data = yaml.safe_load(world.read_text())
    change(data)
    path = world.with_name(name)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ----- the shipped recipe ------------------------------------------------------------------------


def test_the_three_hop_recipe_loads_and_validates():
    recipe, _ = load_space_recipe(ROOT / "recipes" / "synthworld_three_hop.yaml")
    assert list(recipe.bridges) == ["wave", "cloud"]
    assert recipe.evaluation.baselines == ["chance", "paired_reference"] and set(recipe.evaluation.paired) == {"audio", "pointcloud"}
    assert recipe.evaluation.retrieval[0].query.options["split"] == "eval" and recipe.evaluation.validation[0].query.options["split"] == "val"
    check_any_recipe(ROOT / "recipes" / "synthworld_three_hop.yaml")  # its bridges' recipes too, or their saved bridges


# ----- bad inputs: one line each, before any training ---------------------------------------------


def no_training_happened(world: Path) -> bool:
    return not (world.parent / "runs" / "b-into-a").exists() and not (world.parent / "runs" / "c-into-a").exists()


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda d: d["bridges"]["wave"].update(recipe=None, path="nowhere/bridge"),
         ("bridges.wave.path: no saved bridge at", "nowhere/bridge", "bridge connect RECIPE -o")),
        (lambda d: d["bridges"]["wave"].update(recipe="missing.yaml"), ("bridges.wave.recipe:", "missing.yaml")),
        (lambda d: d["evaluation"]["retrieval"][0].update(target_modality="smell"),
         ("evaluation.retrieval[0].target_modality: no member of the space encodes 'smell'", "audio, image, pointcloud, text")),
        (lambda d: d["evaluation"]["validation"][0].update(query_via="wave"), ("evaluation.validation[0].query_via: 'wave' is not a member", "a, b, c")),
        (lambda d: d["evaluation"]["baselines"].append("untrained"), ("evaluation.baselines[2]: 'untrained' does not apply to a composed space",)),
        (lambda d: d["evaluation"]["paired"].pop("pointcloud"), ("evaluation.paired:", "exactly two modalities")),
        (lambda d: d.update(members={}), ("members: unknown key",)),
    ],
    ids=["missing-bridge-path", "missing-member-recipe", "unknown-modality", "unknown-member", "baseline", "paired", "extra-key"],
)
def test_a_bad_space_recipe_is_one_line_before_any_training(world, change, fragments):
    path = variant(world, "bad.yaml", change)
    line = error_line(bridge_cli("compose", path), "bad.yaml", *fragments)
    assert "Traceback" not in line and no_training_happened(world)


def test_bridges_sharing_no_model_are_one_line(world):
    twins = {"a": features_mcr("a", ("text", "image"), "world-a-twin"), "b": features_mcr("b", ("text", "audio"), "world-b-twin")}
    recipe = yaml.safe_load((world.parent / "b-into-a.yaml").read_text())
    (world.parent / "twins.yaml").write_text(yaml.safe_dump({**recipe, "members": twins, "output": "runs/twins"}, sort_keys=False))
    path = variant(world, "apart.yaml", lambda d: d["bridges"]["cloud"].update(recipe="twins.yaml"))
    error_line(bridge_cli("compose", path), "apart.yaml: bridges.cloud: shares no model with 'wave'")
    assert no_training_happened(world)


def test_a_recipe_of_the_other_kind_names_the_right_command(world):
    error_line(bridge_cli("compose", world.parent / "b-into-a.yaml"), "b-into-a.yaml", "this is a bridge recipe", "bridge connect")
    error_line(bridge_cli("connect", world), "space.yaml", "this is a space recipe", "bridge compose")


# ----- end to end ---------------------------------------------------------------------------------


def test_compose_trains_the_missing_bridges_and_audio_finds_point_clouds_with_no_pair(composed):
    assert composed.trained == ["wave", "cloud"]
    rows = composed.metrics["retrieval"][TASK]
    assert set(rows) == {"chance", "sound-and-shape", "paired reference"}
    for direction in ("audio→pointcloud", "pointcloud→audio"):
        chance = rows["chance"][direction]["mAP"]
        assert rows["sound-and-shape"][direction]["mAP"] >= 5 * chance  # measured: 0.85 against chance 0.08
        assert rows["paired reference"][direction]["mAP"] >= 5 * chance  # 0.96
    assert set(composed.metrics["validation"][f"{TASK} (val)"]) == {"chance", "sound-and-shape", "paired reference"}
    assert composed.metrics["relative_to_paired_reference"]["test"][TASK] >= 0.6  # 0.89: two hops lose little in this world
    saved = json.loads((composed.output / "metrics.json").read_text())
    assert saved["retrieval"] == json.loads(json.dumps(composed.metrics["retrieval"]))


def test_the_saved_space_reloads_embeds_identically_and_evaluates_again(composed, world):
    loaded = bridge.Space.load(composed.output)
    assert loaded.members == ["a", "b", "c"] and loaded.links["cloud"].kind == "identity"
    for modality in ("audio", "pointcloud", "image"):
        via = "a" if modality == "image" else None
        torch.testing.assert_close(loaded.embed(modality, ITEMS, via=via), composed.space.embed(modality, ITEMS, via=via), atol=0, rtol=0)
    again = evaluate_saved(composed.output, save=False)  # no --recipe: the space keeps its own
    assert again["retrieval"][TASK]["sound-and-shape"] == composed.metrics["retrieval"][TASK]["sound-and-shape"]
    rerun = compose_recipe_file(world, output=world.parent / "runs" / "space-again")
    assert rerun.trained == []  # the bridges are saved now: reused, not retrained


def test_bridge_eval_of_a_space_recipe_on_the_cli(composed):
    result = bridge_cli("eval", composed.output)
    assert result.returncode == 0, result.stderr
    assert "retrieval: audio-pointcloud" in result.stdout and "% of the paired reference's mean mAP" in result.stdout


def test_a_space_without_recipe_still_asks_for_one(composed, tmp_path):
    plain = bridge.compose({"wave": composed.space.bridges["wave"], "cloud": composed.space.bridges["cloud"]}).save(tmp_path / "plain")
    with pytest.raises(BridgeError, match="a composed space has no recipe of its own"):
        evaluate_saved(plain)


def test_two_connect_bridges_compose_through_anchors_named_in_the_recipe(world, composed):
    for name in ("b-into-a", "c-into-a"):
        recipe = yaml.safe_load((world.parent / f"{name}.yaml").read_text())
        (world.parent / f"connect-{name}.yaml").write_text(
            yaml.safe_dump({**recipe, "strategy": "connect", "output": f"runs/connect-{name}"}, sort_keys=False))

    def change(data):
        data["bridges"] = {"wave": {"recipe": "connect-b-into-a.yaml"}, "cloud": {"recipe": "connect-c-into-a.yaml"}}
        data["evaluation"]["baselines"] = ["chance"]

    no_anchors = variant(world, "connected.yaml", change)
    needs = ("connected.yaml: anchors: bridges 'wave' and 'cloud' both project their shared MCR 'world-a'", "add `anchors: {a: {modality")
    error_line(bridge_cli("compose", no_anchors, "-o", world.parent / "runs" / "connected"), *needs)  # before training them
    assert not any((world.parent / "runs" / name / "bridge.yaml").exists() for name in ("connect-b-into-a", "connect-c-into-a"))
    with_anchors = variant(no_anchors, "anchored.yaml", lambda d: d.update(anchors={"a": {"modality": "image", "items": {"lines": "image_overlap.txt"}}}))
    result = compose_recipe_file(with_anchors, output=world.parent / "runs" / "anchored")
    assert result.space.links["cloud"].kind == "fitted" and sorted(result.trained) == ["cloud", "wave"]
    assert all((world.parent / "runs" / name / "bridge.yaml").exists() for name in ("connect-b-into-a", "connect-c-into-a"))
    error_line(bridge_cli("recipe", "check", no_anchors), *needs)  # now saved: found by the model-free check too
    rows = result.metrics["retrieval"][TASK]
    assert rows["sound-and-shape"]["audio→pointcloud"]["mAP"] >= 5 * rows["chance"]["audio→pointcloud"]["mAP"]
