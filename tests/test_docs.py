from pathlib import Path

from bridge.recipes.docs import render

ROOT = Path(__file__).resolve().parents[1]


def test_recipe_reference_is_in_step_with_the_models():
    on_disk = (ROOT / "docs" / "recipe.md").read_text()
    assert on_disk == render(), "docs/recipe.md is stale: run `python -m bridge.recipes.docs > docs/recipe.md`"


def test_recipe_reference_documents_every_key():
    text = render()
    for key in ("memory_temperature", "noise_sigma", "hidden_ratio", "intra_weight", "pseudo_pair_loss", "skip_bad_items", "relevance"):
        assert f"`{key}`" in text


# ----- architecture.md: every module has its line ---------------------------------------------

def test_architecture_page_mentions_every_module_of_the_package():
    text = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "bridge"
    missing = [
        path.relative_to(package).as_posix()
        for path in sorted(package.rglob("*.py"))
        if f"`{path.relative_to(package).as_posix()}`" not in text
    ]
    assert missing == [], f"docs/architecture.md does not mention {missing} (add a row to 'Where each concept lives')"


# ----- plugins.md: every hook and every field a plugin author meets ----------------------------

def test_plugin_guide_documents_every_hook_and_registered_field():
    import dataclasses

    import bridge
    from bridge.core import hookspecs

    text = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [name for name in vars(hookspecs) if name.startswith("register_")]
    assert hooks and all(f"`{name}(" in text for name in hooks), hooks
    for cls in (bridge.MCRType, bridge.SourceType, bridge.StrategyType, bridge.Item, bridge.SourceContext):
        fields = [f.name for f in dataclasses.fields(cls) if f.name != "plugin"]  # `plugin` is filled by the registry
        undocumented = [name for name in fields if f"`{name}`" not in text]
        assert undocumented == [], f"docs/plugins.md does not document {cls.__name__}.{undocumented}"
    for member in ("id", "modalities", "dim", "fingerprint", "device", "to", "batch_size", "prepare", "encode"):
        assert f"`{member}" in text, member
    for member in ("plan", "fit", "untrained", "fit_paired", "display_name", "ablations", "sweeps"):
        assert hasattr(bridge.Strategy, member) and f"`{member}" in text, member


# ----- features.md: the worked example runs ----------------------------------------------------

def _marked_block(text: str, marker: str) -> str:
    """The fenced code block right after ``<!-- test: marker -->``."""
    after = text.split(f"<!-- test: {marker} -->", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def test_features_guide_example_checks_and_connects(tmp_path, monkeypatch):
    import runpy

    from bridge.pipeline.connect import connect
    from bridge.recipes.check import check_recipe

    text = (ROOT / "docs" / "features.md").read_text()
    (tmp_path / "make_features.py").write_text(_marked_block(text, "make_features.py"))
    (tmp_path / "recipe.yaml").write_text(_marked_block(text, "recipe.yaml").replace("device: auto", "device: cpu"))
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(tmp_path / "make_features.py"))
    check_recipe(tmp_path / "recipe.yaml")
    result = connect(tmp_path / "recipe.yaml")
    assert set(result.metrics["retrieval"]["audio-image"]) == {"chance", "untrained", "text_pivot", "C-MCR", "paired reference"}
    assert (tmp_path / "runs" / "clip-clap" / "bridge.yaml").exists()
    audio = result.bridge.embed("audio", ["clip010"])
    assert tuple(result.bridge.similarity(audio, result.bridge.embed("image", ["clip010", "clip011"])).shape) == (1, 2)
    assert tuple(result.bridge.embed("text", ["a photo of a dog"], via="clip").shape) == (1, 256)
