"""The `openclip` MCR, loaded offline through the plugin from a tiny random open_clip model."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from encoder_helpers import embed, load_mcr

import bridge


def _photos(folder: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` random RGB PNGs of varied sizes; their paths."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        height, width = 24 + 8 * (index % 3), 40 - 4 * (index % 2)
        pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        path = folder / f"photo{index}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


TEXTS = ["a dog barking", "a photo of a train", "smoke over a barbecue", "", "rain", "a cat", "two birds"]


def test_contract_shapes_and_unit_norm(clip_mcr, tmp_path):
    assert clip_mcr.modalities == ("image", "text")
    assert clip_mcr.dim == 32
    assert clip_mcr.id == "open_clip:bridge-test-tiny-clip/tiny-clip.pt"
    assert len(clip_mcr.fingerprint) == 64
    images = embed(clip_mcr, "image", _photos(tmp_path, 2))
    texts = embed(clip_mcr, "text", TEXTS[:3])
    for embeddings, rows in ((images, 2), (texts, 3)):
        assert embeddings.shape == (rows, 32) and embeddings.dtype == torch.float32
        assert torch.allclose(embeddings.norm(dim=1), torch.ones(rows), atol=1e-5)
    assert clip_mcr.encode("text", []).shape == (0, 32)


def test_embeddings_are_the_saved_models(clip_mcr, tiny_clip, tmp_path):
    """Weights, open_clip's preprocessing and tokenizer: the plugin reproduces the model it loaded."""
    import open_clip
    from PIL import Image

    path = _photos(tmp_path, 1)[0]
    pixels = clip_mcr.prepare("image", path)
    assert pixels.shape == (3, 32, 32)
    with torch.no_grad():
        expected_image = F.normalize(tiny_clip.model.encode_image(pixels[None]), dim=-1)
        tokens = open_clip.get_tokenizer(tiny_clip.name)(TEXTS[:2])
        expected_text = F.normalize(tiny_clip.model.encode_text(tokens), dim=-1)
    assert torch.allclose(clip_mcr.encode("image", [pixels]), expected_image, atol=1e-6)
    assert torch.allclose(embed(clip_mcr, "text", TEXTS[:2]), expected_text, atol=1e-6)
    assert torch.allclose(embed(clip_mcr, "image", [Image.open(path)]), expected_image, atol=1e-6)


def test_local_dir_loads_the_same_model(openclip_type, clip_mcr, tiny_clip, tmp_path):
    relative = os.path.relpath(tiny_clip.local_dir, tmp_path)
    folder_mcr = load_mcr(openclip_type, model=f"local-dir:{relative}", base_dir=tmp_path, cache_dir=tmp_path)
    assert folder_mcr.id == "open_clip:local-dir:tiny-clip-folder"
    photos = _photos(tmp_path / "photos", 2)
    assert torch.allclose(embed(folder_mcr, "image", photos), embed(clip_mcr, "image", photos), atol=1e-6)
    assert torch.allclose(embed(folder_mcr, "text", TEXTS), embed(clip_mcr, "text", TEXTS), atol=1e-6)


