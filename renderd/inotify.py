"""Wakes for queue/ and the job folders in it, on watchdog's inotify layer (Linux only).

Why watchdog's `InotifyFD` and not its `Observer`: we need one thing — "something arrived in
queue/ or in queue/<job>/" — as soon as the kernel knows it.  The Observer's event buffer holds
every event back for 0.5 s to pair a move's two halves (renderd once undid that by patching a
private class attribute), and it makes up a synthetic event for every file of a folder moved in
(minutes of CPU for a 100 000-chunk job).  `InotifyFD` (public since watchdog 7.0) hands each
kernel event to a callback as it is read, with neither: a folder that arrives is one wake for
queue/ (the scanner then lists it), a chunk that arrives is one wake for its folder.

Watches are two levels deep: queue/ itself, and each real folder in it (IN_DONT_FOLLOW |
IN_ONLYDIR: a job folder planted as a symlink is never watched, as the scanner never lists
it).  inotify only sees this host's writes; the daemon's poll catches other hosts' (and any
folder we could not watch, e.g. past fs.inotify.max_user_watches).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from typing import cast

from watchdog.observers.inotify_c import (
    CallbackId,
    InotifyConstants,
    InotifyEvent,
    InotifyFD,
    Mask,
    WatchDescriptor,
)

log = logging.getLogger(__name__)

ARRIVALS = InotifyConstants.IN_CREATE | InotifyConstants.IN_MOVED_TO | InotifyConstants.IN_CLOSE_WRITE
WATCH_FLAGS = Mask(
    ARRIVALS | InotifyConstants.IN_ONLYDIR | InotifyConstants.IN_DONT_FOLLOW | InotifyConstants.IN_EXCL_UNLINK
)
_ID = CallbackId(0)


class InotifyError(OSError):
    """inotify could not be set up (not Linux, or the instance or watch limit)."""


class _Folder:
    """watchdog's WatchCallback for one watched folder: None is queue/ itself."""

    def __init__(self, tree: TreeWatch, name: str | None) -> None:
        self.tree = tree
        self.name = name

    def on_event(self, event: InotifyEvent) -> None:
        if self.name is None and event.is_directory and event.name:
            name = os.fsdecode(event.name)
            self.tree.add(os.path.join(self.tree.root, name), name)
        self.tree.wake_for(self.name)

    def on_watch_deleted(self, wd: WatchDescriptor) -> None:
        self.tree.forget(wd)

    def on_queue_overflow(self) -> None:
        if self.name is None:  # events were lost: watch what came meanwhile, re-list from the root
            self.tree.add_existing()
            self.tree.wake_for(None)


class TreeWatch:
    """Calls `wake(folder)` from watchdog's inotify thread: folder None for queue/ itself, else the
    job folder's name.  `start()` adds the watches (raises InotifyError if it cannot), `stop()`
    ends the thread."""

    def __init__(self, root: str, wake: Callable[[str | None], None]) -> None:
        self.root = root
        self.wake = wake
        self._fd: InotifyFD | None = None
        self._names: dict[int, str | None] = {}  # watch descriptor -> folder name (None: root)
        self._warned_limit = False

    def start(self) -> None:
        try:
            self._fd = InotifyFD()  # our own instance (not watchdog's shared one), so stop() ends it
        except OSError as err:
            raise InotifyError(err.errno or errno.ENOSYS, f"inotify: {err.strerror or err}") from None
        self._fd.name = "inotify"
        self._fd.start()
        if self.add(self.root, None) is None:
            self.stop()
            raise InotifyError(errno.ENOENT, f"{self.root}: cannot watch this folder")
        self.add_existing()

    def stop(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        fd.stop()
        fd.join(timeout=5)

    def watched(self) -> set[str | None]:
        """The folders watched now (for tests and `renderd --check`)."""
        return set(self._names.values())

    def add(self, path: str, name: str | None) -> int | None:
        """Watch one folder; None when it cannot be (gone, a symlink, or past the watch limit)."""
        if self._fd is None:
            return None
        try:
            wd = int(self._fd.add_callback(os.fsencode(path), WATCH_FLAGS, _Folder(self, name), _ID))
        except OSError as err:
            if err.errno == errno.ENOSPC and not self._warned_limit:
                self._warned_limit = True
                log.warning("%s: no more inotify watches (fs.inotify.max_user_watches): such job folders are "
                            "found by polling only", path)
            return None  # ENOENT/ENOTDIR (gone, or a symlink): nothing to watch
        if wd < 0:  # watchdog returns EACCES as a watch of -1 instead of raising
            return None
        self._names[wd] = name
        return wd

    def add_existing(self) -> None:
        try:
            with os.scandir(self.root) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        self.add(entry.path, entry.name)
        except OSError as err:
            log.warning("%s: cannot list it to watch its job folders: %s", self.root, err.strerror)

    def forget(self, wd: WatchDescriptor) -> None:
        self._names.pop(cast(int, wd), None)

    def wake_for(self, folder: str | None) -> None:
        try:
            self.wake(folder)
        except Exception:  # a failing callback must not end the watching
            log.exception("inotify wake callback failed")
