"""Reference rows that are projectors: an untrained space and the paired reference.

The paired reference is the strategy's own projectors and training budget,
trained on true pairs of the members' other modalities (the data C-MCR does
without). It is a reference, not an upper bound: C-MCR can beat it.
"""

from __future__ import annotations

from bridge.core.space import Bridge
from bridge.pipeline.session import Session
from bridge.recipes.io import apply_overrides, parse_recipe
from bridge.recipes.schema import Recipe

UNTRAINED = "untrained"
PAIRED_REFERENCE = "paired reference"


def paired_reference_recipe(recipe: Recipe) -> Recipe:
    """``recipe`` with ``evaluation.paired_reference_settings`` applied: what the paired reference trains with."""
    overrides = recipe.evaluation.paired_reference_settings
    if not overrides:
        return recipe
    data = apply_overrides(recipe.model_dump(mode="json"), overrides)
    return parse_recipe(data, "evaluation.paired_reference_settings")


def reference_systems(session: Session, recipe: Recipe) -> dict[str, Bridge]:
    """The reference rows ``recipe.evaluation.baselines`` asks for that are spaces."""
    systems: dict[str, Bridge] = {}
    baselines = recipe.evaluation.baselines
    settings = session.settings(recipe)
    if "untrained" in baselines:
        projectors = session.strategy.untrained(session.plan, session.infos, settings)
        systems[UNTRAINED] = Bridge(session.spec(recipe, projectors), projectors, session.mcrs)
    if "paired_reference" in baselines:
        tuned = paired_reference_recipe(recipe)
        result = session.strategy.fit_paired(session.paired_features(), session.plan, session.settings(tuned), session.reporter)
        systems[PAIRED_REFERENCE] = Bridge(session.spec(tuned, result.projectors), result.projectors, session.mcrs)
    return systems
