"""Everything a recipe lacks is listed at once, before any work; a recipe's overlap may be a list of sources.

`recipes/clip_clap.yaml` on a machine without its weights and data sets:
`recipe check` and `connect` stop within seconds with one `error:` line and
one line per missing input (recipe key, path, how to get it), import no
encoder library, and write nothing. (The same recipe run end to end on tiny
models: ``tests/encoders/test_clip_clap_recipe.py``.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

import bridge
import bridge.methods.builtin
from bad_inputs import bridge_cli, error_line
from bridge.core.validation import validate_options
from bridge.recipes.check import check_recipe_data
from bridge.recipes.io import load_recipe
from bridge.recipes.members import member_options

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "clip_clap.yaml"
EXPECTED = {  # recipe key → path under the repository (the data root is `data/`, `../data` from the recipe)
    "members.clap.options.checkpoint": "data/weights/630k-fusion-best.pt",
    "data.overlap[0].options.annotations": "data/coco/annotations/captions_train2017.json",
    "data.overlap[1].options.csv": "data/audiocaps/train.csv",
    "data.memory.image.options.images": "data/coco/train2017",
    "data.memory.audio.options.audio_folder": "data/audiocaps/audio/train",
    "evaluation.retrieval[0].query.options.manifest": "data/ave/test.csv",
    "evaluation.retrieval[2].query.options.manifest": "data/flickr-soundnet/test.csv",
    "evaluation.validation[0].query.options.manifest": "data/ave/val.csv",
}


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The recipe in a checkout-like folder with no data root (as on a fresh clone)."""
    (tmp_path / "recipes").mkdir()
    shutil.copy(RECIPE, tmp_path / "recipes" / "clip_clap.yaml")
    return tmp_path


@pytest.mark.parametrize("command", ["check", "connect"])
def test_clip_clap_lists_everything_missing_and_writes_nothing(checkout, tmp_path, command):
    hf_home, cache = tmp_path / "hf", tmp_path / "cache"
    env = {**os.environ, "HF_HOME": str(hf_home), "BRIDGE_CACHE": str(cache), "COLUMNS": "200", "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    args = ("recipe", "check", "recipes/clip_clap.yaml") if command == "check" else ("connect", "recipes/clip_clap.yaml")
    started = time.perf_counter()
    result = _run(*args, env=env, cwd=checkout)
    assert time.perf_counter() - started < 30
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    listed = [line.strip() for line in lines[1:]]
    assert lines[0] == f"error: recipes/clip_clap.yaml: {len(listed)} inputs are missing (listed below)", lines[0]
    assert all(line.startswith("  ") for line in lines[1:])
    keys = {line.split(": ", 1)[0]: line for line in listed}
    for key, path in EXPECTED.items():
        assert key in keys and f": {checkout / path}: " in keys[key], (key, keys.get(key))
    assert "download https://huggingface.co/lukewys/laion_clap/resolve/main/630k-fusion-best.pt" in keys["members.clap.options.checkpoint"]
    assert "cocodataset.org" in keys["data.overlap[0].options.annotations"]
    assert "members.clap" in keys and "roberta-base" in keys["members.clap"]  # the empty HF_HOME lacks laion_clap's text model
    if not (Path.home() / ".cache" / "clip" / "ViT-B-32.pt").exists():
        assert "ViT-B-32/openai are not on this machine" in keys["members.clip.options.pretrained"]
    assert len(listed) == len(set(keys)) == len(EXPECTED) + 2
    assert sorted(p.name for p in checkout.iterdir()) == ["recipes"]  # no data/, no runs/, no output sibling
    assert not cache.exists() and not hf_home.exists()


def test_recipe_check_of_clip_clap_imports_no_encoder_library(checkout, tmp_path):
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bridge", "recipe", "check", "recipes/clip_clap.yaml"],
        capture_output=True, text=True, env=env, cwd=checkout, timeout=120,
    )
    assert result.returncode == 1
    modules = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    heavy = sorted(m for m in modules if m.split(".")[0] in ("torch", "open_clip", "laion_clap", "transformers", "torchvision"))
    assert heavy == []


def test_the_real_recipe_lists_what_this_checkout_lacks():
    """The recipe as it is in the repository, its data root `data/` beside `recipes/`."""
    result = bridge_cli("recipe", "check", RECIPE)
    missing = {key for key, path in EXPECTED.items() if not (ROOT / path).exists()}
    if not missing:
        pytest.skip("this checkout holds the clip_clap data sets")
    assert result.returncode == 1
    listed = result.stderr.splitlines()[1:] if len(missing) > 1 else result.stderr.splitlines()
    text = "\n".join(listed)
    for key in missing:
        assert key in text, key


# ----- the mechanism, with a plugin of this test ------------------------------------------------------


class WeightsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weights: Path = Field(description="A weights file.")
    cache_dir: Path | None = Field(None, description="Receives the recipe's cache folder.")
    base_dir: Path | None = Field(None, description="Receives the recipe's folder.")


class CorpusOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: Path = Field(description="A corpus file.")


class Plugin:
    @bridge.hookimpl
    def register_mcrs(self, register):
        def missing(options):
            return [] if options.weights.exists() else [bridge.MissingInput("weights", str(options.weights), "download it")]

        register(bridge.MCRType(name="weighted", load=None, options=WeightsOptions, modalities=("text", "image"), missing_inputs=missing))

    @bridge.hookimpl
    def register_sources(self, register):
        def missing(options, context):
            path = context.base_dir / options.file
            return [] if path.exists() else [bridge.MissingInput("file", str(path), "write it")]

        register(bridge.SourceType(name="corpus", items=lambda o, c: [], options=CorpusOptions, missing_inputs=missing))


