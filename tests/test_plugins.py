import os
from importlib.metadata import version
import subprocess
import sys
from pathlib import Path

import pytest

import bridge
from bridge.errors import BridgeError
from bridge.plugins import get_mcr_type, load_mcr, mcr_types, plugin_infos, plugin_manager

ROOT = Path(__file__).resolve().parents[1]


def run_bridge(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
    )


def test_builtin_plugins_load_through_the_entry_point_group():
    infos = {info.name: info for info in plugin_infos()}
    assert {"features", "synthworld"} <= set(infos)
    assert "features" in infos["features"].mcrs
    assert {"synthworld-pixel", "synthworld-wave"} <= set(infos["synthworld"].mcrs)
    assert "synthworld" in infos["synthworld"].sources
    assert "synthworld" in infos["synthworld"].commands
    assert infos["features"].version == version("mcr-bridge")


def test_unknown_plugin_names_close_matches():
    with pytest.raises(BridgeError, match=r"unknown MCR plugin 'featurs' \(did you mean 'features'\?\)"):
        get_mcr_type("featurs")


def test_invalid_plugin_options_are_one_line_naming_the_key():
    with pytest.raises(BridgeError) as caught:
        load_mcr("features", {"id": "x", "modalities": {"text": {"embeddings": "t.npy", "ids": "t.txt"}}, "colour": "red"}, where="mcr_a")
    assert "mcr_a.options" in str(caught.value) and "colour" in str(caught.value)


def test_a_plugin_registered_in_a_test_and_unregistered_after():
    class Toy(bridge.MCR):
        id, modalities, dim, fingerprint = "toy", ("text",), 2, "0"

        def encode(self, modality, inputs):
            import torch

            return torch.nn.functional.normalize(torch.ones(len(inputs), 2), dim=-1)

    class ToyPlugin:
        @bridge.hookimpl
        def register_mcrs(self, register):
            register(bridge.MCRType(name="toy", load=lambda options: Toy()))

    manager = plugin_manager()
    manager.register(ToyPlugin(), name="toy-plugin")
    try:
        assert mcr_types()["toy"].plugin == "toy-plugin"
        assert load_mcr("toy").encode("text", ["a"]).shape == (1, 2)
    finally:
        manager.unregister(name="toy-plugin")
    assert "toy" not in mcr_types()


def test_bridge_plugins_env_var_limits_what_loads():
    result = run_bridge("plugins", env={"BRIDGE_PLUGINS": "features"})
    assert result.returncode == 0, result.stderr
    assert "features" in result.stdout and "synthworld" not in result.stdout


def test_bridge_plugins_lists_options_with_descriptions():
    result = run_bridge("plugins", "--options")
    assert result.returncode == 0, result.stderr
    assert "synthworld-pixel" in result.stdout
    assert "weights" in result.stdout  # an option of the synthworld MCRs, with its description


def test_example_plugin_installs_and_works_through_its_entry_point(tmp_path):
    """docs/example-plugin is a third-party package: pip-install it and use it without touching the core."""
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-qq", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site), str(ROOT / "docs" / "example-plugin")],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    env = {"PYTHONPATH": str(site)}
    listing = run_bridge("plugins", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "charhash" in listing.stdout and "0.1.0" in listing.stdout
    code = (
        "from bridge.plugins import load_mcr; m = load_mcr('charhash', {'dim': 32}); "
        "e = m.encode('text', [m.prepare('text', 'A dog barks'), m.prepare('text', 'a dog barks')]); "
        "print(tuple(e.shape), round(float((e[0] * e[1]).sum()), 4))"
    )
    used = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert used.returncode == 0, used.stderr
    assert used.stdout.split() == ["(2,", "32)", "1.0"]
