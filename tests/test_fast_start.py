"""Commands that do no tensor work start without importing torch (measured with ``python -X importtime``)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bridge", *args],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    assert names, "python -X importtime printed nothing"
    return names


@pytest.mark.parametrize(
    "args",
    [("--help",), ("--version",), ("plugins",), ("plugins", "--options"), ("recipe", "check", "recipes/synthworld.yaml"), ("connect", "--help")],
)
def test_no_torch_for_commands_that_do_no_tensor_work(args):
    modules = imported_modules(*args)
    assert "bridge" in modules or "bridge.cli.main" in modules
    heavy = sorted(name for name in modules if name.split(".")[0] in ("torch", "matplotlib", "safetensors"))
    assert heavy == [], heavy[:5]


def test_import_bridge_is_light():
    code = "import sys, bridge; print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
