"""The spools this process opened, for code that holds only a path.

The event log, the progress tail, the launcher and `render log` are handed a path under the
spool, not a Spool.  Through these functions such a path still goes through its spool's
SpoolIO (walked from the root without following links); a path under no opened spool gets the
same rules for its last name only (`O_NOFOLLOW|O_NONBLOCK`, regular files only).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path

from renderd.ratelog import RateLimitedLog
from renderd.spool.io import FILE, SpoolIO, UnsafeEntry, describe

log = logging.getLogger("renderd.spool")
warn_limited = RateLimitedLog(log)

_OPENED: dict[str, SpoolIO] = {}
_OPENED_LOCK = threading.Lock()


def opened(root: Path, layout: Sequence[str]) -> SpoolIO:
    """The SpoolIO of `root`, made once per process (its fds live as long as the process)."""
    key = str(root).rstrip("/") + "/"
    with _OPENED_LOCK:
        sio = _OPENED.get(key)
        if sio is None:
            sio = _OPENED[key] = SpoolIO(root, layout)
        return sio


def owner_of(path: Path | str) -> SpoolIO | None:
    """The opened spool that `path` lies in (the longest root that is a prefix), if any."""
    text = os.fspath(path)
    best: SpoolIO | None = None
    with _OPENED_LOCK:
        for key, sio in _OPENED.items():
            if text.startswith(key) and (best is None or len(key) > len(best._prefix)):
                best = sio
    return best


def open_file(path: Path | str, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """`SpoolIO.open` for a path in an opened spool; elsewhere the same rules for the last name."""
    sio = owner_of(path)
    if sio is not None:
        return sio.open(path, flags, mode)
    fd = os.open(path, flags | FILE, mode)
    st_mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(st_mode):
        os.close(fd)
        raise UnsafeEntry(path, f"is {describe(st_mode)}, not a regular file")
    return fd


def rename(src: Path | str, dst: Path | str) -> None:
    sio = owner_of(src)
    if sio is not None:
        sio.rename(src, dst)
    else:
        os.rename(src, dst)


def lstat(path: Path | str) -> os.stat_result:
    sio = owner_of(path)
    return sio.lstat(path) if sio is not None else os.lstat(path)


def exists(path: Path | str) -> bool:
    """`SpoolIO.exists` for a path in an opened spool (a claim's fence), else a no-follow open."""
    sio = owner_of(path)
    if sio is not None:
        return sio.exists(path)
    try:
        os.close(os.open(path, os.O_RDONLY | FILE))
    except FileNotFoundError:
        return False
    except OSError as err:
        return err.errno in (errno.ELOOP, errno.EACCES, errno.ENXIO)
    return True


def unlink(path: Path | str) -> bool:
    """Remove a name (never what a symlink points at); False if it was gone already."""
    sio = owner_of(path)
    if sio is not None:
        return sio.unlink(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def remove_tree(path: Path | str) -> None:
    sio = owner_of(path)
    if sio is None:
        raise UnsafeEntry(path, "is not in an opened spool")
    sio.remove_tree(path)


def open_regular(path: Path, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """Open a spool file that must be a plain file: never a symlink, FIFO or device (they could
    point outside the spool or block the reader forever)."""
    return open_file(path, flags, mode)


def list_names(folder: Path) -> list[str]:
    """Names in a folder of an opened spool (walked without following links); a missing,
    vanished (ESTALE) or planted (symlinked) folder is empty."""
    sio = owner_of(folder)
    try:
        if sio is not None:
            return sio.names(folder)
        with os.scandir(folder) as it:
            return [entry.name for entry in it]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except UnsafeEntry as err:
        warn_limited.warning(f"unsafe folder {folder}", "not listing %s", err)
        return []
    except OSError as err:
        if err.errno != errno.ESTALE:  # NFS/FUSE: another host removed the folder (an emptied job's queue folder)
            raise
        return []
