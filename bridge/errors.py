"""User-facing errors.

Every problem a user can fix (a bad recipe key, a missing file, an unknown
plugin) is raised as a :class:`BridgeError` whose message is one line that
names the file, key or item and says what was expected. The CLI prints that
line and exits non-zero; it never shows a traceback unless ``--debug``.
"""

from __future__ import annotations


class BridgeError(Exception):
    """A problem with the user's input, reported as one clear line."""


class ItemError(BridgeError):
    """One data item (a file, a line of a manifest) could not be read or decoded."""

    def __init__(self, item: str, reason: str):
        super().__init__(f"{item}: {reason}")
        self.item = item
        self.reason = reason
