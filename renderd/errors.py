"""Exceptions that carry a path and a human sentence; the CLIs turn them into one line."""

from __future__ import annotations

from pathlib import Path


class RenderdError(Exception):
    """Base class: `str(err)` is the one line a user sees."""

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.message = message
        super().__init__(f"{path}: {message}" if path is not None else message)


class SpoolError(RenderdError):
    """The spool folder is missing, not a spool, or of a newer format."""


class BadRecord(RenderdError):
    """A spool record (manifest, done record, host record, control, event line, ...) that cannot be
    trusted: its reader treats it as absent, with this reason on one line."""


class BadInfoFile(BadRecord):
    """An info file that cannot be trusted: it is quarantined with this reason."""


class IllegalTransition(RenderdError):
    """A chunk state change that the state table does not allow."""


class UsageError(RenderdError):
    """Bad input from the command line (frame ranges, chunk sizes, ...)."""
