"""The `features` MCR: embeddings looked up in precomputed files instead of computed by a model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from bridge import MCR, BridgeError, ItemError, Modality
from bridge_features.options import FeaturesOptions
from bridge_features.store import FeatureTable, files_digest, read_feature_table, read_folder_table

ROWS_PER_BATCH = 4096


class FeaturesMCR(MCR):
    """An MCR whose items are ids and whose embeddings are rows of precomputed files.

    ``prepare(modality, id)`` maps an id to its row index; ``encode(modality,
    rows)`` returns those rows as an ``(N, D)`` float32 tensor (L2-normalised
    when ``normalize`` is set).
    """

    def __init__(self, mcr_id: str, tables: dict[Modality, FeatureTable], normalize: bool, fingerprint: str):
        self.id = mcr_id
        self.modalities = tuple(tables)
        self.dim = next(iter(tables.values())).dim
        self.fingerprint = fingerprint
        self.normalize = normalize
        self._tables = tables

    def batch_size(self, modality: Modality) -> int:
        return ROWS_PER_BATCH

    def prepare(self, modality: Modality, item: Any) -> int:
        """The row index of id ``item``.

        Raises:
            ItemError: the id is not listed in the modality's ids file.
        """
        self.check_modality(modality)
        table = self._tables[modality]
        if not isinstance(item, str):
            raise ItemError(repr(item), f"expected an id string listed in {table.ids_path}, got {type(item).__name__}")
        row = table.row_of_id.get(item)
        if row is None:
            raise ItemError(item, f"unknown id; it is not listed in {table.ids_path}")
        return row

    def encode(self, modality: Modality, inputs: Sequence[int]) -> torch.Tensor:
        """``(N, D)`` float32 rows on :attr:`device` for N row indices from :meth:`prepare`.

        Raises:
            BridgeError: a row is not finite, or is zero while ``normalize`` is set.
        """
        self.check_modality(modality)
        table = self._tables[modality]
        rows = list(inputs)
        embeddings = table.rows(rows)
        finite = torch.isfinite(embeddings).all(dim=1)
        if not bool(finite.all()):
            raise BridgeError(f"{table.embeddings_path}: {_describe_row(table, rows, finite)} has non-finite values; expected finite embeddings")
        if self.normalize:
            nonzero = embeddings.norm(dim=1) > 0
            if not bool(nonzero.all()):
                raise BridgeError(f"{table.embeddings_path}: {_describe_row(table, rows, nonzero)} is all zeros and cannot be L2-normalised")
            embeddings = F.normalize(embeddings, dim=1)
        return embeddings.to(self.device)


def load_features_mcr(options: FeaturesOptions) -> FeaturesMCR:
    """Open every modality's files, check they agree, and fingerprint them."""
    base_dir = (options.base_dir or Path.cwd()).expanduser().resolve()
    tables: dict[Modality, FeatureTable] = {}
    hashed: list[Path] = []
    described: list[str] = [f"normalize={options.normalize}"]
    for modality, files in sorted(options.modalities.items()):
        if files.folder is not None:
            tables[modality], shard_files = read_folder_table(_resolve(files.folder, base_dir), modality, files.emb_folder, files.id_column)
            hashed += shard_files
            described.append(f"{modality}:folder:{files.emb_folder or ''}:{files.id_column}")
            continue
        assert files.embeddings is not None and files.ids is not None  # the options' validator
        embeddings_path = _resolve(files.embeddings, base_dir)
        ids_path = _resolve(files.ids, base_dir)
        tables[modality] = read_feature_table(embeddings_path, ids_path, files.tensor)
        hashed += [embeddings_path, ids_path]
        described.append(f"{modality}:{files.tensor or ''}")
    _check_same_dim(tables)
    fingerprint = options.fingerprint or files_digest(hashed, described)
    return FeaturesMCR(options.id, tables, options.normalize, fingerprint)


def _resolve(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base_dir / path


def _check_same_dim(tables: dict[Modality, FeatureTable]) -> None:
    first_modality, first = next(iter(tables.items()))
    for modality, table in tables.items():
        if table.dim != first.dim:
            raise BridgeError(
                f"{table.embeddings_path}: {modality} embeddings have D={table.dim} but {first_modality} "
                f"({first.embeddings_path}) has D={first.dim}; all modalities must share D"
            )


def _describe_row(table: FeatureTable, rows: list[int], good: torch.Tensor) -> str:
    """``row R (id 'X')`` for the first row whose ``good`` flag is false."""
    row = rows[int((~good).nonzero()[0, 0])]
    return f"row {row} (id {table.ids[row]!r})"
