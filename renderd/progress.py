"""Live progress of running chunks, read from their logs on a thread of its own.

Every `interval` seconds the thread reads what each watched log gained, feeds the lines to a
`BlenderProgress`, and when something changed posts `("progress", (token, summary))` to the
daemon's event queue; the daemon emits `chunk-progress` on its main thread.  A command that
prints nothing produces no progress events (its start and end are still reported)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderd.blender_output import BlenderProgress
from renderd.spool import open_regular

log = logging.getLogger(__name__)

READ_LIMIT = 1024 * 1024  # per log per round: a chatty program cannot keep the thread busy


@dataclass
class _Tail:
    path: Path
    parser: BlenderProgress
    offset: int = 0
    partial: bytes = b""
    last: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the thread and forget() both read
    on_saved: Callable[[Sequence[str]], None] | None = None  # files the program said it finished
    fd: int | None = None  # kept open while watched: a look is an fstat, not a path walk (docs/netfs.md)
    closed: bool = False

    def read(self) -> bool:
        """Feed what the log gained; True if the parser learned something."""
        if self.closed:  # forgotten while the watcher thread still held it
            return False
        try:
            if self.fd is None:
                self.fd = open_regular(self.path)
            if os.fstat(self.fd).st_size <= self.offset:
                return False
            data = os.pread(self.fd, READ_LIMIT, self.offset)
        except OSError:
            return False
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()[-4096:]
        changed = False
        saved_before = len(self.parser.saved)
        for line in lines:
            changed |= self.parser.feed(line.decode("utf-8", errors="replace"))
        if self.on_saved is not None and len(self.parser.saved) > saved_before:
            self.on_saved(self.parser.saved[saved_before:])  # e.g. frames renamed into place
        return changed

    def close(self) -> None:
        self.closed = True
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class ProgressWatcher:
    def __init__(self, post: Callable[[tuple[str, Any]], None], interval: float = 1.0) -> None:
        self._post = post
        self.interval = interval
        self._tails: dict[str, _Tail] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._busy = threading.Event()  # set while a log is watched: an idle daemon's thread sleeps
        self._thread = threading.Thread(target=self._loop, name="renderd-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def watch(
        self, token: str, log_path: Path, frames: int, on_saved: Callable[[Sequence[str]], None] | None = None
    ) -> None:
        with self._lock:
            # the log already holds renderd's own header lines: start after them
            offset = os.path.getsize(log_path) if log_path.exists() else 0
            self._tails[token] = _Tail(log_path, BlenderProgress(frames_total=frames), offset, on_saved=on_saved)
            self._busy.set()

    def forget(self, token: str) -> BlenderProgress | None:
        """Stop watching; the last lines are read here so the result is complete."""
        with self._lock:
            tail = self._tails.pop(token, None)
            if not self._tails:
                self._busy.clear()
        if tail is None:
            return None
        with tail.lock:
            tail.read()
            tail.close()
        return tail.parser

    def close(self) -> None:
        self._stop.set()
        self._busy.set()

    def _loop(self) -> None:
        while self._busy.wait() and not self._stop.wait(self.interval):
            with self._lock:
                tails = list(self._tails.items())
            for token, tail in tails:
                try:
                    with tail.lock:
                        changed = tail.read()
                    if not changed:
                        continue
                except Exception:  # a log we cannot parse must not end progress for the others
                    log.exception("reading progress of %s", tail.path)
                    continue
                summary = tail.parser.summary()
                if summary != tail.last:
                    tail.last = summary
                    self._post(("progress", (token, summary)))
