"""`bridge extract`: encode every source of a recipe into the cache, without training.

Run plainly it is one process. Under ``torchrun`` (or any launcher that sets
ranks) the command line passes a :class:`DistributedContext`; each rank then
encodes a disjoint share of every source's missing contents on its own
device (:func:`bridge.data.extract.extract_share`): a source that can give one
reader's part (:func:`bridge.data.sources.read_share`: webdataset shards,
every ``world_size``-th shard, so no rank reads another's data; manifests,
every ``world_size``-th row while streaming) gives each rank only its part;
any other source is listed whole by every rank, which keeps the items at
its positions. Either way a rank hashes and decodes only its own items. Each rank writes its own cache parts, all
ranks meet at a barrier (summing what each held and encoded), and rank 0
reports the counts; every later reader (``connect``, a one-process rerun)
assembles the sources from the cache and encodes nothing. Parts are written
atomically, so a killed run resumes where its ranks stopped; the cached
content does not depend on the number of ranks.

Which sources: every source :func:`bridge.recipes.check.recipe_sources` names
(``data.overlap``, ``data.memory``, the evaluation tasks' items, ``paired``),
the ``evaluation.geometry`` sources, and every zero-shot and text-pivot prompt,
each through every member that encodes its modality — what ``connect``,
``ablate`` and ``eval`` read afterwards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bridge.core.registry import Registry
from bridge.core.yaml_io import shown
from bridge.data.extract import ShardCounts, SkippedItem, extract_share, share_of
from bridge.data.sources import Item, read_share, source_key
from bridge.errors import BridgeError, MissingInputs
from bridge.pipeline.geometry import geometry_sources
from bridge.pipeline.preflight import check_evaluation_modalities, check_prompts, recipe_prompts
from bridge.pipeline.session import Session, open_session
from bridge.progress import Reporter, SilentReporter
from bridge.recipes.check import check_recipe_data, recipe_sources
from bridge.recipes.io import load_recipe
from bridge.recipes.schema import Recipe

BARRIER_TIMEOUT = timedelta(hours=24)
"""How long a rank waits at the barrier for the slowest rank (a large shard takes hours)."""


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands among the extraction processes (``torchrun``'s RANK, WORLD_SIZE, LOCAL_RANK).

    The default is a plain single process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise BridgeError(f"RANK must be in 0..WORLD_SIZE-1, got RANK={self.rank} with WORLD_SIZE={self.world_size}")
        if self.local_rank < 0:
            raise BridgeError(f"LOCAL_RANK must be non-negative, got {self.local_rank}")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass(frozen=True)
class Job:
    """One source (or the prompts of one member) encoded by one member as one modality."""

    name: str
    member: str
    modality: str
    spec: Any = None
    texts: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobCount:
    """What one job held and did: its items, the distinct contents encoded (by all ranks) and found cached."""

    name: str
    member: str
    modality: str
    items: int
    encoded: int
    cached: int
    skipped: int


@dataclass(frozen=True)
class ExtractTimes:
    """Where one rank's time went, in seconds.

    ``opening``: checking the recipe and loading the models; ``listing``: reading every source's items (a
    plugin source that generates its files, such as synthworld, writes the missing ones then);
    ``encoding``: hashing, decoding and encoding the missing contents and writing cache parts (one process:
    also assembling each source from the cache); ``waiting``: the rendezvous and the closing barrier, i.e.
    waiting for slower or later ranks. ``encoding`` divides between ranks, and so does ``listing`` for
    sources that read one reader's part (webdataset shards); every rank opens the recipe and lists every
    other source in full, so those parts bound what more ranks can gain.
    """

    opening: float = 0.0
    listing: float = 0.0
    encoding: float = 0.0
    waiting: float = 0.0

    @property
    def total(self) -> float:
        return self.opening + self.listing + self.encoding + self.waiting


@dataclass
class ExtractResult:
    """What a `bridge extract` run did. Rank 0 holds the counts; the other ranks' ``counts`` are empty.

    ``seconds`` is this rank's time from opening the recipe to the last count, ``times`` its parts.
    """

    counts: list[JobCount]
    cache_dir: Path
    device: str
    context: DistributedContext
    seconds: float
    skipped: list[SkippedItem] = field(default_factory=list)
    times: ExtractTimes = field(default_factory=ExtractTimes)

    @property
    def encoded(self) -> int:
        return sum(count.encoded for count in self.counts)


_SOURCE_KEYS = (
    (re.compile(r"data\.overlap(\[\d+\])?$"), lambda recipe, match: recipe.overlap),
    (re.compile(r"data\.memory\.(.+)$"), lambda recipe, match: match.group(1)),
    (re.compile(r"evaluation\.(retrieval|validation)\[(\d+)\]\.(query|target)$"),
     lambda recipe, match: getattr(getattr(recipe.evaluation, match.group(1))[int(match.group(2))], f"{match.group(3)}_modality")),
    (re.compile(r"evaluation\.zeroshot\[(\d+)\]\.items$"), lambda recipe, match: recipe.evaluation.zeroshot[int(match.group(1))].modality),
    (re.compile(r"evaluation\.paired\.(.+)$"), lambda recipe, match: match.group(1)),
)


def modality_of(recipe: Recipe, key: str) -> str:
    """The modality of the source at recipe key ``key`` (as :func:`recipe_sources` names it)."""
    for pattern, modality in _SOURCE_KEYS:
        match = pattern.match(key)
        if match:
            return modality(recipe, match)
    raise BridgeError(f"{key}: no known modality for this recipe source")


def recipe_jobs(session: Session) -> list[Job]:
    """Every (source, member) pair to encode, each distinct source once per member, then the prompts."""
    recipe = session.recipe
    sources = [(key, modality_of(recipe, key), spec) for key, spec in recipe_sources(recipe)]
    if recipe.evaluation.geometry is not False:
        sources += [(f"evaluation.geometry.{modality}", modality, spec) for modality, spec in geometry_sources(recipe).items()]
    jobs: list[Job] = []
    seen: set[tuple[str, str, str]] = set()
    for key, modality, spec in sources:
        for member, info in session.infos.items():
            identity = (member, modality, source_key(spec))
            if modality in info.modalities and identity not in seen:
                seen.add(identity)
                jobs.append(Job(key, member, modality, spec=spec))
    prompts: dict[tuple[str, str], dict[str, None]] = {}
    for _, member, modality, text in recipe_prompts(session):
        prompts.setdefault((member, modality), {})[text] = None
    for (member, modality), texts in prompts.items():
        jobs.append(Job("prompts", member, modality, texts=tuple(texts)))
    return jobs


def rank_device(recipe_device: str, context: DistributedContext) -> str:
    """The recipe's device for one process; under several ranks ``cuda:LOCAL_RANK`` when CUDA is present, else ``cpu``."""
    if not context.distributed:
        return recipe_device
    import torch

    if recipe_device != "cpu" and torch.cuda.is_available():
        if context.local_rank >= torch.cuda.device_count():
            raise BridgeError(f"LOCAL_RANK {context.local_rank}: torch sees only {torch.cuda.device_count()} CUDA device(s); "
                              "start at most that many processes per node")
        torch.cuda.set_device(context.local_rank)
        return f"cuda:{context.local_rank}"
    return "cpu"


