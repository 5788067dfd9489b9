"""Following every daemon's event log in the spool (`render tail --farm`, `render serve`'s events).

Each daemon appends its events to events/<daemon>.jsonl; this reads what is new in each, so it
works from any workstation.  A rotated file starts anew; a hostile or half-written line is
skipped."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderd import protocol
from renderd.errors import BadRecord
from renderd.format.event import Event
from renderd.spool import Spool, open_regular

FARM_POLL = 0.5


@dataclass
class _File:
    path: Path
    inode: int = -1
    offset: int = 0
    partial: bytes = b""


class FarmLog:
    """Follows events/<daemon>.jsonl of every daemon; rotation starts a file anew."""

    def __init__(self, spool: Spool, history: int) -> None:
        self.spool = spool
        self.history = history
        self.files: dict[Path, _File] = {}
        self._first = True

    def poll(self) -> list[dict[str, Any]]:
        """The events written since the last poll (the first: the recent past), oldest first."""
        batch: list[dict[str, Any]] = []
        for path in self.spool.event_logs():
            batch.extend(self._read(path, tail=self.history if self._first else None))
        self._first = False
        batch.sort(key=lambda m: m.get("time", 0) if isinstance(m.get("time"), (int, float)) else 0)
        return batch

    def follow(self, until: float | None) -> Iterator[dict[str, Any]]:
        while until is None or time.monotonic() < until:
            yield from self.poll()
            time.sleep(FARM_POLL)

    def _read(self, path: Path, tail: int | None) -> list[dict[str, Any]]:
        state = self.files.setdefault(path, _File(path))
        try:
            fd = open_regular(path)
        except OSError:
            return []
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_ino != state.inode or st.st_size < state.offset:
                state.inode, state.offset, state.partial = st.st_ino, 0, b""
                if tail is not None:  # start near the end: only the recent past
                    state.offset = max(0, st.st_size - 512 * max(tail, 1))
            fh.seek(state.offset)
            data = fh.read(4 * 1024 * 1024)
        if not data:
            return []
        start_mid_line = state.offset > 0 and tail is not None and not state.partial
        state.offset += len(data)
        chunks = (state.partial + data).split(b"\n")
        state.partial = chunks.pop()[-protocol.MAX_LINE:]
        if start_mid_line:
            chunks = chunks[1:]
        out = []
        for raw in chunks:
            try:
                event = Event.from_line(raw, path)  # bounded, flat, ids in the name grammar
            except BadRecord:
                continue  # hostile or half-written line: skip it
            out.append(event.as_message())
        return out[-tail:] if tail else ([] if tail == 0 else out)
