"""Point-cloud generation speed of the synthetic world: clouds per CPU-second, rendering alone and rendered + written.

Target: at least 1,000 clouds per second per core, rendered and written.

    OMP_NUM_THREADS=1 python benchmarks/cloud_generation.py [--count 3000]

Measured in process CPU time on one thread, so a machine shared with other
work still gives the per-core rate.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bridge_synthworld.files import materialize
from bridge_synthworld.world import World

TARGET = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="clouds to generate")
    count = parser.parse_args().count
    world = World(seed=0)
    scenes = world.scenes("eval", count)
    started = time.process_time()
    points = sum(len(world.render_cloud(scene)) for scene in scenes)
    render = time.process_time() - started
    with tempfile.TemporaryDirectory() as folder:
        started = time.process_time()
        materialize(world, "eval", count, "pointcloud", Path(folder))
        write = time.process_time() - started
    print(f"{count} clouds, {points / count:.0f} points on average")
    print(f"rendering:           {count / render:,.0f} clouds per CPU-second")
    print(f"rendering + writing: {count / write:,.0f} clouds per CPU-second (.npy files, atomic renames)")
    verdict = "PASS" if count / write >= TARGET else "FAIL"
    print(f"{verdict}: rendered + written {count / write:,.0f} clouds/s per core (target {TARGET:,})")


if __name__ == "__main__":
    main()
