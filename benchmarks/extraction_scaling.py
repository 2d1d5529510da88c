"""Benchmark: `bridge extract` in 1 process vs 2 processes under torchrun, on the same items.

Target: 2 processes of 1 torch thread each reach at least 1.7x the items/s
of 1 process of 1 thread, and fill a cache with the same contents (every
content key maps to the same float32 bytes; the part files differ, one set
per rank). Also reported: 1 process with torch's default thread count.

The items are the synthetic world's images and audio clips (real PNG/WAV
files, decoded and encoded by the pixel and wave models). The world's files
are generated once before anything is timed (they live in the cache folder;
each configuration's new cache folder gets hard links to them), so every
configuration reads the same files from the page cache and computes every
embedding anew. Decoding runs inline (`data.decoding.workers=0`), so "1
thread" means one core's worth of work per process.

Two times are printed per configuration: the wall time of the whole command
(interpreter start, torch import, plugin loading included) and the time
rank 0 reports from opening the recipe to the last count (the barrier wait
included). The verdict uses the latter; both ratios are shown. Each
configuration runs ``--repeats`` times, the configurations taking turns
(1, 2, default, 1, 2, default, ...), each run into a new cache folder, and
the fastest run of each counts: on a machine others share, load comes and
goes between runs.

Run::

    .venv/bin/python benchmarks/extraction_scaling.py                   # 6,000 images + 3,000 clips, ~2 min on 2 idle cores
    .venv/bin/python benchmarks/extraction_scaling.py --images 1000 --clips 500   # quick look
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

import _measure

RATIO_TARGET = 1.7
RECIPE = """\
name: extraction-scaling
strategy: connect
members:
  pixel: {{plugin: synthworld-pixel}}
  wave: {{plugin: synthworld-wave}}
overlap: text
data:
  overlap: {{plugin: synthworld, options: {{split: overlap, modality: "text:neutral", count: 64}}}}
  memory:
    image: {{plugin: synthworld, options: {{split: image_memory, modality: image, count: {images}}}}}
    audio: {{plugin: synthworld, options: {{split: audio_memory, modality: audio, count: {clips}}}}}
evaluation:
  baselines: [chance]
output: out
"""
_SECONDS = re.compile(r"into .* \((\d+(?:\.\d+)?) s, ")


@dataclass(frozen=True)
class Run:
    """One configuration's measurement."""

    label: str
    processes: int
    wall_seconds: float
    inner_seconds: float
    cache: Path


def _bridge(arguments: list[str], processes: int, threads: int | None, world_cache: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "BRIDGE_CACHE": str(world_cache)}
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        environment.pop(name, None)
    if threads is not None:
        environment["OMP_NUM_THREADS"] = str(threads)
        arguments = [*arguments, "--threads", str(threads)]
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else []
    command = [sys.executable, *launcher, "-m", "bridge", "extract", *arguments, "--set", "data.decoding.workers=0"]
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise click.ClickException(f"`{' '.join(command)}` failed:\n{result.stderr[-3000:]}")
    return result


def measure(label: str, recipe: Path, root: Path, processes: int, threads: int | None, world_cache: Path) -> Run:
    """Run `bridge extract` into a new cache folder and time it."""
    cache = root / f"cache-{label.replace(' ', '-').replace(',', '')}-{len(list(root.glob('cache-*')))}"
    cache.mkdir()
    # the world's files live in the cache folder: hard-link the warm-up's, so only embeddings are new
    subprocess.run(["cp", "-al", str(root / "warm-up" / "synthworld"), str(cache / "synthworld")], check=True)
    start = time.perf_counter()
    result = _bridge([str(recipe), "--cache-dir", str(cache)], processes, threads, world_cache)
    wall = time.perf_counter() - start
    found = _SECONDS.search(result.stdout)
    if found is None:
        raise click.ClickException(f"no timing line in the output of {label}:\n{result.stdout[-2000:]}")
    return Run(label, processes, wall, float(found.group(1)), cache)


