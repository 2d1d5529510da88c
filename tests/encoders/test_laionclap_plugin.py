"""The `laionclap` MCR, loaded offline through the plugin from a random HTSAT-tiny CLAP checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from encoder_helpers import embed, load_mcr

import bridge

TEXTS = ["a dog barking", "a train passing by", "", "rain on a tin roof", "sizzling meat", "a toilet flushing", "birds"]


def _write_wav(path: Path, seconds: float, rate: int, channels: int = 1, seed: int = 0, silent: bool = False) -> str:
    import soundfile

    frames = max(int(round(seconds * rate)), 0)
    rng = np.random.default_rng(seed)
    samples = np.zeros((frames, channels), np.float32) if silent else rng.uniform(-0.3, 0.3, (frames, channels)).astype(np.float32)
    soundfile.write(path, samples, rate, subtype="PCM_16")
    return str(path)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[str]:
    """Seven short clips: several sample rates, stereo, silence, one sample long, one over 10 s."""
    folder = tmp_path_factory.mktemp("clips")
    specs = [(0.5, 16_000, 1), (1.0, 44_100, 2), (0.8, 48_000, 1), (0.25, 22_050, 1), (1.0, 16_000, 1), (1 / 8000, 8000, 1), (10.5, 8000, 1)]
    paths = [_write_wav(folder / f"clip{i}.wav", s, r, c, seed=i) for i, (s, r, c) in enumerate(specs)]
    paths[4] = _write_wav(folder / "silent.wav", 1.0, 16_000, silent=True)
    return paths


def test_contract(clap_mcr):
    assert clap_mcr.modalities == ("audio", "text")
    assert clap_mcr.dim == 512
    assert clap_mcr.id == "laion_clap:HTSAT-tiny/tiny-clap.pt"
    assert len(clap_mcr.fingerprint) == 64
    assert clap_mcr.batch_size("audio") == 8


def test_text_matches_laion_clap_and_is_batch_invariant(clap_mcr):
    batch = embed(clap_mcr, "text", TEXTS)
    assert batch.shape == (7, 512) and batch.dtype == torch.float32
    assert torch.allclose(batch.norm(dim=1), torch.ones(7), atol=1e-5)
    assert torch.allclose(embed(clap_mcr, "text", [TEXTS[3]])[0], batch[3], atol=1e-5)
    assert torch.equal(embed(clap_mcr, "text", TEXTS), batch)
    with torch.no_grad():
        reference = torch.from_numpy(clap_mcr.clap.get_text_embedding(TEXTS[:2]))
    assert torch.allclose(batch[:2], reference, atol=1e-5)


def test_audio_clips_of_any_rate_and_length(clap_mcr, clips):
    prepared = [clap_mcr.prepare("audio", path) for path in clips]
    for features in prepared:
        assert set(features) == {"longer", "waveform"} and features["waveform"].shape == (480_000,)
    again = clap_mcr.prepare("audio", clips[6])  # over 10 s: a fixed window, not laion_clap's random one
    assert torch.equal(again["waveform"], prepared[6]["waveform"])
    batch = clap_mcr.encode("audio", prepared)
    assert batch.shape == (7, 512) and torch.isfinite(batch).all()
    assert torch.allclose(batch.norm(dim=1), torch.ones(7), atol=1e-5)
    alone = clap_mcr.encode("audio", [clap_mcr.prepare("audio", clips[1])])
    assert torch.allclose(alone[0], batch[1], atol=1e-5)


def test_real_recordings_match_laion_clap_file_api(clap_mcr, media_dir):
    """32 kHz WAVs: resampled to 48 kHz as laion_clap's own get_audio_embedding_from_filelist does."""
    paths = [str(media_dir / f"{name}.wav") for name in ("BBQ", "toilet", "train")]
    embeddings = embed(clap_mcr, "audio", paths)
    assert embeddings.shape == (3, 512)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(3), atol=1e-5)
    with torch.no_grad():
        reference = torch.from_numpy(clap_mcr.clap.get_audio_embedding_from_filelist(paths[:1]))
    assert torch.allclose(embeddings[:1], reference, atol=1e-5)


