"""Procedural 64x64 RGB images of a scene: one to four drawn instances of
up to three objects on a cluttered background.

A concept looks like its :class:`VisualSignature` (shape, colour family,
pattern, size range); a near object is drawn large, a far one small (about
0.45 of the size), and objects other than the main one a little smaller than
it. Each instance draws a random position (spread apart), scale, rotation,
shade of the colour and pattern phase; the background is a tinted gradient,
smooth blotches, thin lines and pixel noise. Far instances are drawn first
and the main object last, so it is never hidden. Everything is vectorised
numpy over pixel grids, cropped to each instance's bounding box
(:meth:`PlacedObject.box`, the box the sidecar manifest records).
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bridge_synthworld.scenes import SceneObject

IMAGE_SIZE = 64

SHAPES = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "crescent")
COLOUR_FAMILIES = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
TEXTURES = ("plain", "striped", "dotted", "checkered", "ringed", "shaded", "speckled", "outlined")
SIZES = ("small", "medium", "large")

_HUE_DEGREES = {"red": 0, "orange": 28, "yellow": 55, "green": 120, "cyan": 180, "blue": 228, "purple": 275,
                "pink": 320}
_HUE_JITTER_DEGREES = 7.0
_RADIUS_PX = {"small": (10.5, 12.5), "medium": (12.5, 14.5), "large": (14.5, 17.0)}  # near, main object
_FAR_SCALE = 0.45  # a far object's radius over a near one's
_OTHER_SCALE = 0.8  # a non-main object's radius over the main one's at the same distance
_MIN_RADIUS_PX = 3.5
_PLACEMENT_CANDIDATES = 8


@dataclass(frozen=True)
class VisualSignature:
    """How a concept looks (the same in every scene, up to random pose and shade).

    Attributes:
        shape: one of :data:`SHAPES`.
        colour: colour family, one of :data:`COLOUR_FAMILIES`.
        texture: surface pattern, one of :data:`TEXTURES`.
        size: size range, one of :data:`SIZES`.
    """

    shape: str
    colour: str
    texture: str
    size: str

    def traits(self) -> tuple[str, str, str, str]:
        """``(shape, colour, texture, size)``."""
        return (self.shape, self.colour, self.texture, self.size)


@dataclass(frozen=True)
class PlacedObject:
    """One object as drawn in one image.

    Attributes:
        concept: concept index.
        centre: ``(x, y)`` in pixels.
        radius: in pixels (the shape's outer radius).
        angle: rotation in radians.
        rgb: main colour, each channel in [0, 1].
        phase: offset of the pattern, in [0, 1).
        near: whether the object is near (drawn large).
        main: whether it is an instance of the scene's main object.
    """

    concept: int
    centre: tuple[float, float]
    radius: float
    angle: float
    rgb: tuple[float, float, float]
    phase: float
    near: bool = True
    main: bool = False

    def box(self) -> tuple[int, int, int, int]:
        """Pixel bounding box ``(x0, y0, x1, y1)`` (x1, y1 exclusive) of the drawn shape, clipped to the image.

        Every shape lies within ``radius`` of its centre (the star and
        crescent reach it, the others stay inside), so the box is the
        centre +- radius, rounded outwards.
        """
        cx, cy = self.centre
        return (max(0, int(math.floor(cx - self.radius))), max(0, int(math.floor(cy - self.radius))),
                min(IMAGE_SIZE, int(math.ceil(cx + self.radius))), min(IMAGE_SIZE, int(math.ceil(cy + self.radius))))


@dataclass(frozen=True)
class ImageLayout:
    """Where and how a scene's objects are drawn (everything random about the image but the background).

    Attributes:
        objects: every drawn instance, in drawing order (far ones first, the main object last).
    """

    objects: tuple[PlacedObject, ...]


def _between(rng: np.random.Generator, low: float, high: float) -> float:
    """One uniform draw in [low, high) (cheaper than ``rng.uniform`` for a scalar)."""
    return low + (high - low) * rng.random()


def sample_layout(seed: int, objects: Sequence[SceneObject], signatures: Sequence[VisualSignature]) -> ImageLayout:
    """The layout of a scene's image, from its seed and objects (cheap; no pixels)."""
    return _draw_layout(np.random.default_rng([seed, 1]), objects, signatures)


def render_scene(seed: int, objects: Sequence[SceneObject], signatures: Sequence[VisualSignature]) -> np.ndarray:
    """A scene's image: uint8 ``(64, 64, 3)``; its layout is :func:`sample_layout`'s."""
    return render_scene_with_layout(seed, objects, signatures)[0]


def render_scene_with_layout(seed: int, objects: Sequence[SceneObject],
                             signatures: Sequence[VisualSignature]) -> tuple[np.ndarray, ImageLayout]:
    """A scene's image, uint8 ``(64, 64, 3)``, and the layout it was drawn from."""
    rng = np.random.default_rng([seed, 1])
    layout = _draw_layout(rng, objects, signatures)
    canvas = _background(rng)
    for placed in layout.objects:
        _draw_object(canvas, placed, signatures[placed.concept])
    contrast, brightness, grain = rng.random(3)
    noise = np.frombuffer(rng.bytes(canvas.size), dtype=np.int8).reshape(canvas.shape).astype(np.float32)
    noise *= np.float32((0.035 + 0.065 * grain) / 256)  # uniform pixel noise, std = amplitude / sqrt(12)
    canvas += noise
    canvas -= np.float32(0.5)
    canvas *= np.float32((0.85 + 0.25 * contrast) * 255.0)
    canvas += np.float32((0.45 + 0.1 * brightness) * 255.0 + 0.5)
    np.maximum(canvas, np.float32(0), out=canvas)
    return np.minimum(canvas, np.float32(255), out=canvas).astype(np.uint8), layout


def _draw_layout(rng: np.random.Generator, objects: Sequence[SceneObject],
                 signatures: Sequence[VisualSignature]) -> ImageLayout:
    """Radii by distance, centres spread apart (each the farthest of a few candidates from those placed)."""
    instances = []
    main_radius = math.inf
    for index, obj in enumerate(objects):
        for _ in range(obj.count):
            radius = _between(rng, *_RADIUS_PX[signatures[obj.concept].size])
            radius *= (1.0 if obj.near else _FAR_SCALE) * (1.0 if index == 0 else _OTHER_SCALE)
            if index == 0:
                main_radius = min(main_radius, radius)
            else:  # the main object stays the largest
                radius = min(radius, _OTHER_SCALE * main_radius)
            instances.append((obj, index == 0, max(radius, _MIN_RADIUS_PX)))
    placed: list[PlacedObject] = []
    for obj, is_main, radius in instances:
        margin = 0.8 * radius
        span = IMAGE_SIZE - 2 * margin
        candidates = (margin + span * rng.random((_PLACEMENT_CANDIDATES if placed else 1, 2))).tolist()
        best, centre = -math.inf, (0.0, 0.0)
        for x, y in candidates:
            gap = min((math.hypot(x - p.centre[0], y - p.centre[1]) - p.radius - radius for p in placed),
                      default=0.0)
            if gap > best:
                best, centre = gap, (x, y)
        placed.append(_placed(rng, obj.concept, signatures[obj.concept], centre, radius, obj.near, is_main))
    order = sorted(range(len(placed)), key=lambda i: (placed[i].main, placed[i].near, placed[i].radius))
    return ImageLayout(objects=tuple(placed[i] for i in order))


def _placed(rng: np.random.Generator, concept: int, signature: VisualSignature, centre: tuple[float, float],
            radius: float, near: bool, main: bool) -> PlacedObject:
    hue_jitter, saturation, value, angle, phase = rng.random(5)
    hue = (_HUE_DEGREES[signature.colour] + _HUE_JITTER_DEGREES * (2 * hue_jitter - 1)) / 360.0
    rgb = colorsys.hsv_to_rgb(hue % 1.0, 0.65 + 0.35 * saturation, 0.7 + 0.3 * value)
    return PlacedObject(concept=concept, centre=centre, radius=radius, angle=float(2 * np.pi * angle),
                        rgb=(float(rgb[0]), float(rgb[1]), float(rgb[2])), phase=float(phase), near=near, main=main)


# --- background ---------------------------------------------------------------

_PIXEL_CENTRES = np.arange(IMAGE_SIZE, dtype=np.float32) + 0.5
_COARSE = 6


def _interpolation_matrix(coarse: int, fine: int) -> np.ndarray:
    """``(fine, coarse)`` linear-interpolation weights from a coarse grid to a fine one."""
    positions = np.linspace(0, coarse - 1, fine)
    lower = np.minimum(np.floor(positions).astype(int), coarse - 2)
    weight = (positions - lower).astype(np.float32)
    matrix = np.zeros((fine, coarse), dtype=np.float32)
    matrix[np.arange(fine), lower] = 1 - weight
    matrix[np.arange(fine), lower + 1] = weight
    return matrix


_UPSAMPLE = _interpolation_matrix(_COARSE, IMAGE_SIZE)


def _unit(x: np.ndarray) -> np.ndarray:
    """``x`` (a temporary) clipped to [0, 1] in place: ``np.clip``'s values without its per-call overhead."""
    np.maximum(x, 0.0, out=x)
    return np.minimum(x, 1.0, out=x)


def _background(rng: np.random.Generator) -> np.ndarray:
    """A muted, cluttered background: float32 ``(64, 64, 3)`` in about [0, 1]."""
    hue, saturation, value, direction, slope, blotchiness = rng.random(6)
    base = np.asarray(colorsys.hsv_to_rgb(hue, 0.2 * saturation, 0.35 + 0.5 * value), dtype=np.float32)
    coarse = rng.standard_normal((3, _COARSE, _COARSE), dtype=np.float32)
    coarse = (coarse.mean(axis=0, keepdims=True) * 0.8 + coarse * 0.2) * np.float32(0.02 + 0.06 * blotchiness)
    canvas = (_UPSAMPLE @ coarse @ _UPSAMPLE.T).transpose(1, 2, 0) + base  # (64, 64, 3)
    angle = 2 * np.pi * direction
    tilt = 0.24 * slope - 0.12  # brightness change from the centre to an edge
    centred = _PIXEL_CENTRES * np.float32(tilt / 32) - np.float32(tilt)
    ramp = np.float32(math.cos(angle)) * centred[None, :] + np.float32(math.sin(angle)) * centred[:, None]
    canvas += ramp[..., None]
    _draw_lines(canvas, rng, base, count=2 + int(4 * rng.random()))
    return canvas


def _draw_lines(canvas: np.ndarray, rng: np.random.Generator, base: np.ndarray, count: int) -> None:
    """``count`` thin muted line segments, blended into ``canvas`` (64, 64, 3) in place."""
    ends = rng.random((count, 4), dtype=np.float32) * np.float32(IMAGE_SIZE + 16) - np.float32(8)
    width, opacity, shade = (column[:, None, None] for column in rng.random((3, count), dtype=np.float32))
    colours = np.clip(base + (shade[:, :, 0] - 0.5) * 0.5 + rng.normal(0, 0.04, size=(count, 3)), 0, 1)
    x0, y0 = ends[:, 0, None, None], ends[:, 1, None, None]
    dx, dy = ends[:, 2, None, None] - x0, ends[:, 3, None, None] - y0
    length_sq = np.maximum(dx * dx + dy * dy, np.float32(1e-6))
    px = _PIXEL_CENTRES[None, None, :] - x0  # (count, 1, 64)
    py = _PIXEL_CENTRES[None, :, None] - y0  # (count, 64, 1)
    along = _unit(px * (dx / length_sq) + py * (dy / length_sq))  # (count, 64, 64)
    off_x = along * dx
    np.subtract(px, off_x, out=off_x)  # in place: the same values, fewer temporaries
    off_y = np.subtract(py, along * dy, out=along)
    off_x *= off_x
    off_y *= off_y
    off_x += off_y
    alpha = _unit(np.subtract(width + np.float32(1.0), np.sqrt(off_x, out=off_x), out=off_x))
    alpha *= opacity * np.float32(0.5) + np.float32(0.4)
    # Blend all lines at once: where they cross, their colours mix in proportion to their opacity.
    cover = alpha.sum(axis=0)  # (64, 64)
    scale = np.float32(1.0) / np.maximum(cover, np.float32(1.0))
    mixed = (alpha.reshape(count, -1).T @ colours.astype(np.float32)).reshape(IMAGE_SIZE, IMAGE_SIZE, 3)
    canvas *= (np.float32(1.0) - cover * scale)[..., None]
    canvas += mixed * scale[..., None]


# --- objects ------------------------------------------------------------------

# Signed distance (in units of the radius, > 0 outside) of each shape at local coordinates (u, v).
ShapeDistance = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _norm(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.sqrt(u * u + v * v)


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    outline = 0.45 + 0.55 * ((1 + np.cos(5 * np.arctan2(v, u))) / 2) ** 2
    return (_norm(u, v) - outline) * 0.6


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    edges = [u * np.cos(a) + v * np.sin(a) for a in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3)]
    return np.maximum(np.maximum(edges[0], edges[1]), edges[2]) - 0.5


_SHAPE_DISTANCE: dict[str, ShapeDistance] = {
    "circle": lambda u, v: _norm(u, v) - 1.0,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) - 0.8,
    "triangle": _triangle,
    "star": _star,
    "cross": lambda u, v: np.maximum(np.minimum(np.abs(u), np.abs(v)) - 0.32, np.maximum(np.abs(u), np.abs(v)) - 0.95),
    "ring": lambda u, v: np.abs(_norm(u, v) - 0.7) - 0.3,
    "diamond": lambda u, v: (np.abs(u) + np.abs(v) - 1.05) * 0.7071,
    "crescent": lambda u, v: np.maximum(_norm(u, v) - 1.0, 0.75 - _norm(u - 0.45, v)),
}


