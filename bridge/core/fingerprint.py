"""Content fingerprints of weight files, hashed once and remembered (``bridge.file_digest``).

An MCR's ``fingerprint`` should change whenever its weights do, so plugins
hash their weight files. Checkpoints are gigabytes; hashing one costs
seconds to minutes. A
:class:`FingerprintCache` keeps each file's SHA-256 in a small JSON file
(``fingerprints.json``) keyed by the file's absolute path, size and
modification time (nanoseconds): a file that has not changed since it was
last hashed is never read again. Where the JSON lives: the ``cache_dir`` a
plugin is given, else ``$BRIDGE_CACHE``, else ``~/.cache/mcr-bridge``.

The JSON is rewritten atomically (a temporary file renamed over it); two
processes hashing at once may each drop the other's new entry, which only
costs a re-hash later. A corrupt or unreadable JSON is treated as empty.

Pure Python (no torch). The `openclip` and `laionclap` plugins use it::

    import bridge
    from bridge.core.fingerprint import combine

    digest = bridge.file_digest(checkpoint, cache_dir=options.cache_dir)   # 64 hex characters
    fingerprint = combine({"kind": "my-model", "weights": digest, "fusion": options.fusion})
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from bridge.errors import BridgeError

FILE_NAME = "fingerprints.json"
BLOCK_BYTES = 1 << 20


def default_cache_root() -> Path:
    """``$BRIDGE_CACHE`` when set and not empty, else ``~/.cache/mcr-bridge``."""
    configured = os.environ.get("BRIDGE_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "mcr-bridge"


class FingerprintCache:
    """SHA-256 digests of files, remembered by (absolute path, size, mtime).

    Args:
        cache_dir: folder of ``fingerprints.json`` (default: :func:`default_cache_root`).
    """

    def __init__(self, cache_dir: Path | None = None):
        self.path = (cache_dir if cache_dir is not None else default_cache_root()).expanduser() / FILE_NAME

    def digest(self, file: Path) -> str:
        """The hex SHA-256 of ``file``'s bytes, from the cache when the file is unchanged.

        Raises:
            BridgeError: the file does not exist or cannot be read.
        """
        file = Path(file).expanduser().resolve()
        try:
            stat = file.stat()
        except OSError as error:
            raise BridgeError(f"{file}: cannot read the weights file ({error.strerror or error})") from error
        key = str(file)
        entries = self._read()
        known = entries.get(key)
        if isinstance(known, dict) and known.get("size") == stat.st_size and known.get("mtime_ns") == stat.st_mtime_ns:
            digest = known.get("sha256")
            if isinstance(digest, str) and digest:
                return digest
        digest = _sha256(file)
        entries = self._read()  # re-read: another process may have added entries meanwhile
        entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        self._write(entries)
        return digest

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, entries: dict[str, object]) -> None:
        """Replace the JSON atomically; a read-only cache folder only costs a re-hash next time."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".fingerprints-", suffix=".json", dir=self.path.parent)
        except OSError:
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(entries, stream, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)


def file_digest(file: Path, cache_dir: Path | None = None) -> str:
    """The hex SHA-256 of ``file``'s bytes, hashed once and then remembered by (path, size, mtime).

    Args:
        file: the weights file (``~`` is expanded, links are followed).
        cache_dir: folder of ``fingerprints.json`` (default: ``$BRIDGE_CACHE`` or ``~/.cache/mcr-bridge``);
            an MCR options model with a ``cache_dir`` field receives the recipe's cache folder.

    Raises:
        BridgeError: the file does not exist or cannot be read.
    """
    return FingerprintCache(cache_dir).digest(file)


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    try:
        with file.open("rb") as stream:
            for block in iter(lambda: stream.read(BLOCK_BYTES), b""):
                digest.update(block)
    except OSError as error:
        raise BridgeError(f"{file}: cannot read the weights file ({error.strerror or error})") from error
    return digest.hexdigest()


def combine(parts: dict[str, object]) -> str:
    """One hex SHA-256 over named parts (file digests, settings); independent of the dict's order."""
    payload = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
