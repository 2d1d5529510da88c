"""Words of the synthetic world and the three caption styles built from them.

:data:`LEXICON` names every concept the world can hold, with synonyms and the
gerund of the sound it makes. Captions come in three styles:

- ``vision`` — what an image shows: "a photo of a small striped red bell next
  to a tiny blue dog";
- ``audio`` — what a clip sounds like: "the high ringing of a bell with a dog
  barking faintly";
- ``neutral`` — only the concepts, for the overlap corpus that both text
  encoders read: "a bell and a dog". Neutral captions use the same
  synonyms as the other two styles and none of their style words.

Every caption is a deterministic function of the scene's seed and the style.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CAPTION_STYLES = ("vision", "audio", "neutral")


@dataclass(frozen=True)
class LexiconEntry:
    """How captions name one concept.

    Attributes:
        synonyms: the nouns for it; the first is the concept's name.
        gerund: the sound it makes, as an -ing word ("barking").
        mass: a mass noun ("rain"), used without an article.
    """

    synonyms: tuple[str, ...]
    gerund: str
    mass: bool = False


def _entry(synonyms: str, gerund: str, mass: bool = False) -> LexiconEntry:
    return LexiconEntry(tuple(word.strip() for word in synonyms.split(",")), gerund, mass)


LEXICON: tuple[LexiconEntry, ...] = (
    _entry("bell, chime", "ringing"),
    _entry("dog, puppy", "barking"),
    _entry("rain, rainfall", "pattering", mass=True),
    _entry("engine, motor", "rumbling"),
    _entry("whistle", "shrieking"),
    _entry("cat, kitten", "meowing"),
    _entry("cow", "mooing"),
    _entry("rooster, cockerel", "crowing"),
    _entry("owl", "hooting"),
    _entry("frog, toad", "croaking"),
    _entry("bee, bumblebee", "buzzing"),
    _entry("duck", "quacking"),
    _entry("horse, pony", "neighing"),
    _entry("sheep, lamb", "bleating"),
    _entry("lion", "roaring"),
    _entry("snake, serpent", "hissing"),
    _entry("cricket", "chirping"),
    _entry("crow, raven", "cawing"),
    _entry("pig, hog", "grunting"),
    _entry("wolf", "howling"),
    _entry("drum, tom-tom", "thumping"),
    _entry("guitar", "strumming"),
    _entry("piano", "playing"),
    _entry("violin, fiddle", "singing"),
    _entry("trumpet, bugle", "blaring"),
    _entry("flute, fife", "piping"),
    _entry("saxophone, sax", "wailing"),
    _entry("clock, timepiece", "ticking"),
    _entry("telephone, phone", "trilling"),
    _entry("doorbell", "chiming"),
    _entry("siren", "whooping"),
    _entry("horn, car horn", "honking"),
    _entry("train, locomotive", "chugging"),
    _entry("helicopter, chopper", "whirring"),
    _entry("airplane, jet", "droning"),
    _entry("motorcycle, motorbike", "revving"),
    _entry("kettle, teakettle", "whistling"),
    _entry("fan", "humming"),
    _entry("vacuum cleaner, hoover", "whining"),
    _entry("drill", "screeching"),
    _entry("hammer, mallet", "banging"),
    _entry("saw, handsaw", "rasping"),
    _entry("typewriter", "clacking"),
    _entry("keyboard", "clicking"),
    _entry("door, gate", "creaking"),
    _entry("wind, breeze", "blowing", mass=True),
    _entry("thunder, thunderclap", "rumbling", mass=True),
    _entry("surf, wave", "crashing", mass=True),
    _entry("stream, brook", "babbling"),
    _entry("fire, campfire", "crackling"),
    _entry("baby, infant", "crying"),
    _entry("whale", "moaning"),
    _entry("dolphin", "squeaking"),
    _entry("seagull, gull", "squawking"),
    _entry("pigeon, dove", "cooing"),
    _entry("parrot", "chattering"),
    _entry("mouse", "squeaking"),
    _entry("elephant", "trumpeting"),
    _entry("monkey, ape", "screaming"),
    _entry("alarm, buzzer", "beeping"),
    _entry("cymbal", "clashing"),
    _entry("gong", "booming"),
    _entry("xylophone", "tinkling"),
    _entry("accordion", "wheezing"),
)

# Words that mark a caption as describing an image (never in neutral captions).
VISION_WORDS = frozenset(
    "photo picture image drawing snapshot close-up cluttered next nearby beside tiny small large big".split()
)
# Words that mark a caption as describing a sound (never in neutral captions).
AUDIO_WORDS = frozenset(
    "sound sounds recording clip heard hear faintly quietly softly background distance".split()
)
# The only words a neutral caption adds to the concepts' synonyms.
NEUTRAL_FUNCTION_WORDS = frozenset("a an the and with plus together".split())

_VISION_TEMPLATES = ("a photo of {main}", "a picture of {main}", "an image of {main}", "a close-up photo of {main}",
                     "{main} on a cluttered background", "a snapshot of {main}")
_VISION_DISTRACTOR = ("{scene} next to {other}", "{scene} with {other} nearby", "{scene} beside {other}",
                      "{scene} and {other}")
_AUDIO_TEMPLATES = ("the {sound} of {main}", "{main} {gerund}", "the sound of {main} {gerund}",
                    "a recording of {main} {gerund}", "{main} {gerund} in a short clip")
_AUDIO_DISTRACTOR = ("{scene} with {other} {gerund} faintly", "{scene} and {other} {gerund} in the background",
                     "{scene} while {other} is heard {gerund} quietly", "{scene}, {other} {gerund} in the distance")
_NEUTRAL_TEMPLATES = ("{main}", "the {bare}", "{bare}")
_NEUTRAL_DISTRACTOR = ("{main} and {other}", "{main} with {other}", "{main} together with {other}",
                       "{main} plus {other}")


@dataclass(frozen=True)
class Describable:
    """What a caption may say about one object of a scene.

    Attributes:
        concept: concept index.
        adjectives_vision: visual words that are true of this object
            (size, pattern, colour), in English adjective order.
        adjectives_audio: acoustic words true of its sound (pitch,
            modulation).
    """

    concept: int
    adjectives_vision: tuple[str, ...] = ()
    adjectives_audio: tuple[str, ...] = ()


def with_article(phrase: str, mass: bool) -> str:
    """``phrase`` with "a"/"an" in front, or as it is for a mass noun."""
    if mass:
        return phrase
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def caption(style: str, main: Describable, other: Describable | None, lexicon: Sequence[LexiconEntry],
            rng: np.random.Generator) -> str:
    """One caption of a scene with a ``main`` object and an optional ``other``.

    Raises:
        ValueError: ``style`` is not one of :data:`CAPTION_STYLES`.
    """
    if style == "vision":
        return _vision(main, other, lexicon, rng)
    if style == "audio":
        return _audio(main, other, lexicon, rng)
    if style == "neutral":
        return _neutral(main, other, lexicon, rng)
    raise ValueError(f"caption style {style!r} is not one of {', '.join(CAPTION_STYLES)}")


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _noun(entry: LexiconEntry, rng: np.random.Generator) -> str:
    return _pick(rng, entry.synonyms)


def _some(rng: np.random.Generator, words: Sequence[str], keep: float) -> list[str]:
    """A random subset of ``words`` (each kept with probability ``keep``), order preserved."""
    kept = rng.random(len(words)) < keep
    return [word for word, keep_it in zip(words, kept) if keep_it]


def _vision_phrase(thing: Describable, lexicon: Sequence[LexiconEntry], rng: np.random.Generator) -> str:
    entry = lexicon[thing.concept]
    words = _some(rng, thing.adjectives_vision, 0.6) + [_noun(entry, rng)]
    return with_article(" ".join(words), entry.mass)


def _vision(main: Describable, other: Describable | None, lexicon: Sequence[LexiconEntry],
            rng: np.random.Generator) -> str:
    text = _pick(rng, _VISION_TEMPLATES).format(main=_vision_phrase(main, lexicon, rng))
    if other is not None:
        text = _pick(rng, _VISION_DISTRACTOR).format(scene=text, other=_vision_phrase(other, lexicon, rng))
    return text


def _audio(main: Describable, other: Describable | None, lexicon: Sequence[LexiconEntry],
           rng: np.random.Generator) -> str:
    entry = lexicon[main.concept]
    template = _pick(rng, _AUDIO_TEMPLATES)
    adjectives = _some(rng, main.adjectives_audio, 0.35)
    sound = " ".join([*adjectives, entry.gerund])
    noun = _noun(entry, rng)
    subject = with_article(noun, entry.mass)
    if template == "the {sound} of {main}" and entry.mass:
        subject = noun
    text = template.format(main=subject, sound=sound, gerund=entry.gerund)
    if other is not None:
        other_entry = lexicon[other.concept]
        text = _pick(rng, _AUDIO_DISTRACTOR).format(
            scene=text, other=with_article(_noun(other_entry, rng), other_entry.mass), gerund=other_entry.gerund
        )
    return text


def _neutral(main: Describable, other: Describable | None, lexicon: Sequence[LexiconEntry],
             rng: np.random.Generator) -> str:
    entry = lexicon[main.concept]
    noun = _noun(entry, rng)
    phrase = with_article(noun, entry.mass)
    if other is None:
        return _pick(rng, _NEUTRAL_TEMPLATES).format(main=phrase, bare=noun)
    other_entry = lexicon[other.concept]
    return _pick(rng, _NEUTRAL_DISTRACTOR).format(
        main=phrase, other=with_article(_noun(other_entry, rng), other_entry.mass)
    )


def words_of(text: str) -> list[str]:
    """The lower-case word tokens of a caption (hyphenated words kept whole)."""
    return re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())


def vocabulary(lexicon: Sequence[LexiconEntry], adjectives: Sequence[str]) -> tuple[str, ...]:
    """Every word a caption may contain: templates, the entries' synonyms and gerunds, ``adjectives``; sorted."""
    templates = (*_VISION_TEMPLATES, *_VISION_DISTRACTOR, *_AUDIO_TEMPLATES, *_AUDIO_DISTRACTOR,
                 *_NEUTRAL_TEMPLATES, *_NEUTRAL_DISTRACTOR)
    words = {"a", "an", *NEUTRAL_FUNCTION_WORDS}
    for template in templates:
        words.update(words_of(re.sub(r"\{[a-z]+\}", " ", template)))
    for entry in lexicon:
        words.add(entry.gerund)
        for synonym in entry.synonyms:
            words.update(words_of(synonym))
    words.update(word for word in adjectives if word)
    return tuple(sorted(words))