def test_unreadable_audio_names_the_file(clap_mcr, tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    empty = _write_wav(tmp_path / "empty.wav", 0, 16_000)
    for path, reason in ((str(garbage), "cannot decode"), (empty, "no samples"), (str(tmp_path / "missing.wav"), "does not exist")):
        with pytest.raises(bridge.ItemError) as caught:
            clap_mcr.prepare("audio", path)
        assert caught.value.item == path and reason in caught.value.reason
    with pytest.raises(bridge.ItemError):
        clap_mcr.prepare("text", None)


def test_missing_checkpoint_says_what_to_download(laionclap_type, tmp_path):
    with pytest.raises(bridge.BridgeError) as caught:
        load_mcr(laionclap_type, checkpoint="weights/clap.pt", fusion=True, base_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert "https://huggingface.co/lukewys/laion_clap/resolve/main/630k-audioset-fusion-best.pt" in message
    assert str(tmp_path / "weights") in message


def test_unknown_audio_architecture(laionclap_type, clap_checkpoint):
    with pytest.raises(bridge.BridgeError, match="did you mean 'HTSAT-tiny'"):
        load_mcr(laionclap_type, checkpoint=clap_checkpoint, amodel="HTSAT-tinyy")


def test_not_a_checkpoint(laionclap_type, tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a torch file")
    with pytest.raises(bridge.BridgeError) as caught:
        load_mcr(laionclap_type, checkpoint=bogus, cache_dir=tmp_path)
    assert str(bogus) in str(caught.value) and "\n" not in str(caught.value)


def test_fusion_model_long_and_short_clips(laionclap_type, fusion_checkpoint, clap_checkpoint, tmp_path):
    mcr = load_mcr(laionclap_type, checkpoint=fusion_checkpoint, fusion=True, cache_dir=tmp_path)
    assert mcr.id == "laion_clap:HTSAT-tiny-fusion/tiny-clap-fusion.pt"
    long_clip = _write_wav(tmp_path / "long.wav", 12.0, 16_000, seed=5)
    short_clip = _write_wav(tmp_path / "short.wav", 1.0, 48_000, seed=6)
    long_input = mcr.prepare("audio", long_clip)
    assert bool(long_input["longer"]) and long_input["mel_fusion"].shape[0] == 4
    assert torch.equal(mcr.prepare("audio", long_clip)["mel_fusion"], long_input["mel_fusion"])
    short_input = mcr.prepare("audio", short_clip)
    assert not bool(short_input["longer"])
    both = mcr.encode("audio", [long_input, short_input])
    assert both.shape == (2, 512) and torch.allclose(both.norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(mcr.encode("audio", [short_input])[0], both[1], atol=1e-5)

    with pytest.raises(bridge.BridgeError, match="set `fusion: true`"):
        load_mcr(laionclap_type, checkpoint=fusion_checkpoint, fusion=False, cache_dir=tmp_path)


def test_registered_through_the_entry_point_group():
    from importlib.metadata import entry_points

    names = {entry.name: entry.value for entry in entry_points(group="bridge")}
    if "laionclap" not in names:
        pytest.skip("mcr-bridge is installed without the laionclap entry point")
    assert names["laionclap"] == "bridge_laionclap"


def test_missing_hugging_face_files_fail_fast_offline(laionclap_type, clap_checkpoint, tmp_path):
    """A fresh process with an empty Hugging Face cache and HF_HUB_OFFLINE unset: one line, no retries."""
    script = (
        "import sys, bridge, bridge_laionclap\n"
        "found = []\n"
        "bridge_laionclap.register_mcrs(register=found.append)\n"
        "try:\n"
        "    found[0].load(found[0].options(checkpoint=sys.argv[1], cache_dir=sys.argv[2]))\n"
        "except bridge.BridgeError as error:\n"
        "    print('BridgeError:', error)\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["HF_HOME"] = str(tmp_path / "empty-hf")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", script, str(clap_checkpoint), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.perf_counter() - started < 120
    lines = [line for line in result.stdout.splitlines() if line.startswith("BridgeError:")]
    assert len(lines) == 1 and "'roberta-base'" in lines[0] and "hf download roberta-base" in lines[0]
