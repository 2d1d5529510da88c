"""`bridge extract`: one process, two processes under torchrun (gloo on CPU), the same cache contents; bad launches."""

import re

import pytest

from extract_runs import TORCHRUN_2, bridge_command, cache_contents, cache_rows

RECIPE = """\
name: tiny
strategy: connect
members:
  pixel: {plugin: synthworld-pixel}
  wave: {plugin: synthworld-wave}
overlap: text
data:
  overlap: {plugin: synthworld, options: {split: overlap, modality: "text:neutral", count: 200}}
  memory:
    image: {plugin: synthworld, options: {split: image_memory, modality: image, count: 100}}
    audio: {plugin: synthworld, options: {split: audio_memory, modality: audio, count: 100}}
evaluation:
  retrieval:
    - name: audio-image
      query_modality: audio
      query: {plugin: synthworld, options: {split: eval, modality: audio, count: 64}}
      target_modality: image
      target: {plugin: synthworld, options: {split: eval, modality: image, count: 64}}
      relevance: label
  zeroshot:
    - name: audio classes
      modality: audio
      items: {plugin: synthworld, options: {split: eval, modality: audio, count: 64}}
      prompts: ["{}"]
  baselines: [chance]
output: out
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("extract")
    recipe = root / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    single = bridge_command("extract", str(recipe), "--cache-dir", str(root / "one"))
    double = bridge_command("extract", str(recipe), "--cache-dir", str(root / "two"), launcher=TORCHRUN_2)
    return root, recipe, single, double


def test_one_process_encodes_every_source_of_the_recipe(runs):
    _, _, single, _ = runs
    assert single.returncode == 0, single.stderr[-2000:]
    assert "data.memory.image (image) through pixel: 100 items, 100 encoded, 0 cached" in single.stdout
    assert "data.memory.audio (audio) through wave: 100 items, 100 encoded, 0 cached" in single.stdout
    assert "evaluation.retrieval[0].query (audio) through wave: 64 items, 64 encoded" in single.stdout
    assert "prompts (text) through pixel" in single.stdout  # the zero-shot class prompts are encoded too


def test_two_processes_under_torchrun_fill_the_same_cache(runs):
    root, _, single, double = runs
    assert double.returncode == 0, double.stderr.replace("━", "")[:6000]
    assert "by 2 processes" in double.stdout
    assert double.stdout.count("encoded ") == single.stdout.count("encoded ")  # rank 1 reports nothing
    one, two = cache_contents(root / "one"), cache_contents(root / "two")
    assert len(one) > 500
    assert one.keys() == two.keys()
    assert all(one[key] == two[key] for key in one)
    ranks = {rank for _, rank, _, _ in cache_rows(root / "two")}
    assert ranks == {"0", "1"}  # both ranks wrote their own parts


def _times(stdout: str) -> tuple[float, dict[str, float]]:
    """The total rank 0 reports and its parts."""
    total = float(re.search(r"new contents.* \(([\d.]+) s, cpu\)", stdout).group(1))
    parts = re.search(r"opening the recipe and models ([\d.]+) s, listing the sources ([\d.]+) s, encoding ([\d.]+) s"
                      r"(?:, waiting for the other ranks ([\d.]+) s \(rank 0\))?", stdout)
    assert parts is not None, stdout
    return total, dict(zip(("opening", "listing", "encoding", "waiting"), (float(value or 0) for value in parts.groups())))


@pytest.mark.parametrize("which", ["single", "double"])
def test_the_time_is_reported_in_its_parts(runs, which):
    _, _, single, double = runs
    result = single if which == "single" else double
    total, parts = _times(result.stdout)
    assert abs(sum(parts.values()) - total) <= 0.06, (total, parts)  # the total is printed to 0.1 s, the parts to 0.01
    assert parts["encoding"] > 0 and parts["opening"] > 0
    assert ("waiting for the other ranks" in result.stdout) == (which == "double")


def test_a_rerun_finds_everything_cached(runs):
    root, recipe, _, double = runs
    again = bridge_command("extract", str(recipe), "--cache-dir", str(root / "two"))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "encoded 0 new contents" in again.stdout
    assert "data.memory.image (image) through pixel: 100 items, 0 encoded, 100 cached" in again.stdout


@pytest.mark.parametrize("env, expected", [
    ({"RANK": "x", "WORLD_SIZE": "2"}, "environment variable RANK='x': expected a non-negative integer"),
    ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK must be in 0..WORLD_SIZE-1, got RANK=2 with WORLD_SIZE=2"),
    ({"RANK": "0", "WORLD_SIZE": "0"}, "WORLD_SIZE=0: expected at least 1"),
    ({"RANK": "0", "WORLD_SIZE": "2"}, "cannot join the other ranks"),
])
def test_a_broken_launch_is_one_line(runs, env, expected):
    root, recipe, _, _ = runs
    result = bridge_command("extract", str(recipe), "--cache-dir", str(root / "broken"), env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and expected in lines[-1], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
