"""Each daemon's events, appended to its own file in the spool: events/<daemon>.jsonl.

One writer per file (daemon names are unique in a spool), so appends never interleave and
`render tail --farm` / `render status` can read every host's events from any workstation.
Lines have the socket's event shape (renderd.protocol).  When the file passes `max_bytes`
it is rotated to `.1` (`.1` to `.2`, ...); `keep` rotated files are kept and `render clean`
removes old ones.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from renderd.errors import BadRecord
from renderd.format.event import Event
from renderd.spool import open_regular, registry

log = logging.getLogger(__name__)

MAX_BYTES = 4 * 1024 * 1024
KEEP = 5


class EventLog:
    """A daemon listener: `log(event)` appends one line."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._fd: int | None = None
        self._size = 0
        self._failed = False

    def encode(self, event: dict[str, Any]) -> bytes | None:
        """The line for one event (None: this log keeps no line of it)."""
        try:
            return Event.line(event)  # through the event line's reader: what we append, every reader reads
        except (TypeError, ValueError, BadRecord) as err:
            log.warning("event %s not logged: %s", event.get("event"), err)
            return None

    def __call__(self, event: dict[str, Any]) -> None:
        raw = self.encode(event)
        if raw is None:
            return
        try:
            if self._fd is None or self._size + len(raw) > self.max_bytes:
                self._reopen(rotate=self._fd is not None or self._current_size() + len(raw) > self.max_bytes)
            assert self._fd is not None
            os.write(self._fd, raw)
            self._size += len(raw)
            self._failed = False
        except OSError as err:
            if not self._failed:  # one line per outage, not one per event
                log.warning("cannot append to %s: %s", self.path, err)
            self._failed = True
            self.close()

    def _current_size(self) -> int:
        try:
            return registry.lstat(self.path).st_size
        except OSError:
            return 0

    def _reopen(self, rotate: bool) -> None:
        self.close()
        if rotate:
            for n in range(self.keep - 1, 0, -1):
                _rename_quiet(self._rotated(n), self._rotated(n + 1))
            _rename_quiet(self.path, self._rotated(1))
        self._fd = open_regular(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self._size = os.fstat(self._fd).st_size

    def _rotated(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _rename_quiet(src: Path, dest: Path) -> None:
    try:
        registry.rename(src, dest)
    except FileNotFoundError:
        pass