def _soft(x: np.ndarray, sharpness: float = 4.0) -> np.ndarray:
    return _unit(x * sharpness + 0.5)


def _speckle(u: np.ndarray, v: np.ndarray, phase: float) -> np.ndarray:
    cell_u, cell_v = np.floor(u * 4.5 + phase * 7), np.floor(v * 4.5)
    noise = np.sin(cell_u * 12.9898 + cell_v * 78.233) * 43758.5453
    return (noise - np.floor(noise) > 0.55).astype(np.float32)


# Mix weight (0: main colour, 1: second tone) of each pattern at local coordinates, given the shape distance.
Pattern = Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]
_PATTERNS: dict[str, Pattern] = {
    "plain": lambda u, v, d, p: np.zeros_like(u),
    "striped": lambda u, v, d, p: _soft(np.sin(2 * np.pi * (u * 2.2 + p))),
    "dotted": lambda u, v, d, p: _soft(
        (0.09 - ((u * 1.8 + p) % 1.0 - 0.5) ** 2 - ((v * 1.8 + p) % 1.0 - 0.5) ** 2) * 12),
    "checkered": lambda u, v, d, p: _soft(np.sin(2 * np.pi * (u * 1.3 + p)) * np.sin(2 * np.pi * (v * 1.3 + p))),
    "ringed": lambda u, v, d, p: _soft(np.sin(2 * np.pi * (_norm(u, v) * 2.3 + p))),
    "shaded": lambda u, v, d, p: _unit((u + 1.0) / 2.0),
    "speckled": lambda u, v, d, p: _speckle(u, v, p),
    "outlined": lambda u, v, d, p: _soft(-d - 0.2, 8.0),
}


