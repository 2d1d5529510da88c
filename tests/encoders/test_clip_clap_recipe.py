"""`recipes/clip_clap.yaml` end to end, offline: the same recipe on tiny random models and small generated data sets.

The recipe is copied unchanged beside a generated data root with the layout
docs/datasets.md describes (COCO captions and images, AudioCaps captions and
clips, AVE and Flickr-SoundNet manifests); only what cannot exist offline is
overridden with ``--set``: CLIP becomes the tiny open_clip model
(``local-dir:``), and the training budget shrinks. The CLAP checkpoint is a
tiny random fusion model put where the recipe expects
``630k-fusion-best.pt``. Then ``bridge connect`` runs every stage through
the real plugins, and ``bridge embed`` uses the saved bridge.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "clip_clap.yaml"
CLASSES = ("Bark", "Cat", "Helicopter")


def _image(path: Path, seed: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, size=(24 + seed % 3 * 8, 40, 3), dtype=np.uint8)).save(path)


def _clip(path: Path, seed: int, rate: int = 16000) -> None:
    import soundfile

    rng = np.random.default_rng(seed)
    t = np.arange(rate) / rate
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.05 * rng.standard_normal(rate)).astype(np.float32), rate)


def _av_manifest(path: Path, count: int, labelled: bool, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(["id", "audio", "image", *(["label"] if labelled else [])])
        for index in range(count):
            name = f"v{seed}{index:02d}"
            _clip(path.parent / "audio" / f"{name}.wav", seed + index)
            _image(path.parent / "frames" / f"{name}.png", seed + index)
            out.writerow([name, f"audio/{name}.wav", f"frames/{name}.png", *([CLASSES[index % 3]] if labelled else [])])


def make_data_root(data: Path, clap_checkpoint: Path) -> None:
    """The data root of recipes/clip_clap.yaml, small: 8 COCO images (16 captions), 8 AudioCaps clips, AVE, Flickr-SoundNet."""
    (data / "weights").mkdir(parents=True)
    (data / "weights" / "630k-fusion-best.pt").symlink_to(clap_checkpoint)
    coco = data / "coco"
    images, annotations = [], []
    for index in range(8):
        _image(coco / "train2017" / f"{index:012d}.jpg.png", index)
        images.append({"id": index, "file_name": f"{index:012d}.jpg.png"})
        for caption in ("a photo of a thing", f"picture number {index}"):
            annotations.append({"id": len(annotations) + 1, "image_id": index, "caption": caption})
    (coco / "annotations").mkdir(parents=True)
    (coco / "annotations" / "captions_train2017.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    audiocaps = data / "audiocaps"
    audiocaps.mkdir()
    with (audiocaps / "train.csv").open("w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(["audiocap_id", "youtube_id", "start_time", "caption"])
        for index in range(8):
            out.writerow([100 + index, f"yt{index}", 30, f"a sound number {index}"])
            if index != 7:  # one clip was never downloaded: `skip_missing` leaves it out
                _clip(audiocaps / "audio" / "train" / f"yt{index}.wav", 40 + index)
    _av_manifest(data / "ave" / "test.csv", 6, labelled=True, seed=60)
    _av_manifest(data / "ave" / "val.csv", 6, labelled=True, seed=70)
    _av_manifest(data / "flickr-soundnet" / "test.csv", 4, labelled=False, seed=80)


def _cli(*args: object):
    from bridge.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="bridge", env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.mark.slow
def test_clip_clap_recipe_end_to_end_on_tiny_models(tiny_clip, fusion_checkpoint, tmp_path):
    pytest.importorskip("soundfile")
    (tmp_path / "recipes").mkdir()
    recipe = tmp_path / "recipes" / "clip_clap.yaml"
    shutil.copy(RECIPE, recipe)
    overrides = [
        "--set", f"members.clip.options={{model: 'local-dir:{tiny_clip.local_dir}'}}",
        "--set", "training.epochs=2", "--set", "training.batch_size=8", "--set", f"cache_dir={tmp_path / 'cache'}",
    ]
    before = _cli("connect", recipe, *overrides)
    assert before.exit_code == 1 and "inputs are missing (listed below)" in before.stderr, before.stderr
    assert not (tmp_path / "runs").exists()

    make_data_root(tmp_path / "data", fusion_checkpoint)
    result = _cli("connect", recipe, *overrides, "--threads", "1")
    assert result.exit_code == 0, result.stderr[-3000:] + result.stdout[-2000:]
    output = tmp_path / "runs" / "clip_clap"
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["trained"] == "C-MCR"
    retrieval = metrics["retrieval"]
    assert set(retrieval) == {"ave audio-image (class)", "ave audio-image (instance)", "flickr-soundnet audio-image (instance)"}
    for task in retrieval.values():
        assert set(task) >= {"C-MCR", "chance", "untrained", "text_pivot"}
        assert {"R@1", "R@5", "R@10", "mAP"} <= set(task["C-MCR"]["audio→image"]) and "image→audio" in task["C-MCR"]
    assert set(metrics["zeroshot"]) == {"ave audio, prompts via clip", "ave image, prompts via clap"}
    assert metrics["training"]["overlap_items"] == 16 + 8  # COCO's and AudioCaps' captions, concatenated

    import yaml

    spec = yaml.safe_load((output / "bridge.yaml").read_text())
    assert [spec["members"][m]["plugin"] for m in ("clip", "clap")] == ["openclip", "laionclap"]
    assert spec["members"]["clap"]["options"]["cache_dir"] == str(tmp_path / "cache")  # the recipe's cache folder reached the MCR
    assert spec["members"]["clip"]["dim"] == 32 and spec["members"]["clap"]["dim"] == 512 and spec["dim"] == 512

    wav = tmp_path / "data" / "ave" / "audio" / "v6000.wav"
    embedded = _cli("embed", output, wav, "-m", "audio", "-o", tmp_path / "audio.npy")
    assert embedded.exit_code == 0, embedded.stderr
    vectors = np.load(tmp_path / "audio.npy")
    assert vectors.shape == (1, 512) and abs(float(np.linalg.norm(vectors)) - 1) < 1e-5


def test_import_binds_a_release_to_a_local_clap(tiny_clip, clap_checkpoint, clap_mcr, tmp_path, media_dir):
    """`bridge import clap_clip.pt --member clap=laionclap:clap.yaml`, then `bridge embed` of a real recording."""
    import torch
    from encoder_helpers import embed
    from release_states import clap_clip_state, release_forward

    state = clap_clip_state()
    checkpoint = tmp_path / "clap_clip.pt"
    torch.save(state, checkpoint)
    (tmp_path / "clap.yaml").write_text(f"checkpoint: {clap_checkpoint}\ncache_dir: {tmp_path / 'cache'}\n")
    (tmp_path / "clip.yaml").write_text(f"model: 'local-dir:{tiny_clip.local_dir}'\n")
    (tmp_path / "gone.yaml").write_text("checkpoint: weights/630k-fusion-best.pt\nfusion: true\n")
    output = tmp_path / "bridge"

    refused = _cli("import", checkpoint, "-o", output, "--member", f"clip=openclip:{tmp_path / 'clip.yaml'}")
    assert refused.exit_code == 1 and "member 'clip': MCR 'open_clip:local-dir:tiny-clip-folder' gives 32-d embeddings" in refused.stderr
    missing = _cli("import", checkpoint, "-o", output, "--member", f"clap=laionclap:{tmp_path / 'gone.yaml'}")
    assert missing.exit_code == 1 and missing.stderr.startswith(
        f"error: --member clap options.checkpoint: {tmp_path / 'weights' / '630k-fusion-best.pt'}: CLAP checkpoint does not exist; download"
    ), missing.stderr
    assert not output.exists()

    result = _cli("import", checkpoint, "-o", output, "--member", f"clap=laionclap:{tmp_path / 'clap.yaml'}")
    assert result.exit_code == 0, result.stderr
    assert "clap (audio, text): Head_A → mlp2 projector; MCR: laion_clap:HTSAT-tiny/tiny-clap.pt" in result.stdout
    assert "not bound: clip" in result.stdout
    wav = media_dir / "BBQ.wav"
    embedded = _cli("embed", output, wav, "-m", "audio", "-o", tmp_path / "audio.npy")
    assert embedded.exit_code == 0, embedded.stderr
    features = torch.nn.functional.normalize(embed(clap_mcr, "audio", [str(wav)]), dim=-1)
    expected = release_forward("cmcr-clap-clip", state, "Head_A", features).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "audio.npy"), expected, atol=1e-5)
