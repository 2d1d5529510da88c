"""Helpers of the bad-input tests: run the CLI, assert the one-line error rule, write recipe variants.

The rule (issue 6): a bad input gives exit status ≠ 0 and exactly one line on
stderr starting ``error:`` that names the file / key / item, no traceback,
and that line stays short whatever the user gave.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

MAX_LINE = 400
"""An error line echoes shortened user values: it stays below this many characters."""


def bridge_process(*args, cwd: Path | None = None, timeout: float = 120, memory_bytes: int | None = None) -> subprocess.CompletedProcess:
    """A real ``python -m bridge`` process (``COLUMNS=200``; optionally with an address-space limit)."""
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    limit = None
    if memory_bytes is not None:
        import resource

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return subprocess.run(
        [sys.executable, "-m", "bridge", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd, preexec_fn=limit,
    )


def bridge_cli(*args):
    """The same command line in this process (click's runner): ``returncode``, ``stdout``, ``stderr``."""
    from click.testing import CliRunner

    from bridge.cli.main import cli

    result = CliRunner().invoke(cli, [str(a) for a in args], prog_name="bridge", env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    result.returncode = result.exit_code
    return result


def error_line(result, *fragments: str, absent: tuple[str, ...] = ()) -> str:
    """Assert the one-line rule on a finished command; returns the ``error:`` line."""
    assert result.returncode not in (0, None), result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    line = lines[0]
    assert len(line) < MAX_LINE, f"{len(line)} characters: {line[:600]}"
    for fragment in fragments:
        assert fragment in line, line
    for fragment in absent:
        assert fragment not in line, line
    return line


def variant(recipe: Path, name: str, change: Callable[[dict], object]) -> Path:
    """A copy of ``recipe`` beside it, changed by ``change(data)``, with its own output and cache folders."""
    data = copy.deepcopy(yaml.safe_load(recipe.read_text()))
    data["output"] = f"out-{name}"
    data["cache_dir"] = f"cache-{name}"
    change(data)
    path = recipe.with_name(f"{name}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def no_bridge_left(recipe: Path, name: str) -> None:
    """Neither the output folder ``out-<name>`` nor its checkpoints or staging siblings exist."""
    leftovers = sorted(p.name for p in recipe.parent.iterdir() if f"out-{name}" in p.name)
    assert not leftovers, leftovers


def cache_is_empty(cache: Path) -> bool:
    """Whether no embedding was cached under ``cache`` (nothing was encoded)."""
    return not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))
