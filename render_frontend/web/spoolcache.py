"""The spool as the service reads it: done and cancelled records read again only when their
folder changed.

A job's records are most of what `GET /api/v1/jobs` reads (each checked field by field by
renderd/format/), and once written they do not change: a daemon writes each through tmp/ and
renames it into jobs/<job>/done/, which changes the folder's mtime.  So the records of a folder
whose inode, mtime, size and link count are what they were are served from memory.  A folder
changed in the last SETTLE seconds is always read (a network file system may keep mtimes in
whole seconds, so two changes within one could look like one).  Only what is shown is cached;
every change goes to the spool itself (jobactions take files over by renaming them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from renderd.format.done import CancelledRecord, DoneRecord
from renderd.spool import Spool

SETTLE = 2.0
MAX_ENTRIES = 20_000
R = TypeVar("R")


class CachedSpool(Spool):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache: dict[tuple[str, str], tuple[tuple[int, int, int, int], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def done_chunks(self, job: str) -> dict[str, DoneRecord]:
        return self._cached(job, "done", super().done_chunks)

    def cancelled_chunks(self, job: str) -> dict[str, CancelledRecord]:
        return self._cached(job, "cancelled", super().cancelled_chunks)

    def _cached(self, job: str, sub: str, read: Callable[[str], dict[str, R]]) -> dict[str, R]:
        try:
            st = self.io.lstat(self.job_dir(job) / sub)
        except OSError:
            return read(job)
        if time.time() - st.st_mtime < SETTLE:
            return read(job)
        key = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_nlink)
        with self._lock:
            hit = self._cache.get((job, sub))
        if hit is not None and hit[0] == key:
            return dict(hit[1])
        value = read(job)
        with self._lock:
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
            self._cache[(job, sub)] = (key, dict(value))
        return value
