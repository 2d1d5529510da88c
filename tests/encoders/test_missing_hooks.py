"""The `missing_inputs` hooks of the encoder and dataset plugins: what is absent, where, how to get it — without loading."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from encoder_helpers import registered

import bridge


def _missing(mcr_type, **options):
    return mcr_type.missing_inputs(mcr_type.options(**options))


def test_openclip_tag_table_read_without_torch_matches_open_clip():
    """Every pretrained tag open_clip knows: the source-read table gives the same download locations."""
    open_clip = pytest.importorskip("open_clip")
    from bridge_openclip.tags import tag_config

    pairs = open_clip.list_pretrained()
    assert len(pairs) > 100
    for model, tag in pairs:
        theirs = open_clip.get_pretrained_cfg(model, tag)
        assert tag_config(model, tag) == {key: theirs[key] for key in ("url", "hf_hub", "file", "quick_gelu") if key in theirs}, (model, tag)
    assert tag_config("ViT-B-32", "no-such-tag") == {} and tag_config("no-such-model", "openai") == {}


def test_openclip_missing_weights(openclip_type, tiny_clip, tmp_path):
    tag = _missing(openclip_type, model="ViT-B-32", pretrained="openai", download_dir=tmp_path / "hub")
    assert [m.key for m in tag] == ["pretrained"]
    assert tag[0].path == str(tmp_path / "hub" / "models--timm--vit_base_patch32_clip_224.openai")
    assert "hf download timm/vit_base_patch32_clip_224.openai open_clip_pytorch_model.bin" in tag[0].how
    assert _missing(openclip_type, model="ViT-B-32", pretrained="openai", download=True) == []
    gone = _missing(openclip_type, model="ViT-B-32", pretrained="weights/clip.pt", base_dir=tmp_path)
    assert gone[0].path == str(tmp_path / "weights" / "clip.pt") and "neither an open_clip pretrained tag" in gone[0].how
    folder = _missing(openclip_type, model=f"local-dir:{tmp_path / 'nope'}")
    assert folder[0].key == "model" and "`local-dir:` folder does not exist" in folder[0].how
    hub = _missing(openclip_type, model="hf-hub:org/repo", download_dir=tmp_path / "hub")
    assert hub[0].path == str(tmp_path / "hub" / "models--org--repo") and "hf download org/repo" in hub[0].how
    assert _missing(openclip_type, model=f"local-dir:{tiny_clip.local_dir}") == []
    assert _missing(openclip_type, model=tiny_clip.name, pretrained=str(tiny_clip.checkpoint)) == []


def test_laionclap_missing_checkpoint_and_text_model(laionclap_type, clap_checkpoint, tmp_path, monkeypatch):
    assert _missing(laionclap_type, checkpoint=clap_checkpoint) == []  # the stand-in roberta-base is in HF_HOME
    gone = _missing(laionclap_type, checkpoint="w/630k-fusion-best.pt", fusion=True, base_dir=tmp_path)
    assert gone[0].key == "checkpoint" and gone[0].path == str(tmp_path / "w" / "630k-fusion-best.pt")
    assert "download https://huggingface.co/lukewys/laion_clap/resolve/main/630k-fusion-best.pt" in gone[0].how
    bert = _missing(laionclap_type, checkpoint=clap_checkpoint, tmodel="bert")  # no bert model among the stand-ins
    assert bert[0].key == "" and bert[0].path.endswith("models--bert-base-uncased") and "hf download bert-base-uncased" in bert[0].how
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # laion_clap may download it: not missing
    assert _missing(laionclap_type, checkpoint=clap_checkpoint, tmodel="bert") == []


def test_the_missing_checks_import_no_encoder_library(openclip_type, laionclap_type, tmp_path):
    import subprocess

    code = (
        "import sys; from bridge_openclip.missing import missing_inputs as c; from bridge_openclip.options import OpenClipOptions; "
        "from bridge_laionclap.missing import missing_inputs as l; from bridge_laionclap.options import LaionClapOptions; "
        f"c(OpenClipOptions(model='ViT-B-32', pretrained='openai')); l(LaionClapOptions(checkpoint='{tmp_path}/x.pt')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'open_clip', 'laion_clap', 'transformers')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr[-2000:]


def test_dataset_sources_name_their_missing_files(source_types, tmp_path):
    context = bridge.SourceContext(base_dir=tmp_path, cache_dir=tmp_path)

    def missing(name, **options):
        source_type = source_types[name]
        return [(m.key, Path(m.path).relative_to(tmp_path).as_posix()) for m in source_type.missing_inputs(source_type.options(**options), context)]

    assert missing("coco-captions", annotations="c.json", modality="image", images="imgs") == [("annotations", "c.json"), ("images", "imgs")]
    assert missing("audiocaps", csv="train.csv", modality="audio", audio_folder="clips") == [("csv", "train.csv"), ("audio_folder", "clips")]
    assert missing("clotho", csv="dev.csv") == [("csv", "dev.csv")]
    assert missing("av-manifest", manifest="ave/test.csv", modality="audio") == [("manifest", "ave/test.csv")]
    (tmp_path / "c.json").write_text("{}")
    (tmp_path / "imgs").mkdir()
    assert missing("coco-captions", annotations="c.json", modality="image", images="imgs") == []
    hints = source_types["audiocaps"].missing_inputs(source_types["audiocaps"].options(csv="train.csv"), context)
    assert "github.com/cdjkim/audiocaps" in hints[0].how


def test_every_dataset_source_type_has_the_hook(source_types):
    plugin = pytest.importorskip("bridge_datasets")
    assert all(entry.missing_inputs is not None for entry in registered(plugin, "register_sources").values())
