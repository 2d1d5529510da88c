"""The bridge artifact: a saved connection between two MCRs, and its Python API.

A bridge directory holds:

- ``bridge.yaml`` — the MCRs (plugin, options, id, fingerprint), the overlap
  modality, the projector configuration, the resolved recipe, package versions;
- ``projectors.safetensors`` — the weights of both projectors (``a.*``, ``b.*``);
- ``metrics.json`` — the evaluation results.

Loading never unpickles anything. ``Bridge.load(path).embed("audio", [...])``
loads the needed MCR through its plugin, encodes and projects into the joint space.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from bridge.errors import BridgeError
from bridge.mcr import MCR, Modality
from bridge.projector import Projector
from bridge.recipe import ProjectorConfig, format_error

ROLES = ("a", "b")
SPEC_FILE = "bridge.yaml"
WEIGHTS_FILE = "projectors.safetensors"
METRICS_FILE = "metrics.json"


class MCRRecord(BaseModel):
    """How to load one of the bridge's MCRs again, and what it was."""

    model_config = ConfigDict(extra="forbid")

    plugin: str = Field(description="Registered MCR type.")
    options: dict[str, Any] = Field(default_factory=dict, description="Its options (paths absolute).")
    id: str = Field(description="The MCR's id.")
    fingerprint: str = Field(description="Weights fingerprint at training time.")
    modalities: list[str] = Field(description="Modalities it encodes.")
    dim: int = Field(description="Its embedding dimension.")


