"""The recipe schema: which MCRs to join, by which strategy, on what data, evaluated how.

Every section is a pydantic model with field descriptions; ``docs/recipe.md``
is generated from them (a test keeps it in step). Unknown keys and wrong
types (``epochs: yes``, ``epochs: 2.5``) are errors naming the file, the key
path and what was expected. The sections that other layers own (projector,
enhancement, training, evaluation, sources) are their models, referred to here.

Older recipes keep working: ``mcr_a``/``mcr_b`` become the members ``a`` and
``b``, ``method: cmcr`` becomes ``strategy: connect``, ``training.device``
becomes the top-level ``device``, baseline ``oracle`` becomes ``paired_reference``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Strict, Tag, model_validator

from bridge.core.projector_config import ProjectorConfig
from bridge.core.validation import UNION_TAG, LaxPath
from bridge.data.decoding import DecodingSettings
from bridge.data.sources import SourceSpec
from bridge.errors import quoted
from bridge.evaluation.tasks import EvaluationConfig
from bridge.methods.config import EnhanceConfig, TrainingConfig

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,2})?)$")


def _checked_device(device: str) -> str:
    if not DEVICE_PATTERN.match(device):
        raise ValueError(f"expected auto, cpu, cuda, cuda:N or mps, got {quoted(device, 40)}")
    return device


DeviceName = Annotated[str, AfterValidator(_checked_device)]
"""A torch device as recipes name it: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
MEMBER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class MemberSpec(Section):
    """One member: which MCR to load (a registered plugin name and its options)."""

    plugin: str = Field(min_length=1, description="Registered MCR type (see `bridge plugins`), e.g. `synthworld-pixel`.")
    options: dict[str, Any] = Field(default_factory=dict, description="The MCR type's own options.")


def _one_or_list(value: Any) -> str:
    return f"{UNION_TAG}list" if isinstance(value, list) else f"{UNION_TAG}one"


OverlapSpec = Annotated[
    Union[
        Annotated[SourceSpec, Tag(f"{UNION_TAG}one")],
        Annotated[list[SourceSpec], Field(min_length=1), Tag(f"{UNION_TAG}list")],
    ],
    Discriminator(_one_or_list),
]
"""One source, or a list of sources read one after the other (ids prefixed by the source's position: ``0:17``)."""


class DataConfig(Section):
    """The unpaired data the space is learned from."""

    overlap: OverlapSpec = Field(
        description=(
            "Corpus of the overlapping modality (e.g. texts), encoded by every member: one source, or a list of "
            "sources concatenated (each item id prefixed by its source's position in the list, `0:17`, `1:17`, so ids stay unique)."
        )
    )
    memory: dict[str, SourceSpec] = Field(
        default_factory=dict,
        description="Unpaired memories of the non-overlapping modalities, keyed by modality (e.g. `image`, `audio`).",
    )
    skip_bad_items: bool = Field(
        False, description="Skip items that cannot be read or decoded (each one is counted and listed) instead of stopping."
    )
    decoding: DecodingSettings = Field(
        default_factory=DecodingSettings, description="Workers that decode files during extraction, and their time limit."
    )


class Recipe(Section):
    """A complete recipe for `bridge connect`."""

    name: str = Field(min_length=1, max_length=200, description="Name of the space.")
    strategy: str = Field("connect", min_length=1, description="Training strategy (see `bridge plugins`): `connect` is C-MCR.")
    members: dict[Annotated[str, Field(pattern=MEMBER_NAME)], MemberSpec] = Field(
        min_length=2,
        description="The MCRs to join, by a name you choose (letters, digits, `_`, `-`), in order. Older recipes: `mcr_a`/`mcr_b`.",
    )
    overlap: str = Field(min_length=1, description="The modality every member encodes, e.g. `text`.")
    data: DataConfig = Field(description="Unpaired training data.")
    enhance: EnhanceConfig = Field(default_factory=EnhanceConfig, description="Semantic enhancement.")
    projector: ProjectorConfig = Field(default_factory=ProjectorConfig, description="Projector architecture.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Training.")
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig, description="Evaluation.")
    device: DeviceName = Field(
        "auto", description="Torch device for consistency, training and evaluation: `auto` (CUDA when present), `cpu`, `cuda`, `cuda:N`, `mps`."
    )
    threads: Annotated[int, Strict()] | None = Field(
        None, ge=1, le=1024, description="Torch CPU threads (default: torch's own). On a busy 2-core machine 1 is often fastest."
    )
    output: LaxPath = Field(Path("runs/bridge"), description="Directory the space is saved to (relative to the recipe).")
    cache_dir: LaxPath | None = Field(
        None, description="Embedding cache folder (default: `$BRIDGE_CACHE` or `~/.cache/mcr-bridge`)."
    )

    @model_validator(mode="before")
    @classmethod
    def _older_recipes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "bridges" in data and "members" not in data:
            raise ValueError("bridges: this is a space recipe (it lists `bridges`); run it with `bridge compose`")
        if "method" in data:
            method = data.pop("method")
            if method != "cmcr":
                raise ValueError(f"method: {quoted(method, 40)} is not known; write `strategy:` (e.g. `strategy: connect`)")
            if "strategy" in data:
                raise ValueError("method: give `strategy` only (`method: cmcr` is its older spelling)")
            data["strategy"] = "connect"
        if "mcr_a" in data or "mcr_b" in data:
            if "members" in data:
                raise ValueError("mcr_a: give either `members` or `mcr_a`/`mcr_b`, not both")
            data["members"] = {role: data.pop(f"mcr_{role}") for role in ("a", "b") if f"mcr_{role}" in data}
            if len(data["members"]) != 2:
                raise ValueError("mcr_b: `mcr_a` and `mcr_b` go together (or use `members`)")
        training = data.get("training")
        if isinstance(training, dict) and "device" in training:
            training = dict(training)
            device = training.pop("device")
            data["training"] = training
            data.setdefault("device", device)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "Recipe":
        if self.overlap in self.data.memory:
            raise ValueError(f"data.memory: must not contain the overlap modality {quoted(self.overlap, 40)}")
        return self
