"""Scenes of the synthetic world: which objects, how many of each, near or far.

A :class:`Scene` holds one to three :class:`SceneObject` s of distinct
concepts. Each object has a count (one or two instances: "two dogs" are two
drawn shapes and two sound events) and a distance: a near object is drawn
large and sounds loud, a far one is drawn small and sounds quiet, so both
models can perceive it. The first object is the main one: the largest and
loudest, whose concept is the scene's label.

:func:`draw_scenes` draws one block of scenes from a block's random stream;
everything is vectorised over the block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBJECT_COUNT_PROBABILITIES = (0.4, 0.35, 0.25)
"""Chance that a scene holds 1, 2 or 3 objects (of distinct concepts)."""
MAIN_NEAR_PROBABILITY = 0.8
"""Chance that the main object is near; when it is far, every object is far."""
OTHER_NEAR_PROBABILITY = 0.35
"""Chance that a non-main object is near too (when the main one is)."""
PAIR_PROBABILITY = 0.2
"""Chance that an object (of a countable concept) appears twice."""
MAX_INSTANCES = 4


@dataclass(frozen=True)
class SceneObject:
    """One kind of object in a scene.

    Attributes:
        concept: concept index.
        count: number of instances, 1 or 2.
        near: near (drawn large, sounds loud) or far (drawn small, sounds quiet).
    """

    concept: int
    count: int = 1
    near: bool = True


@dataclass(frozen=True)
class Scene:
    """One scene: what an image, a clip and captions of the same id show.

    Attributes:
        id: unique across splits, e.g. "eval-000042".
        objects: one to three objects of distinct concepts; ``objects[0]`` is
            the main one (the largest and loudest).
        seed: per-scene rendering seed (its top bits encode the split).
    """

    id: str
    objects: tuple[SceneObject, ...]
    seed: int

    @property
    def main(self) -> int:
        """Concept index of the main object: the scene's label."""
        return self.objects[0].concept

    @property
    def concepts(self) -> tuple[int, ...]:
        """Concept indices of every object, main first."""
        return tuple(obj.concept for obj in self.objects)

    @property
    def instances(self) -> int:
        """Number of drawn shapes (= sound events) in the scene."""
        return sum(obj.count for obj in self.objects)


def draw_objects(rng: np.random.Generator, mains: np.ndarray, countable: np.ndarray) -> list[tuple[SceneObject, ...]]:
    """The objects of one block of scenes.

    Args:
        rng: the block's random stream.
        mains: int ``(B,)`` main concept of each scene.
        countable: bool ``(n_concepts,)``, whether a concept may appear twice
            (mass nouns such as rain may not).

    Returns:
        ``B`` tuples of objects, main first, at most :data:`MAX_INSTANCES` instances each.
    """
    size, n = len(mains), len(countable)
    sizes = 1 + np.searchsorted(np.cumsum(OBJECT_COUNT_PROBABILITIES), rng.random(size), side="right")
    offsets = 1 + np.argsort(rng.random((size, n - 1)), axis=1)[:, :2]  # two distinct other concepts
    others = (mains[:, None] + offsets) % n
    main_near = rng.random(size) < MAIN_NEAR_PROBABILITY
    other_near = (rng.random((size, 2)) < OTHER_NEAR_PROBABILITY) & main_near[:, None]
    pairs = rng.random((size, 3)) < PAIR_PROBABILITY
    # plain Python values: indexing numpy arrays element by element costs more than drawing them
    rows = zip(mains.tolist(), sizes.tolist(), others.tolist(), main_near.tolist(), other_near.tolist(), pairs.tolist())
    may_pair = countable.tolist()
    block = []
    for main, object_count, other_concepts, near, others_near, paired in rows:
        concepts = [main, *other_concepts[: min(object_count, n) - 1]]
        nears = [near, *others_near]
        objects, instances = [], 0
        for slot, concept in enumerate(concepts):
            room = MAX_INSTANCES - instances - (len(concepts) - slot - 1)  # keep one for each later object
            count = 2 if paired[slot] and may_pair[concept] and room >= 2 else 1
            instances += count
            objects.append(SceneObject(concept=concept, count=count, near=nears[slot]))
        block.append(tuple(objects))
    return block
