"""The key layouts of the authors' released projector checkpoints, and which model each head projects.

The releases name heads by position, and a position means a different model
in each file (``Head_A`` projects CLAP in ``clap_clip.pt`` but CLIP in
``ulip_clip.pt``), so every layout maps its heads to member names explicitly:

| layout | file | keys | heads |
| --- | --- | --- | --- |
| ``cmcr-clap-clip`` | C-MCR ``clap_clip.pt`` | ``Head_X.net1.{0,1}.*``, ``Head_X.net2.{0,1}.*`` | ``Head_A`` → clap, ``Head_B`` → clip (``mlp2``) |
| ``cmcr-clap-clip-v0`` | its older dump | ``Head_X.mlp1.net1.{0,1}.*``, ``Head_X.mlp1.net2.{0,1}.*`` | the same |
| ``cmcr-ulip-clip`` | C-MCR ``ulip_clip.pt`` | ``Head_X.net.{0,1}.*`` | ``Head_A`` → clip, ``Head_B`` → ulip (``mlp1``) |
| ``exmcr`` | Ex-MCR ``ex_clap.pt``, ``ex_ulip.pt`` | ``Head1.*``, ``Head2.mlp{1,2}.net{1,2}.{0,1}.*`` | the leaf (clap or ulip) → clip's space (``exmcr``); clip is kept as it is |

Each head's tensors are renamed to this project's :class:`~bridge.core.projector.Projector`
state dict (``renames``); torch is not needed to read this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bridge.errors import BridgeError

BASE = "clip"
"""The member every release shares: C-MCR connects to it, Ex-MCR extends into its space."""

MEMBER_MODALITIES = {"clip": ("image", "text"), "clap": ("audio", "text"), "ulip": ("pointcloud", "image")}
"""What each member's MCR must encode: its projector is applied to these modalities."""

TRAINED_WITH = {
    "clip": "CLIP ViT-B/32 with OpenAI's weights (e.g. openclip: {model: ViT-B-32, pretrained: openai})",
    "clap": "LAION-CLAP HTSAT-tiny, fusion (e.g. laionclap: {checkpoint: 630k-fusion-best.pt, fusion: true})",
    "ulip": "ULIP-2 PointBERT (no plugin ships with mcr-bridge yet)",
}
"""The MCR each member of the releases was trained with, for members not bound yet."""

EXMCR_OVERLAP = {"clap": "text", "ulip": "image"}
"""The modality an Ex-MCR leaf was extended through."""

MLP2 = (("net1.0.", "net.0."), ("net1.1.", "net.1."), ("net2.0.", "net.3."), ("net2.1.", "net.4."))
MLP2_V0 = tuple((f"mlp1.{old}", new) for old, new in MLP2)
MLP1 = (("net.0.", "net.0."), ("net.1.", "net.1."))
EXMCR = (("Head1.", "net.Head1."), ("Head2.", "net.Head2."))


@dataclass(frozen=True)
class HeadLayout:
    """One head of a release.

    Attributes:
        prefix: the head's key prefix in the file (``Head_A.``; ``""``: the whole file is the head).
        member: the member it projects (``clap``, ``clip``, ``ulip``; ``None``: the Ex-MCR leaf, named by the caller).
        architecture: its :class:`~bridge.core.projector_config.ProjectorConfig` architecture.
        renames: (release key prefix, this project's key prefix) pairs, relative to ``prefix``.
        first: the release key of its first Linear weight, ``(hidden or out, in)``.
        second: the release key of the weight that fixes the hidden width (``mlp2``, ``exmcr``), ``(out, hidden)`` or ``(hidden, out)``.
    """

    prefix: str
    member: str | None
    architecture: str
    renames: tuple[tuple[str, str], ...]
    first: str
    second: str | None = None


@dataclass(frozen=True)
class Layout:
    """A release's key layout: what it is, how its heads map to members."""

    name: str
    description: str
    strategy: str
    overlap: str | None
    heads: tuple[HeadLayout, ...]


LAYOUTS = {
    "cmcr-clap-clip": Layout(
        "cmcr-clap-clip", "C-MCR clap_clip.pt", "connect", "text",
        (HeadLayout("Head_A.", "clap", "mlp2", MLP2, "net1.0.weight", "net2.0.weight"),
         HeadLayout("Head_B.", "clip", "mlp2", MLP2, "net1.0.weight", "net2.0.weight")),
    ),
    "cmcr-clap-clip-v0": Layout(
        "cmcr-clap-clip-v0", "C-MCR clap_clip.pt (older dump, Head_X.mlp1.*)", "connect", "text",
        (HeadLayout("Head_A.", "clap", "mlp2", MLP2_V0, "mlp1.net1.0.weight", "mlp1.net2.0.weight"),
         HeadLayout("Head_B.", "clip", "mlp2", MLP2_V0, "mlp1.net1.0.weight", "mlp1.net2.0.weight")),
    ),
    "cmcr-ulip-clip": Layout(
        "cmcr-ulip-clip", "C-MCR ulip_clip.pt", "connect", "image",
        (HeadLayout("Head_A.", "clip", "mlp1", MLP1, "net.0.weight"),
         HeadLayout("Head_B.", "ulip", "mlp1", MLP1, "net.0.weight")),
    ),
    "exmcr": Layout(
        "exmcr", "Ex-MCR head (ex_clap.pt, ex_ulip.pt)", "extend", None,
        (HeadLayout("", None, "exmcr", EXMCR, "Head1.weight", "Head2.mlp1.net1.0.weight"),),
    ),
}

KNOWN = (
    "Head_A.net1.*/Head_B.net1.* (C-MCR clap_clip.pt), Head_A.mlp1.net1.* (its older dump), "
    "Head_A.net.*/Head_B.net.* (C-MCR ulip_clip.pt) or Head1.*/Head2.* (Ex-MCR ex_clap.pt, ex_ulip.pt)"
)


def recognise(keys: Iterable[str]) -> Layout:
    """The layout a checkpoint's keys follow.

    Raises:
        BridgeError: the keys follow none of the known layouts (names a few of them).
    """
    keys = list(keys)
    has = lambda prefix: any(key.startswith(prefix) for key in keys)  # noqa: E731
    if has("Head1.") or has("Head2."):
        return LAYOUTS["exmcr"]
    for name, prefix in (("cmcr-clap-clip", "net1."), ("cmcr-clap-clip-v0", "mlp1."), ("cmcr-ulip-clip", "net.")):
        if has(f"Head_A.{prefix}") or has(f"Head_B.{prefix}"):
            return LAYOUTS[name]
    shown = ", ".join(repr(key)[:60] for key in keys[:4]) or "no keys"
    raise BridgeError(f"not a released C-MCR or Ex-MCR checkpoint: expected the keys {KNOWN}; found {shown}")


def leaf_member(leaf: str | None, file_name: str) -> str:
    """The member an Ex-MCR head extends: ``leaf`` if given, else from the file name (``ex_clap.pt`` → ``clap``).

    Raises:
        BridgeError: neither says which.
    """
    if leaf is not None:
        if leaf not in EXMCR_OVERLAP:
            raise BridgeError(f"--leaf: expected {' or '.join(EXMCR_OVERLAP)}, got {leaf!r}")
        return leaf
    found = [name for name in EXMCR_OVERLAP if name in file_name.lower()]
    if len(found) != 1:
        raise BridgeError(
            "an Ex-MCR head does not say which model it extends and its file name does not either: "
            f"give --leaf {' or --leaf '.join(EXMCR_OVERLAP)} (ex_clap.pt extends CLAP, ex_ulip.pt ULIP)"
        )
    return found[0]
