"""Point-cloud rendering: a concept's 3D shape signature and a scene as float32 ``(P, 3)`` points.

A shape signature is a superquadric (its two exponents give the profile:
sphere, cube, cylinder, octahedron, ...) with axis proportions and one
deformation (bend, twist, taper, pinch, ripple, blobs). The three traits
follow the same Latin-square design over 8 values as the visual and acoustic
signatures, so two concepts share at most one trait; a surface roughness is
an extra random trait on top.

A scene renders its main object with 1,024-2,048 surface points (a smaller
distractor off to one side when the scene has one), Gaussian point noise and
a uniformly random 3D rotation; 30 % of the clouds are partial views (the
points beyond a random plane removed). Points come out shuffled, so any
subset is a uniform sample. Everything is a function of the scene's seed and
concept indices (:func:`render_scene`), so it does not depend on how a
``Scene`` is laid out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_POINTS = 1024
MAX_POINTS = 2048
PARTIAL_PROBABILITY = 0.3
DISTRACTOR_SHARE = 0.25  # fraction of a scene's points on its distractor

# trait a: superquadric exponents (latitude e1, longitude e2); < 1 boxy, 1 round, 2 pointy
PROFILES = {
    "sphere": (1.0, 1.0), "cube": (0.2, 0.2), "cylinder": (0.2, 1.0), "octahedron": (1.8, 1.8),
    "double-cone": (1.8, 1.0), "pillow": (1.0, 0.2), "star-prism": (0.3, 2.2), "diamond": (1.0, 1.9),
}
# trait b: axis proportions (x, y, z)
PROPORTIONS = {
    "even": (1.0, 1.0, 1.0), "tall": (0.55, 0.55, 1.5), "flat": (1.3, 1.3, 0.35), "long": (1.6, 0.5, 0.5),
    "slab": (1.4, 0.9, 0.3), "beam": (1.5, 0.8, 0.45), "column": (0.8, 0.45, 1.4), "wedge": (1.2, 0.7, 0.95),
}
# trait c: one deformation
DEFORMATIONS = ("none", "bend", "twist", "taper", "pinch", "ripple", "one-blob", "two-blobs")
ROUGHNESS = (0.008, 0.016, 0.025)

__all__ = ["DEFORMATIONS", "MAX_POINTS", "MIN_POINTS", "PROFILES", "PROPORTIONS", "ShapeSignature",
           "render_scene", "shape_signatures"]


@dataclass(frozen=True)
class ShapeSignature:
    """How one concept is shaped in 3D.

    Attributes:
        profile: key of :data:`PROFILES` (superquadric exponents).
        proportions: key of :data:`PROPORTIONS` (axis scales).
        deformation: one of :data:`DEFORMATIONS`.
        roughness: standard deviation of the point noise (in object units).
        blobs: unit directions ``((x, y, z), ...)`` where blobs sit (used by
            the blob deformations; two for every concept, drawn once).
    """

    profile: str
    proportions: str
    deformation: str
    roughness: float
    blobs: tuple[tuple[float, float, float], ...]


def shape_signatures(rng: np.random.Generator, design: Sequence[tuple[int, int, int]]) -> list[ShapeSignature]:
    """One signature per trait triple of ``design`` (values in ``range(8)``), extras drawn from ``rng``."""
    profiles, proportions = list(PROFILES), list(PROPORTIONS)
    signatures = []
    for a, b, c in design:
        roughness = ROUGHNESS[int(rng.integers(len(ROUGHNESS)))]
        directions = rng.normal(size=(2, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        signatures.append(ShapeSignature(
            profile=profiles[a], proportions=proportions[b], deformation=DEFORMATIONS[c], roughness=roughness,
            blobs=tuple(tuple(float(round(v, 6)) for v in d) for d in directions),
        ))
    return signatures


def _signed_power(values: np.ndarray, exponent: float) -> np.ndarray:
    return np.sign(values) * np.abs(values) ** exponent


def _surface(signature: ShapeSignature, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points on the deformed superquadric of ``signature``: float64 ``(count, 3)``, object units."""
    e1, e2 = PROFILES[signature.profile]
    blob_count = {"one-blob": 1, "two-blobs": 2}.get(signature.deformation, 0)
    on_blobs = int(count * 0.18 * blob_count)
    body = count - on_blobs
    latitude = np.arcsin(rng.uniform(-1.0, 1.0, body))  # area-uniform on the sphere
    longitude = rng.uniform(-np.pi, np.pi, body)
    cos_lat = _signed_power(np.cos(latitude), e1)
    points = np.empty((body, 3))
    points[:, 0] = cos_lat * _signed_power(np.cos(longitude), e2)
    points[:, 1] = cos_lat * _signed_power(np.sin(longitude), e2)
    points[:, 2] = _signed_power(np.sin(latitude), e1)
    if signature.deformation == "ripple":
        points[:, :2] *= (1.0 + 0.18 * np.sin(6.0 * longitude))[:, None]
    points *= np.asarray(PROPORTIONS[signature.proportions])
    z = points[:, 2]
    if signature.deformation == "bend":
        points[:, 0] += 0.6 * z * z
    elif signature.deformation == "twist":
        angle = 1.6 * z
        x, y = points[:, 0].copy(), points[:, 1].copy()
        points[:, 0], points[:, 1] = x * np.cos(angle) - y * np.sin(angle), x * np.sin(angle) + y * np.cos(angle)
    elif signature.deformation == "taper":
        points[:, :2] *= (1.0 - 0.45 * z / max(1e-6, float(np.abs(z).max())))[:, None]
    elif signature.deformation == "pinch":
        points[:, :2] *= (1.0 - 0.6 * np.exp(-(z * z) / 0.08))[:, None]
    if on_blobs:
        blob = rng.normal(size=(on_blobs, 3))
        blob *= 0.28 / np.linalg.norm(blob, axis=1, keepdims=True)
        anchors = np.asarray(signature.blobs[:blob_count]) * np.asarray(PROPORTIONS[signature.proportions])
        blob += np.repeat(anchors, on_blobs // blob_count + 1, axis=0)[:on_blobs] * 1.05
        points = np.concatenate([points, blob])
    return points


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3D rotation matrix ``(3, 3)`` (from a random unit quaternion)."""
    w, x, y, z = rng.normal(size=4) / 1.0
    norm = np.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def render_scene(seed: int, main: int, distractor: int | None, signatures: Sequence[ShapeSignature]) -> np.ndarray:
    """A scene's point cloud: float32 ``(P, 3)`` with ``MIN_POINTS <= P <= MAX_POINTS``, shuffled.

    Args:
        seed: the scene's rendering seed.
        main: concept index of the main object.
        distractor: concept index of the smaller second object, or None.
        signatures: shape signature of every concept, by index.
    """
    rng = np.random.default_rng([seed, 404])
    total = int(rng.integers(MIN_POINTS, MAX_POINTS + 1))
    partial = rng.random() < PARTIAL_PROBABILITY
    keep = rng.uniform(0.6, 0.85) if partial else 1.0
    drawn = int(np.ceil(total / keep))
    on_distractor = int(drawn * DISTRACTOR_SHARE) if distractor is not None else 0
    main_signature = signatures[main]
    points = _surface(main_signature, drawn - on_distractor, rng) * rng.uniform(0.85, 1.15)
    points += rng.normal(scale=main_signature.roughness, size=points.shape)
    if distractor is not None:
        other = signatures[distractor]
        small = _surface(other, on_distractor, rng) @ _rotation(rng).T * 0.4
        small += rng.normal(scale=other.roughness * 0.4, size=small.shape)
        direction = rng.normal(size=3)
        small += 1.9 * direction / np.linalg.norm(direction)
        points = np.concatenate([points, small])
    points = points @ _rotation(rng).T
    if partial:
        normal = rng.normal(size=3)
        depth = points @ (normal / np.linalg.norm(normal))
        points = points[np.argpartition(depth, total - 1)[:total]]  # drop the points beyond the plane
    points = points[rng.permutation(len(points))[:total]]
    return points.astype(np.float32)
