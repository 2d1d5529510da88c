"""Words of the synthetic world and the three caption styles built from them.

:data:`LEXICON` names every concept the world can hold, with synonyms and the
gerund of the sound it makes. Captions come in three styles:

- ``vision`` — what an image shows: "a photo of a large striped red bell next
  to two tiny dogs" (near objects are large, far ones small);
- ``audio`` — what a clip sounds like: "a bell ringing loudly with two dogs
  barking in the distance" (near objects are loud, far ones faint);
- ``neutral`` — only the objects, how many and how near, for the overlap
  corpus that both text encoders read: "a bell close by and two distant
  dogs". Neutral captions use the same synonyms as the other two styles and
  none of their style words.

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
    "sound sounds recording clip heard hear faintly quietly softly loudly loud faint background distance".split()
)
# The only words a neutral caption adds to the concepts' synonyms (and their plurals).
NEUTRAL_FUNCTION_WORDS = frozenset("a an the and with plus together two close by far away distant".split())

# How each style says that an object is near / far (vision: its size; audio: its loudness).
VISION_NEAR, VISION_FAR = ("large", "big"), ("small", "tiny")
AUDIO_NEAR, AUDIO_FAR = ("loudly",), ("faintly", "quietly", "in the distance")
NEUTRAL_NEAR, NEUTRAL_FAR = ("close by",), ("far away",)
NEUTRAL_FAR_PREFIX = "distant"
DISTANCE_MENTION = 0.7
"""Chance that a caption says whether an object is near or far."""
MAX_CAPTION_WORDS = 16
"""Captions are kept to this many words (the pixel text encoder reads 16)."""

_VISION_TEMPLATES = ("a photo of {main}", "a picture of {main}", "an image of {main}", "a close-up photo of {main}",
                     "{main} on a cluttered background", "a snapshot of {main}")
_VISION_OTHERS = ("{scene} next to {other}", "{scene} with {other} nearby", "{scene} beside {other}",
                  "{scene} and {other}")
_AUDIO_TEMPLATES = ("the {sound} of {main}", "{main} {gerund}", "the sound of {main} {gerund}",
                    "a recording of {main} {gerund}", "{main} {gerund} in a short clip")
_AUDIO_OTHERS = ("{scene} with {other} {gerund}", "{scene} and {other} {gerund}",
                 "{scene} while {other} can be heard {gerund}", "{scene}, {other} {gerund} in the background")
_NEUTRAL_TEMPLATES = ("{main}", "the {bare}", "{bare}")
_NEUTRAL_OTHERS = ("{scene} and {other}", "{scene} with {other}", "{scene} together with {other}",
                   "{scene} plus {other}")
_IRREGULAR_PLURALS = {"mouse": "mice", "sheep": "sheep"}


@dataclass(frozen=True)
class Describable:
    """What a caption may say about one object of a scene.

    Attributes:
        concept: concept index.
        count: how many instances (1 or 2).
        near: near (large, loud) or far (small, quiet).
        adjectives_vision: visual words that are true of this object
            (pattern, colour), in English adjective order.
        adjectives_audio: acoustic words true of its sound (pitch,
            modulation).
    """

    concept: int
    count: int = 1
    near: bool = True
    adjectives_vision: tuple[str, ...] = ()
    adjectives_audio: tuple[str, ...] = ()


def with_article(phrase: str, mass: bool) -> str:
    """``phrase`` with "a"/"an" in front, or as it is for a mass noun."""
    if mass:
        return phrase
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def plural(noun: str) -> str:
    """The plural of a (possibly two-word) noun: "dogs", "puppies", "mice", "car horns"."""
    head, _, last = noun.rpartition(" ")
    if last in _IRREGULAR_PLURALS:
        word = _IRREGULAR_PLURALS[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def caption(style: str, objects: Sequence[Describable], lexicon: Sequence[LexiconEntry],
            rng: np.random.Generator) -> str:
    """One caption of a scene's objects (main first), at most :data:`MAX_CAPTION_WORDS` words.

    Every object is named (with "two" and the plural for a pair); each
    style may say how near it is in its own words. A draw that comes out
    too long is redrawn (from the same stream, so still deterministic),
    then shortened to its bare form.

    Raises:
        ValueError: ``style`` is not one of :data:`CAPTION_STYLES`.
    """
    builders = {"vision": _vision, "audio": _audio, "neutral": _neutral}
    if style not in builders:
        raise ValueError(f"caption style {style!r} is not one of {', '.join(CAPTION_STYLES)}")
    for attempt in range(4):
        text = builders[style](objects, lexicon, rng, terse=attempt == 3)
        if len(words_of(text)) <= MAX_CAPTION_WORDS:
            break
    return text


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _some(rng: np.random.Generator, words: Sequence[str], keep: float) -> list[str]:
    """A random subset of ``words`` (each kept with probability ``keep``), order preserved."""
    kept = rng.random(len(words)) < keep
    return [word for word, keep_it in zip(words, kept) if keep_it]


def _noun_phrase(thing: Describable, lexicon: Sequence[LexiconEntry], rng: np.random.Generator,
                 adjectives: Sequence[str] = ()) -> str:
    """"a dog", "two small dogs", "rain" (mass), with ``adjectives`` before the noun."""
    entry = lexicon[thing.concept]
    noun = _pick(rng, entry.synonyms)
    if thing.count > 1:
        return " ".join(["two", *adjectives, plural(noun)])
    return with_article(" ".join([*adjectives, noun]), entry.mass)


def _join(rng: np.random.Generator, scene: str, others: list[str], templates: Sequence[str], **extra: str) -> str:
    """``scene`` joined with the other objects' phrases (a third one after "and")."""
    if not others:
        return scene
    return _pick(rng, templates).format(scene=scene, other=" and ".join(others), **extra)