def cache_contents(cache: Path) -> dict[tuple[str, str], bytes]:
    """Every cached embedding as ``{(store folder, content key): float32 bytes}``, whatever part holds it."""
    contents = {}
    for keys_file in sorted(cache.glob("*/*/*/part-*.keys")):
        store = str(keys_file.parent.relative_to(cache))
        vectors = np.load(keys_file.with_suffix(".npy"), allow_pickle=False)
        for key, vector in zip(keys_file.read_text(encoding="ascii").split(), vectors):
            contents.setdefault((store, key), vector.tobytes())
    return contents


def _fastest(runs: list[Run]) -> Run:
    """The run of ``runs`` with the shortest rank-0 time, its wall time replaced by the shortest wall time."""
    best = min(runs, key=lambda run: run.inner_seconds)
    return Run(best.label, best.processes, min(run.wall_seconds for run in runs), best.inner_seconds, best.cache)


@click.command()
@click.option("--images", type=click.IntRange(min=1), default=6000, show_default=True, help="Image files to encode.")
@click.option("--clips", type=click.IntRange(min=1), default=3000, show_default=True, help="Audio clips to encode.")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True,
              help="Runs of each configuration, taking turns; the fastest counts.")
def main(images: int, clips: int, repeats: int) -> None:
    """Time `bridge extract` in 1 and 2 processes on the same synthworld files and compare the caches."""
    items = images + clips
    print(f"extraction scaling: {images:,} images + {clips:,} audio clips (+ 64 captions), cpu cores: {os.cpu_count()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bridge-scaling-") as folder:
        root = Path(folder)
        recipe = root / "recipe.yaml"
        recipe.write_text(RECIPE.format(images=images, clips=clips), encoding="utf-8")
        world_cache = root / "world"
        print("generating the world's files and warming the page cache ...", flush=True)
        _bridge([str(recipe), "--cache-dir", str(root / "warm-up")], 1, 1, world_cache)
        configurations = (("1 process x 1 thread", 1, 1), ("2 processes x 1 thread", 2, 1), ("1 process, default threads", 1, None))
        runs: dict[str, list[Run]] = {label: [] for label, _, _ in configurations}
        for repeat in range(repeats):
            for label, processes, threads in configurations:
                run = measure(label, recipe, root, processes, threads, world_cache)
                print(f"  [{repeat + 1}/{repeats}] {label}: {run.inner_seconds:.1f} s in rank 0 ({items / run.inner_seconds:,.0f} items/s), "
                      f"{run.wall_seconds:.1f} s wall ({items / run.wall_seconds:,.0f} items/s)", flush=True)
                runs[label].append(run)
        print(f"fastest of {repeats} run(s) each:")
        for label, measured in runs.items():
            inner, wall = min(run.inner_seconds for run in measured), min(run.wall_seconds for run in measured)
            print(f"  {label}: {inner:.1f} s in rank 0 ({items / inner:,.0f} items/s), {wall:.1f} s wall ({items / wall:,.0f} items/s)")
        single, double, default = (_fastest(measured) for measured in runs.values())
        inner_ratio = single.inner_seconds / double.inner_seconds
        wall_ratio = single.wall_seconds / double.wall_seconds
        print(f"2 processes / 1 process: {inner_ratio:.2f}x in rank 0's time, {wall_ratio:.2f}x in wall time "
              f"(target >= {RATIO_TARGET}): {_measure.verdict(inner_ratio >= RATIO_TARGET)}")
        print(f"1 process with torch's default threads / 1 thread: {single.inner_seconds / default.inner_seconds:.2f}x")
        one, two = cache_contents(single.cache), cache_contents(double.cache)
        same = one.keys() == two.keys() and all(one[key] == two[key] for key in one)
        print(f"cache contents identical ({len(one):,} embeddings, every key and its float32 bytes): {_measure.verdict(same)}")


if __name__ == "__main__":
    main()