RECIPE_TEXT = """
name: t
members:
  a: {plugin: weighted, options: {weights: a.pt}}
  b: {plugin: weighted, options: {weights: b.pt}}
overlap: text
data:
  overlap:
    - {lines: texts.txt}
    - {plugin: corpus, options: {file: corpus.txt}}
  memory:
    image: {folder: images}
evaluation:
  retrieval:
    - {name: r, query_modality: image, query: {folder: images}, target_modality: text, target: {plugin: corpus, options: {file: corpus.txt}}}
"""


def test_every_missing_input_once_under_its_first_key(tmp_path):
    (tmp_path / "r.yaml").write_text(RECIPE_TEXT)
    recipe, base_dir = load_recipe(tmp_path / "r.yaml")
    registry = bridge.Registry.from_plugins({"p": Plugin(), "strategies": bridge.methods.builtin})
    with pytest.raises(bridge.MissingInputs) as caught:
        check_recipe_data(recipe, base_dir, registry)
    assert str(caught.value) == "5 inputs are missing (listed below)"
    assert caught.value.missing == [
        f"members.a.options.weights: {tmp_path / 'a.pt'}: download it",
        f"members.b.options.weights: {tmp_path / 'b.pt'}: download it",
        f"data.overlap[0].lines: {tmp_path / 'texts.txt'}: lines file does not exist; put it there or correct the path",
        f"data.overlap[1].options.file: {tmp_path / 'corpus.txt'}: write it",
        f"data.memory.image.folder: {tmp_path / 'images'}: folder does not exist; put it there or correct the path",
    ]
    for name in ("a.pt", "b.pt", "texts.txt", "corpus.txt"):
        (tmp_path / name).write_text("x\n")
    with pytest.raises(bridge.MissingInputs) as caught:  # one missing input: the error line is that input
        check_recipe_data(recipe, base_dir, registry)
    assert str(caught.value).startswith("data.memory.image.folder: ") and caught.value.listed == []


def test_one_missing_input_is_the_error_line_itself(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text((ROOT / "recipes" / "synthworld.yaml").read_text().replace(
        "overlap: {plugin: synthworld, options: {split: overlap, modality: \"text:neutral\", count: 6000}}", "overlap: {lines: gone.txt}"
    ))
    line = error_line(bridge_cli("recipe", "check", recipe), "r.yaml: data.overlap.lines: ", "gone.txt: lines file does not exist")
    assert "listed below" not in line


def test_a_list_of_overlap_sources_is_concatenated_with_prefixed_ids(tmp_path):
    from bridge.data.sources import SourceContext, read_items

    (tmp_path / "a.txt").write_text("a dog\na cat\n")
    (tmp_path / "b.txt").write_text("rain\n")
    (tmp_path / "r.yaml").write_text((ROOT / "recipes" / "synthworld.yaml").read_text())
    recipe, _ = load_recipe(tmp_path / "r.yaml", {"data.overlap": [{"lines": "a.txt"}, {"lines": "b.txt"}]})
    items = read_items(recipe.data.overlap, SourceContext(base_dir=tmp_path, cache_dir=tmp_path))
    assert [(item.id, item.value) for item in items] == [("0:1", "a dog"), ("0:2", "a cat"), ("1:1", "rain")]
    with pytest.raises(bridge.BridgeError, match=r"data.overlap\[1\]: a source needs one of the keys"):
        load_recipe(tmp_path / "r.yaml", {"data.overlap": [{"lines": "a.txt"}, {"path": "b.txt"}]})
    with pytest.raises(bridge.BridgeError, match=r"data.overlap: List should have at least 1 item"):
        load_recipe(tmp_path / "r.yaml", {"data.overlap": []})


def test_member_options_receive_the_recipe_folder_and_cache(tmp_path):
    mcr_type = bridge.MCRType(name="weighted", load=None, options=WeightsOptions)
    validated, recorded = member_options(mcr_type, {"weights": "w.pt"}, tmp_path, "members.a.options", tmp_path / "cache")
    assert validated.cache_dir == tmp_path / "cache" and validated.base_dir == tmp_path and validated.weights == tmp_path / "w.pt"
    assert recorded["cache_dir"] == str(tmp_path / "cache")
    own, _ = member_options(mcr_type, {"weights": "w.pt", "cache_dir": "mine"}, tmp_path, "members.a.options", tmp_path / "cache")
    assert own.cache_dir == tmp_path / "mine"  # given in the recipe: kept (made absolute)
    unset, _ = member_options(mcr_type, {"weights": "w.pt"}, tmp_path, "members.a.options")
    assert unset.cache_dir is None
    assert validate_options(WeightsOptions, {"weights": "w"}, "x").cache_dir is None


def test_file_digest_is_hashed_once_and_remembered(tmp_path):
    import hashlib

    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights" * 1000)
    digest = bridge.file_digest(weights, cache_dir=tmp_path / "cache")
    assert digest == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert str(weights) in (tmp_path / "cache" / "fingerprints.json").read_text()
    with pytest.raises(bridge.BridgeError, match="cannot read the weights file"):
        bridge.file_digest(tmp_path / "missing.bin", cache_dir=tmp_path / "cache")
