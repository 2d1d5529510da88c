"""What the user sees on the command line for bad inputs (issue 6 §2).

User text is printed literally (never as rich markup), command-line values
(`--set`, `--seeds`, `-o`) are checked before any work, output and cache
paths are checked before anything is encoded, and a recipe whose prompt a
member cannot take stops before training.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from bad_inputs import bridge_cli, bridge_process, cache_is_empty, error_line, no_bridge_left, variant
from embedding_world import write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return write_world(tmp_path_factory.mktemp("bad-cli"), n_overlap=600, n_memory=300, n_eval=48, n_paired=100)


# ----- user text is printed literally -------------------------------------------------------


def test_markup_in_user_text_is_printed_literally_everywhere(tmp_path):
    recipe = write_world(tmp_path, n_overlap=600, n_memory=300, n_eval=48, n_paired=100)
    (tmp_path / "over[").mkdir()
    shutil.copy(tmp_path / "overlap.txt", tmp_path / "over[" / "x]lap.txt")  # the path holds `[/x]`
    with (tmp_path / "audio_memory.txt").open("a") as handle:
        handle.write("[red]bad[/x]\n")  # an unreadable item, skipped and listed
        handle.write("q" * 100_000 + "\n")  # and a 100 kB one, listed shortened

    def change(data: dict) -> None:
        data["name"] = "[red]recipe[/x]"
        data["mcr_a"]["options"]["id"] = "[red]name"
        data["data"]["overlap"] = {"lines": "over[/x]lap.txt"}
        data["data"]["skip_bad_items"] = True
        data["evaluation"]["retrieval"][0]["name"] = "[bold]x[/]"
        data["evaluation"]["zeroshot"][0]["name"] = "[/x]zs"
        data["training"]["epochs"] = 1
        data["output"] = "out[/x]"

    path = variant(recipe, "markup", change)
    result = bridge_process("connect", path)
    assert result.returncode == 0, result.stderr[-3000:]
    for text in ("retrieval: [bold]x[/]", "[/x]zs", "skipped 2 unreadable item(s)", "[red]bad[/x]: unknown id", "out[/x]"):
        assert text in result.stdout, text
    assert max(len(line) for line in result.stdout.splitlines() + result.stderr.splitlines()) < 400
    for text in ("encode text ([red]name)", "encode image ([red]name)", "e.g. [red]bad[/x]"):
        assert text in result.stderr, text  # progress labels and messages
    assert (tmp_path / "out[" / "x]" / "bridge.yaml").is_file()
    evaluated = bridge_cli("eval", tmp_path / "out[" / "x]")
    assert evaluated.returncode == 0, evaluated.stderr
    assert "retrieval: [bold]x[/]" in evaluated.stdout and "[/x]zs" in evaluated.stdout


def test_markup_in_an_error_line_is_printed_literally(world):
    path = variant(world, "markup-error", lambda data: data["data"].__setitem__("overlap", {"lines": "[red]gone[/x].txt"}))
    error_line(bridge_cli("recipe", "check", path), "data.overlap", "[red]gone[/x].txt")
    path = variant(world, "markup-id", lambda data: data["mcr_a"]["options"].__setitem__("modalities", {}))
    error_line(bridge_cli("recipe", "check", path), "members.a.options")
    error_line(bridge_cli("connect", world, "--set", 'training.epochs="[red]x[/x]"'), "training.epochs", "'[red]x[/x]'")


# ----- the system's own errors --------------------------------------------------------------


def test_an_operating_system_error_is_one_line(tmp_path):
    error_line(bridge_cli("eval", tmp_path / ("q" * 300)), "File name too long")
    error_line(bridge_cli("embed", tmp_path / ("q" * 300), "x", "-m", "text", "-o", tmp_path / "x.npy"), "File name too long")


# ----- devices ------------------------------------------------------------------------------


def test_an_unknown_device_names_the_key(world):
    path = variant(world, "gpu7", lambda data: data.__setitem__("device", "gpu7"))
    error_line(bridge_cli("recipe", "check", path), "device: expected auto, cpu, cuda", "'gpu7'", absent=("<top level>",))
    error_line(bridge_cli("connect", path), "device", "'gpu7'")
    no_bridge_left(path, "gpu7")


def test_a_cuda_device_this_machine_lacks_stops_before_any_work(world):
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 99:
        pytest.skip("this machine has a cuda:99")
    path = variant(world, "cuda99", lambda data: data.__setitem__("device", "cuda:99"))
    error_line(bridge_cli("connect", path), "device", "'cuda:99'")
    no_bridge_left(path, "cuda99")
    assert cache_is_empty(world.parent / "cache-cuda99")


# ----- folder sources -----------------------------------------------------------------------


def test_a_symlink_loop_inside_a_folder_source_is_skipped(tmp_path):
    from bridge.data.sources import FolderSource, SourceContext, read_items

    folder = tmp_path / "clips"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.wav", "sub/b.wav"):
        (folder / name).write_bytes(b"RIFF")
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)  # a directory cycle
    (folder / "l1.wav").symlink_to(folder / "l2.wav")  # a link loop
    (folder / "l2.wav").symlink_to(folder / "l1.wav")
    started = time.perf_counter()
    items = read_items(FolderSource(folder=folder, glob="**/*"), SourceContext(base_dir=tmp_path, cache_dir=tmp_path))
    assert time.perf_counter() - started < 10
    assert [item.id for item in items] == ["a", "sub/b"]


def test_two_files_with_one_id_in_a_folder_source(tmp_path):
    from bridge.data.sources import FolderSource, SourceContext, read_items
    from bridge.errors import BridgeError

    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("dog.jpg", "dog.png", "sub/dog.jpg"):
        (folder / name).write_bytes(b"x")
    with pytest.raises(BridgeError, match=r"'dog.jpg' and 'dog.png' have the same id 'dog'"):
        read_items(FolderSource(folder=folder, glob="**/*"), SourceContext(base_dir=tmp_path, cache_dir=tmp_path))
    items = read_items(FolderSource(folder=folder, glob="**/*.jpg"), SourceContext(base_dir=tmp_path, cache_dir=tmp_path))
    assert [item.id for item in items] == ["dog", "sub/dog"]


def test_a_folder_source_that_is_a_symlink_loop_is_not_called_missing(world):
    loop = world.parent / "loop-clips"
    if not loop.is_symlink():
        loop.symlink_to(loop)
    path = variant(world, "folder-loop", lambda data: data["data"]["memory"].__setitem__("audio", {"folder": "loop-clips", "glob": "**/*"}))
    error_line(bridge_cli("recipe", "check", path), "data.memory.audio", "loop-clips", "symbolic links", absent=("does not exist",))


# ----- --set and --seeds --------------------------------------------------------------------


def test_set_with_unparsable_yaml(world):
    error_line(bridge_cli("connect", world, "--set", "training.epochs=["), "--set 'training.epochs'", "invalid YAML")


@pytest.mark.parametrize("pair", ["training.epochs", "=5", " =5"])
def test_set_without_a_key_and_value(world, pair):
    error_line(bridge_cli("connect", world, "--set", pair), "--set", "KEY=VALUE")


def test_set_under_a_key_that_is_not_a_mapping(world):
    error_line(bridge_cli("connect", world, "--set", "name.x=1"), "--set 'name.x'", "not a mapping")


def test_set_with_a_wrong_type_names_the_key(world):
    error_line(bridge_cli("connect", world, "--set", "training.epochs=yes"), "training.epochs", "integer")


@pytest.mark.parametrize(("seeds", "expected"), [("a", "integers"), ("1,1", "twice"), ("", "at least one"), ("-1", "integers"), ("1.5", "integers")])
def test_bad_seeds_for_ablate(world, tmp_path, seeds, expected):
    error_line(bridge_cli("ablate", world, "--seeds", seeds, "--out", tmp_path / "ablation"), "--seeds", expected)
    assert not (tmp_path / "ablation").exists()


def test_ablate_checks_the_recipe_before_any_work(world, tmp_path):
    path = variant(world, "ablate-missing", lambda data: data["data"]["memory"].__setitem__("audio", {"lines": "gone.txt"}))
    error_line(bridge_cli("ablate", path, "--seeds", "0", "--quick", "--out", tmp_path / "ablation"), "data.memory.audio", "gone.txt")
    assert not (tmp_path / "ablation").exists()
    assert cache_is_empty(world.parent / "cache-ablate-missing")


# ----- output and cache paths, checked before any work --------------------------------------


def _output_cases(world: Path) -> dict:
    (world.parent / "notes").mkdir(exist_ok=True)
    (world.parent / "notes" / "todo.txt").write_text("mine\n")
    return {
        "output-is-a-file": (("output", "overlap.txt"), ("output", "overlap.txt", "not a folder")),
        "output-under-a-file": (("output", "overlap.txt/bridge"), ("output", "overlap.txt is a file")),
        "output-not-a-bridge": (("output", "notes"), ("output", "notes", "not a bridge")),
        "cache-is-a-file": (("cache_dir", "overlap.txt"), ("cache_dir", "overlap.txt is a file")),
        "cache-under-a-file": (("cache_dir", "overlap.txt/cache"), ("cache_dir", "overlap.txt is a file")),
    }


@pytest.mark.parametrize("case", ["output-is-a-file", "output-under-a-file", "output-not-a-bridge", "cache-is-a-file", "cache-under-a-file"])
def test_bad_output_and_cache_paths_stop_before_any_work(world, case):
    (key, value), fragments = _output_cases(world)[case]
    path = variant(world, case, lambda data: data.__setitem__(key, value))
    error_line(bridge_cli("recipe", "check", path), *fragments)
    error_line(bridge_cli("connect", path), *fragments)
    assert cache_is_empty(world.parent / f"cache-{case}")
    assert (world.parent / "overlap.txt").is_file() and (world.parent / "notes" / "todo.txt").read_text() == "mine\n"


def test_connect_output_option_that_is_a_file(world):
    path = variant(world, "dash-o", lambda data: None)
    error_line(bridge_cli("connect", path, "-o", world.parent / "overlap.txt"), "overlap.txt", "not a folder")
    assert cache_is_empty(world.parent / "cache-dash-o")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: permissions cannot make a folder unwritable")
def test_an_unwritable_output_folder(world, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        path = variant(world, "unwritable", lambda data: data.__setitem__("output", str(locked / "bridge")))
        error_line(bridge_cli("connect", path), "output", "not writable")
        assert cache_is_empty(world.parent / "cache-unwritable")
        path = variant(world, "unwritable-cache", lambda data: data.__setitem__("cache_dir", str(locked / "cache")))
        error_line(bridge_cli("connect", path), "cache_dir", "not writable")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    ("out", "fragments"),
    [
        ("folder", ("is a folder",)),
        ("folder.npy", ("is a folder",)),
        ("new/deeper/x.csv", (".npy or .safetensors",)),
        ("new/deeper/x", (".npy or .safetensors",)),
        ("file.txt/x.npy", ("file.txt is a file",)),
    ],
)
def test_embed_output_is_checked_before_anything_is_created(tmp_path, out, fragments):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.npy").mkdir()
    (tmp_path / "file.txt").write_text("x")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    error_line(bridge_cli("embed", tmp_path / "no-bridge", "item", "-m", "text", "-o", tmp_path / out), *fragments)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


# ----- prompts a member cannot take: stopped before training --------------------------------


def test_a_missing_zero_shot_prompt_stops_before_anything_is_encoded(world):
    path = variant(world, "prompt", lambda data: data["evaluation"]["zeroshot"][0].__setitem__("prompts", ["a photo of {}"]))
    result = bridge_process("connect", path)
    error_line(result, "evaluation.zeroshot[0].prompts", "'a photo of concept-0'")
    assert "encode" not in result.stderr and "train projectors" not in result.stderr
    assert cache_is_empty(world.parent / "cache-prompt")
    no_bridge_left(path, "prompt")


def test_a_prompt_the_plugin_cannot_check_is_still_found_before_training(world, monkeypatch):
    """Without the plugin's ``check_inputs``, the loaded members' ``prepare`` finds it, before any encoding."""
    import bridge_features

    monkeypatch.setattr(bridge_features, "check_texts", None)
    path = variant(world, "prompt-late", lambda data: data["evaluation"]["zeroshot"][0].__setitem__("prompts", ["a photo of {}"]))
    assert bridge_cli("recipe", "check", path).returncode == 0  # nothing to check it with
    error_line(bridge_cli("connect", path), "evaluation.zeroshot[0].prompts", "'a photo of concept-0'")
    assert cache_is_empty(world.parent / "cache-prompt-late")
    no_bridge_left(path, "prompt-late")
