"""`bridge compare`: every strategy on the same cached features, tuned on validation only, one table."""

import json

import pytest
import yaml
from click.testing import CliRunner

from bridge.cli.main import cli
from bridge.errors import BridgeError
from bridge.pipeline.compare import compare
from embedding_world import write_world

STRATEGIES = ["connect", "extend", "procrustes", "pivot"]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare-world")
    data = yaml.safe_load(write_world(root, n_overlap=900, n_memory=300, n_eval=120, n_paired=100).read_text())
    items = data["evaluation"]["zeroshot"][0]["items"]
    data["evaluation"]["zeroshot"].append({"name": "image-classes", "modality": "image", "items": items, "prompts": ["{}"]})
    data["evaluation"]["baselines"] = ["chance", "untrained", "text_pivot"]
    data["training"]["epochs"] = 4
    data["projector"]["relative_temperature"] = 0.1
    data["projector"]["output_dim"] = 256  # the joint dimension of connect; pivot's anchor count
    path = root / "compare.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def result(recipe):
    return compare(recipe, STRATEGIES, tune=False)


def rows_of(result, task, direction, metric):
    return next(row for row in result.rows if row.task == task and row.direction == direction and row.metric == metric)


def test_one_table_of_every_task_and_strategy(result):
    assert result.systems == ["chance", "text_pivot", "C-MCR", "Ex-MCR", "Procrustes", "relative pivot"]
    assert {row.task for row in result.rows} == {
        "audio-image", "audio-classes", "image-classes", "audio↔text through b", "image↔text through a"}
    retrieval = rows_of(result, "audio-image", "audio→image", "mAP")
    for system in ("C-MCR", "Ex-MCR", "relative pivot"):
        assert retrieval.values[system] > 4 * retrieval.values["chance"], system
    assert rows_of(result, "audio-classes", "", "top-1").values["Ex-MCR"] > 0.5


def test_the_base_members_own_alignment_survives_extend_and_procrustes_exactly(result):
    for direction in ("image→text", "text→image"):
        for metric in ("R@1", "mAP"):
            row = rows_of(result, "image↔text through a", direction, metric)
            assert row.values["Ex-MCR"] == row.reference and row.values["Procrustes"] == row.reference
    leaf = rows_of(result, "audio↔text through b", "audio→text", "mAP")
    assert leaf.reference > 0.5 and all(0 < value <= 1 for value in leaf.values.values())


def test_tuning_uses_validation_and_skips_settings_the_data_cannot_support(recipe):
    tuned = compare(recipe, ["pivot", "procrustes"])
    pivot = tuned.runs[0]
    assert set(pivot.validation) | set(pivot.skipped) == {"K = 128", "K = 512", "K = 1024", "K = 2048", "K = 4096",
                                                          "tau = 0.05", "tau = 0.1", "tau = 0.2"}
    assert "K = 1024" in pivot.skipped and "900 items" in pivot.skipped["K = 1024"]
    assert pivot.chosen == max(pivot.validation, key=pivot.validation.get)
    assert tuned.runs[1].chosen in ("orthogonal", "least squares")


def test_unknown_or_repeated_strategies_are_one_line_errors(recipe):
    with pytest.raises(BridgeError, match="^--strategies: .*'nope'"):
        compare(recipe, ["connect", "nope"])
    with pytest.raises(BridgeError, match="^--strategies: a strategy is named twice"):
        compare(recipe, ["pivot", "pivot"])


def test_the_command_prints_the_table_and_writes_json_and_png(recipe, tmp_path):
    out = tmp_path / "cmp"
    outcome = CliRunner().invoke(cli, ["compare", str(recipe), "--strategies", "procrustes,pivot", "--no-tune", "-o", str(out), "--save"])
    assert outcome.exit_code == 0, outcome.output
    assert "own: image↔text through a" in outcome.output and "kept" in outcome.output
    saved = json.loads((out / "compare.json").read_text())
    assert [s["strategy"] for s in saved["strategies"]] == ["procrustes", "pivot"]
    assert (out / "compare.png").stat().st_size > 10_000
    assert (out / "pivot" / "bridge.yaml").exists() and (out / "procrustes" / "projectors.safetensors").exists()


def test_several_seeds_give_means_and_spreads(recipe, tmp_path):
    seeded = compare(recipe, ["connect", "procrustes"], tune=False, seeds=[0, 1])
    assert seeded.seeds == [0, 1]
    row = rows_of(seeded, "audio-image", "audio→image", "mAP")
    assert row.spread["C-MCR"] > 0  # a trained projector moves with the seed
    assert row.spread["Procrustes"] == 0  # a closed-form map does not
    single = [compare(recipe, ["connect"], tune=False, seeds=[seed]) for seed in (0, 1)]
    values = [rows_of(run, "audio-image", "audio→image", "mAP").values["C-MCR"] for run in single]
    assert row.values["C-MCR"] == pytest.approx(sum(values) / 2, abs=1e-6)
    outcome = CliRunner().invoke(cli, ["compare", str(recipe), "--strategies", "procrustes", "--no-tune", "--seeds", "0,1",
                                       "-o", str(tmp_path / "cmp")])
    assert outcome.exit_code == 0, outcome.output
    assert "mean±std over seeds 0,1" in outcome.output and "±0.0" in outcome.output
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["seeds"] == [0, 1]
    bad = CliRunner().invoke(cli, ["compare", str(recipe), "--seeds", "0,0"])
    assert bad.exit_code != 0 and "--seeds '0,0': a seed is given twice" in bad.output
