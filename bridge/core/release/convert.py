"""Reading a released checkpoint into projectors whose forward pass is the release's, and saving it as a bridge.

The file is read with ``torch.load(weights_only=True)`` — the only place the
project reads a torch file, because that third-party format forces it; it
never unpickles code. Every problem is one line naming the file: not a state
dict, an unknown layout, a key missing or unexpected, a wrong shape, NaN.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from bridge.core.artifact import MemberRecord, SpaceSpec, write_directory
from bridge.core.projector import Projector
from bridge.core.projector_config import ProjectorConfig
from bridge.core.release.layouts import (
    BASE, EXMCR_OVERLAP, MEMBER_MODALITIES, TRAINED_WITH, HeadLayout, Layout, leaf_member, recognise,
)
from bridge.core.validation import format_error
from bridge.errors import BridgeError, quoted

OPTIONAL = ("num_batches_tracked",)
"""BatchNorm counters: absent from some dumps, irrelevant in eval mode (filled with 0)."""


@dataclass
class Release:
    """A released checkpoint, converted.

    Attributes:
        path: the checkpoint file.
        layout: its key layout.
        dims: member → the dimension of the embeddings it takes (every member, ``clip`` first).
        projectors: member → its projector, in eval mode (an Ex-MCR base has none).
        overlap: the modality the members were joined through.
        dim: the joint space's dimension.
        heads: the file's head prefix → member (``{"Head_A": "clap", ...}``), for the record.
        sha256: the file's content hash.
    """

    path: Path
    layout: Layout
    dims: dict[str, int]
    projectors: dict[str, Projector]
    overlap: str
    dim: int
    heads: dict[str, str] = field(default_factory=dict)
    sha256: str = ""


def read_release(path: str | Path, leaf: str | None = None) -> Release:
    """Read and convert a released checkpoint.

    Args:
        path: ``clap_clip.pt``, ``ulip_clip.pt``, ``ex_clap.pt``, ``ex_ulip.pt`` (or the older dump).
        leaf: for an Ex-MCR head, the member it extends (``clap`` or ``ulip``; default: from the file name).

    Raises:
        BridgeError: one line naming the file.
    """
    path = Path(path)
    state = _load_state(path)
    try:
        layout = recognise(state)
        leaf_name = leaf_member(leaf, path.name) if layout.strategy == "extend" else None
        projectors: dict[str, Projector] = {}
        heads: dict[str, str] = {}
        for head in layout.heads:
            member = head.member or leaf_name
            projectors[member] = _head(state, head, layout)
            heads[head.prefix.rstrip(".") or "Head1+Head2"] = member
        _no_strays(state, layout)
    except BridgeError as error:
        raise BridgeError(f"{path}: {error}") from None
    dims = {member: projector.input_dim for member, projector in projectors.items()}
    outputs = {projector.output_dim for projector in projectors.values()}
    if len(outputs) != 1:
        raise BridgeError(f"{path}: the heads project to different dimensions ({', '.join(map(str, sorted(outputs)))})")
    dim = outputs.pop()
    if layout.strategy == "extend":
        dims = {BASE: dim, **dims}  # the base is kept as it is: its embeddings are the joint space
        overlap = EXMCR_OVERLAP[leaf_name]
    else:
        dims = dict(sorted(dims.items(), key=lambda item: item[0] != BASE))  # clip first, as recipes name it
        overlap = layout.overlap
    return Release(path, layout, dims, projectors, overlap, dim, heads, hashlib.sha256(path.read_bytes()).hexdigest())


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise BridgeError(f"{path}: released checkpoint does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for foreign or corrupt files
        raise BridgeError(f"{path}: not a loadable torch state_dict ({type(error).__name__})") from error
    if not isinstance(state, dict) or not state:
        raise BridgeError(f"{path}: expected a state_dict (names → tensors), got {type(state).__name__ if state else 'an empty one'}")
    for key, value in state.items():
        if not isinstance(key, str):
            raise BridgeError(f"{path}: key {quoted(key)} is not a name")
        if not isinstance(value, torch.Tensor):
            raise BridgeError(f"{path}: {quoted(key)} is a {type(value).__name__}, expected a tensor")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise BridgeError(f"{path}: tensor {quoted(key)} holds NaN or infinite values")
    return state


def _matrix(own: dict[str, torch.Tensor], head: HeadLayout, key: str) -> tuple[int, int]:
    value = own.get(key)
    if value is None:
        raise BridgeError(f"{head.prefix}{key} is missing")
    if value.ndim != 2 or min(value.shape) < 1:
        raise BridgeError(f"{head.prefix}{key}: expected a 2-D weight matrix, got shape {list(value.shape)}")
    return int(value.shape[0]), int(value.shape[1])


def _config(own: dict[str, torch.Tensor], head: HeadLayout) -> tuple[ProjectorConfig, int]:
    """The head's projector configuration and input dimension, from its weights' shapes."""
    rows, input_dim = _matrix(own, head, head.first)
    try:
        if head.architecture == "mlp1":
            return ProjectorConfig(architecture="mlp1", output_dim=rows), input_dim
        second_rows, second_cols = _matrix(own, head, head.second)
        if head.architecture == "mlp2":  # first (hidden, in), second (out, hidden)
            return ProjectorConfig(architecture="mlp2", hidden_ratio=rows / input_dim, output_dim=second_rows), input_dim
        # exmcr: Head1 (out, in), Head2's first Linear (hidden, out)
        return ProjectorConfig(architecture="exmcr", hidden_ratio=second_rows / rows, output_dim=rows), input_dim
    except ValidationError as error:  # shapes no projector configuration allows (a hidden layer 100× the input)
        raise BridgeError(f"{head.prefix or 'the head'}: its shapes give an invalid projector ({format_error(error)})") from None


def _rename(key: str, renames: tuple[tuple[str, str], ...], forward: bool = True) -> str | None:
    for old, new in renames:
        source, target = (old, new) if forward else (new, old)
        if key.startswith(source):
            return target + key[len(source):]
    return None


def _head(state: dict[str, torch.Tensor], head: HeadLayout, layout: Layout) -> Projector:
    """One head as a :class:`Projector` (eval mode) holding exactly the release's tensors."""
    own = {key[len(head.prefix):]: value for key, value in state.items() if key.startswith(head.prefix)}
    config, input_dim = _config(own, head)
    with torch.device("meta"):  # shapes only, before anything is allocated
        expected = Projector(input_dim, config).state_dict()
    renamed: dict[str, torch.Tensor] = {}
    for key, value in own.items():
        ours = _rename(key, head.renames)
        if ours is None or ours not in expected:
            raise BridgeError(f"unexpected key {quoted(head.prefix + key)} in a {layout.description} head")
        if tuple(value.shape) != tuple(expected[ours].shape):
            raise BridgeError(f"{head.prefix}{key} has shape {list(value.shape)}, expected {list(expected[ours].shape)}")
        renamed[ours] = value
    for ours, template in expected.items():
        if ours not in renamed:
            if ours.endswith(OPTIONAL):
                renamed[ours] = torch.zeros((), dtype=template.dtype)
                continue
            raise BridgeError(f"{head.prefix}{_rename(ours, head.renames, forward=False)} is missing (a {layout.description} head has it)")
    projector = Projector(input_dim, config)
    projector.load_state_dict(renamed)
    return projector.eval()


