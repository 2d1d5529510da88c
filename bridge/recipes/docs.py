"""Generate the recipe reference (docs/recipe.md) from the pydantic models.

Run ``python -m bridge.recipes.docs > docs/recipe.md``; a test fails when the
file and the models disagree.
"""

from __future__ import annotations

import typing
from pathlib import PurePath

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from bridge.core.projector_config import ProjectorConfig
from bridge.data import sources
from bridge.evaluation import tasks
from bridge.methods.config import EnhanceConfig, TrainingConfig
from bridge.recipes import schema, space_schema

HEADER = """# Recipe reference

A recipe is a YAML file that `bridge connect` runs; a *space recipe* (it lists `bridges`,
sections at the end) is one that `bridge compose` runs. Unknown keys and wrong types are
errors naming the file and the key path. Relative paths resolve against the recipe's
folder. This page is generated from the models in `bridge/recipes/schema.py` and the
models it refers to (`python -m bridge.recipes.docs > docs/recipe.md`); a test keeps it
in step. Types are strict: `epochs: yes` or `epochs: 2.5` is an error, not 1 or 2.

A **source** (`data.overlap`, `data.memory.*`, evaluation items) is one of the
source kinds below, chosen by which key it has.
"""


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        names = [_type_name(arg) for arg in typing.get_args(annotation)]
        if all(name.endswith("Source") for name in names if name != "null"):
            return "source"
        return " or ".join(names)
    if origin in (list, tuple):
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if origin is dict:
        return f"mapping to {_type_name(typing.get_args(annotation)[1])}"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        return "see section" if isinstance(value, BaseModel) else f"`{value!r}`"
    if field.default is PydanticUndefined:
        return "required"
    value = field.default
    return f"`{value}`" if isinstance(value, PurePath) else f"`{value!r}`"


def model_section(model: type[BaseModel], key: str) -> str:
    lines = [f"## `{key}`", "", (model.__doc__ or "").strip(), "", "| key | type | default | description |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {description} |")
    return "\n".join(lines) + "\n"


SECTIONS: list[tuple[type[BaseModel], str]] = [
    (schema.Recipe, "(top level)"),
    (schema.MemberSpec, "members.<name>"),
    (schema.DataConfig, "data"),
    (EnhanceConfig, "enhance"),
    (ProjectorConfig, "projector"),
    (TrainingConfig, "training"),
    (tasks.EvaluationConfig, "evaluation"),
    (tasks.RetrievalTask, "evaluation.retrieval[] / evaluation.validation[]"),
    (tasks.ZeroShotTask, "evaluation.zeroshot[]"),
    (tasks.PivotConfig, "evaluation.pivot"),
    (sources.LinesSource, "source: lines"),
    (sources.FolderSource, "source: folder"),
    (sources.ManifestSource, "source: manifest"),
    (sources.PluginSource, "source: plugin"),
    (space_schema.SpaceRecipe, "(top level of a space recipe)"),
    (space_schema.BridgeRef, "bridges.<name>"),
    (space_schema.AnchorSpec, "anchors.<mcr>"),
    (space_schema.PairedReferenceConfig, "paired_reference"),
]


def render() -> str:
    """The whole reference as Markdown."""
    return HEADER + "\n" + "\n".join(model_section(model, key) for model, key in SECTIONS)


if __name__ == "__main__":
    print(render(), end="")
