"""The point encoder of ``synthworld-cloud`` (ULIP's role) and its input pipeline.

A cloud of any size becomes model input in two fixed steps (no learning):
:func:`canonical_frame` centres it, turns it into its principal axes (signs
chosen by the third moment) and scales it to unit RMS radius, then
:func:`sample_points` picks a fixed number of points deterministically.
:class:`PointEncoder` is PointNet-style: a shared per-point MLP (1x1
convolutions with batch norm), a max-pool over points, an MLP head.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from bridge import ItemError
from bridge_synthworld.models import ContrastiveModel


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PointEncoderConfig(_Config):
    """A shared per-point MLP, a max-pool over points, an MLP head."""

    points: int = Field(256, gt=0, description="Points sampled from each cloud as model input.")
    channels: tuple[int, ...] = Field((64, 128, 256), description="Widths of the shared per-point layers.")
    head: int = Field(256, gt=0, description="Width of the hidden layer of the head.")


class CloudArchitecture(_Config):
    """The point-cloud model: its own point encoder; images go through pixel's image encoder."""

    dim: int = Field(128, description="Joint embedding dimension (pixel's).")
    pointcloud: PointEncoderConfig = Field(default_factory=PointEncoderConfig, description="Point encoder.")


def canonical_frame(points: np.ndarray) -> np.ndarray:
    """``(P, 3)`` points -> float32 ``(P, 3)`` centred, in principal axes (largest variance first), unit RMS radius.

    Each axis is oriented so the points' third moment along it is >= 0, so
    the frame does not depend on the cloud's rotation (up to symmetries).
    """
    centred = points.astype(np.float64) - points.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    aligned = centred @ vectors[:, ::-1]
    signs = np.where((aligned**3).sum(axis=0) < 0, -1.0, 1.0)
    aligned *= signs
    radius = np.sqrt((aligned**2).sum(axis=1).mean())
    return (aligned / max(radius, 1e-8)).astype(np.float32)


def sample_points(points: np.ndarray, count: int) -> np.ndarray:
    """``count`` rows of ``(P, 3)`` ``points``, chosen by a generator seeded with ``P`` (the same file, the same rows).

    Without repetition when ``P >= count``, otherwise every point once and the rest drawn again.
    """
    total = len(points)
    rng = np.random.default_rng([total, count])
    if total >= count:
        rows = rng.choice(total, size=count, replace=False)
    else:
        rows = np.concatenate([np.arange(total), rng.integers(0, total, size=count - total)])
    return points[rows]


def cloud_input(points: np.ndarray, item: str, count: int) -> torch.Tensor:
    """A decoded float32 ``(P, 3)`` cloud -> model input float32 ``(count, 3)`` (canonical frame, then sampled).

    Raises:
        ItemError: the points are not a finite ``(P, 3)`` array with P >= 1.
    """
    if points.ndim != 2 or points.shape[1] != 3 or len(points) < 1 or not np.isfinite(points).all():
        raise ItemError(item, f"expected a finite point cloud of shape (P, 3), got {points.dtype} {points.shape}")
    return torch.from_numpy(np.ascontiguousarray(sample_points(canonical_frame(points), count)))


def cloud_batch(clouds: list[torch.Tensor]) -> torch.Tensor:
    """Stack ``(N, 3)`` inputs into float32 ``(B, N, 3)``."""
    return torch.stack(list(clouds)).float()


class PointEncoder(nn.Module):
    """Point clouds -> embeddings (not yet normalised).

    Input: float32 ``(B, N, 3)``; output ``(B, dim)``. Invariant to the order of the N points.
    """

    def __init__(self, config: PointEncoderConfig, dim: int):
        super().__init__()
        widths = (3, *config.channels)
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv1d(a, b, 1, bias=False), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
        self.shared = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(widths[-1], config.head, bias=False), nn.BatchNorm1d(config.head), nn.ReLU(inplace=True),
            nn.Linear(config.head, dim),
        )

    def forward(self, clouds: torch.Tensor) -> torch.Tensor:
        features = self.shared(clouds.transpose(1, 2))  # (B, C, N)
        return self.head(features.max(dim=2).values)


def build_cloud(architecture: CloudArchitecture) -> ContrastiveModel:
    """The cloud model's own part (point encoder + temperature), freshly initialised."""
    return ContrastiveModel({"pointcloud": PointEncoder(architecture.pointcloud, architecture.dim)})
