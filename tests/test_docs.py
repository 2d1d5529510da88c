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