def _second_tone(texture: str, rgb: np.ndarray) -> np.ndarray:
    """The pattern's other colour: a pale tint for "outlined", a dark shade otherwise."""
    if texture == "outlined":
        return rgb * 0.25 + 0.75
    return rgb * 0.35


def _draw_object(canvas: np.ndarray, placed: PlacedObject, signature: VisualSignature) -> None:
    """Blend one anti-aliased, patterned, rotated shape into ``canvas`` (64, 64, 3) in place."""
    cx, cy = placed.centre
    reach = placed.radius * 1.2 + 1.5
    x0, x1 = max(0, int(cx - reach)), min(IMAGE_SIZE, int(np.ceil(cx + reach)) + 1)
    y0, y1 = max(0, int(cy - reach)), min(IMAGE_SIZE, int(np.ceil(cy + reach)) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    dx = (_PIXEL_CENTRES[x0:x1] - cx)[None, :] / placed.radius
    dy = (_PIXEL_CENTRES[y0:y1] - cy)[:, None] / placed.radius
    cos, sin = math.cos(placed.angle), math.sin(placed.angle)
    u = cos * dx + sin * dy
    v = cos * dy - sin * dx
    distance = _SHAPE_DISTANCE[signature.shape](u, v)
    alpha = _unit(0.5 - distance * placed.radius)[..., None]
    mix = _PATTERNS[signature.texture](u, v, distance, placed.phase)[..., None]
    rgb = np.asarray(placed.rgb, dtype=np.float32)
    colour = rgb + mix * (_second_tone(signature.texture, rgb) - rgb)
    region = canvas[y0:y1, x0:x1]
    region += alpha * (colour - region)
