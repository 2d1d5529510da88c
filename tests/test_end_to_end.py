"""The whole pipeline on a synthetic embedding world, through the `features` plugin."""

import json

import numpy as np
import pytest
import torch

from bridge.core.space import Bridge
from bridge.pipeline.connect import connect
from embedding_world import write_world


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    recipe = write_world(root)
    return root, connect(recipe)


def test_bridged_retrieval_is_far_above_chance_and_untrained(run):
    _, result = run
    task = result.metrics["retrieval"]["audio-image"]
    for direction in ("audio→image", "image→audio"):
        trained = task["C-MCR"][direction]["mAP"]
        assert trained > 4 * task["chance"][direction]["mAP"], (direction, trained)
        assert trained > task["untrained"][direction]["mAP"] + 0.2, (direction, trained)
        assert trained > 0.6 * task["paired reference"][direction]["mAP"], (direction, trained)
        assert task["C-MCR"][direction]["R@1"] > 0.4
    assert 0.02 < task["chance"]["audio→image"]["mAP"] < 0.1  # 24 balanced classes


def test_zero_shot_classification_through_the_bridge(run):
    _, result = run
    zeroshot = result.metrics["zeroshot"]["audio-classes"]
    assert zeroshot["C-MCR"]["top1"] > 0.5 > zeroshot["untrained"]["top1"] + 0.2


def test_artifact_round_trip_gives_identical_embeddings(run):
    root, result = run
    saved = json.loads((result.output / "metrics.json").read_text())
    assert saved["retrieval"] == json.loads(json.dumps(result.metrics["retrieval"]))
    loaded = Bridge.load(result.output)
    items = [f"eval-{i}" for i in range(10)]
    for modality in ("audio", "image"):
        torch.testing.assert_close(loaded.embed(modality, items), result.bridge.embed(modality, items), atol=0, rtol=0)
    text = loaded.embed("text", ["concept-3"])
    assert text.shape == (1, 32)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(1))
    assert loaded.spec.members["a"].fingerprint == result.bridge.spec.members["a"].fingerprint


def test_second_run_is_served_from_the_cache_and_is_deterministic(run):
    root, first = run
    second = connect(root / "recipe.yaml", output=root / "again")
    assert second.metrics["retrieval"] == first.metrics["retrieval"]
    from safetensors.torch import load_file

    weights_first = load_file(first.output / "projectors.safetensors")
    weights_second = load_file(root / "again" / "projectors.safetensors")
    assert weights_first.keys() == weights_second.keys()
    assert all(torch.equal(weights_first[key], weights_second[key]) for key in weights_first)


def test_changed_weights_fingerprint_is_refused(run):
    root, result = run
    from bridge.errors import BridgeError

    features = np.load(root / "b_audio.npy")
    np.save(root / "b_audio.npy", features[::-1].copy())
    try:
        with pytest.raises(BridgeError, match="fingerprint"):
            Bridge.load(result.output).embed("audio", ["eval-0"])
    finally:
        np.save(root / "b_audio.npy", features)
