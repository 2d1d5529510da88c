"""Bad recipes get one line, before any work (issue 6 §2).

Unreadable recipe files, strict YAML and strict types, hostile sizes, and
everything `bridge recipe check` finds without encoding — which `bridge
connect` must then find too, within seconds, leaving nothing behind.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from bad_inputs import bridge_cli, bridge_process, cache_is_empty, error_line, no_bridge_left, variant
from embedding_world import write_world

HUGE = 10_000_000
"""Characters of a hostile value (10 MB)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return write_world(tmp_path_factory.mktemp("bad-recipes"), n_overlap=600, n_memory=300, n_eval=48, n_paired=100)


# ----- the recipe file itself ---------------------------------------------------------------


def test_a_recipe_that_is_not_utf8_names_the_file_and_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: ok\noverlap: caf\u00e9\n".encode("latin-1"))
    error_line(bridge_cli("recipe", "check", path), "latin1.yaml:2", "not UTF-8")


def test_a_recipe_path_that_is_a_folder(tmp_path):
    error_line(bridge_cli("recipe", "check", tmp_path), str(tmp_path), "is a folder")
    error_line(bridge_cli("connect", tmp_path), str(tmp_path), "is a folder")


def test_a_recipe_that_is_a_symlink_loop_is_not_called_missing(tmp_path):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    error_line(bridge_cli("recipe", "check", tmp_path / "a.yaml"), "a.yaml", "symbolic link", absent=("does not exist",))
    error_line(bridge_cli("connect", tmp_path / "a.yaml"), "a.yaml", "symbolic link", absent=("does not exist",))


def test_a_dangling_symlink_recipe_says_so(tmp_path):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "gone.yaml")
    error_line(bridge_cli("recipe", "check", tmp_path / "a.yaml"), "a.yaml", "gone.yaml")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_recipe(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    error_line(bridge_cli("recipe", "check", path), "empty.yaml", "empty")


# ----- strict YAML and strict types ---------------------------------------------------------


def test_a_section_given_twice_names_the_key_and_its_line(world, tmp_path):
    text = world.read_text() + "training:\n  epochs: 3\n"
    second = text.splitlines().index("training:", text.splitlines().index("training:") + 1) + 1
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    error_line(bridge_cli("recipe", "check", path), "twice.yaml", "'training'", "given twice", f"line {second}")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("epochs", "yes", "integer"),  # YAML 1.1 boolean: once silently 1 epoch
        ("epochs", "2.5", "integer"),
        ("epochs", '"3"', "integer"),
        ("batch_size", "true", "integer"),
        ("lr", "fast", "number"),
        ("lr", "true", "number"),
        ("epochs", "[1, 2]", "integer"),
    ],
)
def test_wrong_scalar_types_name_the_key_path(world, key, value, expected):
    path = variant(world, f"type-{key}", lambda data: data["training"].__setitem__(key, yaml.safe_load(value)))
    error_line(bridge_cli("recipe", "check", path), path.name, f"training.{key}", expected)


def test_a_string_where_a_mapping_is_expected(world):
    path = variant(world, "string-section", lambda data: data.__setitem__("training", "fast"))
    error_line(bridge_cli("recipe", "check", path), "training")


# ----- hostile sizes ------------------------------------------------------------------------

BOMB = "\n".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")),
        "name: *i",
        "",
    ]
)


