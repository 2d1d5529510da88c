"""Composing saved bridges that share an MCR into one `Space` (Python API, save/load, `bridge eval`).

MCR `a` (image + text) is shared; `b` (audio + text) and its twin `b2` (the
same features under another id, standing for a second leaf such as a 3D
model) are joined to it by `extend` or `connect` bridges.
"""

import json

import pytest
import torch
import yaml

import bridge
from bridge.core.artifact import MemberRecord, SpaceSpec
from bridge.core.space import Bridge
from bridge.errors import BridgeError
from bridge.evaluation.metrics import relevance_matrix, retrieval_metrics
from bridge.pipeline.connect import connect
from bridge.pipeline.evaluate_saved import evaluate_saved
from embedding_world import write_world

ITEMS = [f"eval-{i}" for i in range(120)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("space-world")
    recipe_path = write_world(root, n_overlap=1000, n_memory=400, n_eval=120, n_paired=100)
    base = yaml.safe_load(recipe_path.read_text())
    a, b = base.pop("mcr_a"), base.pop("mcr_b")
    b2 = json.loads(json.dumps(b))
    b2["options"]["id"] = "world-b-twin"
    base["evaluation"]["baselines"] = ["chance"]
    base["training"]["epochs"] = 5

    def train(name, strategy, members, seed):
        recipe = {**base, "name": name, "strategy": strategy, "members": members, "output": name}
        recipe["training"] = {**base["training"], "seed": seed}
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        return connect(path).output

    bridges = {
        "b-into-a": train("b-into-a", "extend", {"a": a, "b": b}, 0),
        "b2-into-a": train("b2-into-a", "extend", {"a": a, "b2": b2}, 1),
        "connect-ab": train("connect-ab", "connect", {"a": a, "b": b}, 0),
        "connect-ab2": train("connect-ab2", "connect", {"a": a, "b2": b2}, 1),
    }
    labels = [row.split(",")[1] for row in (root / "eval.csv").read_text().splitlines()[1:]]
    return root, bridges, relevance_matrix(labels, labels)


def audio_image_map(space, relevant, via):
    audio = space.embed("audio", ITEMS, via=via)
    return retrieval_metrics(audio, space.embed("image", ITEMS), relevant, (1,))["mAP"]


def test_two_extend_bridges_with_one_base_are_the_union_of_their_members(world):
    _, paths, relevant = world
    first, second = Bridge.load(paths["b-into-a"]), Bridge.load(paths["b2-into-a"])
    space = bridge.compose([paths["b-into-a"], paths["b2-into-a"]], name="union")
    assert space.members == ["a", "b", "b2"] and space.links["b2-into-a"].kind == "identity"
    assert sorted(space.modalities) == ["audio", "image", "text"]
    assert torch.equal(space.embed("image", ITEMS[:9]), first.encode("a", "image", ITEMS[:9]))  # the base, bit for bit
    assert torch.equal(space.embed("audio", ITEMS[:9], via="b"), first.embed("audio", ITEMS[:9]))
    assert torch.equal(space.embed("audio", ITEMS[:9], via="b2"), second.embed("audio", ITEMS[:9]))
    assert audio_image_map(space, relevant, "b2") > 0.5


def test_an_extend_bridge_composes_into_a_connect_space_through_the_shared_base(world):
    _, paths, relevant = world
    space = bridge.compose({"cmcr": paths["connect-ab"], "leaf": paths["b2-into-a"]})
    assert space.links["leaf"].kind == "projector" and space.dim == 32
    cmcr = Bridge.load(paths["connect-ab"])
    assert torch.equal(space.embed("image", ITEMS[:9]), cmcr.embed("image", ITEMS[:9]))
    assert audio_image_map(space, relevant, "b2") > 0.5  # b2's audio never met a's images, nor C-MCR's space


def test_two_connect_bridges_need_anchors_then_compose_through_a_fitted_map(world):
    root, paths, relevant = world
    with pytest.raises(BridgeError, match=r"bridge 'connect-ab2' joins 'connect-ab' through MCR 'world-a', which both project"):
        bridge.compose([paths["connect-ab"], paths["connect-ab2"]])
    texts = [line for line in (root / "overlap.txt").read_text().splitlines()]
    space = bridge.compose([paths["connect-ab"], paths["connect-ab2"]], anchors={"a": ("text", texts)})
    assert space.links["connect-ab2"].kind == "fitted"
    assert audio_image_map(space, relevant, "b2") > 0.5


def test_a_space_saves_loads_and_embeds_identically(world, tmp_path):
    root, paths, _ = world
    texts = [line for line in (root / "overlap.txt").read_text().splitlines()]
    space = bridge.compose({"cmcr": Bridge.load(paths["connect-ab"]), "other": paths["connect-ab2"]}, anchors={"world-a": ("text", texts)})
    saved = space.save(tmp_path / "space")
    record = yaml.safe_load((saved / "space.yaml").read_text())
    assert record["bridges"] == {"cmcr": "bridges/cmcr", "other": str(paths["connect-ab2"].resolve())}  # a copy, and a reference
    assert record["links"]["other"] == {"parent": "cmcr", "through": "world-a", "kind": "fitted"}
    loaded = bridge.Space.load(saved)
    for modality, via, items in (("audio", "b2", ITEMS[:7]), ("audio", "b", ITEMS[:7]), ("image", None, ITEMS[:7]), ("text", None, texts[:7])):
        torch.testing.assert_close(loaded.embed(modality, items, via=via), space.embed(modality, items, via=via), atol=0, rtol=0)


def test_bridge_eval_evaluates_a_space_like_a_bridge(world, tmp_path):
    root, paths, _ = world
    saved = bridge.compose([paths["b-into-a"], paths["b2-into-a"]], name="union").save(tmp_path / "union")
    with pytest.raises(BridgeError, match="a composed space has no recipe of its own"):
        evaluate_saved(saved)
    results = evaluate_saved(saved, root / "b-into-a.yaml")
    task = results["retrieval"]["audio-image"]
    assert set(task) == {"chance", "union"}
    assert task["union"]["audio→image"]["mAP"] > 4 * task["chance"]["audio→image"]["mAP"]
    assert json.loads((saved / "metrics.json").read_text())["trained"] == "union"


def _fake(name, mcr_id, fingerprint="f"):
    record = MemberRecord(plugin="features", id=mcr_id, fingerprint=fingerprint, modalities=["text"], dim=4, projector=None)
    return Bridge(SpaceSpec(name=name, strategy="extend", dim=4, members={"m": record}), {})


def test_chains_are_validated_with_one_line_naming_the_bridges():
    with pytest.raises(BridgeError, match=r"^bridge 'y' shares no MCR with 'x' \(it holds other; they hold one\)$"):
        bridge.compose({"x": _fake("x", "one"), "y": _fake("y", "other")})
    with pytest.raises(BridgeError, match=r"^bridges 'x' and 'y' both hold MCR 'one' but with different weights fingerprints"):
        bridge.compose({"x": _fake("x", "one", "f1"), "y": _fake("y", "one", "f2")})


def test_a_hand_written_space_file_of_extend_bridges_loads_without_links(world, tmp_path):
    _, paths, relevant = world
    folder = tmp_path / "by-hand"
    folder.mkdir()
    (folder / "space.yaml").write_text(yaml.safe_dump({
        "name": "by-hand", "bridges": {"first": str(paths["b-into-a"]), "second": str(paths["b2-into-a"])}}))
    space = bridge.Space.load(folder)
    assert space.members == ["a", "b", "b2"] and space.links["second"].kind == "identity"
    assert audio_image_map(space, relevant, "b2") > 0.5
