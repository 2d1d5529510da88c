"""The saved-space format: ``bridge.yaml`` + ``projectors.safetensors`` + ``metrics.json``.

``bridge.yaml`` (:class:`SpaceSpec`, ``format_version: 2``) records any number
of named *members*: an MCR (how to load it again, its id and weights
fingerprint) and the configuration of its projector, or ``null`` for a member
whose embeddings are used as they are (an ``extend`` base).
``projectors.safetensors`` holds each projector's tensors under
``<member>.<parameter>``. Format 1 (two roles ``a``/``b``, one shared
projector configuration) is read and converted.

Writing is atomic: the files go to a hidden sibling folder that is renamed
into place, so an interrupted save never leaves a half-written bridge.
Reading never unpickles anything, and every inconsistency (garbage weights,
wrong or missing tensors, a tampered ``bridge.yaml``) is one line naming the file.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from bridge.core.projector_config import ProjectorConfig
from bridge.core.validation import format_error
from bridge.core.yaml_io import require_writable_parent, read_yaml, shown
from bridge.errors import BridgeError, quoted

FORMAT_VERSION = 2
SPEC_FILE = "bridge.yaml"
WEIGHTS_FILE = "projectors.safetensors"
METRICS_FILE = "metrics.json"
OWN_FILES = (SPEC_FILE, WEIGHTS_FILE, METRICS_FILE)

MemberName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
"""Member names key safetensors prefixes: letters, digits, ``_`` and ``-``, at most 64."""


class MemberRecord(BaseModel):
    """One member of a saved space: how to load its MCR again, what it was, and its projector."""

    model_config = ConfigDict(extra="forbid", strict=True)

    plugin: str = Field(description="Registered MCR type; empty for a member no MCR is bound to yet (an imported release, `bridge import`).")
    options: dict[str, Any] = Field(default_factory=dict, description="Its options (paths absolute).")
    id: str = Field(description="The MCR's id.")
    fingerprint: str = Field(description="Weights fingerprint at training time.")
    modalities: list[str] = Field(min_length=1, description="Modalities it encodes.")
    dim: int = Field(gt=0, le=65536, description="Its embedding dimension.")
    projector: ProjectorConfig | None = Field(
        description="Its projector into the joint space, or null: its embeddings are the joint space (an `extend` base)."
    )


class SpaceSpec(BaseModel):
    """The content of ``bridge.yaml``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format_version: Literal[2] = Field(2, description="Bridge directory format.")
    name: str = Field(description="Name of the space.")
    strategy: str = Field(description="The strategy that trained it, e.g. `connect` (C-MCR).")
    overlap: str | None = Field(None, description="The modality the members were joined through.")
    dim: int = Field(gt=0, le=65536, description="Dimension of the joint space.")
    members: dict[MemberName, MemberRecord] = Field(min_length=1, description="The members by name.")
    recipe: dict[str, Any] = Field(default_factory=dict, description="The resolved recipe it was trained from.")
    recipe_dir: str | None = Field(None, description="Folder the recipe's relative paths resolve against.")
    versions: dict[str, str] = Field(default_factory=dict, description="Package versions at training time.")

    @model_validator(mode="after")
    def _consistent(self) -> "SpaceSpec":
        for name, member in self.members.items():
            out = member.projector.output_dim if member.projector is not None else member.dim
            if out != self.dim:
                raise ValueError(f"members.{name}: maps to dimension {out}, but the space has dim {self.dim}")
        if self.overlap is not None:
            missing = [name for name, member in self.members.items() if self.overlap not in member.modalities]
            if missing:
                raise ValueError(f"members.{missing[0]}: does not encode the overlap modality {self.overlap!r}")
        return self


def _from_format_1(data: dict[str, Any]) -> dict[str, Any]:
    """A format-1 ``bridge.yaml`` (roles ``a``/``b``, one projector config) as format 2."""
    data = dict(data)
    projector = data.pop("projector", None)
    mcrs = data.pop("mcrs", None)
    if not isinstance(mcrs, dict) or not isinstance(projector, dict):
        raise BridgeError("format 1 needs the keys `mcrs` and `projector`")
    method = data.pop("method", "cmcr")
    data.pop("format_version", None)
    members = {role: {**record, "projector": projector} for role, record in mcrs.items() if isinstance(record, dict)}
    return {
        "format_version": 2,
        "strategy": "connect" if method == "cmcr" else method,
        "dim": projector.get("output_dim", 512),
        "members": members,
        **data,
    }


