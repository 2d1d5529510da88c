"""The space recipe: bridges composed into one space (``bridge compose``), evaluated across their members.

A space recipe lists ``bridges``: each a saved bridge folder, or the bridge
recipe that trains it (``bridge compose`` trains the missing ones), or both.
The bridges are composed in order (:func:`bridge.compose`), so evaluation
tasks may pair modalities of different bridges (audio of one, point clouds
of another) that no training data ever paired. The ``paired_reference`` row
is projectors trained on true pairs of two of those modalities
(``evaluation.paired``), with this recipe's own settings for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, Strict, model_validator

from bridge.core.projector_config import ProjectorConfig
from bridge.core.validation import LaxPath
from bridge.data.sources import SourceSpec
from bridge.errors import quoted
from bridge.evaluation.tasks import EvaluationConfig
from bridge.methods.config import EnhanceConfig, TrainingConfig
from bridge.recipes.schema import MEMBER_NAME, DeviceName, Section

SPACE_BASELINES = ("chance", "paired_reference")


class BridgeRef(Section):
    """One bridge of the space: its saved folder, the bridge recipe that trains it, or both."""

    recipe: LaxPath | None = Field(
        None, description="The bridge recipe (relative to this recipe); `bridge compose` trains it when no bridge is saved at `path` yet."
    )
    path: LaxPath | None = Field(
        None, description="The saved bridge folder (relative to this recipe; default: the bridge recipe's own `output`)."
    )
    set: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Dotted-key overrides of the bridge recipe (as `--set`), e.g. `training.temperature: 0.1`: settings chosen for "
            "this space; needs `path`, so the variant is not saved over the recipe's own bridge."
        ),
    )

    @model_validator(mode="after")
    def _one_at_least(self) -> "BridgeRef":
        if self.recipe is None and self.path is None:
            raise ValueError("give `recipe:` (a bridge recipe), `path:` (a saved bridge folder) or both")
        if self.set and (self.recipe is None or self.path is None):
            raise ValueError("set: overrides a bridge recipe's settings: give `recipe:` and a `path:` of its own for the variant")
        return self


class AnchorSpec(Section):
    """Items of a shared MCR's modality, for a link between two bridges that both project it (two `connect` bridges)."""

    modality: str = Field(min_length=1, description="Modality of the items, e.g. `text`.")
    items: SourceSpec = Field(description="The items; the least-squares map between the two spaces is fitted on them.")


class PairedReferenceConfig(Section):
    """The paired reference: projectors trained on true pairs of `evaluation.paired`'s two modalities."""

    strategy: str = Field("connect", min_length=1, description="Strategy whose `fit_paired` trains it (`connect`: C-MCR's projectors).")
    enhance: EnhanceConfig = Field(
        default_factory=lambda: EnhanceConfig(consistency=False),
        description="Its noise (`noise`, `noise_sigma`); memories are not used.",
    )
    projector: ProjectorConfig = Field(default_factory=ProjectorConfig, description="Its projectors.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Its training schedule.")


class SpaceRecipe(Section):
    """A recipe for `bridge compose`: bridges composed into one space, evaluated across their members."""

    name: str = Field(min_length=1, max_length=200, description="Name of the space (its row in the results tables).")
    bridges: dict[Annotated[str, Field(pattern=MEMBER_NAME)], BridgeRef] = Field(
        min_length=2,
        description=(
            "The bridges, by a name you choose, in order: the first is the root (the space uses its coordinates); each "
            "other must share an MCR with an earlier one."
        ),
    )
    anchors: dict[str, AnchorSpec] = Field(
        default_factory=dict,
        description="For a link between two bridges that both project the shared MCR: that MCR's items, keyed by its id or member name.",
    )
    evaluation: EvaluationConfig = Field(
        default_factory=EvaluationConfig,
        description=(
            "Tasks over the space's modalities (task keys `query_via`, `target_via`, `prompt_via` name the space's members); "
            "baselines `chance` and `paired_reference` (which needs `paired`: two modalities, same ids)."
        ),
    )
    paired_reference: PairedReferenceConfig = Field(default_factory=PairedReferenceConfig, description="Settings of the paired reference.")
    device: DeviceName = Field("auto", description="Torch device for the paired reference and evaluation: `auto`, `cpu`, `cuda`, `cuda:N`, `mps`.")
    threads: Annotated[int, Strict()] | None = Field(None, ge=1, le=1024, description="Torch CPU threads (default: torch's own).")
    output: LaxPath = Field(Path("runs/space"), description="Directory the space is saved to (relative to the recipe).")
    cache_dir: LaxPath | None = Field(
        None, description="Embedding cache folder (default: `$BRIDGE_CACHE` or `~/.cache/mcr-bridge`)."
    )

    @model_validator(mode="before")
    @classmethod
    def _not_a_bridge_recipe(cls, data: Any) -> Any:
        if isinstance(data, dict) and "bridges" not in data and any(key in data for key in ("members", "mcr_a", "strategy")):
            raise ValueError("this is a bridge recipe (it has `members`); run it with `bridge connect`, or list `bridges:` to compose a space")
        return data

    @model_validator(mode="after")
    def _baselines(self) -> "SpaceRecipe":
        for index, baseline in enumerate(self.evaluation.baselines):
            if baseline not in SPACE_BASELINES:
                raise ValueError(
                    f"evaluation.baselines[{index}]: {quoted(baseline)} does not apply to a composed space "
                    f"(it has {', '.join(SPACE_BASELINES)})"
                )
        if "paired_reference" in self.evaluation.baselines and len(self.evaluation.paired or {}) != 2:
            raise ValueError("evaluation.paired: the paired_reference baseline needs true pairs of exactly two modalities (same ids)")
        if self.evaluation.paired_reference_settings:
            raise ValueError("evaluation.paired_reference_settings: a space recipe sets its reference in `paired_reference:`")
        return self


def is_space_recipe(data: Any) -> bool:
    """Whether parsed YAML is a space recipe (it lists ``bridges``) rather than a bridge recipe."""
    return isinstance(data, dict) and "bridges" in data
