import os
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import bridge
from bridge.core.registry import Registry
from bridge.errors import BridgeError

ROOT = Path(__file__).resolve().parents[1]


def run_bridge(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=120
    )


def test_builtin_plugins_load_through_the_entry_point_group():
    registry = Registry.from_entry_points()
    infos = {info.name: info for info in registry.infos()}
    assert {"features", "synthworld", "strategies"} <= set(infos)
    assert "features" in infos["features"].mcrs
    assert {"synthworld-pixel", "synthworld-wave"} <= set(infos["synthworld"].mcrs)
    assert "synthworld" in infos["synthworld"].sources
    assert infos["synthworld"].has_commands
    assert "connect" in infos["strategies"].strategies
    assert infos["features"].version == version("mcr-bridge")
    assert registry.strategy_type("cmcr").name == "connect"  # the old method name is an alias
    assert registry.warnings == []


def test_unknown_plugin_names_close_matches():
    with pytest.raises(BridgeError, match=r"unknown MCR plugin 'featurs' \(did you mean 'features'\?\)"):
        Registry.from_entry_points().mcr_type("featurs")
    with pytest.raises(BridgeError, match=r"unknown strategy 'conect' \(did you mean 'connect'\?\)"):
        Registry.from_entry_points().strategy_type("conect")


def test_invalid_plugin_options_are_one_line_naming_the_key():
    with pytest.raises(BridgeError) as caught:
        Registry.from_entry_points().load_mcr(
            "features", {"id": "x", "modalities": {"text": {"embeddings": "t.npy", "ids": "t.txt"}}, "colour": "red"}, where="members.a"
        )
    assert "members.a.options" in str(caught.value) and "colour" in str(caught.value)


class Toy(bridge.MCR):
    id, modalities, dim, fingerprint = "toy", ("text",), 2, "0"

    def encode(self, modality, inputs):
        import torch

        return torch.nn.functional.normalize(torch.ones(len(inputs), 2), dim=-1)


class ToyPlugin:
    @bridge.hookimpl
    def register_mcrs(self, register):
        register(bridge.MCRType(name="toy", load=lambda options: Toy()))


def test_a_registry_is_a_plain_object_built_from_the_plugins_it_is_given():
    registry = Registry.from_plugins({"toy-plugin": ToyPlugin()})
    assert registry.mcrs["toy"].plugin == "toy-plugin"
    assert registry.load_mcr("toy").encode("text", ["a"]).shape == (1, 2)
    assert "toy" not in Registry.from_entry_points().mcrs  # nothing leaked into a process-wide registry


def test_a_plugin_whose_hook_fails_is_one_warning_and_the_others_keep_working():
    class Broken:
        @bridge.hookimpl
        def register_mcrs(self, register):
            raise RuntimeError("boom")

    registry = Registry.from_plugins({"broken": Broken(), "toy-plugin": ToyPlugin()})
    assert "toy" in registry.mcrs
    assert len(registry.warnings) == 1 and "broken" in registry.warnings[0] and "boom" in registry.warnings[0]


def test_the_same_name_registered_twice_keeps_the_first_and_warns():
    registry = Registry.from_plugins({"first": ToyPlugin(), "second": ToyPlugin()})
    assert registry.mcrs["toy"].plugin == "first"
    assert any("registered by plugins 'first' and 'second'" in line for line in registry.warnings)


def test_register_commands_receives_the_real_click_group():
    class Commands:
        @bridge.hookimpl
        def register_commands(self, cli):
            @cli.command()
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

            @cli.group()
            def tools():
                """A plugin's group."""

    group = click.Group()
    Registry.from_plugins({"commands": Commands()}).add_commands(group)
    assert set(group.commands) == {"hello", "tools"}
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"


def _fake_distribution(site: Path, name: str, module_source: str) -> None:
    """A minimal installed distribution with one module and an entry point in the group `bridge`."""
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = site / f"{name}-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[bridge]\n{name} = {name}\n")


def test_a_plugin_that_fails_to_import_is_skipped_with_one_warning_line(tmp_path):
    _fake_distribution(tmp_path, "broken_plugin", "raise ImportError('needs a library that is not installed')\n")
    _fake_distribution(
        tmp_path,
        "commands_plugin",
        """
        import bridge

        @bridge.hookimpl
        def register_commands(cli):
            @cli.command()
            def hello():
                print("hello from a plugin")
        """,
    )
    env = {"PYTHONPATH": str(tmp_path)}
    listing = run_bridge("plugins", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "features" in listing.stdout and "commands_plugin" in listing.stdout and "hello" in listing.stdout
    warnings = [line for line in listing.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and "broken_plugin" in warnings[0] and "needs a library" in warnings[0], listing.stderr
    hello = run_bridge("hello", env=env)
    assert hello.returncode == 0 and "hello from a plugin" in hello.stdout, hello.stderr


def test_bridge_plugins_env_var_limits_what_loads():
    result = run_bridge("plugins", env={"BRIDGE_PLUGINS": "features"})
    assert result.returncode == 0, result.stderr
    assert "features" in result.stdout and "synthworld" not in result.stdout
    assert "connect" in result.stdout  # the core's own strategies always load


def test_bridge_plugins_lists_options_with_descriptions():
    result = run_bridge("plugins", "--options")
    assert result.returncode == 0, result.stderr
    assert "synthworld-pixel" in result.stdout
    assert "weights" in result.stdout  # an option of the synthworld MCRs, with its description
    assert "strategy connect (also: cmcr)" in result.stdout


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
        "import bridge; m = bridge.Registry.from_environment().load_mcr('charhash', {'dim': 32}); "
        "e = m.encode('text', [m.prepare('text', 'A dog barks'), m.prepare('text', 'a dog barks')]); "
        "print(tuple(e.shape), round(float((e[0] * e[1]).sum()), 4))"
    )
    used = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert used.returncode == 0, used.stderr
    assert used.stdout.split() == ["(2,", "32)", "1.0"]
