"""Closed-form strategies `procrustes` and `pivot`: no gradient training, saved and embedded like any bridge."""

import pytest
import torch
import yaml
from safetensors.torch import load_file
from torch.nn import functional as F

from bridge.core.space import Bridge
from bridge.errors import BridgeError
from bridge.methods.pivot import choose_anchors
from bridge.core.linear_map import fit_linear_map
from bridge.pipeline.connect import connect
from embedding_world import write_world

ITEMS = [f"eval-{i}" for i in range(12)]


def closed_form_recipe(root, strategy, **projector):
    recipe_path = write_world(root, n_overlap=1500, n_memory=300, n_eval=120, n_paired=400)
    recipe = yaml.safe_load(recipe_path.read_text())
    recipe["strategy"] = strategy
    recipe["projector"].update(projector)
    recipe["evaluation"]["baselines"] = ["chance", "untrained", "text_pivot", "paired_reference"]
    path = root / f"{strategy}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def procrustes(tmp_path_factory):
    return connect(closed_form_recipe(tmp_path_factory.mktemp("procrustes"), "procrustes"))


@pytest.fixture(scope="module")
def pivot(tmp_path_factory):
    return connect(closed_form_recipe(tmp_path_factory.mktemp("pivot"), "pivot", output_dim=256, relative_temperature=0.1))


def test_orthogonal_procrustes_recovers_a_rotation_and_a_shift_exactly():
    torch.manual_seed(0)
    x = F.normalize(torch.randn(200, 8) + 2.0, dim=-1)  # off-centre, like real embeddings
    rotation, _ = torch.linalg.qr(torch.randn(8, 8))
    weight, bias = fit_linear_map(x, x @ rotation, "orthogonal")
    torch.testing.assert_close(weight, rotation, atol=1e-5, rtol=0)
    torch.testing.assert_close(bias, torch.zeros(8), atol=1e-5, rtol=0)


def test_procrustes_handles_unequal_dimensions_with_an_isometry():
    torch.manual_seed(1)
    x = F.normalize(torch.randn(300, 6), dim=-1)
    embedding, _ = torch.linalg.qr(torch.randn(10, 6))  # (10, 6) orthonormal columns: 6-d into 10-d
    weight, bias = fit_linear_map(x, x @ embedding.T, "orthogonal")
    assert weight.shape == (6, 10) and bias.shape == (10,)
    torch.testing.assert_close(x @ weight + bias, x @ embedding.T, atol=1e-5, rtol=0)
    squares, _ = fit_linear_map(x, x @ embedding.T, "least_squares")
    torch.testing.assert_close(squares, embedding.T, atol=1e-4, rtol=0)


def test_procrustes_keeps_the_base_and_maps_the_other_member_into_it(procrustes):
    spec = yaml.safe_load((procrustes.output / "bridge.yaml").read_text())
    assert spec["members"]["a"]["projector"] is None and spec["dim"] == 48
    assert spec["members"]["b"]["projector"]["architecture"] == "linear"
    assert procrustes.metrics["training"]["history"] == []  # nothing was trained by gradient
    loaded = Bridge.load(procrustes.output)
    assert torch.equal(loaded.embed("image", ITEMS), loaded.encode("a", "image", ITEMS))
    torch.testing.assert_close(loaded.embed("audio", ITEMS), procrustes.bridge.embed("audio", ITEMS), atol=0, rtol=0)
    task = procrustes.metrics["retrieval"]["audio-image"]
    assert task["Procrustes"]["audio→image"]["mAP"] > task["untrained"]["audio→image"]["mAP"] + 0.1


def test_pivot_stores_its_anchors_and_aligns_both_members(pivot):
    spec = yaml.safe_load((pivot.output / "bridge.yaml").read_text())
    assert spec["dim"] == 256
    assert {name: member["projector"]["architecture"] for name, member in spec["members"].items()} == {"a": "relative", "b": "relative"}
    tensors = load_file(pivot.output / "projectors.safetensors")
    assert set(tensors) == {"a.net.anchors", "b.net.anchors"}
    assert tensors["a.net.anchors"].shape == (256, 48) and tensors["b.net.anchors"].shape == (256, 32)
    loaded = Bridge.load(pivot.output)
    for modality in ("audio", "image"):
        torch.testing.assert_close(loaded.embed(modality, ITEMS), pivot.bridge.embed(modality, ITEMS), atol=0, rtol=0)
    task = pivot.metrics["retrieval"]["audio-image"]
    for direction in ("audio→image", "image→audio"):
        assert task["relative pivot"][direction]["mAP"] > task["untrained"][direction]["mAP"] + 0.2
        assert task["relative pivot"][direction]["mAP"] > 4 * task["chance"][direction]["mAP"]
    assert pivot.metrics["zeroshot"]["audio-classes"]["relative pivot"]["top1"] > 0.5


def test_the_same_anchor_is_the_same_overlap_item_in_every_member(pivot):
    tensors = load_file(pivot.output / "projectors.safetensors")
    loaded = Bridge.load(pivot.output)
    ids = [line for line in (pivot.output.parent / "overlap.txt").read_text().splitlines()]
    anchor_a = tensors["a.net.anchors"][:3]
    own = F.normalize(loaded.encode("a", "text", ids), dim=-1)
    rows = (own @ anchor_a.T).argmax(dim=0)  # each anchor is one overlap row of member a...
    own_b = F.normalize(loaded.encode("b", "text", [ids[int(r)] for r in rows]), dim=-1)
    torch.testing.assert_close(own_b, tensors["b.net.anchors"][:3], atol=1e-6, rtol=0)  # ...and the same row of member b


def test_anchors_are_distinct_and_deterministic():
    torch.manual_seed(2)
    features = [F.normalize(torch.randn(500, 8), dim=-1), F.normalize(torch.randn(500, 5), dim=-1)]
    first = choose_anchors(features, 40, seed=3)
    assert len(set(first.tolist())) == 40 and torch.equal(first, choose_anchors(features, 40, seed=3))


def test_pivot_refuses_more_anchors_than_overlap_items(tmp_path):
    with pytest.raises(BridgeError, match="projector.output_dim: strategy 'pivot' uses 4096 anchors, but data.overlap has only"):
        connect(closed_form_recipe(tmp_path, "pivot", output_dim=4096))
