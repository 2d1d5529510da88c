"""The geometry report: modality gap, matched and within-modality cosines, per member and for the joint space."""

import math

import pytest
import torch

from bridge.evaluation.geometry import centroid_gap, matched_cosine, mean_cosine, pair_report
from bridge.pipeline.connect import connect
from embedding_world import write_world


def test_the_measures_on_hand_made_embeddings():
    east, north = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert centroid_gap(east.repeat(5, 1), north.repeat(3, 1)) == pytest.approx(math.sqrt(2))
    assert mean_cosine(torch.cat([east, east, north])) == pytest.approx((1 + 0 + 0) / 3)
    assert mean_cosine(torch.randn(4, 3).abs() * 0 + 1) == pytest.approx(1.0)  # all rows the same direction
    assert matched_cosine(torch.cat([east, north]), torch.cat([east, east])) == pytest.approx(0.5)
    spread = torch.nn.functional.normalize(torch.randn(4000, 64, generator=torch.Generator().manual_seed(0)), dim=-1)
    assert abs(mean_cosine(spread)) < 0.01  # random directions: no cone
    brute = (spread[:200] @ spread[:200].T).sum() - 200
    assert mean_cosine(spread[:200]) == pytest.approx(float(brute) / (200 * 199), abs=1e-6)


def test_pairs_are_sorted_and_matched_only_through_shared_ids():
    images, texts = torch.randn(3, 4), torch.randn(3, 4)
    report = pair_report({"text": texts, "image": images}, {"text": ["a", "b", "c"], "image": ["c", "b", "a"]})
    assert list(report) == ["image|text"]
    expected = matched_cosine(images, texts.flip(0))
    assert report["image|text"]["matched_cosine"] == pytest.approx(expected)
    unmatched = pair_report({"text": texts, "image": images}, {"text": ["a", "b", "c"], "image": ["x", "y", "z"]})
    assert unmatched["image|text"]["matched_cosine"] is None


def test_connect_writes_the_geometry_of_each_member_and_of_the_joint_space(tmp_path):
    recipe = write_world(tmp_path, n_overlap=600, n_memory=300, n_eval=60, n_paired=100)
    result = connect(recipe, overrides={"evaluation.geometry": True, "training.epochs": 2})
    geometry = result.metrics["geometry"]
    assert set(geometry) == {"a (world-a)", "b (world-b)", "joint"}
    assert set(geometry["a (world-a)"]) == {"image|text"} and set(geometry["b (world-b)"]) == {"audio|text"}
    assert set(geometry["joint"]) == {"audio|image", "audio|text", "image|text"}
    joint = geometry["joint"]["audio|image"]
    assert joint["matched_cosine"] is not None  # the eval scenes share ids across audio and image
    # the world's MCRs carry a built-in modality gap; C-MCR's joint space narrows it for audio vs image
    own_gap = geometry["a (world-a)"]["image|text"]["centroid_gap"]
    assert own_gap > 0.3
    assert 0 <= joint["centroid_gap"] < 2 and -1 <= joint["mean_cosine"]["audio"] <= 1
