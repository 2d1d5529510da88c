"""One test per class of bad recipe: each gives one line naming the file, the key path and what was expected."""

from pathlib import Path

import pytest
import yaml

from bridge.errors import BridgeError
from bridge.recipes.io import load_recipe
from bridge.recipes.schema import Recipe

VALID = {
    "name": "demo",
    "mcr_a": {"plugin": "features", "options": {}},
    "mcr_b": {"plugin": "features"},
    "overlap": "text",
    "data": {
        "overlap": {"lines": "captions.txt"},
        "memory": {"image": {"folder": "images", "glob": "*.png"}, "audio": {"manifest": "audio.csv", "column": "path"}},
    },
}


def write(tmp_path: Path, data, name="recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def error_of(tmp_path: Path, data) -> str:
    path = write(tmp_path, data)
    with pytest.raises(BridgeError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def with_key(path: str, value):
    import copy

    data = copy.deepcopy(VALID)
    node = data
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return data


def test_valid_recipe_loads_with_defaults_and_base_dir(tmp_path):
    recipe, base_dir = load_recipe(write(tmp_path, VALID))
    assert isinstance(recipe, Recipe)
    assert base_dir == tmp_path.resolve()
    assert recipe.training.intra_weight == 0.1 and recipe.enhance.memory_temperature == 0.01
    assert recipe.projector.architecture == "mlp2"


def test_unknown_top_level_key(tmp_path):
    assert "trainnig: unknown key" in error_of(tmp_path, with_key("trainnig", {"epochs": 3}))


def test_unknown_nested_key(tmp_path):
    assert "training.learning_rate: unknown key" in error_of(tmp_path, with_key("training.learning_rate", 0.1))


def test_wrong_type(tmp_path):
    message = error_of(tmp_path, with_key("training.epochs", "many"))
    assert "training.epochs" in message and "integer" in message and "'many'" in message


def test_out_of_range_value(tmp_path):
    message = error_of(tmp_path, with_key("enhance.memory_temperature", 0))
    assert "enhance.memory_temperature" in message and "greater than 0" in message


def test_bad_choice(tmp_path):
    message = error_of(tmp_path, with_key("projector.architecture", "transformer"))
    assert "projector.architecture" in message and "mlp2" in message


def test_missing_required_key(tmp_path):
    data = dict(VALID)
    del data["overlap"]
    assert "overlap: required key is missing" in error_of(tmp_path, data)


def test_source_without_a_kind(tmp_path):
    message = error_of(tmp_path, with_key("data.overlap", {"path": "captions.txt"}))
    assert "data.overlap" in message and "`lines`, `folder`, `manifest` or `plugin`" in message


def test_unknown_key_inside_a_source(tmp_path):
    message = error_of(tmp_path, with_key("data.memory.image", {"folder": "images", "pattern": "*.png"}))
    assert "data.memory.image" in message and "pattern: unknown key" in message


def test_memory_of_the_overlap_modality(tmp_path):
    message = error_of(tmp_path, with_key("data.memory.text", {"lines": "x.txt"}))
    assert "overlap modality 'text'" in message


def test_invalid_yaml_names_the_line(tmp_path):
    message = error_of(tmp_path, "name: demo\nmcr_a: [unclosed\n")
    assert "invalid YAML" in message and (":2" in message or ":3" in message)


def test_not_a_mapping(tmp_path):
    assert "must be a mapping" in error_of(tmp_path, "- just\n- a list\n")


def test_missing_file(tmp_path):
    with pytest.raises(BridgeError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")


def test_overrides_are_applied_before_validation(tmp_path):
    recipe, _ = load_recipe(write(tmp_path, VALID), {"training.seed": 7, "enhance.noise": False})
    assert recipe.training.seed == 7 and recipe.enhance.noise is False
    with pytest.raises(BridgeError, match="training.seed"):
        load_recipe(write(tmp_path, VALID), {"training.seed": "x"})
