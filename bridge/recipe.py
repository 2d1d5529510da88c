"""Recipes: the YAML that says which two MCRs to connect, on what data, and how.

Every section is a pydantic model with field descriptions; ``docs/recipe.md``
is generated from them (a test keeps it in step). Unknown keys and wrong
types are errors naming the file, the key path and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bridge.errors import BridgeError
from bridge.sources import SourceSpec


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MCRSpec(Section):
    """Which MCR to load: a registered plugin name and its options."""

    plugin: str = Field(description="Registered MCR type (see `bridge plugins`), e.g. `synthworld-pixel`.")
    options: dict[str, Any] = Field(default_factory=dict, description="The MCR type's own options.")


class DataConfig(Section):
    """The unpaired data the connection is learned from."""

    overlap: SourceSpec = Field(description="Corpus of the overlapping modality (e.g. texts), encoded by both MCRs.")
    memory: dict[str, SourceSpec] = Field(
        description="One unpaired memory per non-overlapping modality, keyed by modality (e.g. `image`, `audio`)."
    )
    skip_bad_items: bool = Field(
        False, description="Skip items that cannot be read or decoded (each one is counted and listed) instead of stopping."
    )


class EnhanceConfig(Section):
    """Semantic enhancement of the features before training (C-MCR section 3)."""

    consistency: bool = Field(True, description="Build pseudo embeddings of the non-overlapping modalities from the memories.")
    memory_temperature: float = Field(0.01, gt=0, description="Softmax temperature tau_mem of the memory aggregation.")
    noise: bool = Field(True, description="Add semantic-completion noise to every projector input during training.")
    noise_sigma: float = Field(0.04, ge=0, description="Standard deviation of the Gaussian noise per coordinate.")
    chunk_size: int = Field(8192, gt=0, description="Memory rows per chunk of the streamed (online) softmax.")
    query_chunk_size: int = Field(4096, gt=0, description="Query rows processed together by the streamed softmax.")


class ProjectorConfig(Section):
    """The projectors that map each MCR's space into the joint space."""

    architecture: Literal["mlp2", "mlp1", "linear"] = Field(
        "mlp2",
        description=(
            "`mlp2`: Linear-BN-ReLU-Linear-BN (released CLIP-CLAP); `mlp1`: Linear-BN-ReLU "
            "(released CLIP-ULIP); `linear`: one Linear layer."
        ),
    )
    hidden_ratio: float = Field(2.0, gt=0, description="Hidden width of `mlp2` as a multiple of the input dimension.")
    output_dim: int = Field(512, gt=0, description="Dimension of the joint space.")
    init: Literal["default", "orthogonal"] = Field("default", description="Weight initialisation of the Linear layers.")


class TrainingConfig(Section):
    """Projector training."""

    epochs: int = Field(20, gt=0, description="Passes over the overlap corpus.")
    batch_size: int = Field(1024, gt=1, description="Overlap items per step (the InfoNCE negatives).")
    optimizer: Literal["adamw", "adam", "sgd"] = Field("adamw", description="Optimiser.")
    lr: float = Field(1e-3, gt=0, description="Learning rate.")
    weight_decay: float = Field(1e-4, ge=0, description="Weight decay.")
    temperature: float = Field(0.02, gt=0, description="InfoNCE temperature tau.")
    intra_weight: float = Field(0.1, ge=0, description="lambda: weight of the intra-MCR loss.")
    pseudo_pair_loss: bool = Field(True, description="Use the inter-MCR loss on the pseudo pairs (x_i, y_i).")
    seed: int = Field(0, description="Seed of initialisation, shuffling and noise.")
    device: str = Field("cpu", description="Torch device for training, e.g. `cpu` or `cuda`.")


class RetrievalTask(Section):
    """Zero-shot retrieval between two modalities of the joint space, both directions."""

    name: str = Field(description="Name shown in tables and metrics.json.")
    query_modality: str = Field(description="Modality of the queries, e.g. `audio`.")
    query: SourceSpec = Field(description="Query items.")
    target_modality: str = Field(description="Modality of the targets, e.g. `image`.")
    target: SourceSpec = Field(description="Target items.")
    relevance: Literal["id", "label"] = Field("id", description="A target is relevant when its id (or label) equals the query's.")


class ZeroShotTask(Section):
    """Zero-shot classification of labelled items against text prompts."""

    name: str = Field(description="Name shown in tables and metrics.json.")
    modality: str = Field(description="Modality of the items to classify.")
    items: SourceSpec = Field(description="Labelled items.")
    prompt_modality: str = Field("text", description="Modality of the prompts.")
    prompts: list[str] = Field(["{}"], description="Prompt templates; `{}` becomes the class name. Embeddings are averaged.")
    classes: list[str] | None = Field(None, description="Class names (default: the sorted labels of the items).")
    prompt_via: str | None = Field(
        None, description="Embed prompts through `a` or `b` (default: the MCR that does not encode `modality`, else `a`)."
    )