def read_spec(directory: Path) -> SpaceSpec:
    """``bridge.yaml`` of a saved space, validated (format 1 converted)."""
    path = directory / SPEC_FILE
    if not directory.is_dir():
        raise BridgeError(f"{directory}: not a bridge directory (no such folder)")
    if not path.exists():
        raise BridgeError(f"{directory}: not a bridge directory (no {SPEC_FILE})")
    data = read_yaml(path, "bridge file")
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise BridgeError(f"{path}: expected a mapping of keys (format_version, name, members, ...), got {got}")
    version = data.get("format_version", 1)
    if type(version) is not int:  # `true` is not format 1
        raise BridgeError(f"{path}: format_version {quoted(version)} is not a version number (1 or 2)")
    if version == 1:
        try:
            data = _from_format_1(data)
        except BridgeError as error:
            raise BridgeError(f"{path}: {error}") from None
    elif version != FORMAT_VERSION:
        raise BridgeError(f"{path}: format_version {quoted(version)} is not one this version reads (1 or 2); upgrade mcr-bridge")
    try:
        return SpaceSpec.model_validate(data)
    except ValidationError as error:
        raise BridgeError(f"{path}: {format_error(error)}") from error


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and a rename."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_metrics(directory: Path, metrics: dict[str, Any]) -> None:
    write_text_atomic(Path(directory) / METRICS_FILE, json.dumps(metrics, indent=2, sort_keys=False) + "\n")


def read_metrics(directory: Path) -> dict[str, Any]:
    path = Path(directory) / METRICS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BridgeError(f"{path}: not valid JSON ({type(error).__name__}); delete it or run `bridge eval` again") from error
    return data if isinstance(data, dict) else {}


def check_output_dir(directory: Path, what: str = "output") -> None:
    """Raise unless ``directory`` can become a bridge directory: absent, empty, or a bridge already; parents writable.

    Called before any expensive work, so a bad output path fails in seconds.
    """
    directory = Path(directory)
    where = f"{what} {shown(directory)}"
    try:
        if directory.exists() or directory.is_symlink():
            if not directory.is_dir():
                raise BridgeError(f"{where}: exists and is not a folder")
            if any(directory.iterdir()) and not (directory / SPEC_FILE).exists():
                raise BridgeError(f"{where}: folder exists, is not empty and is not a bridge; choose another path")
        require_writable_parent(directory, where)
        if directory.exists() and not os.access(directory.parent, os.W_OK | os.X_OK):
            raise BridgeError(f"{where}: {shown(directory.parent)} is not writable")
    except OSError as error:
        raise BridgeError(f"{where}: {error.strerror or type(error).__name__}") from error


def write_directory(directory: Path, spec: SpaceSpec, tensors: dict[str, Any], metrics: dict[str, Any] | None) -> Path:
    """Write a bridge directory atomically.

    The files are written to a hidden sibling folder; entries of an existing
    bridge there that are not its own files (an ``ablation/`` folder, notes)
    are moved across; then the folders are swapped by renames.

    Args:
        tensors: ``<member>.<parameter>`` → CPU tensor.
    """
    from bridge.core.safetensors_io import save_tensors

    directory = Path(directory)
    check_output_dir(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staging = directory.with_name(f".{directory.name}.saving-{token}")
    retired = directory.with_name(f".{directory.name}.replaced-{token}")
    staging.mkdir()
    carried: list[str] = []
    try:
        save_tensors(tensors, staging / WEIGHTS_FILE, metadata={"format": "mcr-bridge", "name": spec.name[:200]})
        if metrics is not None:
            (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        import yaml

        (staging / SPEC_FILE).write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
        if directory.exists():
            for entry in directory.iterdir():
                if entry.name not in OWN_FILES:
                    os.replace(entry, staging / entry.name)
                    carried.append(entry.name)
            os.replace(directory, retired)
        os.replace(staging, directory)
    except BaseException:
        if retired.exists() and not directory.exists():
            os.replace(retired, directory)
        for name in carried:  # give back what was carried across
            if (staging / name).exists() and directory.is_dir():
                os.replace(staging / name, directory / name)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return directory