class BridgeSpec(BaseModel):
    """The content of ``bridge.yaml``."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = Field(1, description="Bridge directory format.")
    name: str = Field(description="Bridge name.")
    method: str = Field(description="Connection method.")
    overlap: str = Field(description="The shared modality.")
    mcrs: dict[str, MCRRecord] = Field(description="The MCRs by role (`a`, `b`).")
    projector: ProjectorConfig = Field(description="Projector configuration.")
    recipe: dict[str, Any] = Field(default_factory=dict, description="The resolved recipe it was trained from.")
    recipe_dir: str | None = Field(None, description="Folder the recipe's relative paths resolve against.")
    versions: dict[str, str] = Field(default_factory=dict, description="Package versions at training time.")


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for package in ("mcr-bridge", "numpy", "pydantic"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return versions


class Bridge:
    """Two MCRs and their projectors into one joint space.

    Args:
        spec: what the bridge connects (see :class:`BridgeSpec`).
        projectors: ``{"a": Projector, "b": Projector}``.
        mcrs: already-loaded MCRs by role (others load lazily through their plugins).
    """

    def __init__(self, spec: BridgeSpec, projectors: dict[str, Projector], mcrs: dict[str, MCR] | None = None):
        self.spec = spec
        self.projectors = {role: projector.eval() for role, projector in projectors.items()}
        self._mcrs: dict[str, MCR] = dict(mcrs or {})
        self.device = torch.device("cpu")
        self.check_fingerprints = True

    # ----- structure -------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Dimension of the joint space."""
        return self.spec.projector.output_dim

    @property
    def modalities(self) -> list[Modality]:
        """Every modality the joint space holds."""
        found: list[str] = []
        for record in self.spec.mcrs.values():
            found += [m for m in record.modalities if m not in found]
        return found

    def roles_for(self, modality: Modality) -> list[str]:
        """The roles (``a``/``b``) whose MCR encodes ``modality``."""
        roles = [role for role in ROLES if modality in self.spec.mcrs[role].modalities]
        if not roles:
            raise BridgeError(f"bridge {self.spec.name!r} has no modality {modality!r}; it has {', '.join(self.modalities)}")
        return roles

    def mcr(self, role: str) -> MCR:
        """MCR of ``role``, loaded through its plugin on first use (its fingerprint is checked)."""
        if role not in self._mcrs:
            from bridge.plugins import load_mcr

            record = self.spec.mcrs[role]
            mcr = load_mcr(record.plugin, record.options, where=f"{SPEC_FILE} mcrs.{role}")
            if self.check_fingerprints and mcr.fingerprint != record.fingerprint:
                raise BridgeError(
                    f"MCR {record.id!r} now has weights fingerprint {mcr.fingerprint}, but the bridge was trained with "
                    f"{record.fingerprint}; retrain the bridge or load it with check_fingerprints=False"
                )
            self._mcrs[role] = mcr.to(self.device)
        return self._mcrs[role]

    def to(self, device: str | torch.device) -> "Bridge":
        self.device = torch.device(device)
        for projector in self.projectors.values():
            projector.to(self.device)
        for mcr in self._mcrs.values():
            mcr.to(self.device)
        return self

    # ----- embedding -------------------------------------------------------------------------
    def project(self, role: str, features: torch.Tensor) -> torch.Tensor:
        """MCR features ``(N, D_role)`` → joint-space embeddings ``(N, d)``, rows L2-normalised."""
        features = F.normalize(torch.as_tensor(features, dtype=torch.float32), dim=-1).to(self.device)
        with torch.no_grad():
            return self.projectors[role](features)

    def encode(self, role: str, modality: Modality, items: Sequence[Any], batch_size: int | None = None) -> torch.Tensor:
        """Raw items through the MCR of ``role`` (no projection) → ``(N, D_role)``."""
        mcr = self.mcr(role)
        mcr.check_modality(modality)
        size = batch_size or mcr.batch_size(modality)
        batches = []
        for start in range(0, len(items), size):
            prepared = [mcr.prepare(modality, item) for item in items[start : start + size]]
            batches.append(mcr.encode(modality, prepared).float())
        if not batches:
            return torch.empty(0, mcr.dim)
        return torch.cat(batches)

    def embed(self, modality: Modality, items: Sequence[Any], via: str | None = None) -> torch.Tensor:
        """Embed raw items (file paths, texts, arrays) into the joint space.

        Args:
            modality: e.g. ``"audio"``.
            items: what the MCR's ``prepare`` accepts.
            via: for a modality both MCRs encode (the overlap): ``"a"``, ``"b"``, or ``None``
                for the normalised mean of both sides.

        Returns:
            ``(N, d)`` float32, rows L2-normalised.
        """
        roles = self._choose_roles(modality, via)
        projected = [self.project(role, self.encode(role, modality, list(items))) for role in roles]
        return _mean_direction(projected)

    def embed_features(self, modality: Modality, features: dict[str, torch.Tensor], via: str | None = None) -> torch.Tensor:
        """Like :meth:`embed` from precomputed MCR features ``{role: (N, D_role)}``."""
        roles = self._choose_roles(modality, via)
        missing = [role for role in roles if role not in features]
        if missing:
            raise BridgeError(f"features of {modality!r} through MCR {missing[0]!r} are needed")
        return _mean_direction([self.project(role, features[role]) for role in roles])

    def _choose_roles(self, modality: Modality, via: str | None) -> list[str]:
        roles = self.roles_for(modality)
        if via is None:
            return roles
        if via not in roles:
            raise BridgeError(f"{modality!r} cannot be embedded via {via!r}; it is encoded by {', '.join(roles)}")
        return [via]

    @staticmethod
    def similarity(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """Cosine similarities ``(N_left, N_right)`` of joint-space embeddings."""
        return F.normalize(left, dim=-1) @ F.normalize(right, dim=-1).T

    # ----- persistence -----------------------------------------------------------------------
    def save(self, directory: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``bridge.yaml``, ``projectors.safetensors`` (and ``metrics.json`` if given)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for role, projector in self.projectors.items():
            tensors.update({f"{role}.{k}": v.detach().cpu().contiguous() for k, v in projector.state_dict().items()})
        save_file(tensors, str(directory / WEIGHTS_FILE), metadata={"format": "mcr-bridge", "name": self.spec.name})
        (directory / SPEC_FILE).write_text(yaml.safe_dump(self.spec.model_dump(mode="json"), sort_keys=False))
        if metrics is not None:
            write_metrics(directory, metrics)
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu", check_fingerprints: bool = True) -> "Bridge":
        """Load a saved bridge directory (safetensors + YAML only; nothing is unpickled)."""
        directory = Path(directory)
        spec = read_spec(directory)
        weights_path = directory / WEIGHTS_FILE
        if not weights_path.exists():
            raise BridgeError(f"{weights_path}: missing; a bridge directory needs {WEIGHTS_FILE}")
        tensors = load_file(str(weights_path))
        projectors = {}
        for role in ROLES:
            projector = Projector(spec.mcrs[role].dim, spec.projector)
            state = {key[len(role) + 1 :]: value for key, value in tensors.items() if key.startswith(f"{role}.")}
            try:
                projector.load_state_dict(state)
            except RuntimeError as error:
                first = str(error).splitlines()[0]
                raise BridgeError(f"{weights_path}: projector {role!r} does not match {SPEC_FILE} ({first})") from error
            projectors[role] = projector
        bridge = cls(spec, projectors)
        bridge.check_fingerprints = check_fingerprints
        return bridge.to(device)


def _mean_direction(embeddings: list[torch.Tensor]) -> torch.Tensor:
    if len(embeddings) == 1:
        return embeddings[0]
    return F.normalize(torch.stack(embeddings).mean(dim=0), dim=-1)


def read_spec(directory: Path) -> BridgeSpec:
    path = directory / SPEC_FILE
    if not path.exists():
        raise BridgeError(f"{directory}: not a bridge directory (no {SPEC_FILE})")
    from bridge.recipe import read_yaml

    data = read_yaml(path)
    try:
        return BridgeSpec.model_validate(data)
    except ValidationError as error:
        raise BridgeError(f"{path}: {format_error(error)}") from error


def write_metrics(directory: Path, metrics: dict[str, Any]) -> None:
    (Path(directory) / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=False) + "\n")


def read_metrics(directory: Path) -> dict[str, Any]:
    path = Path(directory) / METRICS_FILE
    return json.loads(path.read_text()) if path.exists() else {}