def _no_strays(state: dict[str, torch.Tensor], layout: Layout) -> None:
    prefixes = tuple(head.prefix for head in layout.heads)
    stray = [key for key in state if not key.startswith(prefixes)]
    if stray and all(prefixes):
        raise BridgeError(f"unexpected key {quoted(stray[0])} in a {layout.description} checkpoint")


def unbound_record(member: str, dim: int) -> MemberRecord:
    """The record of a member no MCR is bound to yet: its projector works on precomputed features only."""
    return MemberRecord(
        plugin="", options={}, id=f"unbound: trained with {TRAINED_WITH[member]}", fingerprint="",
        modalities=list(MEMBER_MODALITIES[member]), dim=dim, projector=None,
    )


def release_spec(release: Release, records: dict[str, MemberRecord] | None = None, name: str | None = None) -> SpaceSpec:
    """The ``bridge.yaml`` of an imported release: each member bound to its record in ``records``, or unbound.

    Raises:
        BridgeError: a bound MCR does not fit its head (dimension, modalities).
    """
    members: dict[str, MemberRecord] = {}
    for member, dim in release.dims.items():
        record = (records or {}).get(member)
        if record is None:
            record = unbound_record(member, dim)
        elif record.dim != dim:
            raise BridgeError(
                f"member {quoted(member)}: MCR {quoted(record.id)} gives {record.dim}-d embeddings, but the release takes "
                f"{dim}-d ones (it was trained with {TRAINED_WITH[member]})"
            )
        lacking = [m for m in dict.fromkeys((*MEMBER_MODALITIES[member], release.overlap)) if m not in record.modalities]
        if lacking:
            raise BridgeError(f"member {quoted(member)}: MCR {quoted(record.id)} does not encode {quoted(lacking[0])}, which its head projects")
        projector = release.projectors.get(member)
        members[member] = record.model_copy(update={"projector": projector.config if projector is not None else None})
    try:
        return SpaceSpec(
            name=name or release.path.stem, strategy=release.layout.strategy, overlap=release.overlap, dim=release.dim,
            members=members,
        )
    except ValidationError as error:
        raise BridgeError(f"{release.path}: {format_error(error)}") from None


def write_release(
    release: Release, output: str | Path, records: dict[str, MemberRecord] | None = None, name: str | None = None
) -> Path:
    """Save ``release`` as a bridge directory (``bridge.yaml`` format 2, ``projectors.safetensors``, ``metrics.json``), atomically."""
    spec = release_spec(release, records, name)
    tensors = {
        f"{member}.{key}": value.detach().cpu().contiguous()
        for member, projector in release.projectors.items()
        for key, value in projector.state_dict().items()
    }
    imported: dict[str, Any] = {
        "checkpoint": str(release.path.absolute()), "sha256": release.sha256, "layout": release.layout.name, "heads": release.heads,
    }
    return write_directory(Path(output), spec, tensors, {"imported": imported})
