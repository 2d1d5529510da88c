"""The strategy interface: a new strategy is one module plus one registration; spaces hold any number of members.

The toy strategy below is a closed-form one (no gradient training): every
member gets a linear projector that maps its overlap embeddings onto the
first member's by least squares. It joins three members here, something the
built-in `connect` cannot do, through the same pipeline, artifact and CLI code.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import bridge
import bridge.methods.builtin
import bridge_features
from bridge.core.projector import Projector
from bridge.core.projector_config import ProjectorConfig
from bridge.core.registry import Registry
from bridge.core.space import Bridge
from bridge.errors import BridgeError
from bridge.methods.strategy import FitResult, Strategy, TrainingPlan
from bridge.pipeline.connect import connect
from embedding_world import write_world


class LeastSquaresStrategy(Strategy):
    display_name = "least squares"

    def plan(self, members, overlap, memories, settings):
        return TrainingPlan(projected=tuple(m.name for m in members), memories={}, dim=settings.projector.output_dim)

    def _linear(self, source: np.ndarray, target: np.ndarray) -> Projector:
        projector = Projector(source.shape[1], ProjectorConfig(architecture="linear", output_dim=target.shape[1]))
        solution, *_ = np.linalg.lstsq(source, target, rcond=None)  # (D_m, d)
        with torch.no_grad():
            projector.net[0].weight.copy_(torch.from_numpy(solution.T.astype(np.float32)))
            projector.net[0].bias.zero_()
        return projector.eval()

    def fit(self, features, plan, settings, reporter, checkpoint_dir=None):
        anchor = np.asarray(features.overlap[plan.projected[0]])
        anchor = anchor[:, : plan.dim] if anchor.shape[1] >= plan.dim else np.pad(anchor, ((0, 0), (0, plan.dim - anchor.shape[1])))
        projectors = {name: self._linear(np.asarray(features.overlap[name]), anchor) for name in plan.projected}
        return FitResult(projectors=projectors, facts={"overlap_items": len(anchor)})

    def untrained(self, plan, members, settings):
        torch.manual_seed(0)
        config = ProjectorConfig(architecture="linear", output_dim=plan.dim)
        return {name: Projector(members[name].dim, config).eval() for name in plan.projected}

    def fit_paired(self, paired, plan, settings, reporter):
        raise BridgeError("no paired reference for this toy")


class ToyPlugin:
    @bridge.hookimpl
    def register_strategies(self, register):
        register(bridge.StrategyType(name="least-squares", create=LeastSquaresStrategy, summary="closed form"))


@pytest.fixture(scope="module")
def registry():
    return Registry.from_plugins({"features": bridge_features, "strategies": bridge.methods.builtin, "toy": ToyPlugin()})


def three_member_recipe(root: Path) -> Path:
    """The embedding world with a third member: MCR `a` seen a second time, as its own member `a2`."""
    recipe_path = write_world(root, n_overlap=800, n_memory=200, n_eval=60, n_paired=100)
    recipe = yaml.safe_load(recipe_path.read_text())
    members = {"a": recipe.pop("mcr_a"), "b": recipe.pop("mcr_b")}
    twin = json.loads(json.dumps(members["a"]))
    twin["options"]["id"] = "world-a-twin"
    recipe.update(strategy="least-squares", members={**members, "a2": twin})
    recipe["projector"] = {"architecture": "linear", "output_dim": 32}
    recipe["evaluation"]["baselines"] = ["chance", "untrained"]
    path = root / "three.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def test_a_registered_strategy_trains_a_three_member_space_through_the_pipeline(tmp_path, registry):
    result = connect(three_member_recipe(tmp_path), registry=registry)
    assert result.bridge.members == ["a", "b", "a2"]
    task = result.metrics["retrieval"]["audio-image"]
    assert set(task) == {"chance", "untrained", "least squares"}
    trained = task["least squares"]["audio→image"]["mAP"]
    assert trained > task["untrained"]["audio→image"]["mAP"] + 0.1 and trained > 3 * task["chance"]["audio→image"]["mAP"]
    spec = yaml.safe_load((result.output / "bridge.yaml").read_text())
    assert spec["format_version"] == 2 and spec["strategy"] == "least-squares"
    assert list(spec["members"]) == ["a", "b", "a2"]
    loaded = Bridge.load(result.output, mcr_loader=registry.load_mcr)
    assert loaded.members_for("text") == ["a", "b", "a2"]  # text is embedded through all three, averaged
    via_twin = loaded.embed("text", ["concept-1"], via="a2")
    torch.testing.assert_close(via_twin, result.bridge.embed("text", ["concept-1"], via="a2"), atol=0, rtol=0)


def test_connect_refuses_three_members_naming_the_key(tmp_path, registry):
    recipe = three_member_recipe(tmp_path)
    data = yaml.safe_load(recipe.read_text())
    data["strategy"] = "connect"
    recipe.write_text(yaml.safe_dump(data))
    with pytest.raises(BridgeError, match="members: strategy 'connect' joins exactly two members"):
        connect(recipe, registry=registry)
    assert not (tmp_path / "bridge-out").exists()


def test_a_format_1_bridge_directory_still_loads_and_embeds_the_same(tmp_path):
    recipe = write_world(tmp_path, n_overlap=600, n_memory=200, n_eval=48, n_paired=100)
    result = connect(recipe, overrides={"training.epochs": 1})
    spec = yaml.safe_load((result.output / "bridge.yaml").read_text())
    projector = spec["members"]["a"]["projector"]
    old = {
        "format_version": 1, "name": spec["name"], "method": "cmcr", "overlap": spec["overlap"],
        "mcrs": {role: {k: v for k, v in record.items() if k != "projector"} for role, record in spec["members"].items()},
        "projector": projector, "recipe": spec["recipe"], "recipe_dir": spec["recipe_dir"], "versions": spec["versions"],
    }
    old_dir = tmp_path / "format-1"
    old_dir.mkdir()
    (old_dir / "bridge.yaml").write_text(yaml.safe_dump(old, sort_keys=False))
    (old_dir / "projectors.safetensors").write_bytes((result.output / "projectors.safetensors").read_bytes())
    loaded = Bridge.load(old_dir)
    assert loaded.spec.strategy == "connect" and loaded.members == ["a", "b"]
    for modality in ("audio", "image"):
        torch.testing.assert_close(loaded.embed(modality, ["eval-3"]), result.bridge.embed(modality, ["eval-3"]), atol=0, rtol=0)
