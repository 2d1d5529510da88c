"""open_clip's table of pretrained tags, read without importing open_clip.

``import open_clip`` imports torch and torchvision (about 5 s), which
``bridge recipe check`` must not do. Where a check only needs to know where a
pretrained tag's weights live (to say whether they are on this machine and
how to get them), :func:`tag_config` reads the table from the source of the
installed ``open_clip/pretrained.py`` with :mod:`ast`, evaluating nothing:
``_PRETRAINED = {"ViT-B-32": _VITB32, ...}`` whose entries are
``dict(openai=_pcfg(url="...", hf_hub="...", quick_gelu=True), ...)``, plus
the ``-quickgelu`` names open_clip derives from the tags with
``quick_gelu``. Only literal ``url``, ``hf_hub``, ``file`` and ``quick_gelu``
values are read. When the file is missing or its shape has changed,
:func:`tag_config` returns ``None`` and the caller asks open_clip itself.
A test compares the result with ``open_clip.get_pretrained_cfg`` for every tag.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path
from typing import Any

KEYS = ("url", "hf_hub", "file", "quick_gelu")
QUICKGELU = "-quickgelu"

Table = dict[str, dict[str, dict[str, Any]]]


def tag_config(model: str, tag: str) -> dict[str, Any] | None:
    """``{"url", "hf_hub", ["file"], ["quick_gelu"]}`` of open_clip's tag ``tag`` of architecture ``model``.

    Returns:
        The tag's configuration; ``{}`` when open_clip has no such tag (the
        name is then a file path); ``None`` when the table cannot be read
        without importing open_clip.
    """
    table = _table()
    if table is None:
        return None
    return dict(table.get(model, {}).get(tag.lower().replace("-", "_"), {}))


@functools.lru_cache(maxsize=1)
def _table() -> Table | None:
    try:
        spec = importlib.util.find_spec("open_clip")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(list(spec.submodule_search_locations)[0]) / "pretrained.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError):
        return None
    assigned = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
    }
    top = assigned.get("_PRETRAINED")
    if not isinstance(top, ast.Dict):
        return None
    table: Table = {}
    for key, value in zip(top.keys, top.values):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        if isinstance(value, ast.Name):
            value = assigned.get(value.id)
        tags = _tags(value)
        if tags is None:
            return None
        table[key.value] = tags
    for name, tags in list(table.items()):  # what open_clip adds after the literal table
        quick = {tag: dict(cfg) for tag, cfg in tags.items() if cfg.get("quick_gelu")}
        if quick:
            table.setdefault(name + QUICKGELU, quick)
    return table


def _tags(node: ast.AST | None) -> dict[str, dict[str, Any]] | None:
    """``dict(tag=_cfg(...), ...)`` or ``{"tag": _cfg(...), ...}`` → ``{tag: {key: literal}}``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        pairs = [(keyword.arg, keyword.value) for keyword in node.keywords]
    elif isinstance(node, ast.Dict):
        pairs = [(key.value if isinstance(key, ast.Constant) else None, value) for key, value in zip(node.keys, node.values)]
    else:
        return None
    tags: dict[str, dict[str, Any]] = {}
    for tag, call in pairs:
        if not isinstance(tag, str) or not isinstance(call, ast.Call):
            return None
        cfg: dict[str, Any] = {"url": "", "hf_hub": ""}
        for keyword in call.keywords:
            if keyword.arg in KEYS and isinstance(keyword.value, ast.Constant):
                cfg[keyword.arg] = keyword.value.value
        tags[tag] = cfg
    return tags