class PivotConfig(Section):
    """The training-free text-pivot baseline: X -> best class prompt in A -> the same class's prompt in B -> Y."""

    classes: list[str] | None = Field(None, description="Class names (default: the sorted labels of the queries).")
    templates_a: list[str] = Field(["{}"], description="Prompt templates for MCR A; `{}` becomes the class name.")
    templates_b: list[str] = Field(["{}"], description="Prompt templates for MCR B.")


class EvaluationConfig(Section):
    """What `bridge connect` and `bridge eval` measure."""

    retrieval: list[RetrievalTask] = Field(default_factory=list, description="Retrieval tasks.")
    zeroshot: list[ZeroShotTask] = Field(default_factory=list, description="Zero-shot classification tasks.")
    baselines: list[Literal["chance", "untrained", "text_pivot", "oracle"]] = Field(
        default_factory=list,
        description=(
            "Reference rows for the results table: `chance`, an `untrained` projector, the training-free "
            "`text_pivot` (see `pivot`), and an `oracle` trained on true pairs (needs `paired`)."
        ),
    )
    pivot: PivotConfig = Field(default_factory=PivotConfig, description="Settings of the `text_pivot` baseline.")
    paired: dict[str, SourceSpec] | None = Field(
        None,
        description="True pairs of the two non-overlapping modalities (same ids), keyed by modality; only the `oracle` baseline uses them.",
    )


class Recipe(Section):
    """A complete recipe for `bridge connect`."""

    name: str = Field(description="Name of the bridge.")
    method: Literal["cmcr"] = Field("cmcr", description="Connection method (`cmcr`; `exmcr` is planned).")
    mcr_a: MCRSpec = Field(description="First MCR (its non-overlapping modality is X).")
    mcr_b: MCRSpec = Field(description="Second MCR (its non-overlapping modality is Y).")
    overlap: str = Field(description="The modality both MCRs encode, e.g. `text`.")
    data: DataConfig = Field(description="Unpaired training data.")
    enhance: EnhanceConfig = Field(default_factory=EnhanceConfig, description="Semantic enhancement.")
    projector: ProjectorConfig = Field(default_factory=ProjectorConfig, description="Projector architecture.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Training.")
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig, description="Evaluation.")
    output: Path = Field(Path("runs/bridge"), description="Directory the bridge is saved to (relative to the recipe).")
    cache_dir: Path | None = Field(
        None, description="Embedding cache folder (default: `$BRIDGE_CACHE` or `~/.cache/mcr-bridge`)."
    )

    @model_validator(mode="after")
    def _memory_is_not_overlap(self) -> "Recipe":
        if self.overlap in self.data.memory:
            raise ValueError(f"data.memory must not contain the overlap modality {self.overlap!r}")
        return self


def format_error(error: ValidationError, prefix: str = "") -> str:
    """Pydantic's first problem as ``key.path: what was expected`` (the path under ``prefix``, if given)."""
    first = error.errors()[0]
    parts = [prefix, *(str(part) for part in first["loc"] if not str(part).startswith("function-"))]
    path = ".".join(part for part in parts if part)
    kind = first["type"]
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = first["msg"]
        if first.get("input") is not None and kind not in ("value_error", "source_kind"):
            message += f", got {first['input']!r}"
    message = message.replace("Value error, ", "")
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path or '<top level>'}: {message}{suffix}"


def parse_recipe(data: Any, where: str) -> Recipe:
    """Validate already-parsed YAML; errors name ``where``."""
    if not isinstance(data, dict):
        raise BridgeError(f"{where}: a recipe must be a mapping of keys, got {type(data).__name__}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise BridgeError(f"{where}: {format_error(error)}") from error


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error names the file and line."""
    if not path.exists():
        raise BridgeError(f"{path}: file does not exist")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise BridgeError(f"{path}{line}: invalid YAML ({problem})") from error


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[Recipe, Path]:
    """Read and validate a recipe file.

    Args:
        path: the YAML file.
        overrides: dotted keys to set before validation, e.g.
            ``{"training.seed": 3}``.

    Returns:
        The recipe and the folder relative paths resolve against.
    """
    path = Path(path)
    data = read_yaml(path)
    if overrides and isinstance(data, dict):
        data = apply_overrides(data, overrides)
    return parse_recipe(data, str(path)), path.resolve().parent


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with dotted-key overrides applied (``a.b.c: value``)."""
    import copy

    result = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node = result
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise BridgeError(f"override {dotted!r}: {key!r} is not a mapping")
        node[leaf] = value
    return result
