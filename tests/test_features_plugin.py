"""The built-in `features` MCR, loaded through the `bridge` entry point."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from bridge.errors import BridgeError, ItemError
from bridge.core.registry import Registry

REGISTRY = Registry.from_environment()
get_mcr_type = REGISTRY.mcr_type
load_mcr = REGISTRY.load_mcr


def write_ids(path: Path, ids: list[str]) -> Path:
    path.write_text("".join(f"{item_id}\n" for item_id in ids), encoding="utf-8")
    return path


@pytest.fixture
def feature_files(tmp_path: Path) -> dict[str, np.ndarray]:
    """image: 5 x 4 float32 .npy; text: 3 x 4 float16 .safetensors with two tensors."""
    generator = np.random.default_rng(0)
    image = generator.normal(size=(5, 4)).astype(np.float32) * 3.0
    text = generator.normal(size=(3, 4)).astype(np.float16)
    np.save(tmp_path / "image.npy", image)
    write_ids(tmp_path / "image_ids.txt", ["img-a", "img-b", "img-c", "img-d", "img-e"])
    save_file({"emb": torch.from_numpy(text), "other": torch.zeros(2)}, str(tmp_path / "text.safetensors"))
    write_ids(tmp_path / "text_ids.txt", ["a dog", "a cat", "an owl"])
    return {"image": image, "text": text.astype(np.float32)}


def options(tmp_path: Path, **overrides) -> dict:
    base = {
        "id": "clip-features",
        "base_dir": str(tmp_path),
        "modalities": {
            "image": {"embeddings": "image.npy", "ids": "image_ids.txt"},
            "text": {"embeddings": "text.safetensors", "ids": "text_ids.txt", "tensor": "emb"},
        },
    }
    base.update(overrides)
    return base


def test_registered_through_the_entry_point() -> None:
    assert get_mcr_type("features").plugin == "features"


def test_embeddings_ids_and_normalisation(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    mcr = load_mcr("features", options(tmp_path))
    assert mcr.id == "clip-features"
    assert mcr.modalities == ("image", "text")
    assert mcr.dim == 4
    rows = [mcr.prepare("image", item_id) for item_id in ("img-d", "img-a", "img-d")]
    assert rows == [3, 0, 3]
    encoded = mcr.encode("image", rows)
    assert encoded.dtype == torch.float32 and encoded.shape == (3, 4)
    expected = feature_files["image"][[3, 0, 3]]
    expected = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    assert torch.allclose(encoded, torch.from_numpy(expected), atol=1e-6)
    assert torch.allclose(encoded.norm(dim=1), torch.ones(3))

    text = mcr.encode("text", [mcr.prepare("text", "an owl")])
    owl = feature_files["text"][2]
    assert torch.allclose(text[0], torch.from_numpy(owl / np.linalg.norm(owl)), atol=1e-6)


def test_normalize_false_returns_raw_rows(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    mcr = load_mcr("features", options(tmp_path, normalize=False))
    encoded = mcr.encode("image", [mcr.prepare("image", "img-c")])
    assert torch.equal(encoded[0], torch.from_numpy(feature_files["image"][2]))


def test_relative_paths_resolve_against_the_working_directory(
    tmp_path: Path, feature_files: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = options(tmp_path)
    del settings["base_dir"]
    mcr = load_mcr("features", settings)
    assert mcr.prepare("text", "a cat") == 1


def test_unknown_id_is_an_item_error_naming_the_ids_file(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    mcr = load_mcr("features", options(tmp_path))
    with pytest.raises(ItemError, match=r"img-z.*image_ids\.txt") as caught:
        mcr.prepare("image", "img-z")
    assert caught.value.item == "img-z"
    with pytest.raises(BridgeError, match="does not encode 'audio'"):
        mcr.prepare("audio", "img-a")


def test_fingerprint_follows_file_contents(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    first = load_mcr("features", options(tmp_path)).fingerprint
    assert len(first) == 16 and int(first, 16) >= 0
    assert load_mcr("features", options(tmp_path)).fingerprint == first

    changed = feature_files["image"].copy()
    changed[0, 0] += 1.0
    np.save(tmp_path / "image.npy", changed)
    second = load_mcr("features", options(tmp_path)).fingerprint
    assert second != first

    write_ids(tmp_path / "text_ids.txt", ["a dog", "an owl", "a cat"])
    assert load_mcr("features", options(tmp_path)).fingerprint not in (first, second)


def _bad(tmp_path: Path, settings: dict, expected_file: str, expected_text: str) -> None:
    with pytest.raises(BridgeError) as caught:
        load_mcr("features", settings)
    message = str(caught.value)
    assert expected_file in message and expected_text in message, message
    assert "\n" not in message


def test_missing_file(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    settings = options(tmp_path)
    settings["modalities"]["image"]["ids"] = "missing_ids.txt"
    _bad(tmp_path, settings, "missing_ids.txt", "does not exist")


def test_row_count_mismatch(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    write_ids(tmp_path / "image_ids.txt", ["img-a", "img-b", "img-c", "img-d"])
    _bad(tmp_path, options(tmp_path), "image_ids.txt", "has 4 ids but")


def test_one_dimensional_array(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    np.save(tmp_path / "image.npy", np.ones(5, dtype=np.float32))
    _bad(tmp_path, options(tmp_path), "image.npy", "2-D")


def test_duplicate_ids(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    write_ids(tmp_path / "image_ids.txt", ["img-a", "img-b", "img-a", "img-d", "img-e"])
    _bad(tmp_path, options(tmp_path), "image_ids.txt:3", "duplicate id 'img-a'")


def test_blank_id_line(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    write_ids(tmp_path / "image_ids.txt", ["img-a", "", "img-c", "img-d", "img-e"])
    _bad(tmp_path, options(tmp_path), "image_ids.txt:2", "blank line")


def test_dimension_mismatch_between_modalities(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    np.save(tmp_path / "image.npy", np.ones((5, 6), dtype=np.float32))
    _bad(tmp_path, options(tmp_path), "image.npy", "D=6")


def test_object_arrays_are_refused(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    np.save(tmp_path / "image.npy", np.array([[{"x": 1}] * 4] * 5, dtype=object), allow_pickle=True)
    _bad(tmp_path, options(tmp_path), "image.npy", "pickled or object data is refused")


def test_pickle_disguised_as_npy_is_refused(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    (tmp_path / "image.npy").write_bytes(pickle.dumps(np.ones((5, 4))))
    _bad(tmp_path, options(tmp_path), "image.npy", "pickled or object data is refused")


def test_integer_array(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    np.save(tmp_path / "image.npy", np.ones((5, 4), dtype=np.int64))
    _bad(tmp_path, options(tmp_path), "image.npy", "floating-point")


def test_safetensors_needs_a_tensor_name_when_it_holds_several(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    settings = options(tmp_path)
    del settings["modalities"]["text"]["tensor"]
    _bad(tmp_path, settings, "text.safetensors", "holds 2 tensors")
    settings["modalities"]["text"]["tensor"] = "missing"
    _bad(tmp_path, settings, "text.safetensors", "no tensor named 'missing'")


def test_corrupt_safetensors(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    (tmp_path / "text.safetensors").write_bytes(b"not a safetensors file")
    _bad(tmp_path, options(tmp_path), "text.safetensors", "not a readable .safetensors file")


def test_unsupported_extension(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    settings = options(tmp_path)
    (tmp_path / "image.csv").write_text("1,2,3,4\n")
    settings["modalities"]["image"]["embeddings"] = "image.csv"
    _bad(tmp_path, settings, "image.csv", ".npy or .safetensors")


def test_non_finite_row_is_reported_when_encoded(tmp_path: Path, feature_files: dict[str, np.ndarray]) -> None:
    broken = feature_files["image"].copy()
    broken[1, 2] = np.nan
    np.save(tmp_path / "image.npy", broken)
    mcr = load_mcr("features", options(tmp_path))
    assert mcr.encode("image", [0]).shape == (1, 4)
    with pytest.raises(BridgeError, match=r"image\.npy: row 1 \(id 'img-b'\) has non-finite values"):
        mcr.encode("image", [0, 1])


def test_unknown_option_is_a_bridge_error(tmp_path: Path) -> None:
    with pytest.raises(BridgeError, match="mcr.options: normalise: unknown key"):
        load_mcr("features", options(tmp_path, normalise=True))
