"""`bridge extract` under torchrun on webdataset shards: each rank reads only its own shards (issue 10 §2).

Two ranks on 4 shards: rank r reads shards r and r + 2. The cache they fill
together holds the same vectors as a one-process run, rank 0 reports the
whole sources' counts, and each rank's cache parts hold exactly the contents
of its own shards (by position, rank 0 would hold every other sample).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("webdataset")

import bridge
import bridge_webdataset
from bridge.data.prepare import content_key
from bridge.data.sources import PluginSource, SourceContext, read_items
from extract_runs import TORCHRUN_2, bridge_command, cache_contents, cache_rows
from scale_world import write_shards

RECIPE = """\
name: shards-by-rank
strategy: connect
members:
  pixel: {plugin: synthworld-pixel}
  wave: {plugin: synthworld-wave}
overlap: text
data:
  overlap: {plugin: webdataset, options: {shards: "shards/shard-{000000..000003}.tar", member: txt}}
  memory:
    image: {plugin: webdataset, options: {shards: "shards/shard-{000000..000003}.tar", member: png, label: "json:label"}}
    audio: {plugin: webdataset, options: {shards: "shards/shard-{000000..000003}.tar", member: wav}}
evaluation:
  baselines: [chance]
output: out
"""


def _extract(recipe: Path, cache: Path, ranks: int):
    return bridge_command("extract", recipe, "--cache-dir", cache, "--threads", "1", launcher=TORCHRUN_2 if ranks == 2 else ())


def _parts(cache: Path) -> dict[str, dict[str, bytes]]:
    """``{rank: {content key: float32 bytes}}`` over every store's parts."""
    by_rank: dict[str, dict[str, bytes]] = {}
    for _, rank, key, vector in cache_rows(cache):
        by_rank.setdefault(rank, {})[key] = vector
    return by_rank


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("by-rank")
    write_shards(root / "shards", shards=4, per_shard=3)
    recipe = root / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    return root, _extract(recipe, root / "one", 1), _extract(recipe, root / "two", 2)


def test_two_ranks_fill_the_same_cache_and_count_the_whole_sources(runs):
    root, single, double = runs
    assert single.returncode == 0, single.stderr[-2000:]
    assert double.returncode == 0, double.stderr.replace("━", "")[-4000:]
    for output in (single.stdout, double.stdout):
        assert "data.memory.image (image) through pixel: 12 items, 12 encoded, 0 cached" in output
        assert "data.memory.audio (audio) through wave: 12 items, 12 encoded, 0 cached" in output
        assert "data.overlap (text) through wave: 12 items, 12 encoded" in output
    one, two = cache_contents(root / "one"), cache_contents(root / "two")
    assert one.keys() == two.keys() and all(one[key] == two[key] for key in one)


def test_each_rank_encoded_the_samples_of_its_own_shards(runs):
    root, _, double = runs
    registry = bridge.Registry.from_plugins({"webdataset": bridge_webdataset})
    context = SourceContext(base_dir=root, cache_dir=root / "scratch", source_type=registry.source_type)
    spec = PluginSource(plugin="webdataset", options={"shards": "shards/shard-{000000..000003}.tar", "member": "png"})
    images = read_items(spec, context)
    keys = [content_key("image", item) for item in images]
    own_shards = {"0": {*keys[0:3], *keys[6:9]}, "1": {*keys[3:6], *keys[9:12]}}  # 3 samples a shard
    parts = _parts(root / "two")
    for rank, expected in own_shards.items():
        assert expected <= parts[rank].keys()
        assert not (own_shards["1" if rank == "0" else "0"] & parts[rank].keys())


def test_a_broken_shard_stops_every_rank_with_its_line(tmp_path):
    """Rank 1's shard is not a tar: rank 1 says so in one line and torchrun stops rank 0 (no wait at the barrier)."""
    write_shards(tmp_path / "shards", shards=4, per_shard=3)
    (tmp_path / "shards" / "shard-000003.tar").write_bytes(b"not a tar")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    result = _extract(recipe, tmp_path / "cache", 2)
    assert result.returncode != 0
    # the ranks share stderr, so rank 0's progress bar may end on the same line before rank 1's error
    ours = re.findall(r"error: [^\n]*", result.stderr)
    assert len(ours) == 1 and "shard-000003.tar: not a readable tar shard" in ours[0], result.stderr[-3000:]
