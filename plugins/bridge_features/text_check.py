"""`recipe check` support: prompts that a `features` text table does not list, found without loading any embedding."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bridge import ItemError
from bridge_features.ids import read_ids
from bridge_features.options import FeaturesOptions


def check_texts(options: FeaturesOptions, modality: str, texts: Sequence[str]) -> None:
    """Raise :class:`bridge.ItemError` for the first of ``texts`` that is not an id of ``modality``'s table."""
    files = options.modalities.get(modality)
    if files is None:
        return
    base_dir = (options.base_dir or Path.cwd()).expanduser()
    if files.folder is not None:
        from bridge_features.folder import read_folder

        folder = files.folder.expanduser()
        folder = folder if folder.is_absolute() else base_dir / folder
        _, ids, _, ids_path = read_folder(folder, modality, files.emb_folder, files.id_column)
        known = set(ids)
    else:
        assert files.ids is not None  # the options' validator
        ids_path = files.ids.expanduser()
        ids_path = ids_path if ids_path.is_absolute() else base_dir / ids_path
        known = set(read_ids(ids_path))
    for text in texts:
        if text not in known:
            raise ItemError(text, f"unknown id; it is not listed in {ids_path}")
