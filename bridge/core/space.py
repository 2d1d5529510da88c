"""A saved joint space (a *bridge*): named members, each an MCR and an optional projector.

``Bridge.load(path).embed("audio", [...])`` loads the MCR of the member that
encodes audio through its plugin (checking its weights fingerprint), encodes
and projects into the joint space. A modality several members encode (the
overlap, e.g. text) is embedded through each of them and averaged, or
through one member with ``via=``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from bridge.core.joint import JointEmbedding
from bridge.core.artifact import SPEC_FILE, WEIGHTS_FILE, SpaceSpec, read_spec, write_directory
from bridge.core.mcr import MCR, Modality
from bridge.core.projector import Projector
from bridge.errors import BridgeError, quoted

MCRLoader = Callable[[str, dict[str, Any], str], MCR]
"""``(plugin name, options, where) -> MCR``: how a member's MCR is loaded (``Registry.load_mcr``)."""


class Bridge(JointEmbedding):
    """Members (MCRs) and their projectors into one joint space of dimension ``spec.dim``.

    Args:
        spec: what the space holds (see :class:`~bridge.core.artifact.SpaceSpec`).
        projectors: member name → projector; members whose spec has no projector are absent.
        mcrs: already-loaded MCRs by member name (others load on first use through ``mcr_loader``).
        mcr_loader: loads a member's MCR; default: the installed plugins' registry.
    """

    def __init__(
        self,
        spec: SpaceSpec,
        projectors: dict[str, Projector],
        mcrs: dict[str, MCR] | None = None,
        mcr_loader: MCRLoader | None = None,
    ):
        expected = {name for name, member in spec.members.items() if member.projector is not None}
        if set(projectors) != expected:
            raise BridgeError(f"space {quoted(spec.name)}: projectors for {sorted(expected)} expected, got {sorted(projectors)}")
        self.spec = spec
        self.projectors = {name: projector.eval() for name, projector in projectors.items()}
        self._mcrs: dict[str, MCR] = dict(mcrs or {})
        self._mcr_loader = mcr_loader
        self.device = torch.device("cpu")
        self.check_fingerprints = True

    # ----- structure -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        """Dimension of the joint space."""
        return self.spec.dim

    @property
    def members(self) -> list[str]:
        return list(self.spec.members)

    @property
    def modalities(self) -> list[Modality]:
        """Every modality the joint space holds."""
        found: list[str] = []
        for member in self.spec.members.values():
            found += [m for m in member.modalities if m not in found]
        return found

    def members_for(self, modality: Modality) -> list[str]:
        """The members whose MCR encodes ``modality``."""
        names = [name for name, member in self.spec.members.items() if modality in member.modalities]
        if not names:
            raise BridgeError(f"space {quoted(self.spec.name)} has no modality {quoted(modality)}; it has {', '.join(self.modalities)}")
        return names

    def mcr(self, member: str) -> MCR:
        """MCR of ``member``, loaded through its plugin on first use (its fingerprint is checked)."""
        if member not in self.spec.members:
            raise BridgeError(f"space {quoted(self.spec.name)} has no member {quoted(member)}; it has {', '.join(self.members)}")
        if member not in self._mcrs:
            record = self.spec.members[member]
            if not record.plugin:  # an imported release whose member no MCR was bound to
                raise BridgeError(
                    f"member {quoted(member)} of space {quoted(self.spec.name)} is bound to no MCR ({record.id}); bind it with "
                    f"`bridge import CHECKPOINT -o DIR --member {member}=PLUGIN:OPTIONS.yaml`, or pass features to embed_features"
                )
            loader = self._mcr_loader or _default_loader()
            mcr = loader(record.plugin, record.options, f"{SPEC_FILE} members.{member}")
            if self.check_fingerprints and mcr.fingerprint != record.fingerprint:
                raise BridgeError(
                    f"MCR {quoted(record.id)} now has weights fingerprint {quoted(mcr.fingerprint)}, but the space was trained with "
                    f"{quoted(record.fingerprint)}; retrain it or load it with check_fingerprints=False"
                )
            self._mcrs[member] = mcr.to(self.device)
        return self._mcrs[member]

    def to(self, device: str | torch.device) -> "Bridge":
        self.device = torch.device(device)
        for projector in self.projectors.values():
            projector.to(self.device)
        for mcr in self._mcrs.values():
            mcr.to(self.device)
        return self

    # ----- embedding -------------------------------------------------------------------------
    def project(self, member: str, features: torch.Tensor) -> torch.Tensor:
        """MCR features ``(N, D_member)`` → joint-space embeddings ``(N, dim)``, rows L2-normalised."""
        features = torch.as_tensor(features, dtype=torch.float32)
        expected = self.spec.members[member].dim
        if features.ndim != 2 or features.shape[1] != expected:
            raise BridgeError(f"member {quoted(member)}: features of shape (N, {expected}) expected, got {tuple(features.shape)}")
        if member not in self.projectors:  # the member's own space (an `extend` base): its embeddings bit for bit
            return _unit_rows(features).to(self.device)
        features = F.normalize(features, dim=-1).to(self.device)
        with torch.no_grad():
            return self.projectors[member](features)

    def encode(self, member: str, modality: Modality, items: Sequence[Any], batch_size: int | None = None) -> torch.Tensor:
        """Raw items through the MCR of ``member`` (no projection) → ``(N, D_member)``."""
        mcr = self.mcr(member)
        mcr.check_modality(modality)
        size = batch_size or mcr.batch_size(modality)
        batches = []
        for start in range(0, len(items), size):
            prepared = [mcr.prepare(modality, item) for item in items[start : start + size]]
            with torch.inference_mode():
                batches.append(mcr.encode(modality, prepared).float())
        if not batches:
            return torch.empty(0, mcr.dim)
        return torch.cat(batches)

    # ----- persistence -----------------------------------------------------------------------
    def tensors(self) -> dict[str, torch.Tensor]:
        """Every projector tensor as ``<member>.<parameter>`` (CPU, contiguous)."""
        return {
            f"{member}.{key}": value.detach().cpu().contiguous()
            for member, projector in self.projectors.items()
            for key, value in projector.state_dict().items()
        }

    def save(self, directory: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``bridge.yaml``, ``projectors.safetensors`` (and ``metrics.json`` if given), atomically."""
        return write_directory(Path(directory), self.spec, self.tensors(), metrics)

    @classmethod
    def load(
        cls,
        directory: str | Path,
        device: str | torch.device = "cpu",
        check_fingerprints: bool = True,
        mcr_loader: MCRLoader | None = None,
    ) -> "Bridge":
        """Load a saved bridge directory (safetensors + YAML only; nothing is unpickled)."""
        directory = Path(directory)
        spec = read_spec(directory)
        projectors = load_projectors(directory / WEIGHTS_FILE, spec)
        bridge = cls(spec, projectors, mcr_loader=mcr_loader)
        bridge.check_fingerprints = check_fingerprints
        return bridge.to(device)


def load_projectors(path: Path, spec: SpaceSpec) -> dict[str, Projector]:
    """The members' projectors from ``projectors.safetensors``, checked against ``spec``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if path.is_dir() or not path.exists():
        raise BridgeError(f"{path}: {'a folder' if path.is_dir() else 'missing'}; a bridge directory needs the file {WEIGHTS_FILE}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise BridgeError(f"{path}: not a readable safetensors file ({str(error).splitlines()[0][:120]})") from error
    projectors: dict[str, Projector] = {}
    used: set[str] = set()
    for member, record in spec.members.items():
        if record.projector is None:
            continue
        with torch.device("meta"):  # shapes only: a tampered bridge.yaml must not allocate terabytes
            expected = Projector(record.dim, record.projector).state_dict()
        prefix = f"{member}."
        state = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
        used |= {prefix + key for key in state}
        for key, value in state.items():
            if key in expected and (value.shape != expected[key].shape or value.dtype != expected[key].dtype):
                raise BridgeError(
                    f"{path}: tensor {quoted(prefix + key)} has shape {tuple(value.shape)} {value.dtype}, "
                    f"{SPEC_FILE} implies {tuple(expected[key].shape)} {expected[key].dtype}"
                )
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise BridgeError(f"{path}: tensor {quoted(prefix + key)} holds NaN or infinite values")
        missing = sorted(set(expected) - set(state))
        if missing:
            raise BridgeError(f"{path}: member {quoted(member)} lacks tensor {quoted(prefix + missing[0])} that {SPEC_FILE} implies")
        unexpected = sorted(set(state) - set(expected))
        if unexpected:
            raise BridgeError(f"{path}: unexpected tensor {quoted(prefix + unexpected[0])} for member {quoted(member)}")
        projector = Projector(record.dim, record.projector)  # as large as the file's tensors, now checked
        projector.load_state_dict(state)
        projectors[member] = projector.eval()
    stray = sorted(set(tensors) - used)
    if stray:
        raise BridgeError(f"{path}: tensor {quoted(stray[0])} belongs to no member of {SPEC_FILE}")
    return projectors


def _default_loader() -> MCRLoader:
    from bridge.core.registry import Registry

    return Registry.from_environment().load_mcr


def _unit_rows(features: torch.Tensor) -> torch.Tensor:
    """``features`` unchanged when every row is already unit (the MCR contract), else L2-normalised."""
    norms = features.norm(dim=-1)
    if features.shape[0] and bool(((norms - 1).abs() <= 1e-5).all()):
        return features
    return F.normalize(features, dim=-1)
