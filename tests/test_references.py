"""The paired reference trains with its own settings when the recipe gives them (the same tuning budget)."""

from bridge.pipeline.connect import connect
from embedding_world import write_world


def test_paired_reference_settings_apply_to_the_reference_only(tmp_path):
    recipe = write_world(tmp_path, n_overlap=600, n_memory=300, n_eval=60, n_paired=200)
    plain = connect(recipe, overrides={"training.epochs": 2}, output=tmp_path / "plain")
    tuned = connect(
        recipe, overrides={"training.epochs": 2, "evaluation.paired_reference_settings": {"enhance.noise": False}},
        output=tmp_path / "tuned",
    )
    for name in ("C-MCR", "untrained", "chance"):
        assert tuned.metrics["retrieval"]["audio-image"][name] == plain.metrics["retrieval"]["audio-image"][name]
    assert tuned.metrics["retrieval"]["audio-image"]["paired reference"] != plain.metrics["retrieval"]["audio-image"]["paired reference"]
