"""Parsing of command-line values that are not plain click types (``--set``, ``--seeds``)."""

from __future__ import annotations

from typing import Any

from bridge.errors import BridgeError, quoted


def parse_overrides(pairs: tuple[str, ...], threads: int | None = None) -> dict[str, Any]:
    """``("training.epochs=5", ...)`` → ``{"training.epochs": 5}`` (values parsed as YAML); ``--threads`` joins them."""
    from bridge.recipes.io import parse_override

    overrides = dict(parse_override(pair) for pair in pairs)
    if threads is not None:
        overrides["threads"] = threads
    return overrides


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]``; anything else is one clear line."""
    seeds = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 9:
            raise BridgeError(f"--seeds {quoted(text)}: expected comma-separated non-negative integers, e.g. 0,1,2")
        seeds.append(int(part))
    if not seeds:
        raise BridgeError("--seeds: give at least one seed, e.g. 0,1,2")
    if len(set(seeds)) != len(seeds):
        raise BridgeError(f"--seeds {quoted(text)}: a seed is given twice")
    return seeds
