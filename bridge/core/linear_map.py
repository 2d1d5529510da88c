"""Closed-form linear maps between two embedding spaces (orthogonal Procrustes, least squares), as projectors.

Used by the ``procrustes`` strategy and by :class:`~bridge.core.composed.Space`
to carry one joint space into another through a shared MCR.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from bridge.core.projector import Projector
from bridge.core.projector_config import ProjectorConfig
from bridge.errors import BridgeError, quoted


def unit_rows(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(N, D)`` array, memmap or tensor → float32 CPU tensor with unit rows."""
    tensor = array.float() if isinstance(array, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return F.normalize(tensor.cpu(), dim=-1)


def fit_linear_map(source: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A map from ``source`` rows to ``target`` rows after centring (rows are L2-normalised first).

    Args:
        source: ``(N, D_s)``; target: ``(N, D_t)``, row i of each the same item.
        mode: ``orthogonal`` (``W = s U V^T`` from the SVD ``U S V^T`` of ``X_c^T Y_c``, ``s = tr S / |X_c|^2``;
            semi-orthogonal when ``D_s != D_t``) or ``least_squares`` (``W = argmin |X_c W - Y_c|``).

    Returns:
        ``W`` ``(D_s, D_t)`` and the bias ``b = mu_t - mu_s W`` ``(D_t,)`` (float32), so that
        ``x W + b`` maps a unit source row into the target space.
    """
    x = unit_rows(source).double()
    y = unit_rows(target).double()
    if x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise BridgeError(f"a linear map needs at least two paired rows (got {x.shape[0]} and {y.shape[0]})")
    mean_x, mean_y = x.mean(dim=0), y.mean(dim=0)
    xc, yc = x - mean_x, y - mean_y
    if mode == "orthogonal":
        u, s, vh = torch.linalg.svd(xc.T @ yc, full_matrices=False)
        weight = (s.sum() / (xc * xc).sum().clamp_min(1e-12)) * (u @ vh)
    elif mode == "least_squares":
        weight = torch.linalg.lstsq(xc, yc, driver="gelsd").solution
    else:
        raise BridgeError(f"linear map {quoted(mode)}: expected `orthogonal` or `least_squares`")
    return weight.float(), (mean_y - mean_x @ weight).float()


def linear_projector(weight: torch.Tensor, bias: torch.Tensor) -> Projector:
    """A ``linear`` projector computing ``normalize(x W + b)`` for ``W`` ``(D_s, D_t)``, ``b`` ``(D_t,)`` (eval mode)."""
    projector = Projector(weight.shape[0], ProjectorConfig(architecture="linear", output_dim=weight.shape[1]))
    with torch.no_grad():
        projector.net[0].weight.copy_(weight.T)
        projector.net[0].bias.copy_(bias)
    return projector.eval()
