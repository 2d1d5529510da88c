"""Built-in `webdataset` plugin: items read from webdataset tar shards, streamed.

A recipe (or ``bridge index`` / ``bridge export``) names it as::

    memory:
      image: {plugin: webdataset, options: {shards: "cc3m/{000000..000331}.tar", member: jpg, label: "json:class"}}

Shards are read with the webdataset library (``pip install 'mcr-bridge[scale]'``),
one sample at a time; only the members named are read. Image and audio
members are written once to a content-addressed folder under the cache and
handed to the MCR as files; text members are texts. Item ids are the samples'
``__key__``. Under ``bridge extract`` with several ranks, each rank reads only
its own shards (every ``world_size``-th). See :mod:`bridge_webdataset.shards` and ``docs/scale.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge import SourceType, hookimpl
from bridge_webdataset.options import DEFAULT_MEMBERS, TEXT_EXTENSIONS, WebDatasetOptions

__all__ = ["DEFAULT_MEMBERS", "TEXT_EXTENSIONS", "WebDatasetOptions", "register_sources"]


def _items(options: WebDatasetOptions, context):
    from bridge_webdataset.shards import list_items

    return list_items(options, context)


def _stream(options: WebDatasetOptions, context):
    from bridge_webdataset.shards import stream_items

    return stream_items(options, context)


def _share(options: WebDatasetOptions, context, rank: int, world_size: int):
    from bridge_webdataset.shards import share_items

    return share_items(options, context, rank, world_size)


@hookimpl
def register_sources(register: Callable[..., None]) -> None:
    """Register the `webdataset` source type."""
    register(
        SourceType(
            name="webdataset",
            items=_items,
            stream=_stream,
            share=_share,
            options=WebDatasetOptions,
            summary="Webdataset tar shards (brace patterns), streamed: image/audio members as files, text members as texts, ids from __key__.",
        )
    )