def _items(session: Session, job: Job) -> list[Item]:
    if job.spec is not None:
        return session.provider.items(job.spec)
    return [Item(id=str(index), value=text, is_file=False) for index, text in enumerate(job.texts)]


@dataclass(frozen=True)
class RankItems:
    """A job's items as one rank holds them: its own share already (``shared``: read from a source that
    lists one reader's part, e.g. its own tar shards), or every item, of which it keeps its positions."""

    items: list[Item]
    shared: bool


def _rank_items(session: Session, jobs: list[Job], context: DistributedContext) -> list[RankItems]:
    """Every job's items for this rank; each source read once, even when several members encode it."""
    read: dict[str, RankItems] = {}
    held = []
    for job in jobs:
        if job.spec is None:
            held.append(RankItems(_items(session, job), shared=False))
            continue
        key = source_key(job.spec)
        if key not in read:
            share = read_share(job.spec, session.provider.context, context.rank, context.world_size)
            read[key] = RankItems(share, shared=True) if share is not None else RankItems(_items(session, job), shared=False)
        held.append(read[key])
    return held


def _encode_share(session: Session, jobs: list[Job], held: list[RankItems], context: DistributedContext) -> list[tuple[int, ShardCounts]]:
    """This rank's share of every job: how many items it held, and what it encoded and found cached and missing."""
    provider = session.provider
    done = []
    for job, rank_items in zip(jobs, held):
        mcr = session.mcrs[job.member]
        share = rank_items.items if rank_items.shared else list(share_of(rank_items.items, context.rank, context.world_size))
        counts = extract_share(
            mcr, job.modality, share, provider.context.cache_dir, rank=context.rank,
            skip_bad_items=provider.skip_bad_items, reporter=provider.reporter,
            description=f"encode {job.name} ({job.modality}, {mcr.id}) rank {context.rank}/{context.world_size}",
            workers=provider.decoding.workers, worker_kind=provider.decoding.worker_kind, decode_timeout_s=provider.decoding.decode_timeout_s,
        )
        done.append((len(share), counts))
    return done


