"""`bridge export`, `bridge index` and `bridge search`: embedding folders and cross-modal search at scale.

The engine is :mod:`bridge.pipeline.export` and :mod:`bridge.pipeline.search`;
sources on the command line are read by :mod:`bridge.data.source_args`.
Nothing here imports torch or faiss before a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bridge.cli.console import console, error_console, plain, say
from bridge.errors import BridgeError, shorten

THREADS = click.option("--threads", type=click.IntRange(1, 1024), help="CPU threads for torch and FAISS (default: theirs).")


def _source_options(command):
    """The options that shape SOURCE arguments (see `bridge.data.source_args`)."""
    for option in reversed((
        click.option("--column", help="Manifest column holding the paths (or texts)."),
        click.option("--id-column", help="Manifest column holding item ids (default: the row number)."),
        click.option("--label-column", help="Manifest column holding labels."),
        click.option("--glob", help="Folder glob, e.g. '**/*.wav' (default: the modality's usual extensions)."),
        click.option("--member", "tar_member", help="Tar member extension(s) holding the item, comma-separated (default: the modality's usual ones)."),
        click.option("--label", "tar_label", help="Tar member holding the label (`cls`), or `json:FIELD`."),
        click.option("--skip-bad-items", is_flag=True, help="Leave out unreadable items (listed at the end) instead of stopping."),
        click.option("--cache-dir", type=click.Path(path_type=Path), help="Embedding cache (default: $BRIDGE_CACHE or ~/.cache/mcr-bridge)."),
        THREADS,
    )):
        command = option(command)
    return command


def _items(sources, modality, column, id_column, label_column, glob, tar_member, tar_label, cache_dir):
    """Parse SOURCE arguments (checked now) and return a generator of their items and the registry."""
    from bridge.core.registry import Registry
    from bridge.data.features import default_context
    from bridge.data.source_args import SourceOptions, parse_sources, stream_sources

    options = SourceOptions(column, id_column, label_column, glob, tar_member.split(",") if tar_member else None, tar_label)
    parts = parse_sources(list(sources), modality, Path.cwd(), options)
    registry = Registry.from_environment()
    context = default_context(Path.cwd(), cache_dir, None, registry.source_type)
    return stream_sources(parts, context), registry, context.cache_dir


def _threads(threads: int | None) -> None:
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)
    try:
        import faiss
    except ImportError:
        return
    faiss.omp_set_num_threads(threads)


def _print_skipped(skipped) -> None:
    if skipped:
        console.print(plain(f"skipped {len(skipped)} unreadable item(s):", "yellow"))
        for item in skipped:
            say(f"  {shorten(str(item.value), 200)}: {shorten(str(item.reason), 200)}")


@click.command()
@click.argument("space_dir", metavar="BRIDGE_OR_SPACE", type=click.Path(path_type=Path))
@click.argument("sources", nargs=-1, metavar="SOURCE...")
@click.option("--modality", "-m", required=True, help="Modality of the items, e.g. image, audio, text.")
@click.option("--out", "-o", "out", type=click.Path(path_type=Path), required=True, help="The embedding folder to write (new or empty).")
@click.option("--via", help="For a modality several members encode: embed through this member (default: all, averaged).")
@click.option("--raw", "member", metavar="MEMBER", help="Write this member's own MCR embeddings (the cached ones) instead of joint-space ones.")
@click.option("--dtype", type=click.Choice(["float16", "float32"]), default="float16", show_default=True, help="Stored precision.")
@click.option("--shard-rows", type=click.IntRange(1), default=100_000, show_default=True, help="Rows per shard.")
@_source_options
def export(space_dir, sources, modality, out, via, member, dtype, shard_rows, column, id_column, label_column, glob, tar_member,
           tar_label, skip_bad_items, cache_dir, threads):
    """Embed SOURCE items into a folder of <modality>_emb/*.npy + metadata/*.parquet shards (clip-retrieval layout)."""
    from bridge.cli.progress import RichReporter
    from bridge.pipeline.embed_stream import open_space
    from bridge.pipeline.export import export as run_export

    items, registry, cache = _items(sources, modality, column, id_column, label_column, glob, tar_member, tar_label, cache_dir)
    _threads(threads)
    space = open_space(space_dir, registry)
    result = run_export(space, modality, items, out, member=member, via=via, dtype=dtype, shard_rows=shard_rows, cache_dir=cache,
                        skip_bad_items=skip_bad_items, reporter=RichReporter(error_console), space_path=space_dir)
    _print_skipped(result.skipped)
    say(f"wrote {result.count} {modality} embeddings (D={result.dim}, {dtype}) in {result.shards} shard(s) to {result.out}")


@click.command("index")
@click.argument("space_dir", metavar="BRIDGE_OR_SPACE", required=False, type=click.Path(path_type=Path))
@click.argument("sources", nargs=-1, metavar="SOURCE...")
@click.option("--modality", "-m", help="Modality of the items, e.g. image, audio, text.")
@click.option("--out", "-o", "out", type=click.Path(path_type=Path), required=True, help="The index folder to write.")
@click.option("--kind", type=click.Choice(["auto", "flat", "ivf", "ivf-sq8", "hnsw"]), default="auto", show_default=True,
              help="FAISS index kind; auto: flat up to 100k vectors, IVF beyond.")
@click.option("--via", help="For a modality several members encode: embed through this member.")
@click.option("--raw", "member", metavar="MEMBER", help="Index this member's own MCR embeddings instead of joint-space ones.")
@click.option("--from-folder", type=click.Path(path_type=Path), help="Index an existing embedding folder (bridge export's or clip-retrieval's) instead of SOURCEs.")
@click.option("--keep-embeddings", is_flag=True, help="Keep the float32 embeddings in the index folder (it is then an export folder too).")
@_source_options
def index_command(space_dir, sources, modality, out, kind, via, member, from_folder, keep_embeddings, column, id_column, label_column,
                  glob, tar_member, tar_label, skip_bad_items, cache_dir, threads):
    """Build a FAISS index of SOURCE items embedded into BRIDGE_OR_SPACE, for `bridge search`."""
    from bridge.cli.progress import RichReporter
    from bridge.pipeline.embed_stream import open_space
    from bridge.pipeline.search import Index

    reporter = RichReporter(error_console)
    if from_folder is not None:
        if space_dir is not None or sources:
            raise BridgeError("--from-folder indexes a folder as it is: give no BRIDGE_OR_SPACE or SOURCE")
        _threads(threads)
        index = Index.from_folder(from_folder, out, modality, kind=kind, reporter=reporter)
    else:
        if space_dir is None or modality is None:
            raise BridgeError("give BRIDGE_OR_SPACE, --modality and SOURCE... (or --from-folder FOLDER)")
        items, registry, cache = _items(sources, modality, column, id_column, label_column, glob, tar_member, tar_label, cache_dir)
        _threads(threads)
        space = open_space(space_dir, registry)
        index = Index.build(space, modality, items, out, kind=kind, via=via, member=member, cache_dir=cache, skip_bad_items=skip_bad_items,
                            keep_embeddings=keep_embeddings, reporter=reporter, space_path=space_dir)
        _print_skipped(index.skipped)
    info = index.info
    tuned = f", {info['parameter']}={info['value']} (recall@10 {info['tuned_recall_at_10']:.3f} on its own sample)" if info.get("parameter") else ""
    say(f"indexed {len(index)} {index.modality} vectors (D={index.dim}) as {info['factory']}{tuned} in {index.directory}")


@click.command()
@click.argument("index_dir", metavar="INDEX", type=click.Path(path_type=Path))
@click.argument("space_dir", metavar="BRIDGE_OR_SPACE", type=click.Path(path_type=Path))
@click.argument("queries", nargs=-1, metavar="QUERY...")
@click.option("--modality", "-m", required=True, help="Modality of the queries (any the space holds), e.g. audio.")
@click.option("-k", "k", type=click.IntRange(1, 10_000), default=10, show_default=True, help="Results per query.")
@click.option("--from-file", "list_file", type=click.Path(path_type=Path), help="A text file with one query (path or text) a line.")
@click.option("--via", help="For a modality several members encode: embed the queries through this member.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per query instead of text.")
@THREADS
def search(index_dir, space_dir, queries, modality, k, list_file, via, as_json, threads):
    """The K nearest INDEX items of each QUERY (files or texts of --modality), searched in BRIDGE_OR_SPACE."""
    from bridge.data.embedding_io import read_item_list
    from bridge.pipeline.search import Index, read_info

    read_info(index_dir)  # a missing or foreign index is reported before anything heavy loads
    values = list(queries) + (read_item_list(list_file) if list_file else [])
    if not values:
        raise BridgeError("no queries: give QUERY items or --from-file")
    from bridge.pipeline.embed_stream import open_space

    _threads(threads)
    index = Index.load(index_dir)
    space = open_space(space_dir)
    results = index.search(space, modality, values, k, via=via)
    for query, hits in zip(values, results):
        if as_json:
            say(json.dumps({"query": query, "hits": [vars(hit) for hit in hits]}, ensure_ascii=False))
            continue
        say(f"query: {shorten(query, 200)}")
        for hit in hits:
            label = f"  [{hit.label}]" if hit.label is not None else ""
            say(f"  {hit.rank:>3}  {hit.score:.4f}  {shorten(hit.id, 80)}  {shorten(str(hit.value), 200)}{label}")


COMMANDS = (export, index_command, search)
