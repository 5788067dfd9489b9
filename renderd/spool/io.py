"""The one way in and out of the spool: no symlink followed, regular files only, never blocking.

Every artist may write the spool, so any name in it may be a planted symlink (pointing at
someone's shot folder), a FIFO (an `open()` that never returns), a device, or a folder where a
file belongs.  A path like `SPOOL/jobs/J/logs/x.log` handed to `open()` follows a symlink at
*any* of its components, and O_NOFOLLOW guards only the last one.  So this module never hands
the kernel a spool path: it walks from an fd of the spool root one component at a time
(`openat` with O_PATH|O_DIRECTORY|O_NOFOLLOW), and does the final open, listing, rename or
unlink relative to the last folder's fd.  The rules (docs/security.md, "spool I/O"):

- every folder on the way is a real folder (a symlink or anything else is refused with
  `UnsafeEntry`); the layout folders (`jobs/`, `queue/`, ...) must also be on the spool root's
  file system (a mount planted in the spool is refused).  Owners are *not* checked: on a
  group-writable spool any member may have made them (the first `render add` lays it out), and
  what keeps I/O inside the spool is the walk, not who owns a folder;
- only regular files are opened (O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC, then `fstat`): a FIFO
  opens without blocking and is refused, a write-open of a FIFO fails at once (ENXIO);
- reads are bounded (`read(path, limit)`);
- a rename that must survive a crash fsyncs the folder it lands in (`durable=True`).

The root's own path is the admin's choice and may be a symlink (e.g. `/farm -> /mnt/nfs/farm`);
everything below it is not.  Cost: fds of the layout folders are cached and re-validated with one
`fstatat` per use (same inode as when cached?), so a claim costs a few syscalls more than a plain
`rename()`; bench/dispatch.py measures it.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from renderd.spool.unsafe import UnsafeEntry as UnsafeEntry
from renderd.spool.unsafe import describe as describe

WALK = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
LIST = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
FILE = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
NO_DIR_FSYNC = {errno.EINVAL, errno.ENOTSUP, errno.ENOSYS, errno.EROFS, errno.EBADF}
MAX_RETIRED = 64


@dataclass
class _Cached:
    fd: int
    dev: int
    ino: int


class SpoolIO:
    """Paths under one spool root, resolved without following symlinks.

    Paths may be given absolute (under the root) or relative to it; the rest of renderd keeps
    building `spool.root / "claimed" / name` and hands the result here.  Thread-safe: the daemon's
    recorder and main threads share one instance."""

    def __init__(self, root: Path, layout: Sequence[str] = ()) -> None:
        self.root = root
        self._prefix = str(root).rstrip("/") + "/"
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.dev = os.fstat(self.root_fd).st_dev
        self.layout = frozenset(layout)
        self._cache: dict[str, _Cached] = {}
        self._retired: list[int] = []  # replaced fds another thread may still be using: closed later
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            fds = [c.fd for c in self._cache.values()] + self._retired + [self.root_fd]
            self._cache.clear()
            self._retired.clear()
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    # -- paths --------------------------------------------------------------------------

    def parts(self, path: Path | str) -> tuple[str, ...]:
        """The components of `path` below the root; anything that could climb out is refused."""
        text = os.fspath(path)
        if text.startswith("/"):
            if not text.startswith(self._prefix):
                raise UnsafeEntry(text, "is not inside the spool")
            text = text[len(self._prefix):]
        parts = tuple(text.split("/"))
        if not text or any(p in ("", ".", "..") or "\0" in p for p in parts):
            raise UnsafeEntry(path, "is not a plain path inside the spool")
        return parts

    def _layout_fd(self, name: str) -> int:
        """A cached fd of a layout folder, re-validated by one lstat (same folder as cached?)."""
        try:
            st = os.stat(name, dir_fd=self.root_fd, follow_symlinks=False)
        except OSError as err:
            if err.errno != errno.ESTALE:
                raise
            self._reopen_root()  # the share was remounted under us (NFS, sshfs): our root fd is stale
            st = os.stat(name, dir_fd=self.root_fd, follow_symlinks=False)
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and cached.ino == st.st_ino and cached.dev == st.st_dev:
            return cached.fd
        if not stat.S_ISDIR(st.st_mode):
            raise UnsafeEntry(self.root / name, f"is {describe(st.st_mode)}, not a folder")
        if st.st_dev != self.dev:
            raise UnsafeEntry(self.root / name, "is another file system mounted inside the spool")
        fd = self._open_dir(self.root_fd, name, self.root / name)
        fst = os.fstat(fd)
        with self._lock:
            old = self._cache.get(name)
            self._cache[name] = _Cached(fd, fst.st_dev, fst.st_ino)
            if old is not None:  # the folder was replaced: another thread may hold the old fd a moment
                self._retired.append(old.fd)
                while len(self._retired) > MAX_RETIRED:
                    os.close(self._retired.pop(0))
        return fd

    def _reopen_root(self) -> None:
        """A fresh fd of the root by its path; the old one (and the layout fds) are retired, not
        closed, since another thread may be using them this instant."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        with self._lock:
            self._retired.extend([self.root_fd, *(c.fd for c in self._cache.values())])
            self._cache.clear()
            self.root_fd, self.dev = fd, os.fstat(fd).st_dev

    def check_folder(self, name: str) -> None:
        """Is the layout folder `name` still the real folder we know (UnsafeEntry if not)?"""
        self._layout_fd(name)

    def _open_dir(self, parent: int, name: str, path: Path | str) -> int:
        try:
            return os.open(name, WALK, dir_fd=parent)
        except OSError as err:
            if err.errno in (errno.ENOTDIR, errno.ELOOP):
                raise self._unsafe(parent, name, path, "not a folder") from None
            raise

    def _unsafe(self, parent: int, name: str, path: Path | str, fallback: str) -> UnsafeEntry:
        """Say what is there instead (only on the error path: one more lstat)."""
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except OSError:
            return UnsafeEntry(path, fallback)
        return UnsafeEntry(path, f"is {describe(mode)}, {fallback}")

    @contextmanager
    def _folder(self, dirs: Sequence[str], path: Path | str) -> Iterator[int]:
        """An fd (O_PATH) of the folder `dirs` below the root, walked without following links."""
        if not dirs:
            yield self.root_fd
            return
        if dirs[0] in self.layout:
            fd, owned = self._layout_fd(dirs[0]), False
        else:
            fd, owned = self._open_dir(self.root_fd, dirs[0], path), True
        try:
            for part in dirs[1:]:
                nxt = self._open_dir(fd, part, path)
                if owned:
                    os.close(fd)
                fd, owned = nxt, True
            yield fd
        finally:
            if owned:
                os.close(fd)

    @contextmanager
    def _parent(self, path: Path | str) -> Iterator[tuple[int, str]]:
        *dirs, name = self.parts(path)
        with self._folder(dirs, path) as fd:
            yield fd, name

    # -- files --------------------------------------------------------------------------

    def open(self, path: Path | str, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
        """An fd of a regular file (never a symlink, FIFO, device or folder); the caller closes it."""
        with self._parent(path) as (parent, name):
            try:
                fd = os.open(name, flags | FILE, mode, dir_fd=parent)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.ENOTDIR):
                    raise self._unsafe(parent, name, path, "not a regular file") from None
                raise
        st_mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(st_mode):
            os.close(fd)
            raise UnsafeEntry(path, f"is {describe(st_mode)}, not a regular file")
        return fd

    def read(self, path: Path | str, limit: int) -> bytes:
        """The whole file, refused (UnsafeEntry) if it is longer than `limit` bytes."""
        return self.read_with_owner(path, limit)[0]

    def read_with_owner(self, path: Path | str, limit: int) -> tuple[bytes, int]:
        """As `read`, and the uid that owns the file (who wrote it, for control files and manifests).
        Both from one open file: a file swapped between a read and an `lstat` cannot lend its owner
        to another's bytes."""
        fd = self.open(path)
        try:
            uid = os.fstat(fd).st_uid
            chunks, size = [], 0
            while size <= limit:
                chunk = os.read(fd, min(limit + 1 - size, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        if size > limit:
            raise UnsafeEntry(path, f"is larger than {limit} bytes")
        return b"".join(chunks), uid

    def write_new(self, path: Path | str, data: bytes, mode: int = 0o644) -> None:
        """Create a file that must not exist yet (O_EXCL: a planted name fails, never followed)."""
        fd = self.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)

    def write_files(self, folder: Path | str, files: Iterable[tuple[str, bytes]], mode: int = 0o644) -> None:
        """Create many new files in one folder, walked once (a 100 000-chunk job's info files)."""
        with self._folder(self.parts(folder), folder) as dfd:
            for name, data in files:
                if "/" in name or name in ("", ".", ".."):
                    raise UnsafeEntry(name, "is not a plain file name")
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | FILE, mode, dir_fd=dfd)
                try:
                    _write_all(fd, data)
                finally:
                    os.close(fd)

    def write_atomic(self, dest: Path | str, data: bytes, staging: Path | str, durable: bool = True,
                     sync_dir: bool = False) -> None:
        """Write `staging` (a new name in tmp/), then rename it over `dest`: readers see the old or
        the new file.  `durable` fsyncs the data; `sync_dir` also the folder it lands in."""
        fd = self.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            try:
                _write_all(fd, data)
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self.rename(staging, dest, durable=sync_dir)
        except BaseException:
            self.unlink(staging)
            raise

    # -- names --------------------------------------------------------------------------

    def names(self, folder: Path | str) -> list[str]:
        """Names in a folder (no stat per entry).  A missing folder is empty, and so is one that
        another NFS/FUSE client removed under us (ESTALE); a symlinked one is UnsafeEntry."""
        try:
            with self._folder(self.parts(folder), folder) as fd:
                dfd = os.open(".", LIST, dir_fd=fd)
            try:
                with os.scandir(dfd) as it:
                    return [entry.name for entry in it]
            finally:
                os.close(dfd)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except UnsafeEntry:
            raise
        except OSError as err:
            if err.errno == errno.ESTALE:
                return []
            raise

    def lstat(self, path: Path | str) -> os.stat_result:
        with self._parent(path) as (parent, name):
            return os.stat(name, dir_fd=parent, follow_symlinks=False)

    def exists(self, path: Path | str) -> bool:
        """Fresh existence check: an open revalidates on NFS, where a stat may come from a cache."""
        try:
            with self._parent(path) as (parent, name):
                fd = os.open(name, os.O_RDONLY | FILE, dir_fd=parent)
        except FileNotFoundError:
            return False
        except OSError as err:
            return err.errno in (errno.ELOOP, errno.EACCES, errno.ENXIO)  # something is there
        os.close(fd)
        return True

    # -- changes ------------------------------------------------------------------------

    def rename(self, src: Path | str, dst: Path | str, durable: bool = False) -> None:
        """rename(2) with both folders walked safely; `durable` fsyncs the destination folder so
        that the move survives a crash (claims, done records, submitted jobs)."""
        with self._parent(src) as (sfd, sname), self._parent(dst) as (dfd, dname):
            os.rename(sname, dname, src_dir_fd=sfd, dst_dir_fd=dfd)
            if durable:
                _fsync_dir(dfd)

    def unlink(self, path: Path | str, missing_ok: bool = True) -> bool:
        """Remove a name (a symlink itself, never its target).  False if it was already gone."""
        try:
            with self._parent(path) as (parent, name):
                os.unlink(name, dir_fd=parent)
        except FileNotFoundError:
            if not missing_ok:
                raise
            return False
        return True

    def mkdir(self, path: Path | str, mode: int = 0o777, exist_ok: bool = True) -> None:
        """Make a folder (mode less the umask: a studio's 002 keeps it group-writable); an existing
        name must be a real folder (a symlink is UnsafeEntry)."""
        with self._parent(path) as (parent, name):
            try:
                os.mkdir(name, mode, dir_fd=parent)
            except FileExistsError:
                if not exist_ok:
                    raise
                st_mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
                if not stat.S_ISDIR(st_mode):
                    raise UnsafeEntry(path, f"is {describe(st_mode)}, not a folder") from None

    def rmdir(self, path: Path | str) -> None:
        """Remove an empty folder (fails on a non-empty one, so it never loses a file)."""
        with self._parent(path) as (parent, name):
            os.rmdir(name, dir_fd=parent)

    def remove_tree(self, path: Path | str) -> None:
        """Remove a name and, if it is a real folder, everything in it; symlinks anywhere inside are
        removed, never followed (shutil.rmtree's fd-based walk, from a safely walked parent)."""
        with self._parent(path) as (parent, name):
            try:
                st_mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
            except FileNotFoundError:
                return
            if stat.S_ISDIR(st_mode):
                shutil.rmtree(name, dir_fd=parent, ignore_errors=True)
            else:
                try:
                    os.unlink(name, dir_fd=parent)
                except FileNotFoundError:
                    pass

    def tree_size(self, path: Path | str) -> int:
        """Bytes of a file, or of everything under a real folder (os.fwalk: fds, no link followed)."""
        with self._parent(path) as (parent, name):
            try:
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                return 0
            if not stat.S_ISDIR(st.st_mode):
                return st.st_size
            total = 0
            for _, _, files, dfd in os.fwalk(name, dir_fd=parent):
                for fname in files:
                    try:
                        total += os.stat(fname, dir_fd=dfd, follow_symlinks=False).st_size
                    except OSError:
                        continue
            return total

    def fsync_folder(self, folder: Path | str) -> None:
        with self._folder(self.parts(folder), folder) as fd:
            _fsync_dir(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(fd: int) -> None:
    """fsync a folder given an O_PATH fd (which cannot be fsynced itself); file systems that do
    not sync folders (some FUSE ones) are fine: their renames are synchronous or not ours to fix."""
    dfd = os.open(".", LIST, dir_fd=fd)
    try:
        os.fsync(dfd)
    except OSError as err:
        if err.errno not in NO_DIR_FSYNC:
            raise
    finally:
        os.close(dfd)
