"""Damaged or tampered bridges are one line; a bridge is written atomically (issue 6 §2).

A bridge directory is only ever read as YAML and safetensors (nothing is
unpickled); every inconsistency names the file. (Bad release checkpoints:
``tests/test_release.py``.) Saving goes through a hidden sibling folder, so a failure leaves the
previous bridge as it was and no half-written folder.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from bad_inputs import MAX_LINE, bridge_cli, bridge_process, error_line
from tiny_bridge import tiny_space
from bridge.core.space import Bridge
from bridge.errors import BridgeError


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("saved") / "bridge"
    tiny_space().save(path, {"trained": "C-MCR"})
    return path


def _load_error(directory: Path, *fragments: str) -> str:
    with pytest.raises(BridgeError) as caught:
        Bridge.load(directory)
    message = str(caught.value)
    assert "\n" not in message and len(message) < MAX_LINE, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ----- projectors.safetensors ---------------------------------------------------------------


def _weights(change):
    def apply(directory: Path) -> None:
        tensors = load_file(directory / "projectors.safetensors")
        change(tensors)
        save_file(tensors, str(directory / "projectors.safetensors"))

    return apply


def _raw_header(header: dict, data: bytes = b""):
    def apply(directory: Path) -> None:
        encoded = json.dumps(header).encode()
        (directory / "projectors.safetensors").write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)

    return apply


def _nan(tensors: dict) -> None:
    tensors["a.net.0.weight"][0, 0] = float("nan")


def _replace_by_folder(directory: Path) -> None:
    (directory / "projectors.safetensors").unlink()
    (directory / "projectors.safetensors").mkdir()


WEIGHT_CASES = {
    "garbage": (lambda d: (d / "projectors.safetensors").write_bytes(b"\x00garbage" * 64), ("projectors.safetensors", "not a readable safetensors")),
    "empty": (lambda d: (d / "projectors.safetensors").write_bytes(b""), ("projectors.safetensors", "not a readable safetensors")),
    "huge-header": (lambda d: (d / "projectors.safetensors").write_bytes(struct.pack("<Q", 2**60) + b"{}"), ("not a readable safetensors",)),
    "negative-shape": (_raw_header({"a.net.0.weight": {"dtype": "F32", "shape": [-1, 6], "data_offsets": [0, 0]}}), ("not a readable safetensors",)),
    "lying-shape": (_raw_header({"a.net.0.weight": {"dtype": "F32", "shape": [2**40, 6], "data_offsets": [0, 16]}}, b"\0" * 16), ("not a readable safetensors",)),
    "wrong-shape": (_weights(lambda t: t.__setitem__("a.net.0.weight", torch.zeros(12, 7))), ("'a.net.0.weight'", "(12, 7)", "(12, 6)")),
    "wrong-dtype": (_weights(lambda t: t.__setitem__("a.net.0.weight", torch.zeros(12, 6, dtype=torch.float64))), ("'a.net.0.weight'", "float64")),
    "missing-tensor": (_weights(lambda t: t.pop("b.net.3.bias")), ("lacks tensor 'b.net.3.bias'",)),
    "extra-tensor": (_weights(lambda t: t.__setitem__("a.net.9.weight", torch.zeros(3))), ("unexpected tensor 'a.net.9.weight'",)),
    "stray-tensor": (_weights(lambda t: t.__setitem__("c.weight", torch.zeros(3))), ("'c.weight'", "no member")),
    "nan": (_weights(_nan), ("'a.net.0.weight'", "NaN")),
    "missing-file": (lambda d: (d / "projectors.safetensors").unlink(), ("projectors.safetensors", "missing")),
    "folder": (_replace_by_folder, ("projectors.safetensors", "a folder")),
}


@pytest.mark.parametrize("case", sorted(WEIGHT_CASES))
def test_damaged_weights_are_one_line_naming_the_file(saved, tmp_path, case):
    change, fragments = WEIGHT_CASES[case]
    directory = tmp_path / "bridge"
    shutil.copytree(saved, directory)
    change(directory)
    _load_error(directory, *fragments)


# ----- bridge.yaml --------------------------------------------------------------------------


def _spec(change):
    def apply(directory: Path) -> None:
        data = yaml.safe_load((directory / "bridge.yaml").read_text())
        data = change(data) or data
        (directory / "bridge.yaml").write_text(yaml.safe_dump(data))

    return apply


def _member(key: str, value):
    def change(data: dict) -> None:
        data["members"]["a"][key] = value

    return change


def _projector(key: str, value):
    def change(data: dict) -> None:
        for member in data["members"].values():
            member["projector"][key] = value

    return change


SPEC_CASES = {
    "wrong-dim": (_spec(lambda d: d.__setitem__("dim", 8)), ("bridge.yaml", "members.a", "dimension 4", "dim 8"), ("<top level>",)),
    "negative-dim": (_spec(lambda d: d.__setitem__("dim", -4)), ("bridge.yaml", "dim", "greater than 0"), ()),
    "unknown-key": (_spec(lambda d: d.__setitem__("colour", "red")), ("bridge.yaml", "colour: unknown key"), ()),
    "future-format": (_spec(lambda d: d.__setitem__("format_version", 9)), ("bridge.yaml", "format_version 9"), ()),
    "boolean-format": (_spec(lambda d: d.__setitem__("format_version", True)), ("bridge.yaml", "format_version True"), ("format 1",)),
    "huge-format": (_spec(lambda d: d.__setitem__("format_version", "9" * 100_000)), ("bridge.yaml", "format_version"), ()),
    "member-dim": (_spec(_member("dim", 7)), ("projectors.safetensors", "'a.net.", "bridge.yaml implies"), ()),
    "member-negative-dim": (_spec(_member("dim", -6)), ("bridge.yaml", "members.a.dim"), ()),
    "member-unknown-key": (_spec(_member("colour", 1)), ("bridge.yaml", "members.a.colour: unknown key"), ()),
    "member-name": (_spec(lambda d: d["members"].__setitem__("../x", d["members"].pop("a"))), ("bridge.yaml", "members", "'../x'"), ()),
    "no-members": (_spec(lambda d: d.__setitem__("members", {})), ("bridge.yaml", "members"), ()),
    "output-dim": (_spec(_projector("output_dim", 8)), ("bridge.yaml", "dimension 8", "dim 4"), ()),
    "projector-type": (_spec(_projector("architecture", "mlp9")), ("bridge.yaml", "members.a.projector.architecture"), ()),
    "not-a-mapping": (lambda d: (d / "bridge.yaml").write_text("- a\n- b\n"), ("bridge.yaml", "mapping", "list"), ()),
    "empty": (lambda d: (d / "bridge.yaml").write_text(""), ("bridge.yaml", "empty"), ()),
    "not-utf8": (lambda d: (d / "bridge.yaml").write_bytes(b"name: caf\xe9\n"), ("bridge.yaml:1", "UTF-8"), ()),
    "duplicate-key": (lambda d: (d / "bridge.yaml").write_text((d / "bridge.yaml").read_text() + "dim: 4\n"), ("bridge.yaml", "'dim'", "twice"), ()),
    "missing": (lambda d: (d / "bridge.yaml").unlink(), ("not a bridge directory",), ()),
    "format-1-without-keys": (lambda d: (d / "bridge.yaml").write_text("format_version: 1\nname: x\n"), ("bridge.yaml", "format 1"), ()),
}


@pytest.mark.parametrize("case", sorted(SPEC_CASES))
def test_a_tampered_bridge_yaml_is_one_line_naming_the_file(saved, tmp_path, case):
    change, fragments, absent = SPEC_CASES[case]
    directory = tmp_path / "bridge"
    shutil.copytree(saved, directory)
    change(directory)
    message = _load_error(directory, *fragments)
    for fragment in absent:
        assert fragment not in message


def test_huge_dimensions_in_bridge_yaml_allocate_nothing(saved, tmp_path):
    """dim 65536 and hidden_ratio 64 would be a 1 TB projector: refused from the shapes alone, in bounded memory."""
    directory = tmp_path / "bridge"
    shutil.copytree(saved, directory)

    def change(data: dict) -> None:
        data["dim"] = 65536
        for member in data["members"].values():
            member["dim"] = 65536
            member["projector"].update(output_dim=65536, hidden_ratio=64.0)

    _spec(change)(directory)
    result = bridge_process("embed", directory, "x", "-m", "text", "-o", tmp_path / "x.npy", memory_bytes=8 * 2**30)
    error_line(result, "projectors.safetensors", "bridge.yaml implies")
    assert not (tmp_path / "x.npy").exists()


def test_the_cli_reports_a_damaged_bridge_in_one_line_and_writes_nothing(saved, tmp_path):
    directory = tmp_path / "bridge"
    shutil.copytree(saved, directory)
    _weights(_nan)(directory)
    error_line(bridge_cli("embed", directory, "x", "-m", "text", "-o", tmp_path / "x.npy"), "projectors.safetensors", "NaN")
    assert not (tmp_path / "x.npy").exists()
    error_line(bridge_cli("eval", directory), "projectors.safetensors", "NaN")


# ----- atomic writing -----------------------------------------------------------------------


def _siblings(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.parent.iterdir())


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_failed_save_leaves_the_previous_bridge_intact(tmp_path, monkeypatch):
    import safetensors.torch

    directory = tmp_path / "bridge"
    tiny_space(seed=0).save(directory, {"trained": "first"})
    (directory / "notes.txt").write_text("mine\n")  # a user's file beside the bridge's own: carried over on success
    before, siblings = _snapshot(directory), _siblings(directory)

    def broken_save_file(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", broken_save_file)
    with pytest.raises(OSError):
        tiny_space(seed=1).save(directory, {"trained": "second"})
    assert _snapshot(directory) == before
    assert _siblings(directory) == siblings  # no half-written folder, no hidden staging folder
    monkeypatch.undo()
    Bridge.load(directory)


def test_a_failure_after_files_were_moved_puts_everything_back(tmp_path, monkeypatch):
    import bridge.core.artifact as artifact

    directory = tmp_path / "bridge"
    tiny_space(seed=0).save(directory, {"trained": "first"})
    (directory / "ablation").mkdir()
    (directory / "ablation" / "ablation.json").write_text("{}\n")
    before, siblings = _snapshot(directory), _siblings(directory)
    real_replace = os.replace

    def replace(source, target):
        if Path(target) == directory and ".saving-" in Path(source).name:
            raise OSError(5, "Input/output error")  # the final rename fails, after the old bridge was moved aside
        return real_replace(source, target)

    monkeypatch.setattr(artifact.os, "replace", replace)
    with pytest.raises(OSError):
        tiny_space(seed=1).save(directory, {"trained": "second"})
    monkeypatch.undo()
    assert _snapshot(directory) == before
    assert _siblings(directory) == siblings


def test_a_failed_first_save_leaves_no_folder(tmp_path, monkeypatch):
    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "save_file", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        tiny_space().save(tmp_path / "bridge")
    assert list(tmp_path.iterdir()) == []


def test_a_successful_save_replaces_the_bridge_and_keeps_other_files(tmp_path):
    directory = tmp_path / "bridge"
    tiny_space(seed=0).save(directory, {"trained": "first"})
    (directory / "notes.txt").write_text("mine\n")
    tiny_space(seed=1).save(directory, {"trained": "second"})
    assert json.loads((directory / "metrics.json").read_text())["trained"] == "second"
    assert (directory / "notes.txt").read_text() == "mine\n"
    assert _siblings(directory) == ["bridge"]


def test_an_existing_folder_that_is_not_a_bridge_is_refused(tmp_path):
    directory = tmp_path / "mine"
    directory.mkdir()
    (directory / "thesis.tex").write_text("years of work\n")
    with pytest.raises(BridgeError, match="not a bridge"):
        tiny_space().save(directory)
    assert [p.name for p in directory.iterdir()] == ["thesis.tex"]
    assert _siblings(directory) == ["mine"]
