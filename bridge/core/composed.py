"""Spaces composed of saved bridges that share MCRs: one space for many modalities.

``bridge.compose([wave_into_pixel, cloud_into_pixel])`` gives one
:class:`Space` where audio, point clouds, images and text all compare. The
first bridge is the *root*: the space uses its coordinates. Every other
bridge is attached, in order, to an already-attached one with which it
shares an MCR (same id; the weights fingerprints must agree), and its joint
space is carried into that bridge's space through the shared MCR:

- ``identity``: the shared MCR has no projector in either bridge (two ``extend``
  bridges with the same base: the space is simply the union of their members);
- ``projector``: the MCR has no projector in the attached bridge, so that
  bridge's space *is* the MCR's space, and the parent's projector of that MCR
  carries it exactly (an ``extend`` bridge into a ``connect`` bridge);
- ``fitted``: the MCR has a projector in both (two ``connect`` bridges): a
  least-squares map, fitted on the shared MCR's features passed as ``anchors``.

A space is saved as a folder: ``space.yaml`` (the bridges by path, relative
for the copies kept inside the folder, and the links) and
``links.safetensors`` (the fitted maps). ``bridge eval SPACE --recipe R``
evaluates it like a bridge.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from bridge.core.artifact import MemberRecord, write_metrics
from bridge.core.joint import JointEmbedding
from bridge.core.linear_map import fit_linear_map, linear_projector
from bridge.core.mcr import MCR, Modality
from bridge.core.projector import Projector
from bridge.core.space import Bridge, MCRLoader
from bridge.core.space_file import LINKS_FILE, SPACE_FILE, LinkRecord, SpaceFile
from bridge.core.validation import format_error
from bridge.core.yaml_io import read_yaml
from bridge.errors import BridgeError, quoted

Anchors = Mapping[str, "torch.Tensor | tuple[str, Sequence[Any]]"]
"""Shared MCR (its id, or its member name in the attached bridge) → its features ``(N, D)`` or ``(modality, items)``."""


@dataclass(frozen=True)
class Route:
    """Where a space member's embeddings come from: member ``member`` of bridge ``bridge``."""

    bridge: str
    member: str


@dataclass
class SpaceSpec:
    """What evaluation reads of a space (a bridge's spec has more): its name, no single overlap."""

    name: str
    strategy: str = "space"
    overlap: str | None = None