def test_hub_repository_from_the_local_cache(openclip_type, clip_mcr, tiny_clip, tmp_path):
    """`hf-hub:` names resolve from a Hugging Face cache folder with no network access."""
    import shutil

    repo = tmp_path / "hub" / "models--someone--tiny-clip"
    snapshot = repo / "snapshots" / ("2" * 40)
    shutil.copytree(tiny_clip.local_dir, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("2" * 40)
    hub_mcr = load_mcr(openclip_type, model="hf-hub:someone/tiny-clip", download_dir=tmp_path / "hub", cache_dir=tmp_path)
    assert hub_mcr.id == "open_clip:hf-hub:someone/tiny-clip"
    assert torch.allclose(embed(hub_mcr, "text", TEXTS), embed(clip_mcr, "text", TEXTS), atol=1e-6)


def test_deterministic_and_batch_invariant(clip_mcr, tmp_path):
    photos = _photos(tmp_path, 7)
    batch = embed(clip_mcr, "image", photos)
    assert torch.equal(batch, embed(clip_mcr, "image", photos))
    assert torch.allclose(embed(clip_mcr, "image", [photos[3]])[0], batch[3], atol=1e-5)
    texts = embed(clip_mcr, "text", TEXTS)
    assert torch.allclose(embed(clip_mcr, "text", [TEXTS[4]])[0], texts[4], atol=1e-5)


def test_real_photos(clip_mcr, media_dir):
    photos = [str(media_dir / f"{name}.jpeg") for name in ("BBQ", "toilet", "train")]
    embeddings = embed(clip_mcr, "image", photos)
    assert embeddings.shape == (3, 32)
    assert torch.isfinite(embeddings).all()
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(embeddings[0], embeddings[1])


def test_unreadable_images_name_the_file(clip_mcr, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(Path(_photos(tmp_path, 1)[0]).read_bytes()[:60])
    for path in (broken, truncated, tmp_path / "missing.png"):
        with pytest.raises(bridge.ItemError) as caught:
            clip_mcr.prepare("image", str(path))
        assert caught.value.item == str(path)
        assert "\n" not in str(caught.value)
    with pytest.raises(bridge.ItemError):
        clip_mcr.prepare("text", 42)


def test_missing_pretrained_tag_is_one_clear_line(openclip_type, tmp_path):
    started = time.perf_counter()
    with pytest.raises(bridge.BridgeError) as caught:
        load_mcr(openclip_type, model="ViT-B-32", pretrained="openai", download_dir=tmp_path, cache_dir=tmp_path)
    message = str(caught.value)
    assert time.perf_counter() - started < 10
    assert "\n" not in message
    assert "ViT-B-32/openai" in message and "not on this machine" in message
    assert "hf download timm/vit_base_patch32_clip_224.openai open_clip_pytorch_model.bin" in message
    assert "https://huggingface.co/timm/vit_base_patch32_clip_224.openai/resolve/main/" in message
    assert "quick_gelu: true" in message and "download: true" in message


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"model": "ViT-B-33", "pretrained": "openai"}, "did you mean 'ViT-B-32'"),
        ({"model": "ViT-B-32", "pretrained": "no-such-tag"}, "neither a pretrained tag of ViT-B-32"),
        ({"model": "ViT-B-32"}, "needs weights"),
        ({"model": "local-dir:does/not/exist"}, "folder does not exist"),
        ({"model": "hf-hub:nobody/nothing"}, "hf download nobody/nothing"),
    ],
)
def test_bad_options_are_one_line(openclip_type, tmp_path, options, expected):
    with pytest.raises(bridge.BridgeError) as caught:
        load_mcr(openclip_type, base_dir=tmp_path, cache_dir=tmp_path, download_dir=tmp_path, **options)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_local_dir_with_pretrained_or_without_weights(openclip_type, tiny_clip, tmp_path):
    with pytest.raises(bridge.BridgeError, match="must be empty"):
        load_mcr(openclip_type, model=f"local-dir:{tiny_clip.local_dir}", pretrained="openai", cache_dir=tmp_path)
    empty = tmp_path / "no-weights"
    empty.mkdir()
    (empty / "open_clip_config.json").write_text(json.dumps({"model_cfg": {}}))
    with pytest.raises(bridge.BridgeError, match="at random"):
        load_mcr(openclip_type, model=f"local-dir:{empty}", cache_dir=tmp_path)


def test_checkpoint_that_does_not_fit(openclip_type, tiny_clip, tmp_path):
    state = torch.load(tiny_clip.checkpoint, weights_only=True)
    state.pop("text_projection")
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    with pytest.raises(bridge.BridgeError) as caught:
        load_mcr(openclip_type, model=tiny_clip.name, pretrained=str(bad), cache_dir=tmp_path)
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)


