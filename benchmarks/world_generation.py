"""Generation speed of the synthetic world: items per second per core.

Target: *the world generates at least 1,000 items/s per core* (images and
clips each), measured as this process's CPU time (user + system, so file
writes count) of ``materialize``: render, encode and write the PNG / WAV files
of ``--count`` fresh scenes into an empty temporary folder, plus the sidecar
manifest. Rendering + encoding alone (no disk) is reported beside it: on a
machine that others load, CPU time of system calls grows, so the second
figure says what the renderers themselves cost.

    .venv/bin/python benchmarks/world_generation.py --count 2000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _measure import verdict

from bridge_synthworld.files import encode_png, encode_wav, materialize
from bridge_synthworld.world import World

TARGET_ITEMS_PER_SECOND = 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="Scenes per modality.")
    parser.add_argument("--split", default="mcr_train", help="Which split's scenes.")
    args = parser.parse_args()
    world = World(0)
    scenes = world.scenes(args.split, args.count)
    root = Path(tempfile.mkdtemp(prefix="world-generation-"))
    try:
        for modality, render, encode in (("image", world.render_image, encode_png),
                                         ("audio", world.render_audio, encode_wav)):
            cpu = time.process_time()
            for scene in scenes:
                encode(render(scene))
            in_memory = len(scenes) / (time.process_time() - cpu)
            cpu, wall = time.process_time(), time.perf_counter()
            materialize(world, args.split, args.count, modality, root)
            files = len(scenes) / (time.process_time() - cpu)
            print(f"{modality}: {files:.0f} items/s per core with files ({len(scenes) / (time.perf_counter() - wall):.0f} "
                  f"wall), {in_memory:.0f} items/s render + encode only; target {TARGET_ITEMS_PER_SECOND:.0f}: "
                  f"{verdict(files >= TARGET_ITEMS_PER_SECOND)}")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
