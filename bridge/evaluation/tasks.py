"""What is evaluated: retrieval and zero-shot tasks, reference rows and their settings.

These models belong to the evaluation layer; the recipe schema refers to them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bridge.data.sources import SourceSpec

Baseline = Literal["chance", "untrained", "text_pivot", "paired_reference"]
BASELINE_ALIASES = {"oracle": "paired_reference"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RetrievalTask(_Section):
    """Zero-shot retrieval between two modalities of the joint space, both directions."""

    name: str = Field(min_length=1, max_length=200, description="Name shown in tables and metrics.json.")
    query_modality: str = Field(description="Modality of the queries, e.g. `audio`.")
    query: SourceSpec = Field(description="Query items.")
    target_modality: str = Field(description="Modality of the targets, e.g. `image`.")
    target: SourceSpec = Field(description="Target items.")
    relevance: Literal["id", "label"] = Field("id", description="A target is relevant when its id (or label) equals the query's.")
    query_via: str | None = Field(
        None, description="Member that embeds the queries (default: every member that encodes `query_modality`, averaged)."
    )
    target_via: str | None = Field(
        None, description="Member that embeds the targets (default: every member that encodes `target_modality`, averaged)."
    )


class ZeroShotTask(_Section):
    """Zero-shot classification of labelled items against text prompts."""

    name: str = Field(min_length=1, max_length=200, description="Name shown in tables and metrics.json.")
    modality: str = Field(description="Modality of the items to classify.")
    items: SourceSpec = Field(description="Labelled items.")
    prompt_modality: str = Field("text", description="Modality of the prompts.")
    prompts: list[str] = Field(["{}"], min_length=1, description="Prompt templates; `{}` becomes the class name. Embeddings are averaged.")
    classes: list[str] | None = Field(None, min_length=1, description="Class names (default: the sorted labels of the items).")
    prompt_via: str | None = Field(
        None, description="Member that embeds the prompts (default: the first member that does not encode `modality`)."
    )


class PivotConfig(_Section):
    """The training-free text-pivot baseline: X -> best class prompt in its member -> the same class's prompt in the other -> Y."""

    classes: list[str] | None = Field(None, min_length=1, description="Class names (default: the sorted labels of the queries).")
    templates: dict[str, list[str]] = Field(
        default_factory=dict, description="Prompt templates per member name; `{}` becomes the class name (default `['{}']`)."
    )
    templates_a: list[str] | None = Field(None, description="Templates of the first member (older recipes).")
    templates_b: list[str] | None = Field(None, description="Templates of the second member (older recipes).")

    def templates_for(self, member: str, position: int) -> list[str]:
        """The templates of ``member``, the ``position``-th member of the recipe."""
        if member in self.templates:
            return self.templates[member]
        legacy = self.templates_a if position == 0 else self.templates_b if position == 1 else None
        return legacy or ["{}"]


class EvaluationConfig(_Section):
    """What `bridge connect` and `bridge eval` measure."""

    retrieval: list[RetrievalTask] = Field(default_factory=list, description="Test retrieval tasks (reported).")
    zeroshot: list[ZeroShotTask] = Field(default_factory=list, description="Test zero-shot classification tasks (reported).")
    validation: list[RetrievalTask] = Field(
        default_factory=list,
        description="Validation retrieval tasks: what `bridge ablate` and sweeps choose settings on (never the test tasks).",
    )
    baselines: list[Baseline] = Field(
        default_factory=list,
        description=(
            "Reference rows for the results table: `chance`, an `untrained` projector, the training-free "
            "`text_pivot` (see `pivot`), and a `paired_reference` trained on true pairs with the same projectors and "
            "budget (needs `paired`; `oracle` is accepted as its old name)."
        ),
    )
    pivot: PivotConfig = Field(default_factory=PivotConfig, description="Settings of the `text_pivot` baseline.")
    paired_reference_settings: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Dotted-key overrides (e.g. `enhance.noise_sigma: 0.04`) for the paired reference only: the settings "
            "`bridge ablate` chose for it on the validation task, so it gets the same tuning budget as the strategy."
        ),
    )
    geometry: bool | dict[str, SourceSpec] = Field(
        False,
        description=(
            "Add a geometry report (modality gap, matched and within-modality cosines) for every member's own space and "
            "the joint space: `true` measures the evaluation sources and the overlap corpus; or give sources by modality "
            "(sources that share ids give the matched cosine)."
        ),
    )
    paired: dict[str, SourceSpec] | None = Field(
        None,
        description="True pairs of the members' non-overlapping modalities (same ids), keyed by modality; only `paired_reference` uses them.",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("baselines"), list):
            data = {**data, "baselines": [BASELINE_ALIASES.get(b, b) if isinstance(b, str) else b for b in data["baselines"]]}
        return data

    @model_validator(mode="after")
    def _unique_names(self) -> "EvaluationConfig":
        for kind, tasks in (("retrieval", self.retrieval), ("zeroshot", self.zeroshot), ("validation", self.validation)):
            names = [task.name for task in tasks]
            for index, name in enumerate(names):
                if name in names[:index]:
                    raise ValueError(f"{kind}[{index}].name: {name[:60]!r} is used twice")
        return self
