"""Cached MCR features of recipe sources, shared by training and evaluation.

A :class:`FeatureProvider` reads a source's items once, encodes them through
an MCR with the on-disk cache (:func:`bridge.data.extract.extract`) and remembers
every skipped item so the run can list them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from bridge.data.decoding import DecodingSettings
from bridge.data.extract import Features, SkippedItem, extract
from bridge.core.mcr import MCR
from bridge.progress import Reporter, SilentReporter
from bridge.data.sources import Item, SourceContext, read_items, source_key


@dataclass
class FeatureProvider:
    """Encodes recipe sources through the bridge's MCRs, with caching.

    Attributes:
        mcr_for: member name → loaded MCR.
        context: base folder and cache folder.
        skip_bad_items: skip unreadable items instead of stopping.
        decoding: how many workers decode files, of which kind, with which time limit.
    """

    mcr_for: Callable[[str], MCR]
    context: SourceContext
    skip_bad_items: bool = False
    reporter: Reporter = field(default_factory=SilentReporter)
    decoding: DecodingSettings = field(default_factory=lambda: DecodingSettings())
    skipped: list[SkippedItem] = field(default_factory=list)
    _items: dict[str, list[Item]] = field(default_factory=dict)
    _features: dict[tuple[str, str, str], Features] = field(default_factory=dict)

    def items(self, spec: BaseModel | list[BaseModel]) -> list[Item]:
        """The items of a source (or of a list of sources, concatenated), read once."""
        key = source_key(spec)
        if key not in self._items:
            self._items[key] = read_items(spec, self.context)
        return self._items[key]

    def features(self, member: str, modality: str, spec: BaseModel | list[BaseModel]) -> Features:
        """The source's items encoded by MCR ``member`` as ``modality``."""
        return self.features_of_items(member, modality, self.items(spec), source_key(spec))

    def features_of_items(self, member: str, modality: str, items: list[Item], key: str | None = None) -> Features:
        mcr = self.mcr_for(member)
        cache_key = (member, modality, key or "\n".join(f"{i.id}\t{i.value}" for i in items))
        if cache_key not in self._features:
            features = extract(
                mcr,
                modality,
                items,
                self.context.cache_dir,
                skip_bad_items=self.skip_bad_items,
                reporter=self.reporter,
                description=f"encode {modality} ({mcr.id})",
                workers=self.decoding.workers,
                worker_kind=self.decoding.worker_kind,
                decode_timeout_s=self.decoding.decode_timeout_s,
            )
            self.skipped.extend(s for s in features.skipped if s not in self.skipped)
            self._features[cache_key] = features
        return self._features[cache_key]

    def texts(self, member: str, modality: str, texts: list[str]) -> np.ndarray:
        """Encode literal strings (prompts) → ``(len(texts), D_role)``."""
        items = [Item(id=str(index), value=text, is_file=False) for index, text in enumerate(texts)]
        return np.asarray(self.features_of_items(member, modality, items).embeddings)


def aligned_rows(*features: Features) -> list[np.ndarray]:
    """Row indices into each feature set for the ids present in all of them, in the first one's order."""
    common = set(features[0].ids)
    for other in features[1:]:
        common &= set(other.ids)
    positions = [{item_id: row for row, item_id in enumerate(f.ids)} for f in features]
    order = [item_id for item_id in features[0].ids if item_id in common]
    return [np.array([position[item_id] for item_id in order], dtype=np.int64) for position in positions]


def default_context(
    base_dir: Path, cache_dir: Path | None, reporter: Reporter | None = None, source_type: Callable[[str], Any] | None = None
) -> SourceContext:
    """The context recipe sources are read in: the recipe folder, the cache and the registry's source look-up."""
    from bridge.data.extract import default_cache_dir

    return SourceContext(
        base_dir=base_dir, cache_dir=(cache_dir or default_cache_dir()).expanduser(), reporter=reporter, source_type=source_type
    )
