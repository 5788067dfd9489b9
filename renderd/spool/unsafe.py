"""What the spool's I/O layer refuses, and how it says what it found instead.

An OSError on purpose: every `except OSError` of a caller keeps the daemon alive when it meets
a plant; callers that can quarantine catch UnsafeEntry by name and use `what` as the reason.
"""

from __future__ import annotations

import errno
import stat
from pathlib import Path


class UnsafeEntry(OSError):
    """A name in the spool that is not what the spool puts there: a symlink, a FIFO, a device, a
    folder where a file belongs (or a file where a folder belongs), or a file over its size limit.

    An OSError, so that every `except OSError` of a caller keeps the daemon alive; callers that
    can quarantine catch it by name and use `what` as the reason."""

    def __init__(self, path: Path | str, what: str, code: int = errno.EINVAL) -> None:
        super().__init__(code, what, str(path))
        self.what = what

    def __str__(self) -> str:
        return f"{self.filename}: {self.what}"


def describe(mode: int) -> str:
    """What a file type is, in the words of a reason line."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"
