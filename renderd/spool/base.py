"""A spool's primitive I/O: its SpoolIO, listings that never fail on a plant, write-then-rename.

Every part of the Spool (listings, housekeeping, moves) builds on these few methods, so the
rules of renderd/spool/io.py (no link followed, regular files only, bounded) hold for all of
them, and a planted name costs one rate-limited warning instead of a traceback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from renderd.errors import BadRecord
from renderd.format.names import nonce
from renderd.ratelog import RateLimitedLog
from renderd.spool.io import SpoolIO, UnsafeEntry
from renderd.spool.layout import LAYOUT, Layout
from renderd.spool.registry import opened

log = logging.getLogger("renderd.spool")
# The daemon's handlers (logsetup) get these lines; `render`, which configures no logging, shows an
# unreadable record its own way and must not get Python's last-resort stderr line on every read.
log.addHandler(logging.NullHandler())
warn_limited = RateLimitedLog(log)
R = TypeVar("R")


class SpoolBase(Layout):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._io: SpoolIO | None = None

    @property
    def io(self) -> SpoolIO:
        """The one way in and out of this spool (renderd/spool/io.py), opened on first use."""
        if self._io is None:
            self._io = opened(self.root, LAYOUT)
        return self._io

    def names(self, folder: Path) -> list[str]:
        """Names in a spool folder; a folder that is a symlink (or not a folder) is empty, with
        one warning (rate-limited): nothing is ever listed or claimed through a planted link."""
        try:
            return self.io.names(folder)
        except UnsafeEntry as err:
            warn_limited.warning(f"unsafe folder {folder}", "not listing %s", err)
            return []

    def write_atomic(self, dest: Path, data: bytes, durable: bool = True, sync_dir: bool = False) -> None:
        """Write to tmp/ then rename over `dest`: readers see the old or the new file.  `durable`
        fsyncs the data, `sync_dir` also the folder it lands in (records a crash must not lose)."""
        tmp = self.root / "tmp" / f"{dest.name[:80]}.{os.getpid()}.{nonce()}.tmp"
        self.io.write_atomic(dest, data, tmp, durable=durable, sync_dir=sync_dir)

    def read_record(self, path: Path, parse: Callable[[bytes, Path], R], limit: int) -> R | None:
        """A record through its typed reader (renderd.format); None when it is gone, planted or
        too large, or fails validation (one warning line, rate-limited: it is met on every poll)."""
        try:
            raw = self.io.read(path, limit)
        except OSError:
            return None
        try:
            return parse(raw, path)
        except BadRecord as err:
            warn_limited.warning(f"bad record in {path.parent.name}", "ignored %s", err)
            return None

    def unlink(self, path: Path) -> bool:
        """Remove one name of the spool (a symlink itself, never its target)."""
        return self.io.unlink(path)
