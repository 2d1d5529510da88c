"""Reading YAML that users (or tampering) wrote: strict, bounded, and one-line errors.

- the file must be a regular UTF-8 text file (a folder, a symlink loop, binary
  data or another encoding is named as such);
- it is parsed by libyaml when PyYAML has it (a 10 MB value parses in
  milliseconds), else by PyYAML's Python parser;
- a key given twice in one mapping is an error (PyYAML silently keeps the last);
- anchors/aliases may not expand past :data:`MAX_NODES` nodes (an alias bomb
  is refused instead of filling memory).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from bridge.errors import BridgeError, quoted, shorten

MAX_FILE_BYTES = 16 * 2**20
MAX_NODES = 200_000
PATH_ECHO = 200
"""Characters of a user path echoed in a message (a path can be megabytes long)."""

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def shown(path: object) -> str:
    """A user path as messages echo it: on one line, cut to :data:`PATH_ECHO` characters."""
    return shorten(str(path), PATH_ECHO)


def require_writable_parent(path: Path, where: str) -> None:
    """Raise a one-line error (prefixed ``where``) unless the nearest existing folder above ``path`` is a writable folder.

    Called before expensive work for outputs and caches: a path under a file, or in a read-only place, fails in seconds.
    """
    parent = Path(path).parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise BridgeError(f"{where}: {shown(parent)} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BridgeError(f"{where}: {shown(parent)} is not writable")


def require_path(path: Path, what: str) -> bool:
    """Raise a one-line error unless ``path`` exists (naming a broken link or a link loop as such); returns whether it is a folder."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise BridgeError(f"{shown(path)}: {what} is a broken symbolic link (to {shown(os.readlink(path))})") from None
        raise BridgeError(f"{shown(path)}: {what} does not exist") from None
    except OSError as error:  # a symlink loop (ELOOP), a name too long, no permission
        raise BridgeError(f"{shown(path)}: cannot read the {what} ({error.strerror or type(error).__name__})") from None
    return stat.S_ISDIR(mode)


class _StrictLoader(_SafeLoader):
    """A SafeLoader that rejects duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: let the base class report it
                break
            if duplicate:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {quoted(key)} is given twice in one mapping (line {mark.line + 1})", mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, sizes: dict[int, int], limit: int) -> int:
    """How many nodes ``node`` becomes once every alias is expanded (stops counting past ``limit``)."""
    known = sizes.get(id(node))
    if known is not None:
        if known < 0:
            raise BridgeError("recursive alias")
        return known
    sizes[id(node)] = -1
    total = 1
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    else:
        children = []
    for child in children:
        total += _expanded_size(child, sizes, limit)
        if total > limit:
            break
    sizes[id(node)] = total
    return total


def read_text_file(path: Path, what: str = "file", limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file, or a one-line error naming ``path``."""
    if require_path(path, what):
        raise BridgeError(f"{shown(path)}: is a folder, expected a {what}")
    try:
        size = path.stat().st_size
        if size > limit:
            raise BridgeError(f"{shown(path)}: {size} bytes is too large for a {what} (limit {limit})")
        data = path.read_bytes()
    except OSError as error:
        raise BridgeError(f"{shown(path)}: cannot read the {what} ({error.strerror or type(error).__name__})") from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BridgeError(f"{shown(path)}:{line}: not UTF-8 text (byte {data[error.start]:#04x}); save the {what} as UTF-8") from error


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text strictly; errors name ``where`` and the line."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            size = _expanded_size(node, {}, MAX_NODES)
        except BridgeError as error:
            raise BridgeError(f"{where}: invalid YAML ({error})") from None
        if size > MAX_NODES:
            raise BridgeError(f"{where}: the YAML expands to more than {MAX_NODES} values through aliases (an alias bomb?)")
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise BridgeError(f"{where}{line}: invalid YAML ({shorten(problem, 200)})") from error
    except RecursionError as error:
        raise BridgeError(f"{where}: invalid YAML (nested too deeply)") from error
    finally:
        loader.dispose()


def read_yaml(path: Path, what: str = "YAML file") -> Any:
    """Read and parse a YAML file strictly (see the module docstring)."""
    return parse_yaml(read_text_file(path, what), shown(path))