def _finalise(session: Session, jobs: list[Job], items: list[list[Item]]) -> list[JobCount]:
    """One process: assemble every job through the cache (encoding what is missing) and count it."""
    counts = []
    for job, job_items in zip(jobs, items):
        features = session.provider.features_of_items(job.member, job.modality, job_items,
                                                      source_key(job.spec) if job.spec is not None else None)
        counts.append(JobCount(job.name, job.member, job.modality, len(job_items), features.encoded, features.cached,
                               len(features.skipped)))
    return counts


class _Group:
    """A torch.distributed process group for the run (gloo on CPU, nccl on CUDA), made only for several ranks."""

    def __init__(self, context: DistributedContext, device: str):
        import torch.distributed as dist

        self.dist = dist
        self.device = device
        self.owned = False
        if context.distributed and not dist.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            try:
                dist.init_process_group(backend, rank=context.rank, world_size=context.world_size, timeout=BARRIER_TIMEOUT)
            except ValueError as error:  # env:// rendezvous without MASTER_ADDR / MASTER_PORT
                raise BridgeError(f"cannot join the other ranks ({error}); start several processes with torchrun") from None
            self.owned = True

    def sum(self, values: list[int]) -> list[int]:
        """Wait for every rank (the barrier), then the element-wise sum of ``values`` over the ranks."""
        import torch

        self.dist.barrier()
        tensor = torch.tensor(values, dtype=torch.int64, device=self.device)
        self.dist.all_reduce(tensor)
        return [int(value) for value in tensor.tolist()]

    def close(self) -> None:
        if self.owned:
            self.dist.destroy_process_group()


def extract_recipe(
    recipe_path: str | Path,
    overrides: dict[str, Any] | None = None,
    context: DistributedContext | None = None,
    reporter: Reporter | None = None,
    registry: Registry | None = None,
) -> ExtractResult:
    """Encode every source of a recipe into its cache; with several ranks, each encodes its share.

    Args:
        recipe_path: the YAML recipe.
        overrides: dotted-key overrides, e.g. ``{"cache_dir": "/data/cache"}``.
        context: this process's rank among ``world_size`` (default: a single process).
        reporter: progress bars (default: silent).
        registry: the plugins to use (default: the installed ones).

    Returns:
        The counts per source and member (complete on rank 0).
    """
    recipe, base_dir = load_recipe(recipe_path, overrides)
    try:
        return extract_recipe_sources(recipe, base_dir, context, reporter, registry)
    except MissingInputs as error:
        raise error.located(shown(recipe_path)) from None


def extract_recipe_sources(
    recipe: Recipe, base_dir: Path, context: DistributedContext | None = None, reporter: Reporter | None = None, registry: Registry | None = None
) -> ExtractResult:
    """:func:`extract_recipe` for an already-validated recipe."""
    clock = _Clock()
    context = context or DistributedContext()
    reporter = reporter or SilentReporter()
    registry = registry or Registry.from_environment()
    check_recipe_data(recipe, base_dir, registry, check_output=False)
    recipe = recipe.model_copy(update={"device": rank_device(recipe.device, context)})
    session = open_session(recipe, base_dir, registry, reporter)
    check_evaluation_modalities(session)
    check_prompts(session)
    jobs = recipe_jobs(session)
    opening = clock.lap()
    if not context.distributed:
        items = [_items(session, job) for job in jobs]
        listing = clock.lap()
        counts = _finalise(session, jobs, items)
        times = ExtractTimes(opening, listing, encoding=clock.lap())
        return ExtractResult(counts, session.provider.context.cache_dir, session.device, context, times.total,
                             list(session.provider.skipped), times)
    held = _rank_items(session, jobs, context)
    listing = clock.lap()
    group = _Group(context, session.device)
    waiting = clock.lap()
    try:
        mine = _encode_share(session, jobs, held, context)
        encoding = clock.lap()
        totals = group.sum([value for size, counts in mine for value in (size, counts.encoded, counts.cached, counts.skipped)])
        waiting += clock.lap()
    finally:
        group.close()
    counts = [JobCount(job.name, job.member, job.modality, *totals[4 * index : 4 * index + 4]) for index, job in enumerate(jobs)]
    counts = counts if context.main else []
    times = ExtractTimes(opening, listing, encoding, waiting)
    return ExtractResult(counts, session.provider.context.cache_dir, session.device, context, times.total, times=times)


class _Clock:
    """Seconds between successive laps."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        return seconds
