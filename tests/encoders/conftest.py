"""Fixtures for the encoder plugins (openclip, laionclap) and the dataset sources.

Everything runs offline through the plugins' real loading code, on tiny
random models built here:

- open_clip: a 32x32-pixel, 2-layer ViT registered from a JSON config,
  saved as a ``.pt`` state dict and as a ``local-dir:`` folder;
- laion_clap: a random HTSAT-tiny CLAP (laion_clap's smallest working
  audio tower) whose RoBERTa comes from stand-in Hugging Face files
  (``hf_standins.py``), saved as a checkpoint in the released format.

Hugging Face reads ``HF_HOME`` and ``HF_HUB_OFFLINE`` when it is imported,
so both are set here, when pytest imports this file, before any test
module imports open_clip, laion_clap or transformers.

Real media (three JPEG photos and three 32 kHz WAV recordings) come from
the shared folder beside the repository; tests using them skip without it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from encoder_helpers import load_mcr, registered

HF_HOME = Path(tempfile.mkdtemp(prefix="bridge-test-hf-"))
os.environ["HF_HOME"] = str(HF_HOME)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
torch.set_num_threads(1)

MEDIA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cmcr-release"
TINY_CLIP_NAME = "bridge-test-tiny-clip"
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def pytest_unconfigure(config):
    """Remove the private Hugging Face folder when the test session ends."""
    shutil.rmtree(HF_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The shared folder of real photos and recordings (skips the test when it is absent)."""
    if not (MEDIA_DIR / "BBQ.wav").is_file():
        pytest.skip(f"real media folder not found: {MEDIA_DIR.resolve()}")
    return MEDIA_DIR.resolve()


# ----- open_clip ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TinyClip:
    """A tiny random open_clip model saved two ways."""

    name: str
    checkpoint: Path
    local_dir: Path
    model: torch.nn.Module


@pytest.fixture(scope="session")
def openclip_type() -> Any:
    pytest.importorskip("open_clip", reason="open_clip is not installed (pip install 'mcr-bridge[clip]')")
    plugin = pytest.importorskip("bridge_openclip", reason="the bridge_openclip plugin is not installed")
    return registered(plugin, "register_mcrs")["openclip"]


@pytest.fixture(scope="session")
def tiny_clip(openclip_type, tmp_path_factory) -> TinyClip:
    import open_clip
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("tiny-clip")
    config_path = root / f"{TINY_CLIP_NAME}.json"
    config_path.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(config_path)
    torch.manual_seed(0)
    model, _, _ = open_clip.create_model_and_transforms(TINY_CLIP_NAME, pretrained=None)
    model.eval()
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    checkpoint = root / "tiny-clip.pt"
    torch.save(state, checkpoint)
    local_dir = root / "tiny-clip-folder"
    local_dir.mkdir()
    (local_dir / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP_CONFIG, "preprocess_cfg": {}}))
    save_file(state, local_dir / "open_clip_model.safetensors")
    return TinyClip(TINY_CLIP_NAME, checkpoint, local_dir, model)


@pytest.fixture(scope="session")
def clip_mcr(openclip_type, tiny_clip, tmp_path_factory) -> Any:
    """The tiny model loaded through the plugin from its ``.pt`` file."""
    cache = tmp_path_factory.mktemp("clip-fingerprints")
    return load_mcr(openclip_type, model=tiny_clip.name, pretrained=str(tiny_clip.checkpoint), cache_dir=cache)


# ----- laion_clap ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def laionclap_type() -> Any:
    """The `laionclap` MCR type, with the Hugging Face stand-ins in place (laion_clap's import reads them)."""
    for module in ("laion_clap", "torchaudio", "soundfile", "librosa", "transformers"):
        if importlib.util.find_spec(module) is None:  # find, not import: laion_clap's import reads the stand-ins
            pytest.skip(f"{module} is not installed (pip install 'mcr-bridge[clap]')")
    plugin = pytest.importorskip("bridge_laionclap", reason="the bridge_laionclap plugin is not installed")
    from hf_standins import build_hf_standins

    build_hf_standins(HF_HOME)
    return registered(plugin, "register_mcrs")["laionclap"]


def _save_random_clap(path: Path, fusion: bool, seed: int) -> Path:
    """A random HTSAT-tiny CLAP saved as laion_clap releases its checkpoints ({"state_dict": ...})."""
    import laion_clap
    from hf_standins import POSITIONS

    torch.manual_seed(seed)
    clap = laion_clap.CLAP_Module(enable_fusion=fusion, device="cpu", amodel="HTSAT-tiny", tmodel="roberta")
    state = clap.model.state_dict()
    # laion_clap's loader deletes this key unconditionally; current transformers no longer saves it
    state.setdefault("text_branch.embeddings.position_ids", torch.arange(POSITIONS).unsqueeze(0))
    torch.save({"state_dict": state}, path)
    return path


@pytest.fixture(scope="session")
def clap_checkpoint(laionclap_type, tmp_path_factory) -> Path:
    return _save_random_clap(tmp_path_factory.mktemp("tiny-clap") / "tiny-clap.pt", fusion=False, seed=0)


@pytest.fixture(scope="session")
def fusion_checkpoint(laionclap_type, tmp_path_factory) -> Path:
    return _save_random_clap(tmp_path_factory.mktemp("tiny-clap-fusion") / "tiny-clap-fusion.pt", fusion=True, seed=1)


@pytest.fixture(scope="session")
def clap_mcr(laionclap_type, clap_checkpoint, tmp_path_factory) -> Any:
    """The random CLAP loaded through the plugin."""
    cache = tmp_path_factory.mktemp("clap-fingerprints")
    return load_mcr(laionclap_type, checkpoint=clap_checkpoint, cache_dir=cache, batch_size=8)


# ----- dataset sources ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def source_types() -> dict[str, Any]:
    plugin = pytest.importorskip("bridge_datasets", reason="the bridge_datasets plugin is not installed")
    return registered(plugin, "register_sources")


@pytest.fixture
def read_source(source_types, tmp_path) -> Callable[..., list[Any]]:
    """``read_source(name, **options)``: the items of a source, with ``tmp_path`` as the recipe folder."""
    import bridge

    def read(name: str, **options: Any) -> list[Any]:
        source_type = source_types[name]
        context = bridge.SourceContext(base_dir=tmp_path, cache_dir=tmp_path / "cache")
        return source_type.items(source_type.options(**options), context)

    return read
