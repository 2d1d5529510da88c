"""Strategy `extend` (Ex-MCR): the base member is untouched, the leaf gets the Ex-MCR head into its space.

Runs the real pipeline on the synthetic embedding world (`tests/embedding_world.py`):
MCR `a` (image + text, 48-d) is the base, MCR `b` (audio + text, 32-d) the leaf.
"""

import csv

import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F

from bridge.core.projector import Projector
from bridge.core.projector_config import ProjectorConfig
from bridge.core.space import Bridge
from bridge.errors import BridgeError
from bridge.evaluation.metrics import relevance_matrix, retrieval_metrics
from bridge.methods.config import EnhanceConfig
from bridge.methods.consistency import dense_memory_aggregate
from bridge.methods.exmcr import aggregate_through, build_extend_set
from bridge.pipeline.connect import connect
from bridge.progress import SilentReporter
from embedding_world import N_CONCEPTS, write_world

EVAL_ITEMS = [f"eval-{i}" for i in range(60)]
CLASSES = [f"concept-{k}" for k in range(N_CONCEPTS)]


def extend_recipe(root, **changes):
    recipe_path = write_world(root, n_overlap=1200, n_memory=500, n_eval=120, n_paired=300)
    recipe = yaml.safe_load(recipe_path.read_text())
    with (root / "classes.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("id", "label"), *((name, name) for name in CLASSES)])
    classes = {"manifest": "classes.csv", "column": "id", "is_file": False, "id_column": "id", "label_column": "label"}
    evaluation = recipe["evaluation"]
    base_task = {"name": "image-text (a's own)", "query_modality": "image", "query": evaluation["retrieval"][0]["target"],
                 "target_modality": "text", "target": classes, "target_via": "a", "relevance": "label"}
    evaluation["retrieval"].append(base_task)
    evaluation["baselines"] = ["chance", "untrained", "paired_reference"]
    recipe.update(strategy="extend", **changes)
    recipe["training"]["epochs"] = 6
    path = root / "extend.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("extend-world")
    return root, connect(extend_recipe(root))


def test_the_base_has_no_projector_and_the_leaf_has_the_exmcr_head(run):
    _, result = run
    spec = yaml.safe_load((result.output / "bridge.yaml").read_text())
    assert spec["strategy"] == "extend" and spec["dim"] == 48
    assert spec["members"]["a"]["projector"] is None
    assert spec["members"]["b"]["projector"]["architecture"] == "exmcr"
    assert spec["members"]["b"]["projector"]["output_dim"] == 48
    assert set(result.bridge.projectors) == {"b"}


def test_base_embeddings_are_bit_identical_with_and_without_the_bridge(run):
    _, result = run
    loaded = Bridge.load(result.output)
    for modality, items in (("image", EVAL_ITEMS), ("text", CLASSES)):
        own = loaded.encode("a", modality, items)  # the base MCR alone
        for space in (loaded, result.bridge):
            assert torch.equal(space.embed(modality, items, via="a"), own)


def test_base_space_retrieval_through_the_bridge_equals_the_base_models_own(run):
    _, result = run
    space = result.bridge
    labels = {row["id"]: row["label"] for row in csv.DictReader((run[0] / "eval.csv").open())}
    relevant = relevance_matrix([labels[i] for i in EVAL_ITEMS], CLASSES)
    own = retrieval_metrics(space.encode("a", "image", EVAL_ITEMS), space.encode("a", "text", CLASSES), relevant, (1, 5, 10))
    through = retrieval_metrics(space.embed("image", EVAL_ITEMS), space.embed("text", CLASSES, via="a"), relevant, (1, 5, 10))
    assert through == own
    task = result.metrics["retrieval"]["image-text (a's own)"]
    assert task["Ex-MCR"] == task["untrained"] == task["paired reference"]  # nothing any system does touches the base


def test_the_leaf_aligns_with_the_base_far_above_untrained(run):
    _, result = run
    task = result.metrics["retrieval"]["audio-image"]
    for direction in ("audio→image", "image→audio"):
        trained = task["Ex-MCR"][direction]["mAP"]
        assert trained > task["untrained"][direction]["mAP"] + 0.25, (direction, trained)
        assert trained > 4 * task["chance"][direction]["mAP"], (direction, trained)
        assert trained > 0.6 * task["paired reference"][direction]["mAP"], (direction, trained)
    assert result.metrics["zeroshot"]["audio-classes"]["Ex-MCR"]["top1"] > 0.5
    assert result.metrics["training"]["pseudo_tuples"] == {"overlap": 1200, "leaf": 500, "base": 500}


def test_a_saved_extend_bridge_embeds_the_leaf_identically(run):
    _, result = run
    loaded = Bridge.load(result.output)
    torch.testing.assert_close(loaded.embed("audio", EVAL_ITEMS[:8]), result.bridge.embed("audio", EVAL_ITEMS[:8]), atol=0, rtol=0)


def test_extend_needs_exactly_two_members(tmp_path):
    recipe = yaml.safe_load(extend_recipe(tmp_path).read_text())
    recipe["members"] = {"a": recipe.pop("mcr_a"), "b": recipe.pop("mcr_b")}
    recipe["members"]["c"] = recipe["members"]["a"]
    path = tmp_path / "three.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(BridgeError, match="members: strategy 'extend' joins exactly two members, the recipe has 3"):
        connect(path)


def test_pseudo_pairs_through_the_overlap_match_the_dense_reference():
    torch.manual_seed(0)
    queries, keys, values = (F.normalize(torch.randn(n, d), dim=-1) for n, d in ((7, 12), (50, 12), (50, 9)))
    config = EnhanceConfig(chunk_size=16, query_chunk_size=3)
    got_keys, got_values = aggregate_through(queries, keys, values, 0.05, config, SilentReporter(), "test", "cpu")
    weights = torch.softmax(queries @ keys.T / 0.05, dim=1)
    torch.testing.assert_close(got_keys, F.normalize(weights @ keys, dim=-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(got_values, F.normalize(weights @ values, dim=-1), atol=1e-5, rtol=0)


def test_every_centre_gives_aligned_unit_tuples():
    torch.manual_seed(1)
    leaf_text, base_text = F.normalize(torch.randn(40, 6), dim=-1), F.normalize(torch.randn(40, 10), dim=-1)
    leaf_memory, base_memory = torch.randn(15, 6), torch.randn(25, 10)
    data = build_extend_set(leaf_text, base_text, leaf_memory, base_memory, EnhanceConfig(memory_temperature=0.1))
    assert data.centres == {"overlap": 40, "leaf": 15, "base": 25} and len(data) == 80
    for tensor in data.tensors():
        torch.testing.assert_close(tensor.norm(dim=-1), torch.ones(80))
    base_pseudo = dense_memory_aggregate(base_text, base_memory, 0.1)
    torch.testing.assert_close(data.base_own[:40], F.normalize(base_pseudo, dim=-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.leaf_own[40:55], F.normalize(leaf_memory, dim=-1))  # leaf centre: the memory itself
    torch.testing.assert_close(data.base_own[55:], F.normalize(base_memory, dim=-1))


class _ReleaseMLP(nn.Module):  # the layout of the Ex-MCR release (exmcr_projector.py), written out independently
    def __init__(self, dim):
        super().__init__()
        self.net1 = nn.Sequential(nn.Linear(dim, 2 * dim), nn.BatchNorm1d(2 * dim), nn.ReLU())
        self.net2 = nn.Sequential(nn.Linear(2 * dim, dim), nn.BatchNorm1d(dim))


def test_the_exmcr_head_has_the_release_layout_and_forward():
    dim = 16
    release = nn.ModuleDict({"Head1": nn.Linear(dim, dim), "Head2": nn.ModuleDict({"mlp1": _ReleaseMLP(dim), "mlp2": _ReleaseMLP(dim)})})
    torch.manual_seed(3)
    state = {key: torch.randn_like(value) if value.is_floating_point() else value for key, value in release.state_dict().items()}
    for key in [k for k in state if k.endswith("running_var")]:
        state[key] = state[key].abs() + 0.5
    release.load_state_dict(state)
    head = Projector(dim, ProjectorConfig(architecture="exmcr", output_dim=dim))
    assert set(head.state_dict()) == {f"net.{key}" for key in state}
    head.load_state_dict({f"net.{key}": value for key, value in state.items()})
    head.eval()
    release.eval()
    x = torch.randn(5, dim)
    expected = x
    for module in (release["Head1"], *(release["Head2"][m].net1 for m in ("mlp1",)), release["Head2"]["mlp1"].net2,
                   release["Head2"]["mlp2"].net1, release["Head2"]["mlp2"].net2):
        expected = module(expected)
    torch.testing.assert_close(head(x), F.normalize(expected, dim=-1), atol=0, rtol=0)


def test_head1_starts_as_the_identity_or_an_isometry():
    square = Projector(16, ProjectorConfig(architecture="exmcr", output_dim=16))
    assert torch.equal(square.net.Head1.weight, torch.eye(16)) and not square.net.Head1.bias.any()
    wide = Projector(12, ProjectorConfig(architecture="exmcr", output_dim=20, init="orthogonal"))
    weight = wide.net.Head1.weight  # (20, 12): orthonormal columns, so Head1 keeps the leaf's geometry
    torch.testing.assert_close(weight.T @ weight, torch.eye(12), atol=1e-5, rtol=0)