def test_an_alias_bomb_is_one_short_line_fast_and_in_bounded_memory(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    started = time.perf_counter()
    result = bridge_process("recipe", "check", path, memory_bytes=2 * 2**30, timeout=60)
    assert time.perf_counter() - started < 20
    error_line(result, "bomb.yaml", "alias")


def _huge_recipe(world: Path, name: str, change) -> Path:
    """``world``'s recipe with a 10 MB value where ``change(data)`` puts ``@HUGE@`` (written as text: fast)."""
    path = variant(world, name, change)
    path.write_text(path.read_text().replace("'@HUGE@'", "@HUGE@").replace("@HUGE@", "q" * HUGE))
    return path


def _options(data: dict) -> dict:
    return data["mcr_a"]["options"]


HUGE_CASES = {
    "name": (lambda d: d.__setitem__("name", "@HUGE@"), "name"),
    "unknown-key": (lambda d: d.__setitem__("notes", "@HUGE@"), "notes"),
    "huge-key": (lambda d: d.__setitem__("@HUGE@", 1), "huge-key.yaml"),  # YAML keys are short: a syntax error
    "device": (lambda d: d.__setitem__("device", "@HUGE@"), "device"),
    "overlap": (lambda d: d.__setitem__("overlap", "@HUGE@"), "overlap"),
    "epochs": (lambda d: d["training"].__setitem__("epochs", "@HUGE@"), "training.epochs"),
    "lines-path": (lambda d: d["data"].__setitem__("overlap", {"lines": "@HUGE@"}), "data.overlap"),
    "output": (lambda d: d.__setitem__("output", "@HUGE@"), "output"),
    "cache-dir": (lambda d: d.__setitem__("cache_dir", "@HUGE@"), "cache_dir"),
    "plugin": (lambda d: d["mcr_a"].__setitem__("plugin", "@HUGE@"), "members.a.plugin"),
    "ids-file": (lambda d: _options(d)["modalities"]["text"].__setitem__("ids", "@HUGE@"), "ids"),
    "prompt": (lambda d: d["evaluation"]["zeroshot"][0].__setitem__("prompts", ["@HUGE@ {}"]), "evaluation.zeroshot[0].prompts"),
    "glob": (lambda d: d["data"]["memory"].__setitem__("audio", {"folder": ".", "glob": "@HUGE@"}), "data.memory.audio"),
}


@pytest.mark.parametrize("case", sorted(HUGE_CASES))
def test_a_10_mb_value_is_echoed_short(world, case):
    change, key = HUGE_CASES[case]
    path = _huge_recipe(world, f"huge-{case}", change)
    error_line(bridge_cli("recipe", "check", path), path.name, key)


def test_a_10_mb_explicit_key_is_echoed_short(world):
    path = variant(world, "huge-explicit-key", lambda data: None)
    path.write_text(path.read_text() + f"? {'q' * HUGE}\n: 1\n")
    error_line(bridge_cli("recipe", "check", path), path.name, "unknown key")


# ----- what `recipe check` finds without encoding, and `connect` finds before any work ------


def _set(path: str, value):
    """A change that sets the dotted ``path`` (``a.b[0].c``) of a recipe to ``value``."""

    def change(data: dict) -> None:
        node = data
        parts = path.replace("]", "").replace("[", ".").split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return change


_DELETE = object()
LATIN1 = "caf\u00e9\n".encode("latin-1")


def _write_non_utf8_files(world: Path) -> None:
    (world.parent / "latin1.txt").write_bytes(b"image-memory-0\n" + LATIN1)
    (world.parent / "latin1.csv").write_bytes(b"id,label\neval-0,concept-1\n" + LATIN1)
    (world.parent / "latin1.jsonl").write_bytes(b'{"id": "val-0"}\n' + b'{"id": "' + LATIN1.strip() + b'"}\n')


MANIFEST = {"column": "id", "is_file": False, "id_column": "id"}

CHECK_CASES = {
    "missing-lines": (_set("data.overlap", {"lines": "nope.txt"}), ("data.overlap", "nope.txt", "does not exist")),
    "missing-manifest": (
        _set("evaluation.retrieval[0].query", {"manifest": "nope.csv", "column": "id"}),
        ("evaluation.retrieval[0].query", "nope.csv", "does not exist"),
    ),
    "missing-folder": (_set("data.memory.audio", {"folder": "no-clips"}), ("data.memory.audio", "no-clips", "does not exist")),
    "folder-is-a-file": (_set("data.memory.audio", {"folder": "overlap.txt"}), ("data.memory.audio", "overlap.txt", "folder")),
    "non-utf8-lines": (_set("data.memory.image", {"lines": "latin1.txt"}), ("data.memory.image", "latin1.txt:2", "UTF-8")),
    "non-utf8-csv": (
        _set("evaluation.retrieval[0].target", {"manifest": "latin1.csv", **MANIFEST}),
        ("evaluation.retrieval[0].target", "latin1.csv:3", "UTF-8"),
    ),
    "non-utf8-jsonl": (
        _set("evaluation.validation[0].query", {"manifest": "latin1.jsonl", **MANIFEST}),
        ("evaluation.validation[0].query", "latin1.jsonl:2", "UTF-8"),
    ),
    "manifest-column": (
        _set("evaluation.retrieval[0].query", {"manifest": "eval.csv", "column": "path"}),
        ("evaluation.retrieval[0].query", "eval.csv", "'path'"),
    ),
    "zeroshot-prompt": (
        _set("evaluation.zeroshot[0].prompts", ["a photo of {}"]),
        ("evaluation.zeroshot[0].prompts", "member 'a'", "a photo of concept-"),
    ),
    "pivot-prompt": (_set("evaluation.pivot", {"templates": {"b": ["the sound of {}"]}}), ("evaluation.pivot", "member 'b'", "the sound of concept-")),
    "paired-missing": (_set("evaluation.paired", _DELETE), ("evaluation.paired", "paired_reference")),
    "paired-incomplete": (_set("evaluation.paired.audio", _DELETE), ("evaluation.paired", "'audio'")),
    "zeroshot-modality": (_set("evaluation.zeroshot[0].modality", "smell"), ("evaluation.zeroshot[0].modality", "'smell'")),
    "retrieval-modality": (_set("evaluation.retrieval[0].target_modality", "smell"), ("evaluation.retrieval[0].target_modality", "'smell'")),
    "memory-modality": (_set("data.memory.smell", {"lines": "overlap.txt"}), ("data.memory.smell", "'smell'")),
    "overlap-modality": (_set("overlap", "smell"), ("members.a", "'smell'")),
    "strategy": (_set("strategy", "extendz"), ("strategy", "'extendz'")),
    "member-plugin": (_set("mcr_b.plugin", "featurez"), ("members.b.plugin", "'featurez'")),
}


@pytest.mark.parametrize("case", sorted(CHECK_CASES))
def test_check_finds_it_and_connect_stops_before_any_work(world, case):
    _write_non_utf8_files(world)
    change, fragments = CHECK_CASES[case]
    path = variant(world, case, change)
    checked = error_line(bridge_cli("recipe", "check", path), f"{path.name}: ", *fragments)
    started = time.perf_counter()
    connected = error_line(bridge_cli("connect", path), *fragments)
    assert time.perf_counter() - started < 20
    assert checked.endswith(connected.removeprefix("error: ")), (checked, connected)  # the same problem, in the same words
    no_bridge_left(path, case)  # no output folder, no `.out-<case>.checkpoints`, no staging folder
    assert cache_is_empty(world.parent / f"cache-{case}"), "something was encoded before the error"


def test_the_unchanged_world_passes_check(world):
    result = bridge_cli("recipe", "check", world)
    assert result.returncode == 0, result.stderr
