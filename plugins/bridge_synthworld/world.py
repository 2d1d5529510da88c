"""A seeded synthetic world of sound-making things, with known ground truth.

Each concept (bell, dog, rain, ...) has a visual signature and an acoustic
signature, drawn independently from the world seed: nothing links how a
concept looks to how it sounds except the concept itself. Both are built
from a Latin-square design over three 8-valued traits (shape, colour,
pattern; pitch band, timbre, modulation): any two concepts share at most one
of the three, so many pairs share a trait yet every concept stays
distinguishable in each modality; size range, envelope and noise colour are
extra random traits on top.

Scenes (one to three objects of distinct concepts, each once or twice, near
or far; the main one largest and loudest, see :mod:`bridge_synthworld.scenes`)
are drawn per split with disjoint seeds; a scene renders to an image, a clip
and captions in three styles, all deterministic in the world seed and the
scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bridge import BridgeError
from bridge_synthworld import captions, render_audio, render_cloud, render_image
from bridge_synthworld.captions import CAPTION_STYLES, LEXICON, Describable
from bridge_synthworld.render_audio import AUDIO_SECONDS, SAMPLE_RATE, AcousticSignature, AudioLayout
from bridge_synthworld.render_cloud import ShapeSignature
from bridge_synthworld.render_image import IMAGE_SIZE, ImageLayout, VisualSignature
from bridge_synthworld.scenes import Scene, SceneObject, draw_objects

__all__ = [
    "AUDIO_SECONDS", "CAPTION_STYLES", "IMAGE_SIZE", "MAX_CONCEPTS", "SAMPLE_RATE",
    "SPLITS", "AcousticSignature", "Concept", "Scene", "SceneObject", "ShapeSignature", "VisualSignature", "World",
]

SPLITS = ("mcr_train", "overlap", "image_memory", "audio_memory", "paired", "eval", "val")
"""Appending keeps every earlier split's scenes: a split's seeds depend on its position."""
MAX_CONCEPTS = len(LEXICON)
_LEVELS = 8  # values of each Latin-square trait
_SPLIT_SEED_SHIFT = 56  # scene seeds carry the split in their top bits, so splits never share a seed


@dataclass(frozen=True)
class Concept:
    """One named thing of the world.

    Attributes:
        name: its name, e.g. "bell".
        synonyms: the nouns captions use for it; the first is ``name``.
        visual: how it looks.
        acoustic: how it sounds.
    """

    name: str
    synonyms: tuple[str, ...]
    visual: VisualSignature
    acoustic: AcousticSignature


def latin_design(rng: np.random.Generator, count: int, levels: int = _LEVELS) -> list[tuple[int, int, int]]:
    """``count`` distinct trait triples ``(a, b, c)``, each value in ``range(levels)``.

    ``(a, b)`` are distinct random cells of a ``levels x levels`` grid and
    ``c`` comes from a random Latin square, so any two triples agree in at
    most one position.
    """
    if not 1 <= count <= levels * levels:
        raise ValueError(f"a Latin design over {levels} levels holds 1..{levels * levels} triples, not {count}")
    cells = rng.permutation(levels * levels)[:count]
    rows, columns, symbols = rng.permutation(levels), rng.permutation(levels), rng.permutation(levels)
    return [(int(c // levels), int(c % levels), int(symbols[(rows[c // levels] + columns[c % levels]) % levels]))
            for c in cells]


def _visual_signatures(rng: np.random.Generator, count: int) -> list[VisualSignature]:
    sizes = rng.integers(len(render_image.SIZES), size=count)
    return [
        VisualSignature(shape=render_image.SHAPES[a], colour=render_image.COLOUR_FAMILIES[b],
                        texture=render_image.TEXTURES[c], size=render_image.SIZES[s])
        for (a, b, c), s in zip(latin_design(rng, count), sizes)
    ]


def _acoustic_signatures(rng: np.random.Generator, count: int) -> list[AcousticSignature]:
    envelopes = rng.integers(len(render_audio.ENVELOPES), size=count)
    noises = rng.integers(len(render_audio.NOISE_COLOURS), size=count)
    return [
        AcousticSignature(pitch=render_audio.PITCH_BANDS[a], timbre=render_audio.TIMBRES[b],
                          modulation=render_audio.MODULATIONS[c], envelope=render_audio.ENVELOPES[e],
                          noise=render_audio.NOISE_COLOURS[z])
        for (a, b, c), e, z in zip(latin_design(rng, count), envelopes, noises)
    ]


class World:
    """The concepts of one seed, and the scenes, images, clips and captions drawn from them.

    Attributes:
        seed: the world seed.
        concepts: the concepts; a scene's objects index them.
    """

    def __init__(self, seed: int = 0, n_concepts: int = 48):
        if not isinstance(seed, int) or seed < 0:
            raise BridgeError(f"synthworld seed must be a non-negative integer, not {seed!r}")
        if not 2 <= n_concepts <= MAX_CONCEPTS:
            raise BridgeError(f"synthworld n_concepts must be between 2 and {MAX_CONCEPTS}, not {n_concepts}")
        self.seed = seed
        visuals = _visual_signatures(np.random.default_rng([seed, 101]), n_concepts)
        acoustics = _acoustic_signatures(np.random.default_rng([seed, 202]), n_concepts)
        self.concepts = tuple(
            Concept(name=entry.synonyms[0], synonyms=entry.synonyms, visual=visual, acoustic=acoustic)
            for entry, visual, acoustic in zip(LEXICON, visuals, acoustics)
        )
        self._visuals = tuple(visuals)
        self._acoustics = tuple(acoustics)
        self._countable = np.array([not entry.mass for entry in LEXICON[:n_concepts]])
        shape_rng = np.random.default_rng([seed, 505])  # a stream of its own: images, clips and captions are unchanged
        self.shapes: tuple[ShapeSignature, ...] = tuple(
            render_cloud.shape_signatures(shape_rng, latin_design(shape_rng, n_concepts)))
        """Each concept's 3D shape signature, by concept index."""

    def __repr__(self) -> str:
        return f"World(seed={self.seed}, n_concepts={len(self.concepts)})"

    @property
    def names(self) -> tuple[str, ...]:
        """Concept names, by index."""
        return tuple(concept.name for concept in self.concepts)

    def scenes(self, split: str, count: int) -> list[Scene]:
        """The first ``count`` scenes of ``split``.

        Deterministic in (world seed, split, index): ``scenes(s, n)[:k] ==
        scenes(s, k)``. Main concepts are balanced: every block of
        ``len(concepts)`` consecutive scenes holds each concept once as main.
        """
        if split not in SPLITS:
            raise BridgeError(f"unknown synthworld split {split!r}; splits are {', '.join(SPLITS)}")
        if count < 0:
            raise BridgeError(f"synthworld scene count must be >= 0, not {count}")
        split_index = SPLITS.index(split)
        n = len(self.concepts)
        scenes: list[Scene] = []
        for block in range(-(-count // n)):
            rng = np.random.default_rng([self.seed, 303, split_index, block])
            mains = rng.permutation(n)
            low_seeds = rng.integers(0, 2**_SPLIT_SEED_SHIFT, size=n)
            objects = draw_objects(rng, mains, self._countable)
            for offset in range(min(n, count - block * n)):
                index = block * n + offset
                scenes.append(Scene(
                    id=f"{split}-{index:06d}",
                    objects=objects[offset],
                    seed=((split_index + 1) << _SPLIT_SEED_SHIFT) | int(low_seeds[offset]),
                ))
        return scenes

    def image_layout(self, scene: Scene) -> ImageLayout:
        """Where and how the scene's objects are drawn (no pixels)."""
        return render_image.sample_layout(scene.seed, scene.objects, self._visuals)

    def audio_layout(self, scene: Scene) -> AudioLayout:
        """When and how loud the scene's sources sound (no samples)."""
        return render_audio.sample_layout(scene.seed, scene.objects, self._acoustics)

    def render_image(self, scene: Scene) -> np.ndarray:
        """The scene's image: uint8 ``(64, 64, 3)``."""
        return render_image.render_scene(scene.seed, scene.objects, self._visuals)

    def render_audio(self, scene: Scene) -> np.ndarray:
        """The scene's clip: float32 ``(16000,)`` in [-1, 1] (1 s at 16 kHz)."""
        return render_audio.render_scene(scene.seed, scene.objects, self._acoustics)

    def render_with_layout(self, scene: Scene, modality: str) -> tuple[np.ndarray, ImageLayout | AudioLayout]:
        """The scene's image or clip (``modality`` "image" / "audio") and its layout, drawn once."""
        if modality == "image":
            return render_image.render_scene_with_layout(scene.seed, scene.objects, self._visuals)
        return render_audio.render_scene_with_layout(scene.seed, scene.objects, self._acoustics)

    def render_cloud(self, scene: Scene) -> np.ndarray:
        """The scene's point cloud: float32 ``(P, 3)``, 1,024 <= P <= 2,048, shuffled.

        It shows the main object and, in a scene of several, the second one smaller beside it
        (a 3D scan centred on its main object); counts and distances are not drawn.
        """
        second = scene.objects[1].concept if len(scene.objects) > 1 else None
        return render_cloud.render_scene(scene.seed, scene.main, second, self.shapes)

    def caption(self, scene: Scene, style: str) -> str:
        """A caption of the scene in ``style`` ("vision", "audio" or "neutral"); deterministic per (scene, style)."""
        if style not in CAPTION_STYLES:
            raise BridgeError(f"unknown caption style {style!r}; styles are {', '.join(CAPTION_STYLES)}")
        rng = np.random.default_rng([scene.seed, 3, CAPTION_STYLES.index(style)])
        return captions.caption(style, self._describable(scene, style), LEXICON, rng)

    def _describable(self, scene: Scene, style: str) -> list[Describable]:
        described = []
        for obj in scene.objects:
            visual, acoustic = self._visuals[obj.concept], self._acoustics[obj.concept]
            described.append(Describable(
                obj.concept, count=obj.count, near=obj.near,
                adjectives_vision=(visual.texture, visual.colour) if style == "vision" else (),
                adjectives_audio=acoustic.words() if style == "audio" else (),
            ))
        return described

    def vocabulary(self) -> tuple[str, ...]:
        """Every word any caption of this world may contain, sorted."""
        adjectives = (*render_image.COLOUR_FAMILIES, *render_image.TEXTURES,
                      *render_audio.PITCH_WORDS, *render_audio.MODULATION_WORDS.values())
        return captions.vocabulary(LEXICON[: len(self.concepts)], adjectives)
