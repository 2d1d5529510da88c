"""The two text tokenizers of the synthworld MCRs.

The pixel and wave models deliberately read text differently, as CLIP and
CLAP do:

- :class:`WordTokenizer` (pixel): a closed word vocabulary built from the
  training captions, with ``<pad>`` = 0 and ``<unk>`` = 1.
- :class:`TrigramTokenizer` (wave): every word becomes the character
  trigrams of ``#word#``, each hashed (CRC-32, stable across processes) into
  a fixed number of buckets; there is no vocabulary and no unknown word.

Both lower-case the text and split it into words of letters and digits.
Both return fixed-size integer arrays so batches stack without padding logic.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

PAD = "<pad>"
UNK = "<unk>"
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """The lower-cased words (letters and digits) of ``text``, in order."""
    return _WORD.findall(text.lower())


class WordTokenizer:
    """Word-level tokenizer with a closed vocabulary.

    Attributes:
        vocabulary: every known token, index = id; ``vocabulary[0]`` is
            ``<pad>`` and ``vocabulary[1]`` is ``<unk>``.
        max_words: captions are cut (or padded) to this many words.
    """

    def __init__(self, vocabulary: Sequence[str], max_words: int = 16):
        if tuple(vocabulary[:2]) != (PAD, UNK):
            raise ValueError(f"vocabulary must start with {PAD!r}, {UNK!r}")
        self.vocabulary = tuple(vocabulary)
        self.max_words = max_words
        self._ids = {token: index for index, token in enumerate(self.vocabulary)}

    @classmethod
    def build(cls, texts: Iterable[str], max_words: int = 16) -> "WordTokenizer":
        """A tokenizer whose vocabulary is every word of ``texts``, sorted."""
        found = sorted({word for text in texts for word in words(text)})
        return cls([PAD, UNK, *found], max_words=max_words)

    @property
    def size(self) -> int:
        """Number of token ids (embedding rows needed)."""
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``: int64 ``(max_words,)``, 0-padded, unknown words -> 1."""
        ids = np.zeros(self.max_words, dtype=np.int64)
        unk = self._ids[UNK]
        for position, word in enumerate(words(text)[: self.max_words]):
            ids[position] = self._ids.get(word, unk)
        return ids

    def config(self) -> dict:
        """What :meth:`from_config` needs (stored in the model's YAML)."""
        return {"kind": "word", "max_words": self.max_words, "vocabulary": list(self.vocabulary)}

    @classmethod
    def from_config(cls, config: dict) -> "WordTokenizer":
        return cls(config["vocabulary"], max_words=int(config["max_words"]))


class TrigramTokenizer:
    """Hashed character-trigram tokenizer (fastText-like subwords).

    A word ``dog`` becomes the trigrams ``#do``, ``dog``, ``og#``; each is
    hashed with CRC-32 into ``1 .. buckets`` (0 is padding). Any word, seen
    or not, gets ids.

    Attributes:
        buckets: number of hash buckets (embedding rows = ``buckets + 1``).
        max_words: captions are cut (or padded) to this many words.
        max_trigrams: trigrams kept per word (longer words are cut).
    """

    def __init__(self, buckets: int = 4096, max_words: int = 16, max_trigrams: int = 12):
        self.buckets = buckets
        self.max_words = max_words
        self.max_trigrams = max_trigrams

    @property
    def size(self) -> int:
        """Number of token ids (embedding rows needed)."""
        return self.buckets + 1

    def word_ids(self, word: str) -> list[int]:
        """Hashed trigram ids of one word, each in ``1 .. buckets``."""
        padded = f"#{word}#"
        trigrams = [padded[start : start + 3] for start in range(len(padded) - 2)]
        return [1 + zlib.crc32(trigram.encode("utf-8")) % self.buckets for trigram in trigrams[: self.max_trigrams]]

    def encode(self, text: str) -> np.ndarray:
        """Trigram ids of ``text``: int64 ``(max_words, max_trigrams)``, 0-padded."""
        ids = np.zeros((self.max_words, self.max_trigrams), dtype=np.int64)
        for position, word in enumerate(words(text)[: self.max_words]):
            word_ids = self.word_ids(word)
            ids[position, : len(word_ids)] = word_ids
        return ids

    def config(self) -> dict:
        """What :meth:`from_config` needs (stored in the model's YAML)."""
        return {
            "kind": "trigram",
            "buckets": self.buckets,
            "max_words": self.max_words,
            "max_trigrams": self.max_trigrams,
        }

    @classmethod
    def from_config(cls, config: dict) -> "TrigramTokenizer":
        return cls(
            buckets=int(config["buckets"]),
            max_words=int(config["max_words"]),
            max_trigrams=int(config["max_trigrams"]),
        )
