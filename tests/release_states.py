"""State dicts shaped like the authors' released projector checkpoints, and their forward passes written out by hand.

Key names follow the authors' modules: C-MCR ``MLP`` (``net1`` = Linear-BN-ReLU,
``net2`` = Linear-BN) under ``Head_A.``/``Head_B.`` (``clap_clip.pt``; the older
dump nests it under ``mlp1.``), ``MLP_Half`` (``net`` = Linear-BN-ReLU,
``ulip_clip.pt``), and the Ex-MCR head (``Head1`` Linear, then ``Head2.mlp1``,
``Head2.mlp2``). Weights and BatchNorm statistics are random, so eval-mode
BatchNorm matters.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

D, H = 512, 1024


def linear_state(state: dict, prefix: str, rows: int, cols: int, generator: torch.Generator) -> None:
    state[f"{prefix}weight"] = torch.randn(rows, cols, generator=generator) / cols**0.5
    state[f"{prefix}bias"] = torch.randn(rows, generator=generator) * 0.1


def norm_state(state: dict, prefix: str, size: int, generator: torch.Generator) -> None:
    state[f"{prefix}weight"] = 1 + 0.2 * torch.randn(size, generator=generator)
    state[f"{prefix}bias"] = 0.1 * torch.randn(size, generator=generator)
    state[f"{prefix}running_mean"] = 0.05 * torch.randn(size, generator=generator)
    state[f"{prefix}running_var"] = 0.5 + torch.rand(size, generator=generator)
    state[f"{prefix}num_batches_tracked"] = torch.tensor(1000)


def mlp_state(prefix: str, dim: int, hidden: int, seed: int) -> dict:
    """One C-MCR ``MLP`` (``net1`` = Linear-BN-ReLU, ``net2`` = Linear-BN) under ``prefix``, random weights and statistics."""
    generator = torch.Generator().manual_seed(seed)
    state: dict = {}
    linear_state(state, f"{prefix}net1.0.", hidden, dim, generator)
    norm_state(state, f"{prefix}net1.1.", hidden, generator)
    linear_state(state, f"{prefix}net2.0.", dim, hidden, generator)
    norm_state(state, f"{prefix}net2.1.", dim, generator)
    return state


def clap_clip_state(older: bool = False) -> dict:
    inner = "mlp1." if older else ""
    return {**mlp_state(f"Head_A.{inner}", D, H, 1), **mlp_state(f"Head_B.{inner}", D, H, 2)}


def exmcr_state(seed: int = 3) -> dict:
    generator = torch.Generator().manual_seed(seed)
    state: dict = {}
    linear_state(state, "Head1.", D, D, generator)
    state["Head1.weight"] += torch.eye(D)  # identity-initialised, then trained
    return {**state, **mlp_state("Head2.mlp1.", D, H, seed + 1), **mlp_state("Head2.mlp2.", D, H, seed + 2)}


# ----- the releases' forward passes, by hand ------------------------------------------------------


def _block(state: dict, prefix: str, x: torch.Tensor) -> torch.Tensor:
    """Linear → BatchNorm1d in eval mode (``prefix`` + ``0.`` / ``1.``)."""
    x = F.linear(x, state[f"{prefix}0.weight"], state[f"{prefix}0.bias"])
    return F.batch_norm(
        x, state[f"{prefix}1.running_mean"], state[f"{prefix}1.running_var"], state[f"{prefix}1.weight"],
        state[f"{prefix}1.bias"], training=False, eps=1e-5,
    )


def release_mlp(state: dict, prefix: str, x: torch.Tensor) -> torch.Tensor:
    """C-MCR / Ex-MCR ``MLP``: net2(net1(x)), net1 = Linear-BN-ReLU, net2 = Linear-BN (not normalised)."""
    return _block(state, f"{prefix}net2.", F.relu(_block(state, f"{prefix}net1.", x)))


def release_forward(layout: str, state: dict, head: str, x: torch.Tensor) -> torch.Tensor:
    """``(N, 512)`` unit features → the release's embeddings ``(N, 512)``, L2-normalised."""
    if layout == "cmcr-clap-clip":
        return F.normalize(release_mlp(state, f"{head}.", x), dim=-1)
    if layout == "cmcr-clap-clip-v0":
        return F.normalize(release_mlp(state, f"{head}.mlp1.", x), dim=-1)
    if layout == "cmcr-ulip-clip":  # MLP_Half: Linear-BN-ReLU
        return F.normalize(F.relu(_block(state, f"{head}.net.", x)), dim=-1)
    hidden = F.linear(x, state["Head1.weight"], state["Head1.bias"])  # Ex-MCR: Head1 → Head2.mlp1 → Head2.mlp2
    return F.normalize(release_mlp(state, "Head2.mlp2.", release_mlp(state, "Head2.mlp1.", hidden)), dim=-1)


