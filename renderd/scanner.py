"""Finding queued chunks cheaply: names-only listings, re-listed only when a folder changed.

inotify (renderd/inotify.py) wakes us for what this host writes; it never fires for what other NFS
clients write, so the daemon also polls.  A poll stats the queue folder and each job
folder and re-lists only those whose mtime changed (or changed so recently that the
mtime's granularity could hide a second change), so 100 000 queued chunks cost little.
"""

from __future__ import annotations

import logging
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from renderd.format.names import QueueDir
from renderd.inotify import InotifyError, TreeWatch
from renderd.spool import Spool

log = logging.getLogger(__name__)
RECENT_NS = 2_000_000_000
LINKED = -2
FULL_RELIST_SECONDS = 60.0


@dataclass
class _Listing:
    mtime_ns: int
    listed_at_ns: int
    chunks: list[str]


@dataclass
class QueueScanner:
    spool: Spool
    dirs: list[QueueDir] = field(default_factory=list)
    listings: dict[str, _Listing] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    root_dirty: bool = True
    linked: list[QueueDir] = field(default_factory=list)  # job folders that are symlinks: never listed
    _root: _Listing | None = None
    _last_full: float = 0.0

    def mark_dirty(self, folder: str | None = None) -> None:
        if folder is None:
            self.root_dirty = True
        else:
            self.dirty.add(folder)

    def refresh(self, skip: Callable[[QueueDir], bool]) -> None:
        """Bring the listings up to date; folders for which `skip` is true are not listed."""
        full = time.monotonic() - self._last_full >= FULL_RELIST_SECONDS
        if full:
            self._last_full = time.monotonic()
        queue = self.spool.root / "queue"
        root_mtime = self._mtime_ns(queue)
        if full or self.root_dirty or _changed(self._root, root_mtime):
            now_ns = time.time_ns()
            self.dirs = self.spool.queue_dirs()
            self._root = _Listing(root_mtime, now_ns, [])
            self.root_dirty = False
            names = {q.name for q in self.dirs}
            for gone in set(self.listings) - names:
                del self.listings[gone]
        for qdir in self.dirs:
            if skip(qdir):
                continue
            mtime = self._mtime_ns(queue / qdir.name)
            if mtime == LINKED:  # O_NOFOLLOW guards files only: never list or claim through a linked folder
                self.listings.pop(qdir.name, None)
                if qdir not in self.linked:
                    self.linked.append(qdir)
                continue
            listing = self.listings.get(qdir.name)
            if full or qdir.name in self.dirty or _changed(listing, mtime):
                chunks = self.spool.queued_chunks(qdir)
                if not chunks and self.spool.remove_empty_queue_dir(qdir):
                    self.listings.pop(qdir.name, None)
                    continue
                self.listings[qdir.name] = _Listing(mtime, time.time_ns(), chunks)
        self.dirty.clear()

    def candidates(self, skip: Callable[[QueueDir], bool],
                   order: Sequence[QueueDir] | None = None) -> Iterator[tuple[QueueDir, str]]:
        """Queued chunks of the folders in `order` (default: the folders' names' order, i.e. priority,
        then submission time), each folder's in chunk index order."""
        for qdir in list(self.dirs if order is None else order):
            if skip(qdir):
                continue
            listing = self.listings.get(qdir.name)
            for chunk in list(listing.chunks) if listing is not None else []:
                if skip(qdir):  # decided on its first chunk (refused, held): not one read per chunk
                    break
                yield qdir, chunk

    def has_chunks(self, qdir: QueueDir) -> bool:
        listing = self.listings.get(qdir.name)
        return listing is not None and bool(listing.chunks)

    def forget(self, qdir: QueueDir, chunk: str) -> None:
        """A chunk left its folder (we claimed it, or found it gone): drop it from the listing."""
        listing = self.listings.get(qdir.name)
        if listing is not None and chunk in listing.chunks:
            listing.chunks.remove(chunk)

    def queued_count(self) -> int:
        return sum(len(v.chunks) for v in self.listings.values())

    def _mtime_ns(self, path: Path) -> int:
        """The folder's mtime; -1 if it is gone (or queue/ itself is not a real folder: its listing
        is empty then), LINKED if it is a symlink.  An lstat through the spool's I/O layer, so
        a queue/ swapped for a link is not stat'ed through either."""
        try:
            st = self.spool.io.lstat(path)
        except OSError:
            return -1
        return LINKED if stat.S_ISLNK(st.st_mode) else st.st_mtime_ns


def _changed(listing: _Listing | None, mtime_ns: int) -> bool:
    if listing is None or listing.mtime_ns != mtime_ns:
        return True
    # A change within the mtime's granularity of our listing could be invisible: look again.
    return listing.listed_at_ns - mtime_ns < RECENT_NS


class QueueWatch:
    """Wakes the daemon when a chunk or a job folder arrives in queue/ (on this host's mount).

    renderd/inotify.py, on watchdog's inotify layer: one wake per kernel event, no
    move-pairing delay, no synthetic per-file events.  Where inotify cannot be set
    up the daemon polls only, and says so once.
    """

    def __init__(self, spool: Spool, wake: Callable[[str | None], None]) -> None:
        self.queue = str(spool.root / "queue")
        self.tree: TreeWatch | None = None
        try:
            self.tree = TreeWatch(self.queue, wake)
        except InotifyError as err:
            log.warning("%s: %s; polling only", self.queue, err.strerror)

    def start(self) -> None:
        if self.tree is None:
            return
        try:
            self.tree.start()
        except InotifyError as err:
            log.warning("%s: %s; polling only", self.queue, err.strerror)
            self.tree = None

    def stop(self) -> None:
        if self.tree is not None:
            self.tree.stop()
