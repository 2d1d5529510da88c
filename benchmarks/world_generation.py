"""Generation speed of the synthetic world: items per second per core.

Target: *the world generates at least 1,000 items/s per core* (images and
clips each), measured as this process's CPU time (user + system, so file
writes count) of ``materialize``: render, encode and write the PNG / WAV files
of ``--count`` fresh scenes into an empty temporary folder, plus the sidecar
manifest. Rendering + encoding alone (no disk) is reported beside it, with
numpy's BLAS on one thread as ``materialize`` runs it, so the second figure
says what the renderers themselves cost. ``--stages`` adds the CPU time of
each stage per item.

The last line is the kernel's CPU time to create one empty file in that
folder right after the run. On a journal-less ext4 (this machine's disk)
the kernel skips inodes freed in the last ~30 s when it allocates one, so
after a large deletion (a previous run's cleanup, another job's test folders)
creating a file can cost ~1 ms instead of ~20-60 us: read the with-files
figures beside that line.

    .venv/bin/python benchmarks/world_generation.py --count 2000 [--stages]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from _measure import verdict
from threadpoolctl import threadpool_limits

from bridge_synthworld.files import encode_png, encode_wav, materialize, partial_path
from bridge_synthworld.manifest import write_manifest
from bridge_synthworld.world import World

TARGET_ITEMS_PER_SECOND = 1000.0
_CALIBRATION_FILES = 500


def stages(world: World, scenes: list, modality: str, folder: Path) -> dict[str, float]:
    """CPU seconds of each stage of writing ``scenes`` as files of ``modality`` into ``folder``, the way
    ``materialize`` does (render with layout, encode, temporary file open / write / close, rename, manifest)."""
    clock, encode = time.process_time, {"image": encode_png, "audio": encode_wav}[modality]
    suffix = {"image": ".png", "audio": ".wav"}[modality]
    spent = dict.fromkeys(("render", "encode", "open", "write", "close", "rename", "manifest"), 0.0)
    layouts = {}
    folder.mkdir(parents=True)
    with threadpool_limits(limits=1, user_api="blas"):
        for scene in scenes:
            path = folder / f"{scene.id}{suffix}"
            temporary = partial_path(path)
            start = clock()
            media, layouts[scene.id] = world.render_with_layout(scene, modality)
            rendered = clock()
            data = encode(media)
            encoded = clock()
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            opened = clock()
            os.write(descriptor, data)
            written = clock()
            os.close(descriptor)
            closed = clock()
            os.replace(temporary, path)
            marks = (start, rendered, encoded, opened, written, closed, clock())
            for stage, (begin, end) in zip(spent, zip(marks, marks[1:])):
                spent[stage] += end - begin
    start = clock()
    write_manifest(world, scenes, modality, folder, layouts)
    spent["manifest"] = clock() - start
    return spent


def file_creation_us(folder: Path) -> float:
    """The CPU time (us) of creating one empty file in ``folder`` now (the files are left for the cleanup)."""
    folder.mkdir()
    start = time.process_time()
    for index in range(_CALIBRATION_FILES):
        os.close(os.open(folder / f"f{index}", os.O_WRONLY | os.O_CREAT, 0o644))
    return (time.process_time() - start) / _CALIBRATION_FILES * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="Scenes per modality.")
    parser.add_argument("--split", default="mcr_train", help="Which split's scenes.")
    parser.add_argument("--stages", action="store_true", help="Also time each stage (into a second folder).")
    args = parser.parse_args()
    world = World(0)
    scenes = world.scenes(args.split, args.count)
    root = Path(tempfile.mkdtemp(prefix="world-generation-"))
    try:
        for modality, render, encode in (("image", world.render_image, encode_png),
                                         ("audio", world.render_audio, encode_wav)):
            cpu = time.process_time()
            with threadpool_limits(limits=1, user_api="blas"):
                for scene in scenes:
                    encode(render(scene))
            in_memory = len(scenes) / (time.process_time() - cpu)
            cpu, wall = time.process_time(), time.perf_counter()
            materialize(world, args.split, args.count, modality, root)
            files = len(scenes) / (time.process_time() - cpu)
            print(f"{modality}: {files:.0f} items/s per core with files ({len(scenes) / (time.perf_counter() - wall):.0f} "
                  f"wall), {in_memory:.0f} items/s render + encode only; target {TARGET_ITEMS_PER_SECOND:.0f}: "
                  f"{verdict(files >= TARGET_ITEMS_PER_SECOND)}")
        if args.stages:
            for modality in ("image", "audio"):
                spent = stages(world, scenes, modality, root / "stages" / modality)
                total = sum(spent.values())
                print(f"  {modality} stages, us per item: "
                      + ", ".join(f"{stage} {seconds / len(scenes) * 1e6:.0f}" for stage, seconds in spent.items())
                      + f"; total {total / len(scenes) * 1e6:.0f} ({len(scenes) / total:.0f} items/s)")
        print(f"creating an empty file in this folder now costs {file_creation_us(root / 'calibration'):.0f} us of CPU "
              "(~20-60 us on a quiet filesystem; see the docstring)")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
