"""Reading webdataset tar shards as items, one sample at a time, with the webdataset library.

A sample is the group of tar members that share a ``__key__``
(``000123.jpg``, ``000123.json``, ...). The item is the first of the
``member`` extensions the sample has:

- a text member (``txt``, ``caption``, ...) gives a text item, its UTF-8 content;
- any other member is written once to ``<files_dir>/<sha256[:2]>/<sha256>.<ext>``
  (content-addressed: a rerun writes nothing new, identical members share one
  file) and given to the MCR as that file, which its ``prepare`` reads like any
  other file.

Only the members named by ``member`` and ``label`` are read from the tar;
shards are opened one after another and streamed, never listed or loaded
whole. Item ids are the samples' ``__key__`` (unique across the shards).
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bridge import BridgeError, Item, SourceContext
from bridge.core.yaml_io import shown
from bridge.data.sources import resolve
from bridge.errors import quoted, shorten
from bridge.progress import SilentReporter
from bridge_webdataset.options import TEXT_EXTENSIONS, WebDatasetOptions

FILES_FOLDER = "webdataset-members"


def shard_paths(options: WebDatasetOptions, base_dir: Path) -> list[Path]:
    """Every shard, brace patterns expanded (webdataset's own expansion), resolved against ``base_dir``.

    Raises:
        BridgeError: a pattern expands to nothing, or a shard is missing or a folder.
    """
    from webdataset.shardlists import expand_urls

    paths: list[Path] = []
    for pattern in options.shards:  # type: ignore[union-attr]  # the validator made it a list
        expanded = expand_urls(pattern)
        if not expanded:
            raise BridgeError(f"shards: {quoted(pattern)} expands to no shard")
        paths += [resolve(Path(name), base_dir) for name in expanded]
    for path in paths:
        if not path.is_file():
            raise BridgeError(f"{shown(path)}: {'is a folder, expected a tar shard' if path.is_dir() else 'tar shard does not exist'}")
    return paths


def stream_items(options: WebDatasetOptions, context: SourceContext) -> Iterator[Item]:
    """The source's items, in shard order then tar order, one sample at a time.

    Raises:
        BridgeError: a shard is missing or not a readable tar, a sample lacks
            its member or label (with ``missing: error``), a text member or
            label is not UTF-8, an id repeats, or no sample has the member.
    """
    shards = shard_paths(options, context.base_dir)
    count = 0
    for item in _shard_items(shards, options, context):
        yield item
        count += 1
    if count == 0:
        raise _no_sample(shards, options)


def share_items(options: WebDatasetOptions, context: SourceContext, rank: int, world_size: int) -> list[Item]:
    """Reader ``rank``'s part of the items among ``world_size`` readers: the samples of shards ``rank,
    rank + world_size, ...``, so that a reader opens only its own shards.

    With ``limit`` (the first N samples in shard order) the part is every
    ``world_size``-th of those N instead, which every reader reads. Keys are
    checked for repeats within the part only; a reader whose shards hold no
    sample with the member yields nothing (the whole source is checked when
    it is read in one piece).
    """
    if options.limit is not None:
        return [item for position, item in enumerate(stream_items(options, context)) if position % world_size == rank]
    own = shard_paths(options, context.base_dir)[rank::world_size]
    return _read_with_progress(own, options, context, f"read {len(own)} webdataset shard(s) (rank {rank}/{world_size})")


def _read_with_progress(shards: list[Path], options: WebDatasetOptions, context: SourceContext, description: str) -> list[Item]:
    """The items of ``shards`` as a list, with a progress bar over the shards (a corpus takes minutes to read).

    Only for lists: a stream's consumer may be showing a progress bar of its own meanwhile.
    """
    reporter = context.reporter or SilentReporter()
    with reporter.task(description, total=len(shards)) as task:
        return list(_shard_items(shards, options, context, shard_done=lambda: task.advance(1)))


def _no_sample(shards: list[Path], options: WebDatasetOptions) -> BridgeError:
    """The error of a source none of whose samples has the member."""
    return BridgeError(f"{shown(shards[0])}: no sample of the {len(shards)} shard(s) has a member {' or '.join(options.member)}")


def _shard_items(shards: list[Path], options: WebDatasetOptions, context: SourceContext,
                 shard_done: Callable[[], None] | None = None) -> Iterator[Item]:
    """The items of ``shards``, in order, up to ``options.limit``; ids must not repeat among them.

    ``shard_done`` is called after each shard read to its end.
    """
    files_dir = resolve(options.files_dir, context.base_dir) if options.files_dir else Path(context.cache_dir) / FILES_FOLDER
    wanted = set(options.member)  # type: ignore[arg-type]
    label_member = _label_member(options.label)
    if label_member:
        wanted.add(label_member)
    seen: set[str] = set()
    count = 0
    for shard in shards:
        for sample in _samples(shard, wanted):
            key = sample["__key__"]
            where = f"{shown(shard)}: sample {quoted(key)}"
            item = _item(sample, options, files_dir, where)
            if item is None:
                continue
            if key in seen:
                raise BridgeError(f"{where}: repeats the key of an earlier sample; keys must be unique across the shards")
            seen.add(key)
            yield item
            count += 1
            if options.limit is not None and count >= options.limit:
                return
        if shard_done is not None:
            shard_done()


def list_items(options: WebDatasetOptions, context: SourceContext) -> list[Item]:
    """:func:`stream_items` as a list (what recipes' sources return), with a progress bar over the shards."""
    shards = shard_paths(options, context.base_dir)
    items = _read_with_progress(shards, options, context, f"read {len(shards)} webdataset shard(s)")
    if not items:
        raise _no_sample(shards, options)
    return items


def _samples(shard: Path, wanted: set[str]) -> Iterator[dict[str, Any]]:
    """The samples of one shard with only the ``wanted`` members read (webdataset's tar iterators).

    A sample none of whose members is wanted is yielded as ``{"__key__": key}`` alone, in its place,
    so that a missing member is noticed.
    """
    from webdataset.tariterators import base_plus_ext, tarfile_samples

    pending: dict[str, None] = {}  # keys met in the tar and not yet yielded, in tar order

    def select(name: str) -> bool:
        key, extension = base_plus_ext(name)
        if key is not None:
            pending.setdefault(key, None)
        return extension is not None and extension.lower() in wanted

    try:
        for sample in tarfile_samples([{"url": str(shard)}], select_files=select):
            for key in list(pending):
                del pending[key]
                if key == sample["__key__"]:
                    break
                yield {"__key__": key}
            yield sample
        for key in list(pending):
            yield {"__key__": key}
    except (tarfile.TarError, OSError, ValueError, EOFError) as error:
        reason = shorten(str(error.args[0]) if error.args else type(error).__name__, 160)
        raise BridgeError(f"{shown(shard)}: not a readable tar shard ({reason})") from error


def _label_member(label: str | None) -> str | None:
    if label is None:
        return None
    return "json" if label.startswith("json:") else label.lower()


def _item(sample: dict[str, Any], options: WebDatasetOptions, files_dir: Path, where: str) -> Item | None:
    """The sample's item, or ``None`` when it lacks its member or label and ``missing: skip``."""
    extension = next((m for m in options.member if m in sample), None)  # type: ignore[union-attr]
    if extension is None:
        if options.missing == "skip":
            return None
        raise BridgeError(f"{where}: has no member {' or '.join(options.member)} (missing: skip leaves such samples out)")
    label = _label(sample, options.label, where)
    if options.label is not None and label is None:
        if options.missing == "skip":
            return None
        raise BridgeError(f"{where}: has no label {quoted(options.label)} (missing: skip leaves such samples out)")
    data: bytes = sample[extension]
    if extension in TEXT_EXTENSIONS:
        return Item(id=sample["__key__"], value=_text(data, where, extension).strip(), is_file=False, label=label)
    return Item(id=sample["__key__"], value=str(_materialise(data, extension, files_dir)), is_file=True, label=label)


def _label(sample: dict[str, Any], label: str | None, where: str) -> str | None:
    if label is None:
        return None
    if not label.startswith("json:"):
        data = sample.get(label.lower())
        return None if data is None else _text(data, where, label).strip()
    data = sample.get("json")
    if data is None:
        return None
    try:
        value: Any = json.loads(_text(data, where, "json"))
    except json.JSONDecodeError as error:
        raise BridgeError(f"{where}: its json member is not valid JSON ({error.msg})") from error
    for part in label.removeprefix("json:").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return None if value is None else str(value)


def _text(data: bytes, where: str, member: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BridgeError(f"{where}: member {quoted(member)} is not UTF-8 text (byte {data[error.start]:#04x})") from error


def _materialise(data: bytes, extension: str, files_dir: Path) -> Path:
    """The content-addressed file holding ``data``, written (atomically) only if absent."""
    digest = hashlib.sha256(data).hexdigest()
    path = files_dir / digest[:2] / f"{digest}.{extension}"
    if path.is_file() and path.stat().st_size == len(data):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
