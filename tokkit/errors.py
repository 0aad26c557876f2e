"""One error type for user mistakes.

A :class:`TokkitError` means the input was wrong (a missing or corrupt file, an option that makes
no sense, a format that cannot express a tokenizer). The CLI prints it as one line on stderr and
exits with code 2. Anything else that escapes is a bug and stays a traceback.
"""

from __future__ import annotations

import os


class TokkitError(Exception):
    """A user mistake: bad input, missing file. The CLI prints it as one line, exit code 2."""


class FormatError(TokkitError):
    """A file exists but is not what it claims to be (corrupt, truncated, wrong kind)."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class UnsupportedError(TokkitError):
    """The requested conversion or operation cannot be expressed (says why)."""