def test_fingerprint_hashes_once_then_reads_the_cache(openclip_type, tiny_clip, tmp_path):
    weights = tmp_path / "weights.pt"
    weights.write_bytes(tiny_clip.checkpoint.read_bytes())
    cache = tmp_path / "cache"
    first = load_mcr(openclip_type, model=tiny_clip.name, pretrained=str(weights), cache_dir=cache).fingerprint
    record_path = cache / "fingerprints.json"
    records = json.loads(record_path.read_text())
    entry = records[str(weights.resolve())]
    stat = weights.stat()
    assert entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns and len(entry["sha256"]) == 64

    # Same path, size and mtime: the recorded digest is trusted, the file is not read again.
    entry["sha256"] = "0" * 64
    record_path.write_text(json.dumps(records))
    again = load_mcr(openclip_type, model=tiny_clip.name, pretrained=str(weights), cache_dir=cache).fingerprint
    assert again != first

    # A new mtime makes it hash the file again.
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    rehashed = load_mcr(openclip_type, model=tiny_clip.name, pretrained=str(weights), cache_dir=cache).fingerprint
    assert rehashed == first
    assert json.loads(record_path.read_text())[str(weights.resolve())]["sha256"] != "0" * 64


def test_fingerprint_follows_settings(openclip_type, clip_mcr, tiny_clip, tmp_path):
    gelu = load_mcr(openclip_type, model=tiny_clip.name, pretrained=str(tiny_clip.checkpoint), quick_gelu=True, cache_dir=tmp_path)
    assert gelu.fingerprint != clip_mcr.fingerprint
    amp = load_mcr(openclip_type, model=tiny_clip.name, pretrained=str(tiny_clip.checkpoint), precision="amp", cache_dir=tmp_path)
    assert amp.fingerprint != clip_mcr.fingerprint
    # autocast applies on CUDA only: on CPU the result is the float32 one
    assert torch.allclose(embed(amp, "text", TEXTS[:2]), embed(clip_mcr, "text", TEXTS[:2]), atol=1e-6)


def test_encode_patches(clip_mcr, tmp_path):
    photos = _photos(tmp_path, 2)
    patches = clip_mcr.encode_patches(photos)
    assert clip_mcr.patch_grid == (4, 4)
    assert patches.shape == (2, 16, 32) and patches.dtype == torch.float32
    assert torch.allclose(patches.norm(dim=-1), torch.ones(2, 16), atol=1e-5)
    assert not torch.allclose(patches[0, 0], patches[0, 5])
    with pytest.raises(bridge.ItemError):
        clip_mcr.encode_patches([str(tmp_path / "missing.png")])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_autocast_on_cuda(openclip_type, clip_mcr, tiny_clip, tmp_path):
    photos = _photos(tmp_path, 3)
    reference = embed(clip_mcr.to("cpu"), "image", photos)
    for precision in ("fp32", "amp", "amp_bf16"):
        mcr = load_mcr(openclip_type, model=tiny_clip.name, pretrained=str(tiny_clip.checkpoint), precision=precision, cache_dir=tmp_path)
        result = embed(mcr.to("cuda"), "image", photos)
        assert result.device.type == "cuda" and result.dtype == torch.float32
        assert torch.allclose(result.cpu(), reference, atol=1e-4 if precision == "fp32" else 3e-2)
        assert torch.allclose(mcr.encode_patches(photos).norm(dim=-1).cpu(), torch.ones(3, 16), atol=1e-3)


def test_registered_through_the_entry_point_group():
    from importlib.metadata import entry_points

    names = {entry.name: entry.value for entry in entry_points(group="bridge")}
    if "openclip" not in names:
        pytest.skip("mcr-bridge is installed without the openclip entry point")
    assert names["openclip"] == "bridge_openclip"