def _vision(objects: Sequence[Describable], lexicon: Sequence[LexiconEntry], rng: np.random.Generator,
            terse: bool = False) -> str:
    phrases = []
    keep = 0.6 if len(objects) == 1 else 0.3
    for thing in objects:
        size = [_pick(rng, VISION_NEAR if thing.near else VISION_FAR)] if rng.random() < DISTANCE_MENTION else []
        extra = [] if terse else _some(rng, thing.adjectives_vision, keep)
        phrases.append(_noun_phrase(thing, lexicon, rng, [*size, *extra]))
    text = _pick(rng, _VISION_TEMPLATES).format(main=phrases[0])
    return _join(rng, text, phrases[1:], _VISION_OTHERS)


def _loudness(thing: Describable, rng: np.random.Generator, terse: bool) -> str:
    """" loudly", " in the distance" or "" (leading space)."""
    if terse or rng.random() >= DISTANCE_MENTION:
        return ""
    return " " + _pick(rng, AUDIO_NEAR if thing.near else AUDIO_FAR)


def _audio(objects: Sequence[Describable], lexicon: Sequence[LexiconEntry], rng: np.random.Generator,
           terse: bool = False) -> str:
    main = objects[0]
    entry = lexicon[main.concept]
    template = _AUDIO_TEMPLATES[1] if terse else _pick(rng, _AUDIO_TEMPLATES)
    adjectives = [] if terse else _some(rng, main.adjectives_audio, 0.35)
    subject = _noun_phrase(main, lexicon, rng)
    if template == "the {sound} of {main}":
        if entry.mass:
            subject = subject.partition(" ")[2] if subject.startswith(("a ", "an ")) else subject
        loud = [] if rng.random() >= DISTANCE_MENTION else [("loud" if main.near else "faint")]
        text = template.format(main=subject, sound=" ".join([*loud, *adjectives, entry.gerund]))
    else:
        text = template.format(main=subject, gerund=entry.gerund + _loudness(main, rng, terse))
    for index, other in enumerate(objects[1:]):
        other_entry = lexicon[other.concept]
        phrase = _noun_phrase(other, lexicon, rng)
        gerund = other_entry.gerund + _loudness(other, rng, terse)
        if index == 0:
            joint = _AUDIO_OTHERS[0] if terse else _pick(rng, _AUDIO_OTHERS)
            text = joint.format(scene=text, other=phrase, gerund=gerund)
        else:
            text = f"{text} and {phrase} {gerund}"
    return text


def _neutral(objects: Sequence[Describable], lexicon: Sequence[LexiconEntry], rng: np.random.Generator,
             terse: bool = False) -> str:
    phrases = []
    for thing in objects:
        mention = not terse and rng.random() < DISTANCE_MENTION
        if mention and not thing.near and rng.random() < 0.5:
            phrases.append(_noun_phrase(thing, lexicon, rng, [NEUTRAL_FAR_PREFIX]))
            continue
        phrase = _noun_phrase(thing, lexicon, rng)
        if mention:
            phrase += " " + _pick(rng, NEUTRAL_NEAR if thing.near else NEUTRAL_FAR)
        phrases.append(phrase)
    if len(objects) == 1:
        entry = lexicon[objects[0].concept]
        bare = phrases[0] if entry.mass or objects[0].count > 1 else phrases[0].partition(" ")[2]
        return _pick(rng, _NEUTRAL_TEMPLATES).format(main=phrases[0], bare=bare)
    return _join(rng, phrases[0], phrases[1:], _NEUTRAL_OTHERS)


def words_of(text: str) -> list[str]:
    """The lower-case word tokens of a caption (hyphenated words kept whole)."""
    return re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())


def vocabulary(lexicon: Sequence[LexiconEntry], adjectives: Sequence[str]) -> tuple[str, ...]:
    """Every word a caption may contain: templates, the entries' synonyms, plurals and gerunds, the distance
    words, ``adjectives``; sorted."""
    templates = (*_VISION_TEMPLATES, *_VISION_OTHERS, *_AUDIO_TEMPLATES, *_AUDIO_OTHERS,
                 *_NEUTRAL_TEMPLATES, *_NEUTRAL_OTHERS)
    words = {"a", "an", "loud", "faint", NEUTRAL_FAR_PREFIX, *NEUTRAL_FUNCTION_WORDS}
    for phrase in (*VISION_NEAR, *VISION_FAR, *AUDIO_NEAR, *AUDIO_FAR, *NEUTRAL_NEAR, *NEUTRAL_FAR):
        words.update(words_of(phrase))
    for template in templates:
        words.update(words_of(re.sub(r"\{[a-z]+\}", " ", template)))
    for entry in lexicon:
        words.add(entry.gerund)
        for synonym in entry.synonyms:
            words.update(words_of(synonym))
            words.update(words_of(plural(synonym)))
    words.update(word for word in adjectives if word)
    return tuple(sorted(words))