class Space(JointEmbedding):
    """Bridges composed into one space; embeds like a :class:`~bridge.core.space.Bridge`.

    Build one with :func:`compose` or :meth:`Space.load`.

    Attributes:
        bridges: name → bridge, the root first.
        links: every non-root bridge → how its space joins its parent's.
        routes: space member name → (bridge, member). An MCR held by several bridges is one member,
            embedded through the bridge nearest the root; members of different MCRs with the same
            name are called ``<bridge>/<member>``.
    """

    def __init__(self, name: str, bridges: dict[str, Bridge], links: dict[str, LinkRecord], fitted: dict[str, Projector],
                 paths: dict[str, Path] | None = None, recipe: dict[str, Any] | None = None, recipe_dir: str | None = None):
        self.spec = SpaceSpec(name=name)
        self.recipe, self.recipe_dir = recipe, recipe_dir  # the space recipe it was composed from (`bridge compose`), if any
        self.bridges = bridges
        self.links = links
        self.fitted = {key: projector.eval() for key, projector in fitted.items()}
        self.paths = dict(paths or {})
        self.routes: dict[str, Route] = {}
        seen: dict[tuple[str, str], str] = {}
        for bridge_name in self._order():
            for member, record in bridges[bridge_name].spec.members.items():
                if (record.id, record.fingerprint) in seen:
                    continue
                name = member if member not in self.routes else f"{bridge_name}/{member}"
                seen[(record.id, record.fingerprint)] = name
                self.routes[name] = Route(bridge_name, member)

    def _order(self) -> list[str]:
        """Bridges nearest the root first (the root, then attachment order)."""
        return list(self.bridges)

    # ----- structure (the interface evaluation uses) ----------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def root(self) -> str:
        return next(iter(self.bridges))

    @property
    def dim(self) -> int:
        return self.bridges[self.root].dim

    @property
    def members(self) -> list[str]:
        return list(self.routes)

    @property
    def modalities(self) -> list[Modality]:
        """Every modality the space holds."""
        found: list[str] = []
        for route in self.routes.values():
            found += [m for m in self.bridges[route.bridge].spec.members[route.member].modalities if m not in found]
        return found

    def members_for(self, modality: Modality) -> list[str]:
        names = [name for name, route in self.routes.items()
                 if modality in self.bridges[route.bridge].spec.members[route.member].modalities]
        if not names:
            raise BridgeError(f"space {quoted(self.name)} has no modality {quoted(modality)}; it has {', '.join(self.modalities)}")
        return names

    def _route(self, member: str) -> Route:
        if member not in self.routes:
            raise BridgeError(f"space {quoted(self.name)} has no member {quoted(member)}; it has {', '.join(self.members)}")
        return self.routes[member]

    def record(self, member: str) -> MemberRecord:
        """What the bridge that embeds ``member`` records of it (plugin, options, id, fingerprint, modalities)."""
        route = self._route(member)
        return self.bridges[route.bridge].spec.members[route.member]

    def mcr(self, member: str) -> MCR:
        route = self._route(member)
        return self.bridges[route.bridge].mcr(route.member)

    def to(self, device: str | torch.device) -> "Space":
        for bridge in self.bridges.values():
            bridge.to(device)
        for projector in self.fitted.values():
            projector.to(device)
        return self

    # ----- embedding ------------------------------------------------------------------------
    def carry(self, bridge: str, embeddings: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(N, d_bridge)`` of ``bridge``'s joint space → the root's ``(N, dim)``, rows L2-normalised."""
        while bridge != self.root:
            link = self.links[bridge]
            parent = self.bridges[link.parent]
            if link.kind == "fitted":
                with torch.no_grad():
                    embeddings = self.fitted[bridge](embeddings)
            elif link.kind == "projector":
                embeddings = parent.project(_member_of(parent, link.through), embeddings)
            bridge = link.parent
        return embeddings

    def project(self, member: str, features: torch.Tensor) -> torch.Tensor:
        """MCR features ``(N, D_member)`` → the space ``(N, dim)``."""
        route = self._route(member)
        return self.carry(route.bridge, self.bridges[route.bridge].project(route.member, features))

    def encode(self, member: str, modality: Modality, items: Sequence[Any], batch_size: int | None = None) -> torch.Tensor:
        """Raw items through the MCR of ``member`` (no projection) → ``(N, D_member)``."""
        route = self._route(member)
        return self.bridges[route.bridge].encode(route.member, modality, items, batch_size)


    # ----- persistence ----------------------------------------------------------------------
    def save(self, directory: str | Path, copy: bool = False, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``space.yaml`` and ``links.safetensors`` (and ``metrics.json`` if given), atomically.

        Bridges loaded from a folder are referenced by absolute path; the others (or all, with
        ``copy``) are saved inside the space folder under ``bridges/<name>`` and referenced relatively.
        """
        import yaml
        from bridge.core.safetensors_io import save_tensors

        directory = Path(directory).resolve()
        if directory.exists() and (not directory.is_dir() or (any(directory.iterdir()) and not (directory / SPACE_FILE).exists())):
            raise BridgeError(f"{directory}: exists and is not a space folder; choose another path")
        token = uuid.uuid4().hex[:8]
        staging = directory.with_name(f".{directory.name}.saving-{token}")
        staging.mkdir(parents=True)
        try:
            paths: dict[str, str] = {}
            for name, bridge in self.bridges.items():
                if copy or name not in self.paths:
                    bridge.save(staging / "bridges" / name)
                    paths[name] = f"bridges/{name}"
                else:
                    paths[name] = str(self.paths[name].resolve())
            record = SpaceFile(name=self.name, bridges=paths, links=self.links, recipe=self.recipe, recipe_dir=self.recipe_dir)
            (staging / SPACE_FILE).write_text(yaml.safe_dump(record.model_dump(mode="json", exclude_none=True), sort_keys=False), encoding="utf-8")
            if metrics is not None:
                write_metrics(staging, metrics)
            tensors = {f"{bridge}.{key}": value.detach().cpu().contiguous()
                       for bridge, projector in self.fitted.items() for key, value in projector.state_dict().items()}
            save_tensors(tensors, staging / LINKS_FILE, metadata={"format": "mcr-bridge-space"})
            retired = directory.with_name(f".{directory.name}.replaced-{token}")
            if directory.exists():
                os.replace(directory, retired)
            os.replace(staging, directory)
            shutil.rmtree(retired, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu", check_fingerprints: bool = True,
             mcr_loader: MCRLoader | None = None) -> "Space":
        """Load a space folder: its bridges (from their paths), its links and fitted maps."""
        from safetensors.torch import load_file

        directory = Path(directory)
        path = directory / SPACE_FILE
        if not path.is_file():
            raise BridgeError(f"{directory}: not a space folder (no {SPACE_FILE})")
        try:
            record = SpaceFile.model_validate(read_yaml(path, "space file"))
        except ValidationError as error:
            raise BridgeError(f"{path}: {format_error(error)}") from error
        paths = {name: (directory / where) if not Path(where).is_absolute() else Path(where) for name, where in record.bridges.items()}
        bridges = {name: Bridge.load(where, check_fingerprints=check_fingerprints, mcr_loader=mcr_loader) for name, where in paths.items()}
        links = _attach(bridges)
        for name, link in links.items():  # a hand-written space.yaml may leave the links out: they follow from the bridges
            saved = record.links.get(name)
            if saved is not None and saved != link:
                raise BridgeError(f"{path}: links.{name} says {quoted(saved.model_dump())}, its bridges imply {quoted(link.model_dump())}")
        tensors = load_file(str(directory / LINKS_FILE)) if (directory / LINKS_FILE).is_file() else {}
        fitted = {}
        for name, link in links.items():
            if link.kind == "fitted":
                weight, bias = tensors.get(f"{name}.net.0.weight"), tensors.get(f"{name}.net.0.bias")
                if weight is None or bias is None:
                    raise BridgeError(
                        f"{directory / LINKS_FILE}: the fitted map of bridge {quoted(name)} is missing; "
                        "build the space with bridge.compose(..., anchors=...) and save it"
                    )
                fitted[name] = linear_projector(weight.T, bias)
        external = {name: where for name, where in paths.items() if Path(record.bridges[name]).is_absolute()}
        return cls(record.name, bridges, links, fitted, external, record.recipe, record.recipe_dir).to(device)


def compose(
    bridges: Sequence[Bridge | str | Path] | Mapping[str, Bridge | str | Path],
    anchors: Anchors | None = None,
    name: str = "space",
) -> Space:
    """Compose bridges that share MCRs into one :class:`Space` (the first bridge is the root).

    Args:
        bridges: bridges or bridge folders, as a list (named by their spaces' names) or a dict name → bridge.
        anchors: for a link between two bridges that both project the shared MCR: that MCR's features
            ``(N, D)`` (or ``(modality, items)`` to encode), keyed by its id or member name.

    Raises:
        BridgeError: a bridge shares no MCR with the others, shares one with a different weights
            fingerprint, or needs anchors that were not given.
    """
    named = dict(bridges) if isinstance(bridges, Mapping) else _names(bridges)
    if not named:
        raise BridgeError("compose: give at least one bridge")
    loaded = {key: value if isinstance(value, Bridge) else Bridge.load(value) for key, value in named.items()}
    paths = {key: Path(value) for key, value in named.items() if not isinstance(value, Bridge)}
    links = _attach(loaded)
    order = [next(iter(loaded)), *links]
    loaded = {key: loaded[key] for key in order}
    fitted = {key: _fit_link(key, link, loaded, anchors or {}) for key, link in links.items() if link.kind == "fitted"}
    return Space(name, loaded, links, fitted, paths)


def attachments(bridges: Mapping[str, Bridge]) -> dict[str, LinkRecord]:
    """How :func:`compose` would attach ``bridges`` (every bridge but the first → its link), without composing them."""
    return _attach(dict(bridges))


def _names(bridges: Sequence[Bridge | str | Path]) -> dict[str, Bridge | str | Path]:
    named: dict[str, Bridge | str | Path] = {}
    for value in bridges:
        base = value.name if isinstance(value, Bridge) else Path(value).name
        key, count = base, 1
        while key in named:
            count += 1
            key = f"{base}-{count}"
        named[key] = value
    return named


def _member_of(bridge: Bridge, mcr_id: str) -> str:
    return next(member for member, record in bridge.spec.members.items() if record.id == mcr_id)


def _attach(bridges: dict[str, Bridge]) -> dict[str, LinkRecord]:
    """Link every bridge but the first to an earlier-attached one through a shared MCR (checked fingerprints)."""
    held = {name: {r.id: r.fingerprint for r in bridge.spec.members.values()} for name, bridge in bridges.items()}
    names = list(bridges)
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            for mcr_id in held[first].keys() & held[second].keys():
                if held[first][mcr_id] != held[second][mcr_id]:
                    raise BridgeError(
                        f"bridges {quoted(first)} and {quoted(second)} both hold MCR {quoted(mcr_id)} but with different weights "
                        f"fingerprints ({quoted(held[first][mcr_id], 24)} and {quoted(held[second][mcr_id], 24)}); retrain one on the same weights"
                    )
    attached, links = [names[0]], {}
    pending = names[1:]
    while pending:
        for name in pending:
            parent = next((p for p in attached if held[p].keys() & held[name].keys()), None)
            if parent is not None:
                break
        else:
            name = pending[0]
            raise BridgeError(
                f"bridge {quoted(name)} shares no MCR with {', '.join(quoted(p) for p in attached)} "
                f"(it holds {', '.join(sorted(held[name]))}; they hold {', '.join(sorted({i for p in attached for i in held[p]}))})"
            )
        mcr_id = sorted(held[parent].keys() & held[name].keys())[0]
        own = bridges[name].projectors.get(_member_of(bridges[name], mcr_id))
        theirs = bridges[parent].projectors.get(_member_of(bridges[parent], mcr_id))
        kind = "fitted" if own is not None else "identity" if theirs is None else "projector"
        links[name] = LinkRecord(parent=parent, through=mcr_id, kind=kind)
        attached.append(name)
        pending.remove(name)
    return links


def _fit_link(name: str, link: LinkRecord, bridges: dict[str, Bridge], anchors: Anchors) -> Projector:
    """Least-squares map from ``name``'s space to its parent's, fitted on the shared MCR's anchor features."""
    child, parent = bridges[name], bridges[link.parent]
    member = _member_of(child, link.through)
    given = anchors.get(link.through, anchors.get(member))
    if given is None:
        raise BridgeError(
            f"bridge {quoted(name)} joins {quoted(link.parent)} through MCR {quoted(link.through)}, which both project: "
            f"compose(..., anchors={{{link.through!r}: features}}) needs that MCR's features (N, D) to fit the map"
        )
    features = child.encode(member, given[0], list(given[1])) if isinstance(given, tuple) else torch.as_tensor(given, dtype=torch.float32)
    source = child.project(member, features)
    target = parent.project(_member_of(parent, link.through), features)
    return linear_projector(*fit_linear_map(source, target, "least_squares"))
