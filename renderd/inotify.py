"""A small inotify watcher for queue/ and the job folders in it (Linux only, stdlib + ctypes).

Why our own and not watchdog: we need one thing — "something arrived in queue/ or in
queue/<job>/" — as soon as the kernel knows it.  watchdog holds every event back for 0.5 s to
pair a move's two halves, which renderd used to undo by patching a private class attribute
(fragile across watchdog versions), and it makes up a synthetic event for every file of a
folder moved in (minutes of CPU for a 100 000-chunk job).  Here a folder that arrives is one
wake for queue/ (the scanner then lists it), and each batch of events read from the kernel
becomes one wake per folder, however many files it names.

Watches are two levels deep: queue/ itself, and each real folder in it (IN_DONT_FOLLOW |
IN_ONLYDIR: a job folder planted as a symlink is never watched, as the scanner never lists
it).  inotify only sees this host's writes; the daemon's poll catches other hosts' (and any
folder we could not watch, e.g. past fs.inotify.max_user_watches).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import select
import struct
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
ARRIVALS = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE
WATCH_FLAGS = ARRIVALS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name
READ_SIZE = 256 * 1024


class InotifyError(OSError):
    """inotify could not be set up (not Linux, no libc symbol, or the instance limit)."""


def _libc() -> ctypes.CDLL:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        return libc
    except (OSError, AttributeError) as err:
        raise InotifyError(errno.ENOSYS, f"inotify is not available here: {err}") from None


class TreeWatch:
    """Calls `wake(folder)` from its own thread: folder None for queue/ itself, else the job folder's
    name.  `start()` adds the watches (raises InotifyError if it cannot), `stop()` ends the thread."""

    def __init__(self, root: str, wake: Callable[[str | None], None]) -> None:
        self.root = root
        self.wake = wake
        self._libc = _libc()
        self._fd = -1
        self._names: dict[int, str | None] = {}  # watch descriptor -> folder name (None: root)
        self._stop_r, self._stop_w = -1, -1
        self._thread: threading.Thread | None = None
        self._warned_limit = False

    def start(self) -> None:
        fd: int = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise InotifyError(err, f"inotify_init1: {os.strerror(err)}")
        self._fd = fd
        if self._add(self.root, None) is None:
            os.close(fd)
            self._fd = -1
            raise InotifyError(errno.ENOENT, f"{self.root}: cannot watch this folder")
        self._add_existing()
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._run, name="inotify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._fd, self._stop_r, self._stop_w):
            os.close(fd)
        self._thread, self._fd = None, -1

    def watched(self) -> set[str | None]:
        """The folders watched now (for tests and `renderd --check`)."""
        return set(self._names.values())

    def _add(self, path: str, name: str | None) -> int | None:
        wd: int = self._libc.inotify_add_watch(self._fd, os.fsencode(path), WATCH_FLAGS)
        if wd < 0:
            err = ctypes.get_errno()
            if err == errno.ENOSPC and not self._warned_limit:
                self._warned_limit = True
                log.warning("%s: no more inotify watches (fs.inotify.max_user_watches): such job folders are "
                            "found by polling only", path)
            return None  # ENOENT/ENOTDIR (gone, or a symlink): nothing to watch
        self._names[wd] = name
        return wd

    def _add_existing(self) -> None:
        try:
            with os.scandir(self.root) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        self._add(entry.path, entry.name)
        except OSError as err:
            log.warning("%s: cannot list it to watch its job folders: %s", self.root, err.strerror)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self._stop_r in ready:
                return
            try:
                data = os.read(self._fd, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError as err:
                log.warning("inotify read failed (%s): polling only from now on", err.strerror)
                return
            for folder in self._handle(data):
                try:
                    self.wake(folder)
                except Exception:  # a failing callback must not end the watching
                    log.exception("inotify wake callback failed")

    def _handle(self, data: bytes) -> list[str | None]:
        """One batch of kernel events -> the folders to wake for, each once, in order."""
        folders: dict[str | None, None] = {}
        pos = 0
        while pos + _EVENT.size <= len(data):
            wd, mask, _cookie, size = _EVENT.unpack_from(data, pos)
            raw = data[pos + _EVENT.size : pos + _EVENT.size + size].rstrip(b"\0")
            pos += _EVENT.size + size
            if mask & IN_Q_OVERFLOW:  # events were lost: watch what came meanwhile, re-list from the root
                self._add_existing()
                folders[None] = None
                continue
            if mask & IN_IGNORED:
                self._names.pop(wd, None)
                continue
            if wd not in self._names:
                continue
            folder = self._names[wd]
            if folder is None:
                name = os.fsdecode(raw)
                if mask & IN_ISDIR and name:
                    self._add(os.path.join(self.root, name), name)
                folders[None] = None
            else:
                folders[folder] = None
        return list(folders)
